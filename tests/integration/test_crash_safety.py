"""SIGKILL `credanchor issue` at every state transition and at random moments, re-run it, and check that
no batch is anchored twice, lost, or delivered with receipts for a root that is not anchored deep enough."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anchoring.chain import Chain
from issuer.store import Store
from issuer.workspace import Workspace
from tests.conftest import Node, make_workspace, people, write_csv
from tests.integration.invariants import check_anytime, check_finished
from tests.integration.storerows import credential_rows

pytestmark = [pytest.mark.chain, pytest.mark.slow]
FAULT_POINTS = ["building-half", "prepared", "signed", "sent", "mined", "receipts-half", "receipts-written", "checked"]
RANDOM_KILLS = int(os.environ.get("CREDANCHOR_RANDOM_KILLS", "8"))


def run(
    ws: Workspace, *args: str | Path, fault: str | None = None, background: bool = False
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CREDANCHOR_WORKSPACE": str(ws.root)}
    env.pop("CREDANCHOR_FAULT", None)
    if fault:
        env["CREDANCHOR_FAULT"] = fault
    process = subprocess.Popen(
        [sys.executable, "-m", "credanchor", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    if not background:
        process.wait(timeout=300)
    return process


def output(process: subprocess.Popen[bytes]) -> str:
    out, err = process.communicate()
    return (out + err).decode(errors="replace")


MATRIX = [(p, "issue") for p in FAULT_POINTS] + [("signed", "resume"), ("mined", "resume"), ("receipts-half", "resume")]
# The whole matrix on SQLite; on PostgreSQL the transitions where the database matters most: the batch saved,
# the transaction recorded before it is sent, the confirmation recorded, the receipts half written.
ON_POSTGRES = [
    ("prepared", "issue"),
    ("signed", "issue"),
    ("signed", "resume"),
    ("mined", "resume"),
    ("receipts-half", "issue"),
]


@pytest.mark.parametrize(
    ("point", "rerun", "database"),
    [(p, r, "sqlite") for p, r in MATRIX] + [(p, r, "postgresql") for p, r in ON_POSTGRES],
    indirect=["database"],
)
def test_killed_at_each_transition_then_finished(
    tmp_path: Path, node: Node, chain: Chain, point: str, rerun: str, database: str | None
) -> None:
    ws = make_workspace(tmp_path / "ws", node, database=database)
    csv = write_csv(tmp_path / "records.csv", people(40))
    killed = run(ws, "issue", csv, "--achievement", "example", fault=point)
    assert killed.returncode == -signal.SIGKILL, output(killed)
    assert check_anytime(ws, chain) == []
    signed = stored_credentials(ws)
    assert (signed == []) == (point == "building-half")  # a half-built batch is rolled back whole

    again = run(ws, "issue", csv, "--achievement", "example") if rerun == "issue" else run(ws, "resume")
    assert again.returncode == 0, output(again)
    assert check_finished(ws, chain, expected_batches=1, expected_credentials=40) == []
    if signed:  # the batch saved before the crash is finished as it was: nothing built or signed again
        assert stored_credentials(ws) == signed
    verify = run(ws, "verify", *sorted((ws.receipts_dir).rglob("*-*-*-*-*.json")))
    assert verify.returncode == 0, output(verify)


def stored_credentials(ws: Workspace) -> list[tuple[str, str, str, str]]:
    store = Store(ws.database_url)
    return [row for batch in store.batches() for row in credential_rows(store, batch.id or 0)]


def test_killed_at_random_moments(tmp_path: Path, node: Node, chain: Chain) -> None:
    """On SQLite (four minutes of runs); on PostgreSQL, tests/integration/test_workers.py kills issuing
    processes at random moments while others share the database."""
    seed = int(os.environ.get("CREDANCHOR_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    ws = make_workspace(tmp_path / "ws", node)
    # A batch run to the end first says how long one takes, so the kills land anywhere inside a run.
    started = time.monotonic()
    first = run(
        ws, "issue", write_csv(tmp_path / "records-0.csv", people(3000, "b0.example.org")), "--achievement", "example"
    )
    duration = time.monotonic() - started
    assert first.returncode == 0, output(first)
    # A re-run resumes, so it is shorter than a whole run and may finish before its kill; then the next batch
    # takes the remaining kills. Four fresh batches make at least half the kills land whatever the timing.
    batches = [write_csv(tmp_path / f"records-{i}.csv", people(3000, f"b{i}.example.org")) for i in (1, 2, 3, 4)]
    moments: list[float] = []
    for csv in batches:
        for _ in range(RANDOM_KILLS // 2):
            if len(moments) >= RANDOM_KILLS:
                break
            process = run(ws, "issue", csv, "--achievement", "example", background=True)
            moment = rng.uniform(0.05, 0.95) * duration
            time.sleep(moment)
            if process.poll() is not None:
                break  # finished before the kill: on to the next batch
            whole_group = rng.random() < 0.5  # the machine dying, or `kill -9` of the main process only
            (os.killpg if whole_group else os.kill)(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            moments.append(round(moment, 2))
            violations = check_anytime(ws, chain)
            assert violations == [], f"seed {seed}, killed after {moment:.2f} s: {violations}"
        final = run(ws, "issue", csv, "--achievement", "example")
        assert final.returncode == 0, f"seed {seed}: {output(final)}"
    print(f"random crash test: seed {seed}, a run takes {duration:.1f} s, killed after {moments} s")
    assert len(moments) >= RANDOM_KILLS // 2
    assert check_finished(ws, chain, expected_batches=5, expected_credentials=15000) == []


def test_worker_processes_do_not_outlive_a_killed_run(tmp_path: Path, node: Node, chain: Chain) -> None:
    ws = make_workspace(tmp_path / "ws", node)
    csv = write_csv(tmp_path / "orphans.csv", people(6000))
    # Killed (main process only) while its self-check workers still have receipts to check.
    killed = run(ws, "issue", csv, "--achievement", "example", fault="verifying")
    assert killed.returncode == -signal.SIGKILL, output(killed)

    def leftovers() -> list[str]:
        # -ww: piped `ps` cuts lines at 80 columns, which would hide the path searched for
        listing = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
        return [line for line in listing.splitlines() if str(csv) in line]

    deadline = time.monotonic() + 5
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers() == []
    finished = run(ws, "issue", csv, "--achievement", "example")
    assert finished.returncode == 0, output(finished)
    assert check_finished(ws, chain, expected_batches=1, expected_credentials=6000) == []
