"""Issuing a batch: records -> credentials -> Merkle tree -> one anchoring transaction -> receipts.

Invariants (the batch state machine; each state is committed before the next external effect):
- prepared:  credentials, digests and root are in the database; nothing has left the machine.
- submitted: a signed anchoring transaction (hash, nonce, fees, raw bytes) is in the database; it may or may
  not have reached the node. Re-running finds it on chain, re-broadcasts it, or replaces it.
- confirmed: the root is anchored in a block with the configured number of confirmations, still canonical.
- delivered: every receipt and the manifest are on disk and each receipt verified against the chain.
The same input (records file, template, column mapping, registry) always maps to the same batch, so running
the same command again after a crash resumes that batch instead of issuing a second one; the registry itself
refuses a second anchor of one root.
"""

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from anchoring.chain import ANCHOR_ROLE, Chain, Registry
from anchoring.credential import credential_digest
from anchoring.errors import ChainUnavailable, CredanchorError, InvalidInput, TransactionFailed
from anchoring.evidencecollect import BatchEvidence
from anchoring.faults import fault
from anchoring.files import atomic_write_text
from anchoring.hashing import to_hex
from anchoring.jsonio import read_limited
from anchoring.merkle import SCHEME, MerkleTree
from anchoring.multibase import decode_multikey
from anchoring.progress import Progress, Silent
from anchoring.receipt import (
    AnchorSection,
    Evidence,
    Manifest,
    ManifestAnchor,
    dump_receipt,
    receipt_document,
    utc_seconds,
)
from anchoring.sender import Fees, NonceConflict, SignedTx, TxSender, wait_for_depth
from anchoring.workers import parallel_map
from issuer.baked import bake_batch
from issuer.credentials import build_credential
from issuer.delivery import BOM, delivery_csv
from issuer.evidence import gather
from issuer.lookup import delivery_entries
from issuer.records import Record, parse_table, read_table
from issuer.store import Attempt, Batch, State, Store, now
from issuer.templates import ResultSpec, Template, load_template
from issuer.workspace import Workspace

SelfCheck = Callable[[Sequence[Path], str], None]
"""Verifies a batch's written receipts (and its root) against the chain; raises `CredanchorError` if any
does not check out."""


class Signing(Protocol):
    """Signs a batch's credentials (W3C Data Integrity), one proof each, all `created` at the time given."""

    @property
    def multikey(self) -> str: ...

    def sign(
        self, credentials: list[dict[str, Any]], created: datetime, advance: Callable[[int], None]
    ) -> list[dict[str, Any]]: ...


POLL_SECONDS = 0.25
PUSH_SECONDS = 5.0
NONCE_TRIES = 5
RETRY_FIRST = 0.5
RETRY_MAX = 10.0
FEE_BUMP_PERCENT = 25
MAX_RECORDS_BYTES = 100 * 1024 * 1024
LEGACY_READ_AS = "comma-separated CSV"
DELIVERY_NAME = "delivery.csv"


@dataclass(frozen=True)
class Plan:
    """A validated request to issue: everything read from disk, nothing sent anywhere."""

    template: Template
    records: list[Record]
    input_key: str
    source: str
    read_as: str = LEGACY_READ_AS


@dataclass(frozen=True)
class Outcome:
    batch: Batch
    receipts: int
    manifest: Path
    resumed: bool
    already_delivered: bool
    delivery_list: Path | None = None


def read_records_file(path: Path) -> bytes:
    """The records file's bytes, refused before reading when it is over `MAX_RECORDS_BYTES`."""
    with suppress(OSError):  # a missing or unreadable file is reported by `read_limited`
        size = path.stat().st_size
        if size > MAX_RECORDS_BYTES:
            raise InvalidInput(
                f"{path}: {size:,} bytes is over the limit of {MAX_RECORDS_BYTES:,} bytes (100 MiB); "
                "split the records into smaller batches"
            )
    return read_limited(path, MAX_RECORDS_BYTES)


def plan_batch(
    workspace: Workspace,
    records_path: Path,
    achievement: str,
    columns: dict[str, str],
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Plan:
    """Read and validate everything a batch needs (step 1): on any error nothing is anchored."""
    template = load_template(workspace.achievements_dir, achievement)
    data = read_records_file(records_path)
    mapping = {**workspace.config.records.columns, **columns}
    table = read_table(data, str(records_path), delimiter=delimiter, sheet=sheet)
    records = parse_table(table, str(records_path), mapping, template)
    if template.result is None and any(r.result is not None for r in records):
        template = template.model_copy(update={"result": ResultSpec()})
    # Everything a credential is built from names the batch: the records, the template as read, the issuer
    # profile, the column mapping and the registry. Change any of them and it is a different batch.
    parts = [
        data,
        achievement.encode(),
        template.source_sha256.encode(),
        workspace.config.issuer.model_dump_json().encode(),
        json.dumps(mapping, sort_keys=True).encode(),
        f"{workspace.config.chain.chain_id}:{workspace.config.chain.registry}".encode(),
    ]
    if table.read_as != LEGACY_READ_AS:
        # How the bytes were read (the sheet, the separator) picks the records too. Files read the one way
        # there was before (comma-separated CSV) keep the key they had, so their unfinished batches resume.
        parts.append(table.read_as.encode())
    key = hashlib.sha256()
    for part in parts:
        key.update(hashlib.sha256(part).digest())
    return Plan(template, records, key.hexdigest(), str(records_path), table.read_as)


class BatchIssuer:
    """Drives batches through their states against one store, one node and one key."""

    def __init__(
        self,
        workspace: Workspace,
        store: Store,
        chain: Chain,
        sender: TxSender,
        *,
        self_check: SelfCheck,
        signer: "Signing",
        progress: Progress | None = None,
        bake: str | None = None,
        pdf: bool = False,
    ) -> None:
        self.workspace = workspace
        self.bake = bake  # "png" or "svg": each receipt baked into a badge image beside it (issuer/baked.py)
        self.config = workspace.config
        self.store = store
        self.chain = chain
        self.sender = sender
        self.registry: Registry = chain.registry(self.config.chain.registry)
        self.self_check = self_check
        self.signer = signer
        self.progress = progress or Silent()
        self.pdf = pdf

    # The one public entry: plan -> the batch for that input -> drive it to delivered.
    def issue(self, plan: Plan, out_dir: Path | None, *, allow_reissue: bool = False) -> Outcome:
        with self._batch_lock(plan.input_key):
            existing = self.store.batch_by_key(plan.input_key)
            if existing is not None:
                return self._continue(existing)
            self._check_role()
            self._check_identity()
            if not allow_reissue:
                self._refuse_reissue(plan)
            return self._drive(self._prepare(plan, out_dir), resumed=False)

    def resume(self, batch: Batch) -> Outcome:
        with self._batch_lock(batch.input_key):
            return self._continue(self.store.batch(batch.id or 0))

    def _continue(self, batch: Batch) -> Outcome:
        if batch.state == State.DELIVERED:
            return self._outcome(batch, resumed=False, already=True)
        if batch.state in (State.PREPARED, State.SUBMITTED):
            self._check_role()
        return self._drive(batch, resumed=True)

    @contextmanager
    def _batch_lock(self, input_key: str) -> Iterator[None]:
        """One process at a time drives a given batch; another one is told so instead of racing it."""
        folder = self.workspace.root / ".locks"
        folder.mkdir(exist_ok=True)
        with (folder / f"batch-{input_key[:32]}.lock").open("a") as handle:
            # A POSIX record lock, not flock: worker processes forked while it is held do not inherit it, so
            # workers orphaned by a killed run cannot keep the next run out.
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise InvalidInput(
                    "another credanchor process is working on this batch right now; wait for it to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN)

    def _drive(self, batch: Batch, resumed: bool) -> Outcome:
        """Move the batch to delivered, one recorded state at a time.

        Each step starts from the state in the database, so when the node drops out mid-step the step is
        simply run again once it answers (backing off up to `chain.node_deadline`); past that the batch is
        left as it is, for `credanchor resume`.
        """
        if batch.registry_address != self.registry.address or batch.chain_id != self.chain.chain_id:
            raise InvalidInput(
                f"batch {batch.id} belongs to registry {batch.registry_address} on chain {batch.chain_id}, "
                f"not the configured {self.registry.address} on chain {self.chain.chain_id}"
            )
        steps = {State.PREPARED: self._submit, State.SUBMITTED: self._confirm, State.CONFIRMED: self._deliver}
        give_up_at: float | None = None
        delay = RETRY_FIRST
        while batch.state != State.DELIVERED:
            try:
                batch = steps[batch.state](batch)
                give_up_at, delay = None, RETRY_FIRST
            except ChainUnavailable as exc:
                now_ = time.monotonic()
                give_up_at = give_up_at or now_ + self.config.chain.node_deadline
                batch = self.store.batch(batch.id or 0)
                if now_ >= give_up_at:
                    raise ChainUnavailable(
                        f"{exc}; gave up after {self.config.chain.node_deadline:.0f} s. Batch {batch.id} is saved "
                        f"as {batch.state}: run `credanchor resume` when the node is back"
                    ) from None
                self.progress.note(f"node not answering; retrying in {delay:.1f} s")
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        return self._outcome(batch, resumed=resumed, already=False)

    def _check_identity(self) -> None:
        """The registry must be bound to the configured issuer and list the signing key as active."""
        bound = self.registry.issuer_id()
        issuer_id = self.config.issuer.id
        if bound is None:
            raise InvalidInput(
                f"registry {self.registry.address} binds no issuer (deployed before issuer binding): deploy a new "
                "registry (remove chain.registry from the config, then `credanchor deploy` or `chain up`)"
            )
        if bound != issuer_id:
            raise InvalidInput(
                f"the config names issuer {issuer_id!r}, but registry {self.registry.address} is bound to {bound!r}; "
                "credentials naming another issuer would fail verification"
            )
        status = self.registry.signing_key(to_hex(decode_multikey(self.signer.multikey)))
        if status.added_block == 0 or status.revoked_block != 0:
            state = "is not listed" if status.added_block == 0 else f"was revoked in block {status.revoked_block}"
            raise InvalidInput(
                f"signing key {self.signer.multikey} {state} in registry {self.registry.address}: register a key "
                "with `credanchor key register` (key-admin role)"
            )

    def _check_role(self) -> None:
        if not self.registry.has_role(ANCHOR_ROLE, self.sender.address):
            raise TransactionFailed(
                f"issuer key {self.sender.address} does not hold the anchor role in registry {self.registry.address}"
            )

    def _refuse_reissue(self, plan: Plan) -> None:
        achievement_id = plan.template.achievement_id(self.config.issuer.id)
        held = self.store.issued_emails(achievement_id, [r.email for r in plan.records])
        if not held:
            return
        problems = [f"row {r.row}: {r.email} already holds {held[r.email]}" for r in plan.records if r.email in held]
        lines = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        unfinished = [str(b.id) for b in self.store.batches(unfinished=True)]
        if unfinished:
            lines.append(
                f"(unfinished batches count too: {', '.join(unfinished)}; finish with `credanchor resume`, "
                "or drop one that was never sent with `credanchor discard N`)"
            )
        body = "\n  ".join(lines)
        raise InvalidInput(
            f"{plan.source}: {len(problems)} recipient(s) already hold this achievement, nothing was issued "
            f"(pass --allow-reissue to issue again):\n  {body}"
        )

    # prepared: credentials and root in the database, nothing sent.
    def _prepare(self, plan: Plan, out_dir: Path | None) -> Batch:
        issuer = self.config.issuer
        achievement = plan.template.achievement(issuer.id)
        issued_at = datetime.now(UTC).replace(microsecond=0)
        self.progress.stage("building credentials")
        credentials = [build_credential(r, plan.template, issuer, achievement, issued_at) for r in plan.records]
        self.progress.stage(f"signing ({self.config.signing.cryptosuite})", len(credentials))
        proofs = self.signer.sign(credentials, issued_at, self.progress.advance)
        self.progress.stage("hashing", len(plan.records))
        rows = []
        digests = []
        for position, (record, credential, proof) in enumerate(zip(plan.records, credentials, proofs, strict=True)):
            credential["proof"] = [proof]
            digest = credential_digest(credential)
            digests.append(digest)
            rows.append(
                {
                    "id": credential["id"],
                    "position": position,
                    "row": record.row,
                    "email": record.email,
                    "name": record.name,
                    "digest": to_hex(digest),
                    "leaf": "",
                    "document": json.dumps(credential, ensure_ascii=False, separators=(",", ":")),
                }
            )
            if position % 1000 == 999:
                self.progress.advance(1000)
        self.progress.advance(len(plan.records) % 1000)
        self.progress.stage("building the Merkle tree")
        tree = MerkleTree.build(digests)
        for i, row in enumerate(rows):
            row["leaf"] = to_hex(tree.leaf(i))
        self.progress.stage("saving the batch")
        batch = Batch(
            input_key=plan.input_key,
            achievement=plan.template.key,
            achievement_id=plan.template.achievement_id(issuer.id),
            root=to_hex(tree.root),
            count=len(rows),
            chain_id=self.chain.chain_id,
            registry_address=self.registry.address,
            out_dir=str(
                (out_dir or self.workspace.receipts_dir / f"{plan.template.key}-{to_hex(tree.root)[2:10]}").resolve()
            ),
        )
        batch = self.store.add_batch(batch, rows)
        fault("prepared")
        return batch

    # submitted: a signed transaction recorded, then broadcast.
    def _submit(self, batch: Batch) -> Batch:
        self.progress.stage("anchoring the root")
        if self.registry.anchor_of(batch.root) is not None:
            # Anchored already (by an attempt whose record was lost, or by hand): adopt it.
            return self.store.update_batch(batch.id or 0, state=State.SUBMITTED)
        return self._send_attempt(batch, nonce=None, fees=None)

    def _send_attempt(self, batch: Batch, *, nonce: int | None, fees: Fees | None) -> Batch:
        """Sign, record (attempt and state in one commit), then broadcast an anchoring transaction.

        With `nonce` given it replaces a pending transaction; otherwise it takes the next free nonce,
        retrying when another process of this key took it first.
        """
        call = self.registry.contract.functions.anchor(bytes.fromhex(batch.root[2:]), batch.count)
        gas = self.sender.estimate(call)
        for _ in range(NONCE_TRIES):
            with self._nonce_lock():
                signed = self.sender.sign(
                    call,
                    nonce=self.sender.pending_nonce() if nonce is None else nonce,
                    fees=fees or self.sender.fees(),
                    gas=gas,
                )
                batch = self.store.record_attempt(batch.id or 0, self._attempt(batch, signed))
                fault("signed")
                try:
                    self.sender.broadcast(signed)
                except NonceConflict:
                    if nonce is not None:
                        raise
                    continue
            fault("sent")
            return batch
        raise TransactionFailed(f"no free nonce after {NONCE_TRIES} tries (another process sending with this key?)")

    def _attempt(self, batch: Batch, signed: SignedTx) -> Attempt:
        return Attempt(
            batch_id=batch.id or 0,
            tx_hash=signed.tx_hash,
            nonce=signed.nonce,
            sender=self.sender.address,
            max_fee=str(signed.fees.max_fee),
            priority_fee=str(signed.fees.priority_fee),
            raw=to_hex(signed.raw),
        )

    @contextmanager
    def _nonce_lock(self) -> Iterator[None]:
        """Serialise nonce choice and broadcast among processes of this workspace."""
        path = self.workspace.root / ".nonce.lock"
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # confirmed: mined, deep enough, still canonical.
    def _confirm(self, batch: Batch) -> Batch:
        chain_config = self.config.chain
        deadline = time.monotonic() + chain_config.tx_timeout
        self.progress.stage("waiting for the anchoring transaction")
        last_push = 0.0
        while True:
            found = self._find_anchor(batch)
            if found is not None:
                tx_hash, block_number, block_hash, timestamp = found
                try:
                    wait_for_depth(
                        self.chain,
                        block_number,
                        chain_config.confirmations,
                        timeout=chain_config.tx_timeout,
                        on_wait=lambda d: self.progress.note(f"{d} of {chain_config.confirmations} confirmations"),
                    )
                except TransactionFailed as exc:
                    raise TransactionFailed(
                        f"batch {batch.id}: {exc}; run `credanchor resume` to keep waiting"
                    ) from None
                if to_hex(bytes(self.chain.block(block_number)["hash"])) == block_hash:
                    fault("mined")
                    return self.store.update_batch(
                        batch.id or 0,
                        state=State.CONFIRMED,
                        tx_hash=tx_hash,
                        block_number=block_number,
                        block_hash=block_hash,
                        block_timestamp=timestamp,
                        confirmed_at=now(),
                    )
                self.progress.note(f"block {block_number} was reorganised away; looking for the anchor again")
                continue
            if time.monotonic() > deadline:
                raise TransactionFailed(
                    f"batch {batch.id}: root not anchored within {chain_config.tx_timeout:.0f} s; "
                    "run `credanchor resume` to keep waiting"
                )
            if time.monotonic() - last_push >= PUSH_SECONDS:
                batch = self._push(batch)
                last_push = time.monotonic()
            time.sleep(POLL_SECONDS)

    def _find_anchor(self, batch: Batch) -> tuple[str, int, str, int] | None:
        """(tx hash, block, block hash, timestamp) of the root's anchor on chain, or None."""
        for attempt in reversed(self.store.attempts(batch.id or 0)):
            try:
                mined = self.sender.receipt(attempt.tx_hash)
            except TransactionFailed:
                mined = None  # reverted: the root may still be anchored by another attempt (checked below)
            if mined is not None:
                return mined.tx_hash, mined.block_number, mined.block_hash, mined.timestamp
        anchor = self.registry.anchor_of(batch.root)
        if anchor is None:
            return None
        events = self.registry.anchored_events(batch.root, anchor.block_number, anchor.block_number)
        if not events:
            return None
        event = events[0]
        return event.tx_hash, event.block_number, event.block_hash, anchor.timestamp

    def _push(self, batch: Batch) -> Batch:
        """Keep the anchoring transaction moving: broadcast it again (a restarted node or a reorg may have
        dropped it), replace it with bumped fees at the same nonce once it has waited `replace_after`, or
        sign a new one if its nonce went to another transaction."""
        attempts = self.store.attempts(batch.id or 0)
        if not attempts:
            return self._submit(batch)
        latest = attempts[-1]
        if latest.sender != self.sender.address:
            # Signed by another key (the workspace key changed): its nonce is not ours to replace. The old
            # transaction may still be mined first; the registry then refuses ours, and either way one anchor.
            self.progress.note(f"pending transaction was signed by {latest.sender}; sending one with this key")
            return self._send_attempt(batch, nonce=None, fees=None)
        age = (now() - latest.created_at.replace(tzinfo=UTC)).total_seconds()
        if age >= self.config.chain.replace_after:
            fees = _bumped(Fees(int(latest.max_fee), int(latest.priority_fee)), self.sender.fees())
            self.progress.note(
                f"transaction pending for {age:.0f} s; replacing it with fees raised to {fees.max_fee:,} wei"
            )
            try:
                return self._send_attempt(batch, nonce=latest.nonce, fees=fees)
            except NonceConflict:
                pass  # the nonce was used meanwhile: mined (found on the next look) or taken (handled below)
        signed = SignedTx(latest.tx_hash, latest.nonce, Fees(0, 0), 0, bytes.fromhex(latest.raw[2:]))
        try:
            with self._nonce_lock():
                self.sender.broadcast(signed)
        except NonceConflict:
            if self._find_anchor(batch) is None and self.sender.confirmed_nonce() > latest.nonce:
                self.progress.note(f"nonce {latest.nonce} went to another transaction; signing a new one")
                return self._send_attempt(batch, nonce=None, fees=None)
        return batch

    # delivered: receipts and manifest written, every receipt verified.
    def _deliver(self, batch: Batch) -> Batch:
        rows = self.store.credential_rows(batch.id or 0)
        digests = [bytes.fromhex(digest[2:]) for _, digest, _, _ in rows]
        tree = MerkleTree.build(digests)
        if to_hex(tree.root) != batch.root:
            raise CredanchorError(
                f"batch {batch.id}: stored credentials give root {to_hex(tree.root)}, not {batch.root}"
            )
        if batch.tx_hash is None or batch.block_number is None or batch.block_timestamp is None:
            raise CredanchorError(f"batch {batch.id} is {batch.state} but has no anchoring block recorded")
        if not self._still_anchored(batch):
            # A reorganisation deeper than the configured confirmations moved or dropped the anchor.
            self.progress.note(
                f"the anchor of batch {batch.id} is no longer in block {batch.block_number}; confirming again"
            )
            return self.store.update_batch(batch.id or 0, state=State.SUBMITTED)
        anchor = AnchorSection(
            chainId=batch.chain_id,
            registry=batch.registry_address,
            txHash=batch.tx_hash,
            blockNumber=batch.block_number,
            timestamp=utc_seconds(datetime.fromtimestamp(batch.block_timestamp, UTC)),
        )
        out_dir = Path(batch.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        evidence = None
        if self.config.chain.evidence:
            self.progress.stage("collecting the anchor's chain evidence", len(rows))
            evidence = gather(self.chain, self.registry, batch.root, rows, self.progress.advance)
            if evidence is not None and evidence.fallback_note:
                self.progress.note(evidence.fallback_note)
        self.progress.stage("writing receipts", len(rows))
        proofs = tree.proofs()
        anchor_doc = anchor.model_dump(mode="json")
        jobs = [
            (
                out_dir,
                rows[i : i + RECEIPT_CHUNK],
                proofs[i : i + RECEIPT_CHUNK],
                batch.root,
                anchor_doc,
                evidence.only([leaf for _, _, leaf, _ in rows[i : i + RECEIPT_CHUNK]]) if evidence else None,
            )
            for i in range(0, len(rows), RECEIPT_CHUNK)
        ]
        paths: dict[str, str] = {}
        for written in parallel_map(write_receipts, jobs):
            paths.update(written)
            self.progress.advance(len(written))
            if len(paths) >= len(rows) // 2:
                fault("receipts-half")
        os.sync()  # one flush for every receipt written above, before any of them is recorded as written
        manifest = self._write_manifest(batch, tree, anchor, [digest for _, digest, _, _ in rows], evidence)
        fault("receipts-written")
        self.store.set_receipt_paths(paths)
        self.progress.stage("verifying every receipt against the chain", len(paths))
        self.self_check([Path(p) for p in paths.values()], batch.root)
        fault("checked")
        if self.bake:
            bake_batch(self.workspace, batch.achievement, [Path(p) for p in paths.values()], self.bake, self.progress)
        if self.pdf:  # before `delivered`: a crash here leaves the batch for `resume`, which makes the rest
            from issuer.certificates import batch_certificates

            self.progress.stage("writing certificate PDFs", len(paths))
            batch_certificates(self.workspace, self.store, batch, advance=self.progress.advance)
        self._write_delivery_list(batch)
        return self.store.update_batch(
            batch.id or 0, state=State.DELIVERED, delivered_at=now(), manifest_path=str(manifest)
        )

    def _write_delivery_list(self, batch: Batch) -> Path:
        """Who gets which receipt, beside the receipts: personal data, so readable by its owner only."""
        path = Path(batch.out_dir) / DELIVERY_NAME
        entries = delivery_entries(self.store, batch.id or 0, self.config.share.base_url)
        atomic_write_text(path, BOM + delivery_csv(entries), mode=0o600)
        return path

    def _still_anchored(self, batch: Batch) -> bool:
        anchor = self.registry.anchor_of(batch.root)
        if anchor is None or anchor.block_number != batch.block_number or batch.block_number is None:
            return False
        return to_hex(bytes(self.chain.block(batch.block_number)["hash"])) == batch.block_hash

    def _write_manifest(
        self,
        batch: Batch,
        tree: MerkleTree,
        anchor: AnchorSection,
        digests: list[str],
        evidence: BatchEvidence | None,
    ) -> Path:
        count = len(tree)
        leaf_order = sorted(range(count), key=tree.tree_index, reverse=True)
        manifest = Manifest(
            type="BatchManifest",
            version=2 if evidence else 1,
            evidence=Evidence.model_validate(evidence.shared_part()) if evidence else None,
            scheme=SCHEME,
            root=batch.root,
            count=count,
            digests=[digests[i] for i in leaf_order],
            anchor=ManifestAnchor(**anchor.model_dump()),
            issuer=self.config.issuer.id,
            achievement=batch.achievement_id,
        )
        name = manifest_name(batch)
        text = manifest.to_json()
        archive = self.workspace.manifests_dir / name
        atomic_write_text(archive, text)
        atomic_write_text(Path(batch.out_dir) / "manifest" / name, text)
        return archive

    def _outcome(self, batch: Batch, *, resumed: bool, already: bool) -> Outcome:
        manifest = (
            Path(batch.manifest_path) if batch.manifest_path else self.workspace.manifests_dir / manifest_name(batch)
        )
        delivery = Path(batch.out_dir) / DELIVERY_NAME
        return Outcome(batch, batch.count, manifest, resumed, already, delivery if delivery.exists() else None)


RECEIPT_CHUNK = 2000


def write_receipts(
    job: tuple[
        Path, list[tuple[str, str, str, str]], list[tuple[bytes, ...]], str, dict[str, object], BatchEvidence | None
    ],
) -> dict[str, str]:
    """Write one chunk of a batch's receipts (in a worker process for large batches): credential id -> path."""
    out_dir, rows, proofs, root, anchor, evidence = job
    written = {}
    for (credential_id, digest, leaf, document), proof in zip(rows, proofs, strict=True):
        path = out_dir / receipt_name(credential_id)
        proven = [evidence.for_leaf(leaf)] if evidence else ()
        receipt = receipt_document(json.loads(document), digest, leaf, proof, root, anchor, proven)
        atomic_write_text(path, dump_receipt(receipt), durable=False)
        written[credential_id] = str(path)
    return written


def _bumped(previous: Fees, suggested: Fees) -> Fees:
    """Fees for a replacement: at least FEE_BUMP_PERCENT over the stuck ones (nodes want 10%+), and no less
    than what the node suggests now."""
    raised = previous.bumped(FEE_BUMP_PERCENT)
    return Fees(
        max(raised.max_fee, suggested.max_fee), max(raised.priority_fee, suggested.priority_fee), previous.legacy
    )


def receipt_name(credential_id: str) -> str:
    return credential_id.removeprefix("urn:uuid:").replace(":", "_") + ".json"


def manifest_name(batch: Batch) -> str:
    return f"batch-{batch.id:05d}-{batch.root[2:14]}.json"
