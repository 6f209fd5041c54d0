"""An `AnchorReader` that remembers the chain's answers for a short time, for a long-running verifier.

Invariants: every answer is cached under the block it was read at, and the head block itself only for
`ttl` seconds, so a revocation or a new anchor shows at most `ttl` seconds (plus the node's own lag) late,
and answers read at different heads are never mixed in one verification (a `Session` pins one head). The
chain id is read once: a node that changes its chain id under a running server is refused on the next
connection the `factory` makes. Thread-safe; failures are not cached, so a node that comes back is used.
"""

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cachetools import TTLCache

from anchoring.onchain import RegistryEvent, SigningKeyStatus
from verifier.checks import RootView
from verifier.service import AnchorReader

T = TypeVar("T")
MAX_ENTRIES = 4096


class CachedReader:
    """Wraps the reader `factory` makes (on first use)."""

    def __init__(self, factory: Callable[[], AnchorReader], ttl: float, *, clock: Callable[[], float] = time.monotonic):
        self._factory = factory
        self._ttl = ttl
        self._lock = threading.Lock()
        self._reader: AnchorReader | None = None
        self._chain_id: int | None = None
        self._gates: dict[tuple[Any, ...], threading.Lock] = {}
        self._answers: TTLCache[tuple[Any, ...], Any] = TTLCache(MAX_ENTRIES, ttl, timer=clock)

    def _inner(self) -> AnchorReader:
        with self._lock:
            if self._reader is None:
                self._reader = self._factory()
            return self._reader

    def _cached(self, key: tuple[Any, ...], read: Callable[[AnchorReader], T]) -> T:
        """The answer for `key`, read once however many requests ask for it at the same moment: the first
        reads (outside the shared lock, so a slow node holds up no answer already known), the rest wait for
        it. A failed read is not kept; the next asker tries again."""
        with self._lock:
            if key in self._answers:
                found: T = self._answers[key]
                return found
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._answers:
                    again: T = self._answers[key]
                    return again
            try:
                value = read(self._inner())
                with self._lock:
                    self._answers[key] = value
            finally:
                with self._lock:
                    self._gates.pop(key, None)
        return value

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._inner().chain_id()
        return self._chain_id

    def head(self) -> int:
        return self._cached(("head",), lambda r: r.head())

    def root_view(self, registry: str, root: str, at_block: int) -> RootView:
        return self._cached(("root", registry, root, at_block), lambda r: r.root_view(registry, root, at_block))

    def leaf_revocation(self, registry: str, root: str, leaf: str, at_block: int) -> RegistryEvent | None:
        return self._cached(
            ("leaf", registry, root, leaf, at_block), lambda r: r.leaf_revocation(registry, root, leaf, at_block)
        )

    def signing_key(self, registry: str, public_key: str, at_block: int) -> SigningKeyStatus:
        return self._cached(
            ("key", registry, public_key, at_block), lambda r: r.signing_key(registry, public_key, at_block)
        )

    def block_hash(self, number: int) -> str | None:
        return self._cached(("block", number), lambda r: r.block_hash(number))
