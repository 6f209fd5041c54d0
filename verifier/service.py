"""The verification shell: read receipt files, ask the chain once per distinct root, run the pure checks.

Invariants: the node is the verifier's own (`reader`), never one a receipt names; all chain reads for one run
are pinned to the head block read at the start, so receipts of one batch see one consistent state; a chain
that cannot be asked yields `chain-unavailable` verdicts (exit 3), never a crash or a false `valid`. A
`Session` checks anchors of one chain (or proven from checkpoints); a receipt anchored on several chains is
split into one projection per anchor by `verifier.multichain`, each checked by its chain's session.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from anchoring.carriers import SNIFF_BYTES, mismatch, unwrap
from anchoring.carriers import max_bytes as carrier_max_bytes
from anchoring.chain import ANCHOR_ROLE, LOG_CHUNK, Chain, Registry
from anchoring.errors import ChainMismatch, ChainUnavailable, CredanchorError, InvalidReceipt, NotARegistry
from anchoring.evidence import ProvenState
from anchoring.hashing import to_hex
from anchoring.jsonio import read_head, read_limited
from anchoring.onchain import RegistryEvent, SigningKeyStatus
from anchoring.receipt import Receipt
from verifier.checks import (
    ChainFacts,
    Offline,
    Report,
    RootView,
    Verdict,
    badge_step,
    check_receipt,
    malformed,
    offline_checks,
    unanchored,
)
from verifier.evidencecheck import (
    Checkpoints,
    EvidenceOutcome,
    block_of,
    check_evidence,
    evidence_for,
    facts_from_state,
)
from verifier.fastread import ReceiptReader
from verifier.registrylog import RegistryLog
from verifier.trust import TrustList

if TYPE_CHECKING:
    from verifier.quorum import Quorum  # several nodes that must agree: loaded only by those who make one

MAX_SCAN_CALLS = 2
"""Revocation events of a root are scanned in at most this many log requests; a longer span of blocks is
read leaf by leaf instead, so a receipt never costs more than a handful of node requests."""

SCAN_CALLS_PER_ROOT = 4
"""A registry's events are scanned whole once its scan costs at most this many log requests per root asked
(a root read alone costs about that many more requests than a root whose events are already known)."""
T = TypeVar("T")
MAX_KEPT = 4096

EXIT_VALID, EXIT_INVALID, EXIT_MALFORMED, EXIT_UNAVAILABLE = 0, 1, 2, 3


class AnchorReader(Protocol):
    """What verification needs from a node (`anchoring.chain`-backed in production)."""

    def chain_id(self) -> int: ...

    def head(self) -> int: ...

    def root_view(self, registry: str, root: str, at_block: int) -> RootView: ...

    def leaf_revocation(self, registry: str, root: str, leaf: str, at_block: int) -> RegistryEvent | None: ...

    def signing_key(self, registry: str, public_key: str, at_block: int) -> SigningKeyStatus: ...

    def block_hash(self, number: int) -> str | None: ...


class ChainReader:
    """`AnchorReader` over a real node.

    Answers that cannot change at a given block (code, issuer binding, roles) are kept per block. Once a
    second root of one registry is asked (so many receipts are being verified), the registry's events are read
    in one scan from its deployment block (`verifier.registrylog`), kept with the block reached and extended
    from there at a later head; each root then costs one state read instead of a few log requests. One
    receipt keeps the per-root reads, within its request budget.
    """

    def __init__(self, chain: Chain, *, scan: bool = True) -> None:
        self.chain = chain
        self.scan = scan
        self._logs: dict[str, RegistryLog] = {}
        self._roots_asked: dict[str, set[str]] = {}
        self._unscannable: set[str] = set()
        self._starts: dict[str, int] = {}
        self._known: dict[tuple[object, ...], object] = {}
        self._checked: set[str] = set()

    def chain_id(self) -> int:
        return self.chain.chain_id

    def head(self) -> int:
        """The head block; a new head (a new session) forgets per-block answers and re-checks each registry
        log's last block before using it again, so a reorganisation never leaves stale answers in use."""
        self._known.clear()
        self._checked.clear()
        return self.chain.block_number()

    def block_hash(self, number: int) -> str | None:
        """The hash of block `number` on this node's chain (None past its head)."""
        if number > self.chain.block_number():
            return None
        return to_hex(bytes(self.chain.block(number)["hash"]))

    def root_view(self, registry: str, root: str, at_block: int) -> RootView:
        try:
            return self._root_view(registry, root, at_block)
        except NotARegistry as exc:
            return RootView(registry_has_code=True, anchor=None, anchored=None, not_a_registry=str(exc))

    def _at(self, key: tuple[object, ...], read: Callable[[], T]) -> T:
        """A read that cannot change at its block, kept once made."""
        if key not in self._known:
            if len(self._known) >= MAX_KEPT:
                self._known.clear()
            self._known[key] = read()
        found: T = self._known[key]  # type: ignore[assignment]
        return found

    def _root_view(self, registry: str, root: str, at_block: int) -> RootView:
        """At most 7 requests plus MAX_SCAN_CALLS, whatever the contract at `registry` answers (per root; a
        registry's scan, once, costs its span in LOG_CHUNK blocks plus two)."""
        reg = self.chain.registry(registry)
        if not self._at(("code", reg.address, at_block), lambda: self.chain.has_code(reg.address, at_block)):
            return RootView(registry_has_code=False, anchor=None, anchored=None)
        anchor = reg.anchor_of(root, at_block)
        if anchor is None:
            return RootView(registry_has_code=True, anchor=None, anchored=None)
        if anchor.block_number > at_block:
            raise NotARegistry(
                f"contract at {reg.address} claims an anchor in block {anchor.block_number}, past the head"
            )
        log = self._log(reg, root, at_block)
        if log is not None:
            anchored = log.anchored(root, anchor.block_number)
        else:
            anchored = reg.anchored_events(root, anchor.block_number, anchor.block_number)
        if not anchored:
            return RootView(True, anchor, None)
        revoked = None
        if log is not None:
            revoked = log.revoked_leaves(root, anchor.block_number, at_block)
        elif (at_block - anchor.block_number) // LOG_CHUNK < MAX_SCAN_CALLS:
            revoked = reg.revoked_leaves(root, anchor.block_number, at_block)
        batch_revocation = None
        if anchor.batch_revoked and log is not None:
            batch_revocation = log.batch_revocation(root, anchor.revoked_block)
        elif anchor.batch_revoked:
            batch_revocation = next(iter(reg.batch_revocations(root, anchor.revoked_block, anchor.revoked_block)), None)
        sender = str(anchored[0].args["sender"])
        return RootView(
            True,
            anchor,
            anchored[0],
            revoked,
            batch_revocation,
            issuer_id=self._at(("issuer", reg.address, at_block), lambda: reg.issuer_id(at_block)),
            anchorer_holds_role=self._at(
                ("role", reg.address, sender, at_block), lambda: reg.has_role(ANCHOR_ROLE, sender, at_block)
            ),
        )

    def _log(self, reg: Registry, root: str, at_block: int) -> RegistryLog | None:
        """The registry's event log reaching `at_block`, or None while reading root by root is cheaper: until
        a second root of it is asked, and while its scan would cost more than SCAN_CALLS_PER_ROOT requests
        for each root asked so far."""
        address = reg.address
        if not self.scan or address in self._unscannable:
            return None
        log = self._logs.get(address)
        if log is None:
            asked = self._roots_asked.setdefault(address, set())
            asked.add(root)
            if len(asked) < 2:
                return None
            try:
                if address not in self._starts:
                    self._starts[address] = reg.deployment_block()
            except NotARegistry:  # a registry from before deploymentBlock(): root by root, as before
                self._unscannable.add(address)
                return None
            start = self._starts[address]
            if (at_block - start) // LOG_CHUNK + 1 > SCAN_CALLS_PER_ROOT * len(asked):
                return None
            log = RegistryLog(address, start, start - 1, None)
            self._logs[address] = log
        elif address not in self._checked and self.block_hash(log.reached) != log.reached_hash:
            # The block the log reached is no longer on the chain: read it all again.
            log = RegistryLog(address, log.start, log.start - 1, None)
            self._logs[address] = log
        self._checked.add(address)
        if log.reached >= at_block:
            return log
        try:
            log.add(reg.events(log.reached + 1, at_block), at_block, self.block_hash(at_block))
        except Exception:
            self._logs.pop(address, None)  # half read: the next use reads it again
            raise
        return log

    def leaf_revocation(self, registry: str, root: str, leaf: str, at_block: int) -> RegistryEvent | None:
        reg = self.chain.registry(registry)
        block = reg.revocation_block(root, leaf, at_block)
        if block == 0:
            return None
        return reg.revoked_leaves(root, block, block).get(leaf)

    def signing_key(self, registry: str, public_key: str, at_block: int) -> SigningKeyStatus:
        try:
            reg = self.chain.registry(registry)
            status = reg.signing_key(public_key, at_block)
        except NotARegistry:
            return SigningKeyStatus(public_key, 0, 0)
        if status.revoked_block and status.revoked_block <= at_block:
            revocation = reg.key_revocation(public_key, status.revoked_block)
            return SigningKeyStatus(public_key, status.added_block, status.revoked_block, revocation)
        return status


@dataclass
class Session:
    """One verification run: the trust list, the time, and the chain's answers cached per root."""

    reader_factory: Callable[[], AnchorReader] | None
    trust: TrustList
    now: datetime
    require_signature: bool = False
    min_confirmations: int = 1
    checkpoints: Checkpoints | None = None
    """Offline: no node at all; block hashes come from these checkpoints and state from receipts' evidence."""
    quorum: "Quorum | None" = None
    """Several nodes: block hashes count when enough agree, state is proven from evidence and fresh proofs."""
    no_node: str = "no node configured (--rpc-url)"
    """Why there is no node, when there is none (and no checkpoints)."""

    def __post_init__(self) -> None:
        self._reader: AnchorReader | None = None
        self._chain_id: int | None = None
        self._head = 0
        self._unavailable: str | None = None if self.reader_factory else self.no_node
        self._roots: dict[tuple[str, str], RootView] = {}
        self._keys: dict[tuple[str, str], SigningKeyStatus] = {}
        self._failed: dict[tuple[str, str], str] = {}
        self._hashes: dict[int, str | None] = {}
        self._receipts = ReceiptReader()

    def _facts(self, receipt: Receipt, offline: Offline) -> tuple[ChainFacts | None, str | None]:
        """The chain's answers for this receipt, or None and why not.

        Failing to reach the node ends chain access for the run; a failure while reading one root is that
        root's alone (remembered, so it is not asked again), and other receipts are still checked.
        """
        reader, why = self._connected()
        if reader is None or self._chain_id is None:
            return None, why
        if self._chain_id != receipt.anchor.chain_id:
            return ChainFacts(self._chain_id, self._head, None), None
        key = (receipt.anchor.registry, receipt.merkle.root)
        if key in self._failed:
            return None, self._failed[key]
        try:
            if key not in self._roots:
                self._roots[key] = reader.root_view(*key, at_block=self._head)
            view = self._roots[key]
            revoked = None
            if view.anchored is not None:
                if view.revoked_leaves is None:
                    revoked = reader.leaf_revocation(*key, offline.leaf, self._head)
                else:
                    revoked = view.revoked_leaves.get(offline.leaf)
            keys = {}
            for public_key in offline.signature.public_keys:
                key_id = (receipt.anchor.registry, public_key)
                if key_id not in self._keys:
                    self._keys[key_id] = reader.signing_key(*key_id, self._head)
                keys[public_key] = self._keys[key_id]
        except (ChainUnavailable, ChainMismatch) as exc:
            self._failed[key] = str(exc)
            return None, self._failed[key]
        return ChainFacts(self._chain_id, self._head, view, revoked, keys), None

    def known_revocation(self, registry: str, root: str, leaf: str) -> bool | None:
        """Whether the leaf of `root` is revoked on its own, as this session has already read the root's
        revocations whole from its node (one scan of the registry's events); None when it has not: no node,
        checkpoints or several nodes (facts are proven per receipt there), a root not read yet, or one whose
        leaves are each asked alone."""
        if self.checkpoints is not None or self.quorum is not None or self.reader_factory is None:
            return None
        view = self._roots.get((registry, root))
        if view is None or view.anchored is None or view.revoked_leaves is None:
            return None
        return leaf in view.revoked_leaves

    def read(self, data: bytes, source: str) -> "Parsed | Report":
        """A receipt JSON, or a baked PNG or SVG badge (told apart by its bytes), parsed and checked as far as
        it can be without a chain; a report already when it is not a receipt."""
        try:
            carried = unwrap(data, source)
            if carried.receipt is None:
                return unanchored(source, carried.credential or "", carried.kind, self.now)
            receipt = self._receipts.parse(carried.receipt, source)
        except InvalidReceipt as exc:
            return malformed(source, str(exc))
        # Everything that needs no chain comes first: a receipt that fails on its own costs no node request.
        offline = offline_checks(receipt, now=self.now, require_signature=self.require_signature)
        if carried.kind in ("png", "svg"):
            # 0. A baked badge: the OB 3.0 credential other tools read is exactly the receipt's credential.
            problem = mismatch(carried, receipt.credential, source)
            badge = badge_step(carried.kind, carried.credential_place, carried.credential is not None, problem)
            offline = Offline((badge, *offline.steps), offline.leaf, offline.signature)
        return Parsed(receipt, source, carried.kind, offline)

    def verify_bytes(self, data: bytes, source: str) -> Report:
        parsed = self.read(data, source)
        return parsed if isinstance(parsed, Report) else self.check(parsed)

    def check(self, parsed: "Parsed") -> Report:
        """The chain steps of a parsed receipt with one anchor (or one anchor's projection)."""
        receipt, offline, source = parsed.receipt, parsed.offline, parsed.source
        evidence = None if offline.failed or receipt.evidence is None else self._evidence(receipt, offline)
        facts: ChainFacts | None = None
        unavailable: str | None = None
        notes: tuple[str, ...] = ()
        if offline.failed:
            pass
        elif self.checkpoints is not None or self.quorum is not None:
            if evidence is not None and evidence.state is not None:
                facts, notes = self._proven_facts(receipt, offline, evidence.state)
            elif evidence is None and parsed.projected:
                unavailable = f"the receipt carries no evidence of its anchor on chain {receipt.anchor.chain_id}"
            elif evidence is None:
                unavailable = "a version 1 receipt carries no evidence: verify it with one --rpc-url"
            elif evidence.step.ok is None:
                unavailable = evidence.step.detail
            else:
                unavailable = "not checked: the evidence does not hold"
        else:
            facts, unavailable = self._facts(receipt, offline)
        if parsed.kind == "pdf":
            notes = (*notes, page_note(receipt))
        return check_receipt(
            receipt,
            source=source,
            facts=facts,
            trust=self.trust,
            now=self.now,
            unavailable=unavailable,
            offline=offline,
            min_confirmations=self.min_confirmations,
            evidence=evidence.step if evidence else None,
            notes=notes,
        )

    def _proven_facts(
        self, receipt: Receipt, offline: Offline, state: ProvenState
    ) -> tuple[ChainFacts, tuple[str, ...]]:
        """Facts proven from evidence; with several nodes, from fresh proofs at a block they agree on."""
        if self.quorum is None:
            return facts_from_state(state), ()
        found = evidence_for(receipt)
        if found is None:
            return facts_from_state(state), ()
        fresh, how = self.quorum.fresh_state(found, receipt.merkle.root, offline.leaf, offline.signature.public_keys)
        if fresh is None:
            return facts_from_state(state), (f"no fresher state could be proven: {how}",)
        return facts_from_state(fresh), (how,)

    def _evidence(self, receipt: Receipt, offline: Offline) -> EvidenceOutcome:
        """The evidence step, resting on a checkpoint (offline) or on the node's hash of the evidence block."""
        known = self.checkpoints
        found = evidence_for(receipt, lambda e: known is not None and (e.chain_id, block_of(e) or -1) in known)
        number = block_of(found) if found else None
        if found is None or number is None:
            return check_evidence(receipt, offline, None, "")
        chain_id = found.chain_id
        if known is not None:
            return check_evidence(
                receipt,
                offline,
                known.get((chain_id, number)),
                f"checkpoint {chain_id}/{number}",
                missing=f"no checkpoint for chain {chain_id} block {number} (--checkpoints)",
                evidence=found,
            )
        if self.quorum is not None:
            agreed_chain = self.quorum.chain_id()
            if agreed_chain != chain_id:
                disagreement = (
                    f"the nodes are chain {agreed_chain}" if agreed_chain else "the nodes do not agree on a chain id"
                )
                return check_evidence(receipt, offline, None, "", missing=disagreement)
            agreed, how = self.quorum.block_hash(number)
            return check_evidence(receipt, offline, agreed, how, missing=how)
        reader, unreachable = self._connected()
        if reader is None:
            return check_evidence(receipt, offline, None, "", missing=unreachable or "no node")
        if self._chain_id != chain_id:
            return check_evidence(receipt, offline, None, "", missing=f"the node is chain {self._chain_id}")
        if number not in self._hashes:
            try:
                self._hashes[number] = reader.block_hash(number)
            except (ChainUnavailable, ChainMismatch) as exc:
                return check_evidence(receipt, offline, None, "", missing=str(exc))
        trusted = self._hashes[number]
        missing = f"the node has no block {number} yet"
        return check_evidence(receipt, offline, trusted, "the node", missing=missing)

    def _connected(self) -> tuple[AnchorReader | None, str | None]:
        """The node reader (made once), or None and why there is none."""
        if self._unavailable is not None or self.reader_factory is None:
            return None, self._unavailable
        try:
            if self._reader is None or self._chain_id is None:
                self._reader = self.reader_factory()
                self._chain_id = self._reader.chain_id()
                self._head = self._reader.head()
        except (ChainUnavailable, ChainMismatch) as exc:
            self._unavailable = str(exc)
            return None, self._unavailable
        return self._reader, None

    def verify_file(self, path: Path) -> Report:
        data = read_receipt_file(path)
        return data if isinstance(data, Report) else self.verify_bytes(data, str(path))

    def verify_files(self, paths: Iterable[Path]) -> Iterator[Report]:
        for path in paths:
            yield self.verify_file(path)


def read_receipt_file(path: Path) -> bytes | Report:
    """The bytes of a file to verify, or the report of why it cannot be read."""
    try:
        # The size cap depends on what the file is (a receipt, a baked image, a PDF): its first bytes say.
        head, _ = read_head(path, SNIFF_BYTES, InvalidReceipt)
        return read_limited(path, carrier_max_bytes(head), InvalidReceipt)
    except CredanchorError as exc:
        return malformed(str(path), str(exc))


@dataclass(frozen=True)
class Parsed:
    """A receipt read and checked as far as it goes without a chain."""

    receipt: Receipt
    source: str
    kind: str
    """What carried it: json, png, svg or pdf."""
    offline: Offline
    projected: bool = False
    """One anchor's projection of a receipt with several."""

    def project(self, index: int) -> "Parsed":
        several = len(self.receipt.anchors()) > 1
        return Parsed(self.receipt.for_anchor(index), self.source, self.kind, self.offline, projected=several)


def page_note(receipt: Receipt) -> str:
    """What a certificate's page should show: its text is not checked, only the receipt attached to it."""
    credential = receipt.credential
    subject = credential.get("credentialSubject", {})
    names = [
        i.get("identityHash")
        for i in subject.get("identifier", [])
        if isinstance(i, dict) and i.get("identityType") == "name" and i.get("hashed") is False
    ]
    view = receipt.view()
    earner = f"awarded to {names[0]!r}" if names and isinstance(names[0], str) else "no earner name in the credential"
    return (
        f"only the receipt attached to this PDF is checked, not the page: compare the page with the credential "
        f"({earner}; {view.credential_subject.achievement.name!r}; issued by "
        f"{view.issuer.name or view.issuer.id!r}; {view.id})"
    )


def exit_code(reports: Iterable[Report]) -> int:
    """0 all valid; 2 if any input was malformed; else 3 if the chain could not be asked; else 1."""
    verdicts = {r.verdict for r in reports}
    if verdicts <= {Verdict.VALID}:
        return EXIT_VALID
    if Verdict.MALFORMED in verdicts:
        return EXIT_MALFORMED
    if Verdict.UNAVAILABLE in verdicts:
        return EXIT_UNAVAILABLE
    return EXIT_INVALID
