"""Receipts full of URLs are never followed; `doctor` finds every kind of drift; load on one node."""

import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from anchoring.chain import Chain
from anchoring.sender import TxSender
from benchmarks.load import run_load
from credanchor.wiring import account
from issuer.workspace import Workspace
from tests.conftest import CliResult, Node, issue_killed_at, make_workspace, people, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


@pytest.fixture
def trap() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def test_urls_inside_receipts_are_never_followed(cli: Cli, workspace: Workspace, trap: tuple[str, list[str]]) -> None:
    url, hits = trap
    template = workspace.achievements_dir / "example.toml"
    text = template.read_text().replace("# image = ", "image = ")
    text = text.replace('"https://registrar.example.edu/badges/data-literacy.png"', f'"{url}/badge.png"')
    template.write_text(f'id = "{url}/achievement"\n' + text)
    workspace = workspace.set("issuer", "url", f"{url}/issuer")
    rows = [{**p, "evidence_url": f"{url}/evidence/{i}"} for i, p in enumerate(people(5))]
    csv = write_csv(workspace.root / "records.csv", rows)
    assert cli("issue", csv, "--achievement", "example", "-w", workspace.root).code == 0
    receipts = sorted(workspace.receipts_dir.rglob("*-*-*-*-*.json"))
    assert f"{url}/badge.png" in receipts[0].read_text()
    result = cli("verify", "--json", *receipts, "-w", workspace.root)
    assert result.code == 0
    doc = json.loads(receipts[0].read_text())
    doc["anchor"]["rpcUrl"] = url
    planted = workspace.root / "planted.json"
    planted.write_text(json.dumps(doc))
    result = cli("verify", "--json", planted, "-w", workspace.root)
    assert json.loads(result.out)["reason"] == f"{planted}: anchor.rpcUrl: unknown member"
    assert hits == []


def test_doctor_finds_every_kind_of_drift(cli: Cli, tmp_path: Path, node: Node, chain: Chain) -> None:
    ws = make_workspace(tmp_path / "ws", node)
    csv = write_csv(ws.root / "records.csv", people(6))
    assert cli("issue", csv, "--achievement", "example", "-w", ws.root).code == 0
    healthy = cli("doctor", "--json", "-w", ws.root)
    assert healthy.code == 0, healthy.out
    assert json.loads(healthy.out) == {
        "healthy": True,
        "batches": 1,
        "credentials": 6,
        "anchorsOnChain": 1,
        "problems": [],
        "notices": [],
    }

    receipts = sorted(ws.receipts_dir.rglob("*-*-*-*-*.json"))
    receipts[0].unlink()
    manifest = next(ws.manifests_dir.glob("*.json"))
    doc = json.loads(manifest.read_text())
    doc["digests"][0] = "0x" + "00" * 32
    manifest.write_text(json.dumps(doc))
    sender = TxSender(chain, account(ws))
    registry = chain.registry(ws.config.chain.registry)
    foreign = os.urandom(32)
    sender.wait_mined(sender.send(registry.contract.functions.anchor(foreign, 1)).tx_hash, timeout=30)
    receipt = json.loads(receipts[1].read_text())
    call = registry.contract.functions.revokeCredential(
        bytes.fromhex(receipt["merkle"]["root"][2:]),
        bytes.fromhex(receipt["merkle"]["leaf"][2:]),
        "behind the database's back",
    )
    sender.wait_mined(sender.send(call).tx_hash, timeout=30)
    issue_killed_at(ws, write_csv(ws.root / "more.csv", people(2, "x.org")), "prepared")

    report = cli("doctor", "--json", "-w", ws.root)
    assert report.code == 1
    findings = json.loads(report.out)
    problems = " | ".join(findings["problems"])
    assert "batch 1: 1 receipt file(s) missing, first for urn:uuid:" in problems
    assert f"batch 1: manifest {manifest} lists other digests than the database" in problems
    assert f"root 0x{foreign.hex()} anchored in block" in problems
    assert (
        f"leaf {receipt['merkle']['leaf']} of root {receipt['merkle']['root']} is revoked on chain but not in the database"
        in problems
    )
    assert findings["notices"] == ["batch 2 is prepared: run `credanchor resume 2`"]


@pytest.mark.slow
def test_back_to_back_batches_and_concurrent_verifiers(tmp_path: Path, node: Node) -> None:
    ws = make_workspace(tmp_path / "ws", node)
    report = run_load(ws.root, tmp_path, batches=10, records=100, verifiers=20)
    print(f"load: batches {report.batch_seconds} s, 20 verifiers x 100 receipts in {report.verify_wall_seconds} s")
    assert report.all_correct, report
    assert report.verdicts == {"valid": 2000}
