"""Revocation status of many receipts of one registry from one scan of its events, on a real node: the same
verdicts as root-by-root reads, in far fewer requests, and extended (not read again) at a later head."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from anchoring.chain import Chain
from credanchor.wiring import own_trust
from issuer.workspace import Workspace
from tests.conftest import CliResult, Node, people, write_csv
from verifier.checks import Report, Verdict
from verifier.service import ChainReader, Session

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


def issue_batches(cli: Cli, ws: Workspace, batches: int, size: int) -> list[list[Path]]:
    found = []
    for b in range(batches):
        csv = write_csv(ws.root / f"records{b}.csv", people(size, domain=f"b{b}.example.org"))
        out = ws.root / f"out{b}"
        result = cli("issue", csv, "--achievement", "example", "--out", out, "-w", ws.root)
        assert result.code == 0, result.err
        found.append(sorted(out.glob("*.json")))
    return found


class Counting:
    """Counts the node requests of a `Chain` (every request goes through `Chain.ask`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.asked: list[str] = []
        original = Chain.ask

        def counting(chain: Chain, what: str, call: Callable[[], Any]) -> Any:
            self.asked.append(what)
            return original(chain, what, call)

        monkeypatch.setattr(Chain, "ask", counting)


def verify_all(reader: ChainReader, ws: Workspace, paths: list[Path]) -> list[Report]:
    session = Session(lambda: reader, own_trust(ws), datetime.now(UTC))
    return list(session.verify_files(paths))


def test_one_scan_per_registry_gives_the_verdicts_of_root_by_root_reads(
    cli: Cli, workspace: Workspace, node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace
    batches = issue_batches(cli, ws, 4, 3)
    revoked_id = json.loads(batches[1][0].read_text())["credential"]["id"]
    assert cli("revoke", revoked_id, "--reason", "issued in error", "-w", ws.root).code == 0
    batch_root = json.loads(batches[2][0].read_text())["merkle"]["root"]
    assert cli("revoke", "--batch", batch_root, "--reason", "exam annulled", "-w", ws.root).code == 0
    paths = [p for batch in batches for p in batch]
    counting = Counting(monkeypatch)

    per_root = verify_all(ChainReader(node.chain(), scan=False), ws, paths)
    per_root_requests = list(counting.asked)
    counting.asked.clear()
    reader = ChainReader(node.chain())
    scanned = verify_all(reader, ws, paths)
    scanned_requests = list(counting.asked)

    assert [(r.source, r.verdict, r.steps) for r in scanned] == [(r.source, r.verdict, r.steps) for r in per_root]
    by_source = {r.source: r for r in scanned}
    assert by_source[str(batches[1][0])].verdict == Verdict.REVOKED
    assert by_source[str(batches[1][0])].reason.endswith(": issued in error")
    assert [by_source[str(p)].verdict for p in batches[2]] == [Verdict.REVOKED] * 3
    assert by_source[str(batches[2][0])].reason.endswith(": exam annulled")
    assert {by_source[str(p)].verdict for p in batches[0] + batches[3] + batches[1][1:]} == {Verdict.VALID}
    # The first root is read alone (as one receipt would be); the second starts the registry's scan, in one log
    # request on this short chain; every later root costs its anchor word.
    assert scanned_requests.count("eth_getLogs") == 2 + 1
    assert scanned_requests.count("deploymentBlock") == 1
    assert scanned_requests.count("anchorOf") == 4
    # Root by root: two log requests a root (its anchoring and its revoked credentials), one more for the batch
    # revoked.
    assert per_root_requests.count("eth_getLogs") == 4 * 2 + 1
    assert len(scanned_requests) < len(per_root_requests)

    # A revocation after the scan shows at the next head: the log is extended from the block it reached.
    later_id = json.loads(batches[3][1].read_text())["credential"]["id"]
    assert cli("revoke", later_id, "--reason", "found a mistake", "-w", ws.root).code == 0
    counting.asked.clear()
    again = {r.source: r for r in verify_all(reader, ws, paths)}
    assert again[str(batches[3][1])].verdict == Verdict.REVOKED
    assert again[str(batches[3][1])].reason.endswith(": found a mistake")
    assert again[str(batches[3][0])].verdict == Verdict.VALID
    assert counting.asked.count("eth_getLogs") == 1
    assert "deploymentBlock" not in counting.asked


def test_one_receipt_does_not_scan_the_registry(
    cli: Cli, workspace: Workspace, node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = issue_batches(cli, workspace, 2, 1)
    counting = Counting(monkeypatch)
    (report,) = verify_all(ChainReader(node.chain()), workspace, batches[1])
    assert report.verdict == Verdict.VALID
    assert "deploymentBlock" not in counting.asked
    assert len(counting.asked) <= 12


def test_a_reorganisation_under_the_log_reads_it_again(
    cli: Cli, workspace: Workspace, node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace
    batches = issue_batches(cli, ws, 2, 2)
    paths = [p for batch in batches for p in batch]
    snapshot = node.rpc("evm_snapshot")
    revoked_id = json.loads(batches[0][0].read_text())["credential"]["id"]
    assert cli("revoke", revoked_id, "--reason", "issued in error", "-w", ws.root).code == 0
    reader = ChainReader(node.chain())
    first = {r.source: r.verdict for r in verify_all(reader, ws, paths)}
    assert first[str(batches[0][0])] == Verdict.REVOKED
    # The revocation's block is replaced by two empty ones: the log's last block is no longer on the chain.
    assert node.rpc("evm_revert", snapshot) is True
    node.rpc("evm_mine")
    node.rpc("evm_mine")
    counting = Counting(monkeypatch)
    again = {r.source: r.verdict for r in verify_all(reader, ws, paths)}
    assert set(again.values()) == {Verdict.VALID}
    assert "deploymentBlock" not in counting.asked
    assert counting.asked.count("eth_getLogs") == 1
