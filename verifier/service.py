"""The verification shell: read receipt files, ask the chain once per distinct root, run the pure checks.

Invariants: the node is the verifier's own (`reader`), never one a receipt names; all chain reads for one run
are pinned to the head block read at the start, so receipts of one batch see one consistent state; a chain
that cannot be asked yields `chain-unavailable` verdicts (exit 3), never a crash or a false `valid`.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from anchoring.chain import Chain
from anchoring.errors import ChainMismatch, ChainUnavailable, CredanchorError, InvalidReceipt, NotARegistry
from anchoring.faults import fault
from anchoring.jsonio import read_limited
from anchoring.receipt import MAX_RECEIPT_BYTES, Receipt
from anchoring.workers import parallel_map
from verifier.checks import ChainFacts, Report, RootView, Verdict, check_receipt, malformed
from verifier.trust import TrustList

EXIT_VALID, EXIT_INVALID, EXIT_MALFORMED, EXIT_UNAVAILABLE = 0, 1, 2, 3


class AnchorReader(Protocol):
    """What verification needs from a node (`anchoring.chain`-backed in production)."""

    def chain_id(self) -> int: ...

    def head(self) -> int: ...

    def root_view(self, registry: str, root: str, at_block: int) -> RootView: ...


class ChainReader:
    """`AnchorReader` over a real node."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def chain_id(self) -> int:
        return self.chain.chain_id

    def head(self) -> int:
        return self.chain.block_number()

    def root_view(self, registry: str, root: str, at_block: int) -> RootView:
        try:
            return self._root_view(registry, root, at_block)
        except NotARegistry as exc:
            return RootView(registry_has_code=True, anchor=None, anchored=None, not_a_registry=str(exc))

    def _root_view(self, registry: str, root: str, at_block: int) -> RootView:
        reg = self.chain.registry(registry)
        if not self.chain.has_code(reg.address, at_block):
            return RootView(registry_has_code=False, anchor=None, anchored=None)
        anchor = reg.anchor_of(root, at_block)
        if anchor is None:
            return RootView(registry_has_code=True, anchor=None, anchored=None)
        anchored = reg.anchored_events(root, anchor.block_number, anchor.block_number)
        revoked = reg.revoked_leaves(root, anchor.block_number, at_block)
        batch_revocation = None
        if anchor.batch_revoked:
            batch_revocation = next(iter(reg.batch_revocations(root, anchor.revoked_block, anchor.revoked_block)), None)
        return RootView(True, anchor, anchored[0] if anchored else None, revoked, batch_revocation)


@dataclass
class Session:
    """One verification run: the trust list, the time, and the chain's answers cached per root."""

    reader_factory: Callable[[], AnchorReader] | None
    trust: TrustList
    now: datetime

    def __post_init__(self) -> None:
        self._reader: AnchorReader | None = None
        self._chain_id: int | None = None
        self._head = 0
        self._unavailable: str | None = None if self.reader_factory else "no node configured (--rpc-url)"
        self._roots: dict[tuple[str, str], RootView] = {}
        self._failed: dict[tuple[str, str], str] = {}

    def _facts(self, receipt: Receipt) -> tuple[ChainFacts | None, str | None]:
        """The chain's answers for this receipt, or None and why not.

        Failing to reach the node ends chain access for the run; a failure while reading one root is that
        root's alone (remembered, so it is not asked again), and other receipts are still checked.
        """
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
        if self._chain_id != receipt.anchor.chain_id:
            return ChainFacts(self._chain_id, self._head, None), None
        key = (receipt.anchor.registry, receipt.merkle.root)
        if key in self._failed:
            return None, self._failed[key]
        if key not in self._roots:
            try:
                self._roots[key] = self._reader.root_view(*key, at_block=self._head)
            except (ChainUnavailable, ChainMismatch) as exc:
                self._failed[key] = str(exc)
                return None, self._failed[key]
        return ChainFacts(self._chain_id, self._head, self._roots[key]), None

    def verify_bytes(self, data: bytes, source: str) -> Report:
        try:
            receipt = Receipt.from_json(data, source=source)
        except InvalidReceipt as exc:
            return malformed(source, str(exc))
        facts, unavailable = self._facts(receipt)
        return check_receipt(
            receipt, source=source, facts=facts, trust=self.trust, now=self.now, unavailable=unavailable
        )

    def verify_file(self, path: Path) -> Report:
        try:
            data = read_limited(path, MAX_RECEIPT_BYTES, InvalidReceipt)
        except CredanchorError as exc:
            return malformed(str(path), str(exc))
        return self.verify_bytes(data, str(path))

    def verify_files(self, paths: Iterable[Path]) -> Iterator[Report]:
        for path in paths:
            yield self.verify_file(path)


@dataclass(frozen=True)
class BatchReader:
    """An `AnchorReader` that already knows the one root a batch's receipts must name.

    For the issuer's self-check, where every receipt of the batch names the same root: the parent reads it
    from the chain once and hands this to worker processes. Any other root reads as not anchored, which is
    the right verdict there (a receipt of the batch naming another root is wrong).
    """

    chain: int
    at_block: int
    registry: str
    root: str
    view: RootView

    def chain_id(self) -> int:
        return self.chain

    def head(self) -> int:
        return self.at_block

    def root_view(self, registry: str, root: str, at_block: int) -> RootView:
        if (registry, root) == (self.registry, self.root):
            return self.view
        return RootView(registry_has_code=registry == self.registry, anchor=None, anchored=None)


def _verify_chunk(reader: BatchReader, trust: TrustList, now: datetime, paths: list[Path]) -> list[Report]:
    return list(Session(lambda: reader, trust, now).verify_files(paths))


def verify_batch(
    paths: Sequence[Path],
    reader: BatchReader,
    trust: TrustList,
    now: datetime,
    *,
    on_done: Callable[[int], None] | None = None,
    chunk: int = 1000,
) -> list[Report]:
    """Verify a batch's receipt files on every core; reports in the order of `paths`."""
    chunks = [list(paths[i : i + chunk]) for i in range(0, len(paths), chunk)]
    reports: list[Report] = []
    for done in parallel_map(partial(_verify_chunk, reader, trust, now), chunks):
        reports += done
        if on_done:
            on_done(len(done))
        fault("verifying")
    return reports


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
