"""One registry's events, read once from its deployment block and extended from the block reached.

Invariants: pure bookkeeping (events in, answers out; no I/O). A `RegistryLog` holds every Anchored,
CredentialRevoked and BatchRevoked event of one registry in blocks `start..reached`, in chain order, and
answers only for blocks it covers: asked about a block past `reached`, it raises (the caller extends it
first); asked about an earlier block, it leaves later events out, so readers pinned to different heads each
see the chain as of their own head. The answers are the ones the per-root log reads give
(`Registry.anchored_events`, `revoked_leaves`, `batch_revocations` over the same blocks).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from anchoring.onchain import RegistryEvent

KEPT = ("Anchored", "CredentialRevoked", "BatchRevoked")


@dataclass
class RegistryLog:
    registry: str
    start: int
    """The first block read (the registry's deployment block)."""
    reached: int
    """The last block read."""
    reached_hash: str | None
    """That block's hash when it was read: a different hash later means a reorganisation, and a new read."""
    by_root: dict[str, list[RegistryEvent]] = field(default_factory=dict)

    def add(self, events: Iterable[RegistryEvent], reached: int, reached_hash: str | None) -> None:
        """Events of blocks `self.reached + 1 .. reached`, in chain order."""
        for event in events:
            if event.name in KEPT:
                self.by_root.setdefault(str(event.args["root"]), []).append(event)
        self.reached, self.reached_hash = reached, reached_hash

    def _of(self, root: str, first: int, last: int) -> list[RegistryEvent]:
        if last > self.reached:
            raise ValueError(f"the log of {self.registry} reaches block {self.reached}, not {last}")
        return [e for e in self.by_root.get(root, ()) if first <= e.block_number <= last]

    def anchored(self, root: str, block: int) -> list[RegistryEvent]:
        return [e for e in self._of(root, block, block) if e.name == "Anchored"]

    def revoked_leaves(self, root: str, first: int, last: int) -> dict[str, RegistryEvent]:
        """Leaf -> its CredentialRevoked event, for the root's credentials revoked one by one in the blocks."""
        return {str(e.args["leaf"]): e for e in self._of(root, first, last) if e.name == "CredentialRevoked"}

    def batch_revocation(self, root: str, block: int) -> RegistryEvent | None:
        return next((e for e in self._of(root, block, block) if e.name == "BatchRevoked"), None)
