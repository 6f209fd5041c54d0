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
        self._head: TTLCache[str, int] = TTLCache(1, ttl, timer=clock)
        self._answers: TTLCache[tuple[Any, ...], Any] = TTLCache(MAX_ENTRIES, ttl, timer=clock)

    def _inner(self) -> AnchorReader:
        with self._lock:
            if self._reader is None:
                self._reader = self._factory()
            return self._reader

    def _cached(self, key: tuple[Any, ...], read: Callable[[AnchorReader], T]) -> T:
        with self._lock:
            if key in self._answers:
                found: T = self._answers[key]
                return found
        value = read(self._inner())  # outside the lock: a slow node must not hold up answers already known
        with self._lock:
            self._answers[key] = value
        return value

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._inner().chain_id()
        return self._chain_id

    def head(self) -> int:
        with self._lock:
            if "head" in self._head:
                return self._head["head"]
        head = self._inner().head()
        with self._lock:
            self._head["head"] = head
        return head

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
