"""`credanchor verify` of one receipt as a person runs it: the wall time of the whole process, start-up and
imports included, against a real Anvil node and offline (evidence + checkpoints).

Baselines, same run: `python -c pass` (the interpreter alone) and `python -c "import credanchor"` (the package,
no command); with `STARTUP_BASELINE=/path/to/other/checkout` in the environment, the same commands run from
that checkout's code too (`baseline_*`), e.g. the main branch beside this one. Each figure is the best of
`runs`, since other work on the machine only ever adds time; beside the wall time, the process's CPU time
(user + system), which other work on a shared machine disturbs less. `import_ms` is where an online verify's
imports go: `python -X importtime`, each module's own time summed by top-level package (the whole table:
`import_table`).

Bytecode: the plain figures run as the environment says; with PYTHONDONTWRITEBYTECODE set (as in CI and
these sandboxes) credanchor's own modules are compiled from source in every process, which an installed
package never does. The `*_cached_*` figures run the same commands with bytecode kept (in a folder of the
run, PYTHONPYCACHEPREFIX; the first run writes it, and only the best run counts), as a user's install runs.
"""

import csv
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from anchoring.localnode import free_port

CLI = [sys.executable, "-m", "credanchor"]
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def timed(
    command: list[str], *, cwd: Path | None = None, runs: int = 5, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Best wall and best CPU seconds of `runs` runs of `command` (which must succeed)."""
    wall = cpu = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, env=env)  # noqa: S603
        _, status, usage = os.wait4(process.pid, 0)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{command} exited {os.waitstatus_to_exitcode(status)}")
    return wall, cpu


def import_table(command: list[str], *, cwd: Path | None = None) -> dict[str, float]:
    """Milliseconds of import time by top-level package, largest first (`-X importtime`, own times summed)."""
    found = subprocess.run(  # noqa: S603
        [command[0], "-X", "importtime", *command[1:]], cwd=cwd, capture_output=True, text=True, check=True
    )
    by_package: Counter[str] = Counter()
    for line in found.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            by_package[match.group(2).split(".")[0]] += int(match.group(1))
    return {name: round(micros / 1000, 1) for name, micros in by_package.most_common()}


def cached_bytecode(folder: Path) -> dict[str, str]:
    """The environment with bytecode kept in `folder` (never in a checkout), as an installed package has it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(folder)}


def bench_startup(folder: Path, *, code: Path | None = None, runs: int = 5) -> dict[str, Any]:
    """`code`: the checkout whose credanchor to run (default: this one), to set another version beside it;
    STARTUP_BASELINE in the environment names another checkout to run beside it in the same run."""

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
        online_command = cli("verify", receipt, "-w", ws)
        offline_command = cli("verify", receipt, "--offline", "--checkpoints", checkpoints, "-w", ws)
        cache = cached_bytecode(folder / "bytecode")
        baseline = os.environ.get("STARTUP_BASELINE")
        checkouts = {"": code, **({"baseline_": Path(baseline)} if baseline else {})}
        found: dict[str, Any] = {}
        for prefix, where in checkouts.items():
            # Taken in turns, so that a spell of other work on the machine falls on both checkouts alike.
            for name, command in (("online", online_command), ("offline", offline_command), ("help", cli("--help"))):
                wall, cpu = timed(command, cwd=where, runs=runs)
                cached_wall, cached_cpu = timed(command, cwd=where, runs=runs, env=cache)
                label = f"verify_one_{name}" if name != "help" else "help"
                found[f"{prefix}{label}_s"] = round(wall, 3)
                found[f"{prefix}cpu_{label}_s"] = round(cpu, 3)
                found[f"{prefix}{label}_cached_s"] = round(cached_wall, 3)
                found[f"{prefix}cpu_{label}_cached_s"] = round(cached_cpu, 3)
        imports = import_table(online_command, cwd=code)
    finally:
        run("chain", "down", "-w", ws)
    interpreter = timed([sys.executable, "-c", "pass"], runs=runs)
    package = timed([sys.executable, "-c", "import credanchor"], cwd=code, runs=runs)
    return {
        **found,
        "baseline_python_pass_s": round(interpreter[0], 3),
        "baseline_import_credanchor_s": round(package[0], 3),
        "cpu_baseline_python_pass_s": round(interpreter[1], 3),
        "target_s": 0.4,
        "best_of": runs,
        "import_ms_total": round(sum(imports.values()), 1),
        "import_ms": dict(list(imports.items())[:15]),
    }
