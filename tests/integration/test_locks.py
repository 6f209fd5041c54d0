"""PostgreSQL advisory locks between issuing processes: a held batch is refused to another process with the
message users see, a waiting lock is taken when released, and a killed holder's locks go with its connection."""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from issuer.locks import BATCH_BUSY, Busy, DatabaseLocks, lock_key, locks_for
from issuer.store import Store
from tests.pgserver import PostgresServer

HOLD = """
import sys, time
from issuer.locks import DatabaseLocks
from issuer.store import Store
locks = DatabaseLocks(Store(sys.argv[1]).engine)
kind = sys.argv[2]
lock = locks.batch(sys.argv[3]) if kind == "batch" else locks.nonce(int(sys.argv[3]), sys.argv[4], home=True)
with lock:
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.new_database("locks")


@pytest.fixture
def holder(url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of batch `k`."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, "batch", "k"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "held\n"
    yield process
    process.kill()
    process.wait()


def waiting(store: Store, name: str) -> int:
    key = lock_key(name) & (2**64 - 1)
    with store.engine.connect() as connection:
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid::bigint = :high AND objid::bigint = :low"
        )
        return int(connection.execute(query, {"high": key >> 32, "low": key & 0xFFFFFFFF}).scalar_one())


def test_the_store_picks_database_locks_on_postgresql(url: str, tmp_path: object) -> None:
    assert isinstance(locks_for(Store(url).engine, tmp_path), DatabaseLocks)  # type: ignore[arg-type]


def test_a_batch_held_by_another_process_is_refused_until_its_holder_dies(
    url: str, holder: subprocess.Popen[str]
) -> None:
    locks = DatabaseLocks(Store(url).engine)
    with pytest.raises(Busy) as raised, locks.batch("k"):
        pass
    assert str(raised.value) == BATCH_BUSY
    with locks.batch("other"):  # another batch is free
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    # The server ends the killed process's session when its connection closes, and with it the lock.
    deadline = time.monotonic() + 60
    while True:
        try:
            with locks.batch("k"):
                break
        except Busy:
            assert time.monotonic() < deadline, "the lock of a killed process was never released"
            time.sleep(0.1)


def test_a_nonce_lock_waits_for_its_holder(url: str) -> None:
    store = Store(url)
    locks = DatabaseLocks(store.engine)
    sender = "0x" + "ab" * 20
    with locks.nonce(31337, sender, home=True):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD, url, "nonce", "31337", "0x" + "AB" * 20],  # the same address
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while waiting(store, f"nonce:31337:{sender}") == 0:
            assert process.poll() is None, "the second process did not wait"
            assert time.monotonic() < deadline, "the second process never asked for the lock"
            time.sleep(0.05)
    assert process.stdout is not None
    assert process.stdout.readline() == "held\n"  # taken once released
    process.kill()
    process.wait()
