"""The issuer's self-check: a batch's receipts verified on every core, against the batch's root as the parent
read it from each chain it is anchored on: read back from where they were written (`verify_batch`), or
checked by the workers that make them, from the bytes they write (`checking`).

Invariants: the same `Session` steps a verifier runs, over `BatchReader`s that answer only for the batch's own
root; worker processes ask no node. A batch anchored on several chains is checked on every anchor: one
reader per chain id, and every anchor of the receipt must hold (`required` = how many chains were read).
"""

import gc
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from anchoring.dataintegrity import SignatureCheck
from anchoring.errors import CredanchorError
from anchoring.faults import fault
from anchoring.onchain import RegistryEvent, SigningKeyStatus
from anchoring.receiptfiles import read_receipts_at
from anchoring.workers import bounded_map
from verifier.batchfast import Shortcut
from verifier.checks import Report, RootView, Verdict, malformed
from verifier.multichain import ByChain, Verifier
from verifier.service import Session
from verifier.trust import TrustList


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
    keys: dict[str, SigningKeyStatus]
    hashes: dict[int, str] = field(default_factory=dict)
    """Block hashes the parent read (for the blocks the batch's evidence is from)."""

    def chain_id(self) -> int:
        return self.chain

    def block_hash(self, number: int) -> str | None:
        return self.hashes.get(number)

    def head(self) -> int:
        return self.at_block

    def root_view(self, registry: str, root: str, at_block: int) -> RootView:
        if (registry, root) == (self.registry, self.root):
            return self.view
        return RootView(registry_has_code=registry == self.registry, anchor=None, anchored=None)

    def leaf_revocation(self, registry: str, root: str, leaf: str, at_block: int) -> RegistryEvent | None:
        return None  # the view of the batch's own root always holds its revoked leaves

    def signing_key(self, registry: str, public_key: str, at_block: int) -> SigningKeyStatus:
        if registry != self.registry:
            return SigningKeyStatus(public_key, 0, 0)
        return self.keys.get(public_key, SigningKeyStatus(public_key, 0, 0))


@dataclass(frozen=True)
class _Run:
    """One `verify_batch` call, as each of its chunks is given it."""

    key: str
    """Unique to the call (what a process's kept verifier is of)."""
    readers: Mapping[int, BatchReader]
    required: int
    trust: TrustList
    now: datetime
    passing: frozenset[Verdict]


_KEPT: "tuple[str, Verifier, Shortcut] | None" = None
"""The verifier and shortcut of the `verify_batch` run this process last checked a chunk of: a run's chunks
share them, so the receipts verified in full to teach the shortcut (the first, then one for each variant of
the evidence) are verified once per process, not once per chunk (measured: 9 of each 1,000 receipts, at
about 16 ms each, half the self-check's time)."""


def _checking(run: _Run) -> tuple[Verifier, Shortcut]:
    global _KEPT
    kept = _KEPT
    if kept is None or kept[0] != run.key:
        trust, now = run.trust, run.now
        sessions = {chain_id: Session(partial(_same, reader), trust, now) for chain_id, reader in run.readers.items()}
        other = Session(None, trust, now, no_node="the self-check read no chain of that id")
        verifier = Verifier(other, ByChain(sessions, other), run.required)
        # After one receipt verified in full, the others need only their own parts checked (verifier.batchfast).
        shortcut = Shortcut(run.passing, verifier.known_revocation, signatures=_SIGNATURES)
        kept = _KEPT = (run.key, verifier, shortcut)
    return kept[1], kept[2]


_SIGNATURES: SignatureCheck | None = None
"""What checks signatures in the shortcut of the running `verify_batch` (held only while it runs; its worker
processes inherit it as they fork, so a private key it holds is never sent to them)."""
_ONE_AT_A_TIME = threading.Lock()


def _verify_chunk(run: _Run, locations: list[str]) -> tuple[int, list[Report]]:
    return len(locations), _check(run, read_receipts_at(locations))


def _check(run: _Run, receipts: Iterable[tuple[str, bytes | CredanchorError]]) -> list[Report]:
    """The reports of `receipts` ((source, its bytes or why they could not be read)) whose verdict is not in
    the run's `passing`, in order."""
    passing = run.passing
    verifier, shortcut = _checking(run)
    reports = []
    # A chunk allocates many objects and keeps them (its reports) but makes no reference cycles: the cyclic
    # collector walking them again and again cost about a quarter of the time, so it waits for the chunk.
    paused = gc.isenabled()
    gc.disable()
    try:
        for source, data in receipts:
            if isinstance(data, CredanchorError):
                reports.append(malformed(source, str(data)))
                continue
            if shortcut.holds(data):
                continue
            report = verifier.verify_bytes(data, source)
            if report.verdict not in passing:
                reports.append(report)
            else:
                shortcut.learn(data, report)
    finally:
        if paused:
            gc.enable()
    return reports


def _same(reader: BatchReader) -> BatchReader:
    return reader


@dataclass(frozen=True)
class BatchChecking:
    """A batch's receipts being checked as they are made (`checking`): `check` runs in any process forked
    while it is open, which inherits the readers and what checks the signatures."""

    run: _Run

    def check(self, receipts: Iterable[tuple[str, bytes | CredanchorError]]) -> list[Report]:
        """The reports of `receipts` ((source, bytes)) whose verdict is not passing, in order."""
        return _check(self.run, receipts)


@contextmanager
def checking(
    reader: BatchReader | Mapping[int, BatchReader],
    trust: TrustList,
    now: datetime,
    *,
    passing: frozenset[Verdict] = frozenset(),
    signatures: SignatureCheck | None = None,
) -> Iterator[BatchChecking]:
    """What `verify_batch` checks each chunk of receipts with, given their bytes (the issuer's self-check as
    it writes them: no second read of what it has just made). One at a time in a process; worker processes
    must be forked inside it."""
    global _SIGNATURES
    readers = {reader.chain: reader} if isinstance(reader, BatchReader) else dict(reader)
    with _ONE_AT_A_TIME:
        _SIGNATURES = signatures
        try:
            yield BatchChecking(_Run(secrets.token_hex(16), readers, len(readers), trust, now, passing))
        finally:
            _SIGNATURES = None


def verify_batch(
    locations: Sequence[str | Path],
    reader: BatchReader | Mapping[int, BatchReader],
    trust: TrustList,
    now: datetime,
    *,
    on_done: Callable[[int], None] | None = None,
    chunk: int = 1000,
    passing: frozenset[Verdict] = frozenset(),
    signatures: SignatureCheck | None = None,
) -> list[Report]:
    """Verify a batch's receipts on every core; reports in the order of `locations` (a receipt file, a line of
    a JSON Lines file or a zip member: `anchoring.receiptfiles`; a `Path` is a receipt file). With one reader
    per chain id, every anchor of every receipt must hold on its chain. Reports with a verdict in `passing`
    are counted, not returned (a million valid reports need not be kept to find the few that are not).
    `signatures`: what checks the signatures of the receipts after the first (`Shortcut`)."""
    where = [str(location) for location in locations]
    chunks = (where[i : i + chunk] for i in range(0, len(where), chunk))
    reports: list[Report] = []
    with checking(reader, trust, now, passing=passing, signatures=signatures) as batch:
        for count, kept in bounded_map(partial(_verify_chunk, batch.run), chunks):
            reports += kept
            if on_done:
                on_done(count)
            fault("verifying")
    return reports
