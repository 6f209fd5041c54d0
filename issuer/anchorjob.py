"""Anchoring one batch root on one chain: sign, record, broadcast, keep it moving, wait for confirmations.

Invariants (per anchor; the home chain's state is the batch's, an additional chain's is its `ChainAnchor`):
- prepared:  nothing signed for this chain.
- submitted: a signed transaction (hash, nonce, fees, raw bytes) is in the database before it is broadcast;
  it may or may not have reached the node. Re-running finds it on chain, re-broadcasts it, or replaces it.
- confirmed: the root is anchored in a block with the chain's configured confirmations, still canonical.
The registry itself refuses a second anchor of one root, so a lost record never means two anchors.
"""

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from anchoring.chain import ANCHOR_ROLE, Chain, Registry
from anchoring.errors import ChainUnavailable, TransactionFailed
from anchoring.faults import fault
from anchoring.hashing import to_hex
from anchoring.progress import Progress
from anchoring.sender import Fees, NonceConflict, SignedTx, TxSender, wait_for_depth
from issuer.config import ChainConfig
from issuer.store import (
    AnchorRecord,
    Attempt,
    State,
    Store,
    anchor_attempts,
    now,
    record_anchor_attempt,
    reload_record,
    update_record,
)

POLL_SECONDS = 0.25
PUSH_SECONDS = 5.0
NONCE_TRIES = 5
RETRY_FIRST = 0.5
RETRY_MAX = 10.0
FEE_BUMP_PERCENT = 25


@dataclass
class AnchorJob:
    """Drives the anchors of one chain (its node, registry and anchoring key) through their states."""

    config: ChainConfig
    chain: Chain
    sender: TxSender
    store: Store
    progress: Progress
    lock_folder: Path
    home: bool = True
    """The home chain: its crash points and lock keep the names they always had."""

    def __post_init__(self) -> None:
        self.registry: Registry = self.chain.registry(self.config.registry)

    def _fault(self, point: str) -> None:
        fault(point if self.home else f"{point}@{self.config.chain_id}")

    def check_role(self) -> None:
        """The node is the configured chain and the key holds the anchor role in its registry."""
        self.chain.expect_chain_id(self.config.chain_id)
        if not self.registry.has_role(ANCHOR_ROLE, self.sender.address):
            where = "" if self.home else f" on chain {self.config.chain_id}"
            raise TransactionFailed(
                f"issuer key {self.sender.address} does not hold the anchor role in registry "
                f"{self.registry.address}{where}"
            )

    def until(self, record: AnchorRecord, target: State) -> AnchorRecord:
        """Move the anchor to `target` (submitted or confirmed), one recorded state at a time.

        Each step starts from the state in the database, so when the node drops out mid-step the step is run
        again once it answers (backing off up to the chain's `node_deadline`); past that ChainUnavailable says
        where the anchor was left, for `credanchor resume`.
        """
        order = [State.PREPARED, State.SUBMITTED, State.CONFIRMED]
        steps = {State.PREPARED: self._submit, State.SUBMITTED: self._confirm}
        give_up_at: float | None = None
        delay = RETRY_FIRST
        while order.index(record.state) < order.index(target):
            try:
                record = steps[record.state](record)
                give_up_at, delay = None, RETRY_FIRST
            except ChainUnavailable as exc:
                now_ = time.monotonic()
                give_up_at = give_up_at or now_ + self.config.node_deadline
                record = reload_record(self.store, record)
                if now_ >= give_up_at:
                    raise ChainUnavailable(
                        f"{exc}; gave up after {self.config.node_deadline:.0f} s. {record.label.capitalize()} is "
                        f"saved as {record.state}: run `credanchor resume` when the node is back"
                    ) from None
                self.progress.note(f"node of chain {self.config.chain_id} not answering; retrying in {delay:.1f} s")
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        return record

    # submitted: a signed transaction recorded, then broadcast.
    def _submit(self, record: AnchorRecord) -> AnchorRecord:
        self.progress.stage("anchoring the root" if self.home else f"anchoring the root on chain {record.chain_id}")
        if self.registry.anchor_of(record.root) is not None:
            # Anchored already (by an attempt whose record was lost, or by hand): adopt it.
            return update_record(self.store, record, state=State.SUBMITTED)
        return self._send_attempt(record, nonce=None, fees=None)

    def _send_attempt(self, record: AnchorRecord, *, nonce: int | None, fees: Fees | None) -> AnchorRecord:
        """Sign, record (attempt and state in one commit), then broadcast an anchoring transaction.

        With `nonce` given it replaces a pending transaction; otherwise it takes the next free nonce,
        retrying when another process of this key took it first.
        """
        call = self.registry.contract.functions.anchor(bytes.fromhex(record.root[2:]), record.count)
        gas = self.sender.estimate(call)
        for _ in range(NONCE_TRIES):
            with self._nonce_lock():
                signed = self.sender.sign(
                    call,
                    nonce=self.sender.pending_nonce() if nonce is None else nonce,
                    fees=fees or self.sender.fees(),
                    gas=gas,
                )
                record = record_anchor_attempt(self.store, record, self._attempt(record, signed))
                self._fault("signed")
                try:
                    self.sender.broadcast(signed)
                except NonceConflict:
                    if nonce is not None:
                        raise
                    continue
            self._fault("sent")
            return record
        raise TransactionFailed(f"no free nonce after {NONCE_TRIES} tries (another process sending with this key?)")

    def _attempt(self, record: AnchorRecord, signed: SignedTx) -> Attempt:
        return Attempt(
            batch_id=record.batch_id,
            tx_hash=signed.tx_hash,
            nonce=signed.nonce,
            sender=self.sender.address,
            max_fee=str(signed.fees.max_fee),
            priority_fee=str(signed.fees.priority_fee),
            raw=to_hex(signed.raw),
        )

    @contextmanager
    def _nonce_lock(self) -> Iterator[None]:
        """Serialise nonce choice and broadcast among processes of this workspace, per chain."""
        name = ".nonce.lock" if self.home else f".nonce-{self.config.chain_id}.lock"
        with (self.lock_folder / name).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # confirmed: mined, deep enough, still canonical.
    def _confirm(self, record: AnchorRecord) -> AnchorRecord:
        config = self.config
        deadline = time.monotonic() + config.tx_timeout
        where = "" if self.home else f" on chain {record.chain_id}"
        self.progress.stage(f"waiting for the anchoring transaction{where}")
        last_push = 0.0
        while True:
            found = self._find_anchor(record)
            if found is not None:
                tx_hash, block_number, block_hash, timestamp = found
                try:
                    wait_for_depth(
                        self.chain,
                        block_number,
                        config.confirmations,
                        timeout=config.tx_timeout,
                        on_wait=lambda d: self.progress.note(f"{d} of {config.confirmations} confirmations{where}"),
                    )
                except TransactionFailed as exc:
                    raise TransactionFailed(f"{record.label}: {exc}; run `credanchor resume` to keep waiting") from None
                if to_hex(bytes(self.chain.block(block_number)["hash"])) == block_hash:
                    self._fault("mined")
                    return update_record(
                        self.store,
                        record,
                        state=State.CONFIRMED,
                        tx_hash=tx_hash,
                        block_number=block_number,
                        block_hash=block_hash,
                        block_timestamp=timestamp,
                        confirmed_at=now(),
                    )
                self.progress.note(f"block {block_number}{where} was reorganised away; looking for the anchor again")
                continue
            if time.monotonic() > deadline:
                raise TransactionFailed(
                    f"{record.label}: root not anchored within {config.tx_timeout:.0f} s; "
                    "run `credanchor resume` to keep waiting"
                )
            if time.monotonic() - last_push >= PUSH_SECONDS:
                record = self._push(record)
                last_push = time.monotonic()
            time.sleep(POLL_SECONDS)

    def _find_anchor(self, record: AnchorRecord) -> tuple[str, int, str, int] | None:
        """(tx hash, block, block hash, timestamp) of the root's anchor on chain, or None."""
        for attempt in reversed(anchor_attempts(self.store, record)):
            try:
                mined = self.sender.receipt(attempt.tx_hash)
            except TransactionFailed:
                mined = None  # reverted: the root may still be anchored by another attempt (checked below)
            if mined is not None:
                return mined.tx_hash, mined.block_number, mined.block_hash, mined.timestamp
        anchor = self.registry.anchor_of(record.root)
        if anchor is None:
            return None
        events = self.registry.anchored_events(record.root, anchor.block_number, anchor.block_number)
        if not events:
            return None
        event = events[0]
        return event.tx_hash, event.block_number, event.block_hash, anchor.timestamp

    def _push(self, record: AnchorRecord) -> AnchorRecord:
        """Keep the anchoring transaction moving: broadcast it again (a restarted node or a reorg may have
        dropped it), replace it with bumped fees at the same nonce once it has waited `replace_after`, or
        sign a new one if its nonce went to another transaction."""
        attempts = anchor_attempts(self.store, record)
        if not attempts:
            return self._submit(record)
        latest = attempts[-1]
        if latest.sender != self.sender.address:
            # Signed by another key (the workspace key changed): its nonce is not ours to replace. The old
            # transaction may still be mined first; the registry then refuses ours, and either way one anchor.
            self.progress.note(f"pending transaction was signed by {latest.sender}; sending one with this key")
            return self._send_attempt(record, nonce=None, fees=None)
        age = (now() - latest.created_at.replace(tzinfo=UTC)).total_seconds()
        if age >= self.config.replace_after:
            fees = bumped(Fees(int(latest.max_fee), int(latest.priority_fee)), self.sender.fees())
            self.progress.note(
                f"transaction pending for {age:.0f} s; replacing it with fees raised to {fees.max_fee:,} wei"
            )
            try:
                return self._send_attempt(record, nonce=latest.nonce, fees=fees)
            except NonceConflict:
                pass  # the nonce was used meanwhile: mined (found on the next look) or taken (handled below)
        signed = SignedTx(latest.tx_hash, latest.nonce, Fees(0, 0), 0, bytes.fromhex(latest.raw[2:]))
        try:
            with self._nonce_lock():
                self.sender.broadcast(signed)
        except NonceConflict:
            if self._find_anchor(record) is None and self.sender.confirmed_nonce() > latest.nonce:
                self.progress.note(f"nonce {latest.nonce} went to another transaction; signing a new one")
                return self._send_attempt(record, nonce=None, fees=None)
        return record

    def still_anchored(self, record: AnchorRecord) -> bool:
        """The root is still anchored in the recorded block, and that block is still canonical."""
        anchor = self.registry.anchor_of(record.root)
        if anchor is None or record.block_number is None or anchor.block_number != record.block_number:
            return False
        return to_hex(bytes(self.chain.block(record.block_number)["hash"])) == record.block_hash


def bumped(previous: Fees, suggested: Fees) -> Fees:
    """Fees for a replacement: at least FEE_BUMP_PERCENT over the stuck ones (nodes want 10%+), and no less
    than what the node suggests now."""
    raised = previous.bumped(FEE_BUMP_PERCENT)
    return Fees(
        max(raised.max_fee, suggested.max_fee), max(raised.priority_fee, suggested.priority_fee), previous.legacy
    )
