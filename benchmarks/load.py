"""Load against one node: back-to-back batches from one workspace, then concurrent verifier processes.

    python -m benchmarks.load [--batches 10] [--records 200] [--verifiers 20]

Every command is the real CLI in its own process, as users run it; the test suite calls `run_load` with a
smaller size and checks that every batch was delivered and every receipt judged valid.
"""

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

CLI = [sys.executable, "-m", "credanchor"]


@dataclass(frozen=True)
class LoadReport:
    batches: int
    records_per_batch: int
    batch_seconds: list[float]
    verifiers: int
    receipts_per_verifier: int
    verify_wall_seconds: float
    single_verifier_seconds: float
    verify_exit_codes: list[int]
    verdicts: dict[str, int]

    @property
    def concurrency_ratio(self) -> float:
        """Wall time of the concurrent verifiers over the same work done one process after another."""
        return round(self.verify_wall_seconds / (self.single_verifier_seconds * self.verifiers), 2)

    @property
    def last_vs_first_batch(self) -> float:
        return round(self.batch_seconds[-1] / self.batch_seconds[0], 2)

    @property
    def all_correct(self) -> bool:
        return set(self.verify_exit_codes) == {0} and set(self.verdicts) == {"valid"}


def _records(path: Path, batch: int, n: int) -> Path:
    lines = ["email,name"] + [f"p{i}@batch{batch}.example.org,Person {i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_load(workspace: Path, folder: Path, *, batches: int, records: int, verifiers: int) -> LoadReport:
    """Issue `batches` batches one after another, then start `verifiers` verify processes at once."""
    seconds = []
    outs = []
    for b in range(batches):
        out = folder / f"out-{b}"
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 (our own CLI)
            [
                *CLI,
                "issue",
                str(_records(folder / f"batch-{b}.csv", b, records)),
                "--achievement",
                "example",
                "--out",
                str(out),
                "-w",
                str(workspace),
            ],
            check=True,
            capture_output=True,
        )
        seconds.append(round(time.perf_counter() - started, 2))
        outs.append(sorted(out.glob("*.json")))
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 (our own CLI)
        [*CLI, "verify", "--json", "-w", str(workspace), *map(str, outs[0])], check=True, capture_output=True
    )
    single = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(  # noqa: S603 (our own CLI)
            [*CLI, "verify", "--json", "-w", str(workspace), *map(str, outs[v % batches])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for v in range(verifiers)
    ]
    verdicts: dict[str, int] = {}
    codes = []
    for process in processes:
        stdout, _ = process.communicate(timeout=600)
        codes.append(process.returncode)
        for line in stdout.decode().splitlines():
            verdict = json.loads(line)["verdict"]
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    wall = round(time.perf_counter() - started, 2)
    return LoadReport(batches, records, seconds, verifiers, records, wall, single, codes, verdicts)


def main(argv: list[str] | None = None) -> int:
    from anchoring.localnode import free_port

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--verifiers", type=int, default=20)
    args = parser.parse_args(argv)
    with TemporaryDirectory(prefix="credanchor-load-") as tmp:
        folder = Path(tmp)
        ws = folder / "ws"
        subprocess.run([*CLI, "init", str(ws), "--scrypt-n", "16384", "--port", str(free_port())], check=True)  # noqa: S603
        subprocess.run([*CLI, "chain", "up", "-w", str(ws)], check=True)  # noqa: S603
        try:
            report = run_load(ws, folder, batches=args.batches, records=args.records, verifiers=args.verifiers)
        finally:
            subprocess.run([*CLI, "chain", "down", "-w", str(ws)], check=True)  # noqa: S603
    summary = {
        **asdict(report),
        "concurrency_ratio": report.concurrency_ratio,
        "last_vs_first_batch": report.last_vs_first_batch,
        "all_correct": report.all_correct,
    }
    print(json.dumps(summary))
    return 0 if report.all_correct else 1


if __name__ == "__main__":
    sys.exit(main())
