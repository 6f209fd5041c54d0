"""A SIGKILL in the middle of a million-credential batch, and the rerun that finishes it (`--only crashmillion`).

`credanchor issue` of 1,000,000 records (eddsa-jcs-2022, receipts as JSON Lines, local Anvil) is killed with
SIGKILL, together with its workers, once the anchor is on chain and a third of the receipts file is written;
`credanchor resume` then finishes the batch. What is checked, from the outside:

- nothing is signed again: the stored credentials (id, digest, leaf, signed document, in position order) hash
  to the same SHA-256 before and after the rerun;
- nothing is anchored again: the registry's events hold exactly one anchor for the batch's root, and the
  issuing account's nonce is the same before and after the rerun;
- every receipt is delivered: the receipts file has one line a credential (the rerun's self-check verified each
  of them against the chain), and receipts picked from its start, middle and end verify with `credanchor verify`.

Baseline in the same run: the uninterrupted 10,000-record batch through the same commands.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from anchoring.chain import Chain
from anchoring.localnode import free_port
from benchmarks.million import issue_measured, tree_pss
from benchmarks.run import CLI, run_cli, write_records

KILL_AT_FRACTION = 1 / 3
RECEIPT_BYTES = 8_000
"""About what one receipt with chain evidence weighs in the .jsonl (to tell when a third is written)."""


def _stored(ws: Path) -> tuple[int, str, str, int]:
    """(batch id, root, SHA-256 of every stored credential row in position order, rows) of the newest batch."""
    from issuer.store import Store
    from issuer.workspace import open_workspace

    store = Store(open_workspace(ws).database_url)
    batch = max(store.batches(), key=lambda b: b.id or 0)
    digest = hashlib.sha256()
    rows = 0
    for chunk in store.credential_chunks(batch.id or 0, size=20_000):
        for row in chunk:
            digest.update(json.dumps(row).encode() + b"\n")
        rows += len(chunk)
    return batch.id or 0, batch.root, digest.hexdigest(), rows


def _anchors_of(ws: Path, root: str) -> int:
    done = subprocess.run([*CLI, "audit", "-w", str(ws), "--json"], check=True, capture_output=True, text=True)  # noqa: S603
    entries = json.loads(done.stdout)["entries"]
    return sum(1 for e in entries if e["kind"] == "anchor" and root in e["summary"])


def _nonce(ws: Path) -> int:
    from issuer.workspace import open_workspace

    workspace = open_workspace(ws)
    address = json.loads(workspace.keystore_path.read_text())["address"]
    chain = Chain(workspace.config.chain.rpc_url or "")
    return int(chain.w3.eth.get_transaction_count(chain.w3.to_checksum_address(address)))


def _kill_while_writing(args: list[str | Path], out: Path, expected_bytes: int) -> dict[str, Any]:
    """Start `issue ARGS`, SIGKILL its whole process group once the receipts file under its temporary name holds
    `expected_bytes` x KILL_AT_FRACTION; the seconds it ran and the bytes written by then."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603
        [*CLI, "issue", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    written = peak = 0
    while process.poll() is None:
        partial = list(out.glob(".receipts.jsonl.*.tmp"))
        written = partial[0].stat().st_size if partial else 0
        peak = max(peak, tree_pss(process.pid))
        if written >= expected_bytes * KILL_AT_FRACTION:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return {
                "killed_after_s": round(time.perf_counter() - started, 1),
                "receipt_bytes_written": written,
                "peak_tree_pss_mib": round(peak / 2**20),
            }
        time.sleep(0.5)
    raise RuntimeError(f"issue ended ({process.returncode}) before it could be killed: {process.stderr.read()!r}")  # type: ignore[union-attr]


def _verify_some(folder: Path, receipts: Path, ws: Path, lines: list[int]) -> list[str]:
    """`credanchor verify` of the receipts on the given lines of the .jsonl: each one's verdict line."""
    picked = folder / "picked.jsonl"
    with receipts.open("rb") as source, picked.open("wb") as sink:
        for number, line in enumerate(source):
            if number in lines:
                sink.write(line)
    done = subprocess.run(  # noqa: S603
        [*CLI, "verify", str(picked), "-w", str(ws)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"verify of the picked receipts failed:\n{done.stdout}\n{done.stderr}")
    return [line for line in done.stdout.splitlines() if line.strip()]


def bench_crash_million(folder: Path, records: int = 1_000_000) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    ws = folder / "crash-ws"
    run_cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    config = ws / "credanchor.toml"
    config.write_text(re.sub(r'cryptosuite = "[^"]*"', 'cryptosuite = "eddsa-jcs-2022"', config.read_text()))
    run_cli("chain", "up", "-w", ws)
    try:
        small_out = folder / "small-out"
        baseline = issue_measured(
            [
                write_records(folder / "small.csv", 10_000, "s"),
                "--achievement",
                "example",
                "-w",
                ws,
                "--receipts",
                "jsonl",
                "--out",
                small_out,
            ]
        )
        out = folder / "big-out"
        big_csv = write_records(folder / "big.csv", records, "b")
        killed = _kill_while_writing(
            [big_csv, "--achievement", "example", "-w", ws, "--receipts", "jsonl", "--out", out],
            out,
            records * RECEIPT_BYTES,
        )
        batch_id, root, before, rows = _stored(ws)
        anchors_before, nonce_before = _anchors_of(ws, root), _nonce(ws)
        started = time.perf_counter()
        resumed = subprocess.run([*CLI, "resume", "-w", str(ws)], capture_output=True, text=True, check=False)  # noqa: S603
        resume_s = time.perf_counter() - started
        if resumed.returncode != 0:
            raise RuntimeError(f"resume failed ({resumed.returncode}):\n{resumed.stdout}\n{resumed.stderr}")
        _, root_after, after, rows_after = _stored(ws)
        anchors_after, nonce_after = _anchors_of(ws, root), _nonce(ws)
        receipts = out / "receipts.jsonl"
        with receipts.open("rb") as handle:
            lines = sum(1 for _ in handle)
        verdicts = _verify_some(folder, receipts, ws, [0, records // 2, records - 1])
    finally:
        run_cli("chain", "down", "-w", ws)
    result = {
        "records": records,
        "batch": batch_id,
        "killed": killed,
        "stored_rows_after_kill": rows,
        "stored_credentials_sha256_after_kill": before,
        "stored_credentials_sha256_after_resume": after,
        "re_signed": before != after or rows != rows_after,
        "anchors_of_root_after_kill": anchors_before,
        "anchors_of_root_after_resume": anchors_after,
        "nonce_after_kill": nonce_before,
        "nonce_after_resume": nonce_after,
        "resume_s": round(resume_s, 1),
        "receipt_lines": lines,
        "picked_receipts_verified": verdicts,
        "baseline_10000_records_s": baseline["wall_s"],
    }
    if (
        result["re_signed"]
        or anchors_after != 1
        or nonce_after != nonce_before
        or lines != records
        or root_after != root
    ):
        raise RuntimeError(f"crash safety broken at this size: {json.dumps(result, indent=2)}")
    return result
