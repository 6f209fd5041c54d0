"""Verifying receipts anchored on one chain or several: each anchor checked by the session of its chain.

Invariants: a receipt is read, and checked as far as it goes without a chain, once; each of its anchors is
then checked alone (its projection, `Receipt.for_anchor`) by the `Session` of that anchor's chain, and
`verifier.anchors.combine` makes one report of them. A receipt with one anchor (and no --require above 1)
gets exactly the single-anchor report. Which session serves which chain is the route's business: one
session for every chain (offline checkpoints, no node, one node), or the verifier's nodes grouped by the chain
each answers for (`NodeGroups`; each node asked its chain id once, when a receipt first needs a chain).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from anchoring.chain import Chain
from anchoring.errors import ChainMismatch, ChainUnavailable
from verifier.anchors import check_required, combine
from verifier.checks import Report
from verifier.service import AnchorReader, ChainReader, Session, read_receipt_file

if TYPE_CHECKING:
    from verifier.quorum import Quorum  # loaded only where several nodes of one chain must agree


class Route(Protocol):
    """Which session checks anchors on a chain."""

    def session(self, chain_id: int) -> Session: ...

    def notes(self) -> tuple[str, ...]:
        """What every report should say about the nodes (one that did not answer, say)."""
        ...


@dataclass
class OneSession:
    """Every chain to one session: offline checkpoints (keyed by chain id), one node, or none."""

    only: Session

    def session(self, chain_id: int) -> Session:
        return self.only

    def notes(self) -> tuple[str, ...]:
        return ()


@dataclass
class ByChain:
    """The sessions given, by chain id; any other chain to `other`."""

    sessions: Mapping[int, Session]
    other: Session

    def session(self, chain_id: int) -> Session:
        return self.sessions.get(chain_id, self.other)

    def notes(self) -> tuple[str, ...]:
        return ()


class NodeGroups:
    """The verifier's nodes grouped by the chain id each answers: one node of a chain is asked alone, several
    must agree (`quorum` of them, default all of that chain's). A node that does not answer belongs to no
    chain and is named in the notes; with an explicit `quorum`, a chain with fewer nodes is not checked."""

    def __init__(
        self,
        template: Session,
        chains: Sequence[Chain],
        quorum: int | None = None,
        reader: Callable[[Chain], AnchorReader] = ChainReader,
    ) -> None:
        self._template = template
        self._chains = chains
        self._quorum = quorum
        self._reader = reader
        self._groups: dict[int, list[Chain]] | None = None
        self._silent: list[str] = []
        self._sessions: dict[int, Session] = {}

    def _grouped(self) -> dict[int, list[Chain]]:
        if self._groups is None:
            self._groups, self._silent = group_by_chain(self._chains)
        return self._groups

    def session(self, chain_id: int) -> Session:
        if chain_id not in self._sessions:
            self._sessions[chain_id] = self._session(chain_id)
        return self._sessions[chain_id]

    def _session(self, chain_id: int) -> Session:
        groups = self._grouped()
        group = groups.get(chain_id, [])
        if len(group) == 1 and self._quorum in (None, 1):
            only, reader = group[0], self._reader
            return replace(self._template, reader_factory=lambda: reader(only), quorum=None)
        nodes = chain_quorum(groups, chain_id, self._quorum)
        if not isinstance(nodes, str):
            return replace(self._template, reader_factory=None, quorum=nodes)
        why = "; ".join([nodes, *self._silent]) if not group else nodes
        return replace(self._template, reader_factory=None, quorum=None, no_node=why)

    def notes(self) -> tuple[str, ...]:
        return tuple(self._silent)


def group_by_chain(chains: Sequence[Chain]) -> tuple[dict[int, list[Chain]], list[str]]:
    """Nodes by the chain id each answers (asked once each), and a line for each node that did not answer."""
    groups: dict[int, list[Chain]] = defaultdict(list)
    silent = []
    for chain in chains:
        try:
            groups[chain.chain_id].append(chain)
        except (ChainUnavailable, ChainMismatch) as exc:
            silent.append(f"{exc}: not used")
    return dict(groups), silent


def chain_quorum(groups: Mapping[int, Sequence[Chain]], chain_id: int, quorum: int | None) -> "Quorum | str":
    """The nodes of `chain_id` that must agree (`quorum` of them, default all), or why there are none."""
    from verifier.quorum import Quorum

    group = groups.get(chain_id, [])
    if not group:
        known = ", ".join(str(c) for c in sorted(groups))
        return f"no node given is of chain {chain_id}" + (f" (they are chain {known})" if known else "")
    if quorum is not None and quorum > len(group):
        return f"--quorum {quorum}, but {len(group)} node{'s' if len(group) != 1 else ''} of chain {chain_id} answer"
    return Quorum(group, quorum or len(group))


@dataclass
class Verifier:
    """Receipts with one anchor or several, each anchor checked on its own chain, one report each."""

    reader: Session
    """Reads receipts (its time and --require-signature), and checks those that fail without a chain."""
    route: Route
    required: int | None = None
    """--require K: at least K trusted anchors must hold (default: every one that can be checked, at least 1)."""

    def __post_init__(self) -> None:
        check_required(self.required)

    def verify_bytes(self, data: bytes, source: str) -> Report:
        parsed = self.reader.read(data, source)
        if isinstance(parsed, Report):
            return parsed
        anchors = parsed.receipt.anchors()
        if parsed.offline.failed:
            # No chain is asked for a receipt that fails on its own, so no node is asked which chain it is.
            def session(chain_id: int) -> Session:
                return self.reader
        else:
            session = self.route.session
        if len(anchors) == 1 and (self.required or 1) <= 1:
            report = session(anchors[0].chain_id).check(parsed)
            notes = self.route.notes()
            return replace(report, notes=(*report.notes, *notes)) if notes else report
        reports = [session(a.chain_id).check(parsed.project(i)) for i, a in enumerate(anchors)]
        return combine(
            parsed.receipt, reports, self.required, offline_failed=parsed.offline.failed, notes=self.route.notes()
        )

    def known_revocation(self, chain_id: int, registry: str, root: str, leaf: str) -> bool | None:
        """`Session.known_revocation` of the session that checks anchors on `chain_id`."""
        return self.route.session(chain_id).known_revocation(registry, root, leaf)

    def verify_file(self, path: Path) -> Report:
        data = read_receipt_file(path)
        return data if isinstance(data, Report) else self.verify_bytes(data, str(path))

    def verify_files(self, paths: Iterable[Path]) -> Iterator[Report]:
        for path in paths:
            yield self.verify_file(path)
