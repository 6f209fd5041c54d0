"""Several issuing machines on one PostgreSQL database and one registry (here: processes, each with its own
workspace folder, so no file lock is shared): four of them issue twenty batches at once, two die by SIGKILL,
the others resume what they left, and every invariant is checked on chain, in the database and on disk."""

import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from anchoring.chain import Chain
from issuer.locks import DatabaseLocks, lock_key
from issuer.store import Store
from issuer.workspace import Workspace, open_workspace
from tests.conftest import Node, make_workspace, people, write_csv
from tests.integration.invariants import check_anytime
from tests.integration.test_crash_safety import FAULT_POINTS
from tests.pgserver import PostgresServer

pytestmark = [pytest.mark.chain, pytest.mark.slow]
BATCHES = 20
EARNERS = 30
ACHIEVEMENT = "https://registrar.test.edu/achievements/example"
MASK = 2**64 - 1


def machines(tmp_path: Path, node: Node, database: str, n: int) -> list[Workspace]:
    """`n` workspace folders of one issuer: one made and deployed, the others copies of it (same keys,
    config, registry and database URL), as an issuer sets up its offices."""
    first = make_workspace(tmp_path / "office-0", node, database=database)
    copies = [first]
    for i in range(1, n):
        root = tmp_path / f"office-{i}"
        shutil.copytree(first.root, root, ignore=shutil.ignore_patterns(".locks", "credanchor.db*"))
        copies.append(open_workspace(root))
    return copies


def start(ws: Workspace, *args: str | Path, fault: str | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "CREDANCHOR_FAULT"}
    if fault:
        env["CREDANCHOR_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "credanchor", *map(str, args), "-w", str(ws.root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, (out + err).decode(errors="replace")


@dataclass
class Worker:
    """One issuing machine: takes records files from the shared queue and issues each; a victim dies (its
    whole process group SIGKILLed) during one of its runs, and takes no work after that."""

    ws: Workspace
    jobs: "queue.Queue[Path]"
    kill: str | None = None
    """A fault point to die at, "timer" to be killed at a random moment of a run, or None."""
    rng: random.Random = field(default_factory=random.Random)
    results: list[tuple[Path, int, str]] = field(default_factory=list)
    killed: list[Path] = field(default_factory=list)

    def run(self) -> None:
        die_in = self.rng.randrange(0, 3)  # the how-manieth run dies
        while not self.killed:
            try:
                csv = self.jobs.get_nowait()
            except queue.Empty:
                return
            dies = self.kill is not None and len(self.results) >= die_in
            fault = self.kill if dies and self.kill != "timer" else None
            process = start(self.ws, "issue", csv, "--achievement", "example", fault=fault)
            if dies and self.kill == "timer":
                try:
                    process.wait(timeout=self.rng.uniform(0.5, 6.0))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            code, output = finish(process)
            self.results.append((csv, code, output))
            if code == -signal.SIGKILL:
                self.killed.append(csv)


def _sent(chain: Chain, tx_hash: str) -> bool:
    try:
        chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    except Exception:  # web3 raises TransactionNotFound for a transaction the node never had
        return False
    return True


def test_four_machines_twenty_batches_two_killed(
    tmp_path: Path, node: Node, chain: Chain, postgres: PostgresServer
) -> None:
    seed = int(os.environ.get("CREDANCHOR_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    offices = machines(tmp_path, node, postgres.new_database("workers"), 4)
    files = [write_csv(tmp_path / f"records-{i:02d}.csv", people(EARNERS, f"b{i}.example.org")) for i in range(BATCHES)]
    # Two more files name the earners of batches 5 and 12 again (other bytes, so other batches): of each pair,
    # run at the same time on two machines, one is issued and the other refused.
    twins = {5: tmp_path / "again-05.csv", 12: tmp_path / "again-12.csv"}
    for i, path in twins.items():
        write_csv(path, list(reversed(people(EARNERS, f"b{i}.example.org"))))
    jobs: queue.Queue[Path] = queue.Queue()
    for path in [*files[:6], twins[5], *files[6:13], twins[12], *files[13:]]:
        jobs.put(path)
    kills = [rng.choice(FAULT_POINTS), "timer"]
    workers = [
        Worker(ws, jobs, kill, random.Random(rng.random()))
        for ws, kill in zip(offices, [*kills, None, None], strict=True)
    ]
    threads = [threading.Thread(target=w.run) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    killed = [csv for w in workers for csv in w.killed]
    print(f"workers test: seed {seed}, kills {kills}, killed while issuing {[p.name for p in killed]}")
    assert [len(w.killed) for w in workers] == [1, 1, 0, 0], [w.results for w in workers]
    for w in workers:
        for csv, code, output in w.results:
            if code == -signal.SIGKILL:
                continue
            refused = f"error: {csv}: {EARNERS} recipient(s) already hold this achievement, nothing was issued"
            assert code == 0 or (code == 2 and output.lstrip().startswith(refused)), f"{csv.name}: {code} {output}"
    assert check_anytime(offices[2], chain) == []

    # 2. The surviving machines finish what the dead ones left: `resume` for batches that reached the
    # database, the same `issue` for a records file whose batch was never saved (the same input, the same batch).
    resumed = finish(start(offices[2], "resume"))
    assert resumed[0] == 0, resumed[1]
    for csv in killed:
        code, output = finish(start(offices[3], "issue", csv, "--achievement", "example"))
        twin = any(csv in pair for pair in ((files[i], twins[i]) for i in twins))
        assert code == 0 or (twin and code == 2), output

    # 3. Every invariant.
    store = Store(offices[0].database_url)
    batches = store.batches()
    assert len(batches) == BATCHES, [(b.id, b.state) for b in batches]
    assert [b.id for b in batches if b.state != "delivered"] == []
    registry = chain.registry(offices[0].config.chain.registry)
    anchored = Counter(e.args["root"] for e in registry.events(0, chain.block_number()) if e.name == "Anchored")
    assert {b.root: anchored[b.root] for b in batches} == {b.root: 1 for b in batches}  # each anchored once
    assert set(anchored) == {b.root for b in batches}
    credentials = [c for b in batches for c in store.credentials(b.id or 0)]
    holders = Counter(c.email for c in credentials)
    expected = {row["email"] for i in range(BATCHES) for row in people(EARNERS, f"b{i}.example.org")}
    assert set(holders) == expected
    assert [email for email, n in holders.items() if n > 1] == []  # nothing issued twice to one earner
    receipts = [Path(c.receipt_path or "") for c in credentials]
    assert [str(p) for p in receipts if not p.is_file()] == []  # every receipt delivered
    checked = subprocess.run(
        [sys.executable, "-m", "credanchor", "verify", *map(str, receipts), "-w", str(offices[1].root)],
        capture_output=True,
        check=False,
        timeout=600,
    )
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()[-3000:]
    for office in offices:
        assert check_anytime(office, chain) == []

    # No nonce used twice: the signed transactions that reached the node have distinct nonces, and one that
    # never did (recorded, then its process killed before sending it) belongs to a batch a machine died with.
    dead = {path.read_text().splitlines()[1].split("@")[1].split(",")[0] for path in killed}
    reached: Counter[int] = Counter()
    unsent: list[tuple[str, int]] = []
    for b in batches:
        domain = store.credentials(b.id or 0)[0].email.split("@")[1]
        for a in store.attempts(b.id or 0):
            if _sent(chain, a.tx_hash):
                reached[a.nonce] += 1
            else:
                unsent.append((domain, a.nonce))
    assert [n for n, count in reached.items() if count > 1] == []
    assert [domain for domain, _ in unsent if domain not in dead] == []
    assert len(unsent) <= len(killed), unsent
    store.close()


def test_two_runs_for_one_earner_cannot_both_pass(tmp_path: Path, node: Node, postgres: PostgresServer) -> None:
    """Both runs pass the early check (nothing issued yet) and sign; the check is made again under the
    achievement's lock before the batch is saved, so the second one to get it is refused."""
    first, second = machines(tmp_path, node, postgres.new_database("twins"), 2)
    one = write_csv(tmp_path / "one.csv", people(5, "twins.example.org"))
    other = write_csv(tmp_path / "other.csv", list(reversed(people(5, "twins.example.org"))))
    store = Store(first.database_url)
    locks = DatabaseLocks(store.engine)
    key = lock_key(f"achievement:{ACHIEVEMENT}")
    with locks.achievement(ACHIEVEMENT):
        runs = [
            start(first, "issue", one, "--achievement", "example"),
            start(second, "issue", other, "--achievement", "example"),
        ]
        waiting = 0
        deadline = time.monotonic() + 120
        while waiting < 2 and time.monotonic() < deadline and all(r.poll() is None for r in runs):
            time.sleep(0.1)
            with store.engine.connect() as connection:
                waiting = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                        "AND classid::bigint = :high AND objid::bigint = :low"
                    ),
                    {"high": (key & MASK) >> 32, "low": key & 0xFFFFFFFF},
                ).scalar_one()
        assert waiting == 2, [finish(r) for r in runs if r.poll() is not None]
    results = sorted(finish(r) for r in runs)
    assert [code for code, _ in results] == [0, 2], results
    assert "5 recipient(s) already hold this achievement, nothing was issued" in results[1][1]
    assert len(store.batches()) == 1
