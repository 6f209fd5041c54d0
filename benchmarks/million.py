"""A million credentials end to end: `credanchor issue --timings` on a local Anvil chain, signed with
eddsa-jcs-2022, with the stage table the command prints and the peak memory of the whole process tree
(proportional set size summed over `issue` and its workers, sampled every 0.2 s, so pages the forked
workers share with their parent count once).

    python -m benchmarks.million [--records 1000000] [--cryptosuite eddsa-jcs-2022] [--receipts dir]

Baseline in the same run: a 10,000-record batch through the same command, as a per-record rate.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from anchoring.localnode import free_port
from anchoring.receiptwrite import chosen_form
from benchmarks.run import CLI, run_cli, write_records

BASELINE_RECORDS = 10_000
"""The records of the batch run first, in the same workspace, as the per-record baseline."""


def tree_pss(pid: int) -> int:
    """Proportional set size (bytes) of `pid` and every descendant."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
            total += int(found.group(1)) * 1024 if found else 0
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        pending += [int(c) for c in children]
    return total


def issue_measured(args: list[str | Path]) -> dict[str, Any]:
    """Run `credanchor issue ARGS --timings`: wall seconds, peak PSS of its process tree, the stage table."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603
        [*CLI, "issue", *map(str, args), "--timings"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter() - started, tree_pss(process.pid)))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"issue failed ({process.returncode}):\n{out}\n{err}")
    stages = re.findall(r"^\W*(\w[^│|]*?)\s*[│|]\s*([\d.]+)\s*[│|]\s*(\d+%)", err, re.MULTILINE)
    table = {label.strip(): float(seconds) for label, seconds, _ in stages}
    own = re.search(r"peak memory: ([\d,]+) MiB in this process, ([\d,]+) MiB in its largest worker", err)
    return {
        "wall_s": round(wall, 1),
        "peak_tree_pss_mib": round(max((pss for _, pss in samples), default=0) / 2**20),
        "peak_rss_mib": {"issue": int(own[1].replace(",", "")), "largest_worker": int(own[2].replace(",", ""))}
        if own
        else None,
        "peak_tree_pss_mib_by_stage": peak_by_stage(samples, table, wall),
        "stages_s": table,
    }


def peak_by_stage(samples: list[tuple[float, int]], table: dict[str, float], wall: float) -> dict[str, int]:
    """The peak PSS (MiB) of the samples taken in each stage, the stages placed one after another by their
    measured seconds, the first starting when the command's own clock did (the run less its table's total).
    Approximate at the boundaries: the time between stages (a few seconds in all) is not placed."""
    begin = wall - table.get("total", wall)
    ends, start = [], begin
    for label, seconds in table.items():
        if label != "total" and not label.startswith("between stages"):
            start += seconds
            ends.append((start, label))
    peaks: dict[str, int] = {}
    for at, pss in samples:
        label = "starting" if at < begin else next((name for end, name in ends if at < end), "after")
        peaks[label] = max(peaks.get(label, 0), pss)
    return {label: round(pss / 2**20) for label, pss in peaks.items()}


def bench_million(folder: Path, records: int, cryptosuite: str, receipts: str | None = None) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    ws = folder / "million-ws"
    run_cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    config = ws / "credanchor.toml"
    text = config.read_text()
    config.write_text(re.sub(r'cryptosuite = "[^"]*"', f'cryptosuite = "{cryptosuite}"', text))
    if f'cryptosuite = "{cryptosuite}"' not in config.read_text():
        config.write_text(config.read_text() + f'\n[signing]\ncryptosuite = "{cryptosuite}"\n')
    run_cli("chain", "up", "-w", ws)
    extra: list[str | Path] = ["--receipts", receipts] if receipts else []
    try:
        small = issue_measured(
            [write_records(folder / "small.csv", BASELINE_RECORDS, "s"), "--achievement", "example", "-w", ws, *extra]
        )
        big = issue_measured(
            [write_records(folder / "big.csv", records, "b"), "--achievement", "example", "-w", ws, *extra]
        )
    finally:
        run_cli("chain", "down", "-w", ws)
    return {
        "records": records,
        "cryptosuite": cryptosuite,
        "receipts": chosen_form(receipts or "auto", records),
        "baseline_receipts": chosen_form(receipts or "auto", BASELINE_RECORDS),
        "end_to_end_s": big["wall_s"],
        "records_per_s": round(records / big["wall_s"]),
        "peak_memory_mib": big["peak_tree_pss_mib"],
        "peak_memory_mib_by_stage": big["peak_tree_pss_mib_by_stage"],
        "peak_rss_mib": big["peak_rss_mib"],
        "stages_s": big["stages_s"],
        "baseline_10000_records_s": small["wall_s"],
        "baseline_stages_s": small["stages_s"],
        "per_record_cost_vs_10000_batch": round((big["wall_s"] / records) / (small["wall_s"] / BASELINE_RECORDS), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--cryptosuite", default="eddsa-jcs-2022")
    parser.add_argument("--receipts", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the workspace (printed) instead of removing it")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="credanchor-million-"))
    try:
        print(json.dumps(bench_million(folder, options.records, options.cryptosuite, options.receipts), indent=2))
    finally:
        if options.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", str(folder)], check=False)  # noqa: S603, S607


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
