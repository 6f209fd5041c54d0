"""Committed version 2 receipts (issued on Anvil, whose node is long gone) verify from their evidence and a
committed checkpoint alone: no node, no network, in a unit test."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from verifier.checkpoints import load_checkpoints
from verifier.checks import Verdict
from verifier.service import Session
from verifier.trust import load_trust_list

ASSETS = Path(__file__).parent.parent / "assets" / "evidence" / "v2"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def session() -> Session:
    return Session(
        None,
        load_trust_list(ASSETS / "trust.toml"),
        NOW,
        checkpoints=load_checkpoints(ASSETS / "checkpoints.toml"),
    )


@pytest.mark.parametrize("name", ["receipt-0.json", "receipt-1.json"])
def test_committed_receipts_verify_offline(name: str) -> None:
    report = session().verify_file(ASSETS / name)
    assert report.verdict == Verdict.VALID, report
    steps = {s.name: s for s in report.steps}
    assert steps["schema"].detail == "receipt matches the version 2 schema"
    assert steps["evidence"].ok is True
    assert steps["trust"].detail == "registry is trusted as 'Test University'"
    assert any("cannot be known without a node" in note for note in report.notes)


def verify_changed(change: Any) -> Any:
    doc = json.loads((ASSETS / "receipt-0.json").read_text())
    changed = copy.deepcopy(doc)
    change(changed)
    return session().verify_bytes(json.dumps(changed).encode(), "r.json")


def test_a_receipt_moved_to_another_block_is_invalid() -> None:
    def move(doc: dict[str, Any]) -> None:
        doc["anchor"]["blockNumber"] += 1

    report = verify_changed(move)
    assert report.verdict == Verdict.INVALID
    assert report.reason.startswith("evidence shows the root anchored in block ")


def test_evidence_for_a_block_without_a_checkpoint_is_not_enough() -> None:
    def later(doc: dict[str, Any]) -> None:
        doc["evidence"][0]["header"]["number"] = hex(int(doc["evidence"][0]["header"]["number"], 16) + 1)

    report = verify_changed(later)
    # The header no longer hashes to its stated hash: forged, whatever the checkpoints say.
    assert report.verdict == Verdict.INVALID
    assert "evidence header: block header hashes to" in report.reason
