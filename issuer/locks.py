"""Locks between issuing processes: file locks in the workspace on SQLite, PostgreSQL advisory locks when the
store is PostgreSQL (several machines, each with its own workspace folder, sharing one database).

Invariants:
- batch:       one process at a time drives a given batch (by its input key); another is told so at once.
- nonce:       choosing a nonce, recording the signed transaction and broadcasting it happen for one process
               at a time per chain (and, on PostgreSQL, per sending address), so live processes never sign two
               transactions with one nonce.
- achievement: checking that no earner holds the achievement already and inserting the batch happen for one
               process at a time per achievement, so two runs for one earner cannot both pass the check.
- notify:      one process at a time e-mails a batch.
A lock dies with its holder: the kernel drops a killed process's file locks, and PostgreSQL drops the advisory
locks of a session whose connection closed (its TCP keepalives, set short on lock sessions, notice a machine
gone silent within about a minute).
"""

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

from anchoring.errors import InvalidInput

BATCH_BUSY = "another credanchor process is working on this batch right now; wait for it to finish"


def notify_busy(batch_id: int) -> str:
    return f"another credanchor process is e-mailing batch {batch_id} right now"


class Busy(InvalidInput):
    """Another live process holds the lock (a caller going through many batches skips that one)."""


class Locks(Protocol):
    def batch(self, input_key: str) -> AbstractContextManager[None]: ...

    def nonce(self, chain_id: int, sender: str, *, home: bool) -> AbstractContextManager[None]: ...

    def achievement(self, achievement_id: str) -> AbstractContextManager[None]: ...

    def notify(self, batch_id: int) -> AbstractContextManager[None]: ...


def locks_for(engine: Engine, root: Path) -> Locks:
    """The locks that fit the store: advisory locks on PostgreSQL, file locks under the workspace `root`."""
    if engine.dialect.name == "postgresql":
        return DatabaseLocks(engine)
    return FileLocks(root)


class FileLocks:
    """POSIX record locks (`lockf`) for held locks: worker processes forked while one is held do not inherit
    it, so workers orphaned by a killed run cannot keep the next run out. `flock` for the short waits."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def batch(self, input_key: str) -> AbstractContextManager[None]:
        return self._hold(f"batch-{input_key[:32]}", BATCH_BUSY)

    def notify(self, batch_id: int) -> AbstractContextManager[None]:
        return self._hold(f"notify-{batch_id}", notify_busy(batch_id))

    def nonce(self, chain_id: int, sender: str, *, home: bool) -> AbstractContextManager[None]:
        return self._wait(self.root / (".nonce.lock" if home else f".nonce-{chain_id}.lock"))

    def achievement(self, achievement_id: str) -> AbstractContextManager[None]:
        folder = self.root / ".locks"
        folder.mkdir(exist_ok=True)
        return self._wait(folder / f"achievement-{_digest(achievement_id)[:32]}.lock")

    @contextmanager
    def _hold(self, name: str, busy: str) -> Iterator[None]:
        folder = self.root / ".locks"
        folder.mkdir(exist_ok=True)
        with (folder / f"{name}.lock").open("a") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise Busy(busy) from None
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN)

    @contextmanager
    def _wait(self, path: Path) -> Iterator[None]:
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class DatabaseLocks:
    """Session-level PostgreSQL advisory locks, each on a connection of its own in autocommit mode (no
    transaction stays open while a batch is driven), unlocked and closed on the way out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def batch(self, input_key: str) -> AbstractContextManager[None]:
        return self._lock(f"batch:{input_key}", busy=BATCH_BUSY)

    def notify(self, batch_id: int) -> AbstractContextManager[None]:
        return self._lock(f"notify:{batch_id}", busy=notify_busy(batch_id))

    def nonce(self, chain_id: int, sender: str, *, home: bool) -> AbstractContextManager[None]:
        return self._lock(f"nonce:{chain_id}:{sender.lower()}", busy=None)

    def achievement(self, achievement_id: str) -> AbstractContextManager[None]:
        return self._lock(f"achievement:{achievement_id}", busy=None)

    @contextmanager
    def _lock(self, name: str, *, busy: str | None) -> Iterator[None]:
        """Take the lock named `name`: at once or raise `Busy(busy)`, or (`busy` None) waiting for it."""
        key = lock_key(name)
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            _keep_alive(connection)
            if busy is not None:
                if not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
                    raise Busy(busy)
            else:
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        finally:
            connection.close()


def _keep_alive(connection: Connection) -> None:
    """A lock session must not be ended by the server's idle timeouts, and must end soon after its machine
    goes silent (the server's default TCP keepalive waits two hours)."""
    for setting, value in (
        ("idle_session_timeout", "0"),
        ("idle_in_transaction_session_timeout", "0"),
        ("tcp_keepalives_idle", "30"),
        ("tcp_keepalives_interval", "10"),
        ("tcp_keepalives_count", "3"),
    ):
        connection.execute(text("SELECT set_config(:name, :value, false)"), {"name": setting, "value": value})


def lock_key(name: str) -> int:
    """The advisory lock key of a name: 64 bits of its SHA-256, as the signed number PostgreSQL takes."""
    return int.from_bytes(hashlib.sha256(f"credanchor:{name}".encode()).digest()[:8], "big", signed=True)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
