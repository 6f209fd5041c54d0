"""`credanchor verify` of one receipt as a person runs it: the wall time of the whole process, start-up and
imports included, against a real Anvil node and offline (evidence + checkpoints).

Baselines, same run: `python -c pass` (the interpreter alone) and `python -c "import credanchor"` (the package,
no command). Each figure is the best of `runs`, since other work on the machine only ever adds time.
"""

import csv
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from anchoring.localnode import free_port

CLI = [sys.executable, "-m", "credanchor"]


def wall(command: list[str], *, cwd: Path | None = None, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=cwd, stdout=subprocess.DEVNULL)  # noqa: S603
        best = min(best, time.perf_counter() - start)
    return best


def bench_startup(folder: Path, *, code: Path | None = None, runs: int = 5) -> dict[str, Any]:
    """`code`: the checkout whose credanchor to run (default: this one), to set another version beside it."""

    def cli(*args: str | Path) -> list[str]:
        return [*CLI, *map(str, args)]

    def run(*args: str | Path) -> None:
        subprocess.run(cli(*args), check=True, cwd=code, stdout=subprocess.DEVNULL)  # noqa: S603

    ws = folder / "startup-ws"
    run("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    run("chain", "up", "-w", ws)
    try:
        records = folder / "startup.csv"
        with records.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "name"])
            writer.writerows([f"s{i}@example.edu", f"Student {i}"] for i in range(3))
        out = folder / "startup-out"
        run("issue", records, "--achievement", "example", "--out", out, "-w", ws)
        receipt = sorted(out.glob("*.json"))[0]
        checkpoints = folder / "checkpoints.toml"
        run("checkpoint", receipt, "-o", checkpoints, "-w", ws)
        online = wall(cli("verify", receipt, "-w", ws), cwd=code, runs=runs)
        offline = wall(cli("verify", receipt, "--offline", "--checkpoints", checkpoints, "-w", ws), cwd=code, runs=runs)
        usage = wall(cli("--help"), cwd=code, runs=runs)
    finally:
        run("chain", "down", "-w", ws)
    interpreter = wall([sys.executable, "-c", "pass"], runs=runs)
    package = wall([sys.executable, "-c", "import credanchor"], cwd=code, runs=runs)
    return {
        "verify_one_online_s": round(online, 3),
        "verify_one_offline_s": round(offline, 3),
        "help_s": round(usage, 3),
        "baseline_python_pass_s": round(interpreter, 3),
        "baseline_import_credanchor_s": round(package, 3),
        "target_s": 0.4,
        "best_of": runs,
    }
