"""Receipt forms: writing one batch's receipts as a folder of files, one JSON Lines file or one zip, and
`credanchor verify` of a container against the same receipts as files.

- write: N receipts (100,000 by default) of one batch through `issuer.receipts.write_batch_receipts`, the code
  `issue` runs, in each form (time including the flush to disk, bytes on disk, files created); the `dir` form,
  today's, is the baseline, measured in the same run. Credentials are built as `issue` builds them (unsigned).
- verify: a real batch of M receipts (10,000 by default) issued with `--receipts jsonl` on a local Anvil node,
  verified with `credanchor verify FILE.jsonl`, then `verify FILE.zip` of the same receipts, against the
  baseline `verify` of the same receipts extracted to files (one command line).
"""

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from anchoring.hashing import keccak256, to_hex
from anchoring.localnode import free_port
from anchoring.merkle import MerkleTree
from anchoring.progress import Silent
from anchoring.receipt import AnchorSection, utc_seconds
from anchoring.receiptwrite import FORMS
from issuer.receipts import write_batch_receipts


def _usage(folder: Path) -> tuple[int, int, int]:
    """(files, bytes, bytes on disk) under `folder`."""
    files = size = blocks = 0
    for path in folder.rglob("*"):
        if path.is_file():
            status = path.stat()
            files += 1
            size += status.st_size
            blocks += status.st_blocks * 512
    return files, size, blocks


def bench_write(folder: Path, n: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    from benchmarks.run import build_credentials

    base = build_credentials(1)[0]
    rows = []
    for i in range(n):
        document = {**base, "id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}"}
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        digest = keccak256(text.encode())
        rows.append((document["id"], to_hex(digest), "", text))
    tree = MerkleTree.build([bytes.fromhex(digest[2:]) for _, digest, _, _ in rows])
    texts = [text for *_, text in rows]
    receipt_rows = [(cid, digest, to_hex(tree.leaf(i))) for i, (cid, digest, _, _) in enumerate(rows)]
    anchor = AnchorSection(
        chainId=31337,
        registry="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        txHash="0x" + "ab" * 32,
        blockNumber=2,
        timestamp=utc_seconds(datetime.now(UTC)),
    )
    results: dict[str, Any] = {"receipts": n}
    for form in FORMS:
        out = folder / f"write-{form}"
        out.mkdir()
        start = time.perf_counter()
        write_batch_receipts(
            out,
            [receipt_rows[i : i + 2000] for i in range(0, n, 2000)],
            lambda at, count: texts[at : at + count],
            tree,
            to_hex(tree.root),
            [anchor],
            [],
            Silent(),
            form,
        )
        elapsed = time.perf_counter() - start
        files, size, disk = _usage(out)
        results[form] = {
            "seconds": round(elapsed, 2),
            "receipts_per_s": round(n / elapsed),
            "files": files,
            "bytes": size,
            "bytes_on_disk": disk,
        }
        shutil.rmtree(out)
    results["jsonl_vs_dir_speed"] = round(results["dir"]["seconds"] / results["jsonl"]["seconds"], 1)
    results["zip_vs_dir_speed"] = round(results["dir"]["seconds"] / results["zip"]["seconds"], 1)
    return results


def bench_verify(folder: Path, m: int) -> dict[str, Any]:
    from benchmarks.run import run_cli, write_records

    ws = folder / "receipts-ws"
    run_cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    run_cli("chain", "up", "-w", ws)
    try:
        out = folder / "receipts-out"
        issue = run_cli(
            "issue", write_records(folder / "forms.csv", m, "f"), "--achievement", "example", "--out", out,
            "--receipts", "jsonl", "-w", ws,
        )  # fmt: skip
        container = out / "receipts.jsonl"
        files = folder / "receipts-files"
        run_cli("extract", container, "--out", files)
        paths = sorted(files.glob("*.json"))
        archive = folder / "receipts.zip"
        _zip(paths, archive)
        as_files = run_cli("verify", "--json", *paths, "-w", ws)
        as_jsonl = run_cli("verify", "--json", container, "-w", ws)
        as_zip = run_cli("verify", "--json", archive, "-w", ws)
    finally:
        run_cli("chain", "down", "-w", ws)
    return {
        "receipts": m,
        "issue_jsonl_s": round(issue, 1),
        "verify_files_s": round(as_files, 2),
        "verify_jsonl_s": round(as_jsonl, 2),
        "verify_zip_s": round(as_zip, 2),
        "files_per_s": round(m / as_files),
        "jsonl_per_s": round(m / as_jsonl),
        "zip_per_s": round(m / as_zip),
    }


def _zip(paths: list[Path], archive: Path) -> None:
    import zipfile

    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in paths:
            handle.write(path, path.name)


def run(folder: Path, n: int = 100_000, m: int = 10_000) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    os.sync()
    return {"write": bench_write(folder, n), "verify": bench_verify(folder, m)}
