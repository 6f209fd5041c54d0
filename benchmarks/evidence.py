"""Chain evidence and anchors on several chains, against the same batch without them (one run, one machine).

- issuing: a batch with `[chain] evidence = false` (the baseline), with evidence, and with evidence on two
  chains (a second local Anvil node): wall time of `credanchor issue` and the extra per batch;
- size: receipt bytes without evidence, with it, and with two anchors' evidence;
- verifying: per receipt, in one process, from a node (the baseline) and offline from checkpoints.
"""

import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anchoring.localnode import LocalNode, free_port
from issuer.workspace import open_workspace

CLI = [sys.executable, "-m", "credanchor"]


def _cli(*args: str | Path) -> float:
    start = time.perf_counter()
    subprocess.run([*CLI, *map(str, args)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return time.perf_counter() - start


def _records(path: Path, n: int, prefix: str) -> Path:
    lines = ["email,name,credits_earned"] + [f"{prefix}{i}@example.edu,Student {i},2" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _workspace(folder: Path, name: str, *, evidence: bool, second_chain: bool) -> Path:
    ws = folder / name
    _cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    if not evidence:
        text = (ws / "credanchor.toml").read_text()
        (ws / "credanchor.toml").write_text(text.replace("[chain]\n", "[chain]\nevidence = false\n", 1))
    if second_chain:
        _cli("chain", "add", "--chain-id", "31338", "--port", str(free_port()), "-w", ws)
    _cli("chain", "up", "-w", ws)
    return ws


def _stop(ws: Path) -> None:
    subprocess.run([*CLI, "chain", "down", "-w", str(ws)], check=False, stdout=subprocess.DEVNULL)  # noqa: S603
    for node in (ws / "chain").glob("*/node.json"):
        LocalNode(node.parent).stop()


def _verify_ms(receipts: list[Path], ws: Path, checkpoints: Path | None) -> float:
    """Per receipt, in this process: a verification session over the files (node or checkpoints)."""
    from credanchor.wiring import own_trust, verification_session

    workspace = open_workspace(ws)
    url = None if checkpoints else workspace.config.chain.rpc_url
    session = verification_session(url, own_trust(workspace), checkpoints=checkpoints)
    start = time.perf_counter()
    reports = list(session.verify_files(receipts))
    elapsed = time.perf_counter() - start
    bad = [r for r in reports if r.verdict != "valid"]
    if bad:
        raise RuntimeError(f"{bad[0].source}: {bad[0].verdict}: {bad[0].reason}")
    return 1000 * elapsed / len(receipts)


def run(folder: Path, records: int = 10_000, sample: int = 1_000) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    csv = _records(folder / "records.csv", records, "e")
    results: dict[str, Any] = {"records": records, "when": datetime.now(UTC).isoformat(timespec="seconds")}
    timings: dict[str, float] = {}
    sizes: dict[str, float] = {}
    verify: dict[str, float] = {}
    for name, evidence, second in (
        ("no_evidence", False, False),
        ("evidence", True, False),
        ("two_chains", True, True),
    ):
        ws = _workspace(folder, name, evidence=evidence, second_chain=second)
        try:
            out = ws / "out"
            timings[name] = _cli("issue", csv, "--achievement", "example", "--out", out, "-w", ws)
            receipts = sorted(out.glob("*-*-*-*-*.json"))
            sizes[name] = statistics.mean(p.stat().st_size for p in receipts)
            chosen = receipts[:sample]
            verify[f"{name}_online_ms"] = _verify_ms(chosen, ws, None)
            if evidence:
                checkpoints = ws / "checkpoints.toml"
                nodes = [f"--rpc-url={c.rpc_url}" for c in open_workspace(ws).config.chains]
                _cli("checkpoint", chosen[0], "-o", checkpoints, *nodes)
                verify[f"{name}_offline_ms"] = _verify_ms(chosen, ws, checkpoints)
        finally:
            _stop(ws)
    base = timings["no_evidence"]
    results["issue_s"] = {k: round(v, 2) for k, v in timings.items()}
    results["extra_issue_s_per_batch"] = {
        "evidence": round(timings["evidence"] - base, 2),
        "two_chains": round(timings["two_chains"] - base, 2),
    }
    results["issue_vs_baseline"] = {k: round(v / base, 2) for k, v in timings.items()}
    results["receipt_bytes"] = {k: round(v) for k, v in sizes.items()}
    results["evidence_bytes_per_receipt"] = {
        "one_chain": round(sizes["evidence"] - sizes["no_evidence"]),
        "two_chains": round(sizes["two_chains"] - sizes["no_evidence"]),
    }
    results["verify_ms_per_receipt"] = {k: round(v, 3) for k, v in verify.items()}
    return results


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="credanchor-bench-evidence-") as tmp:
        print(json.dumps(run(Path(tmp)), indent=2))
