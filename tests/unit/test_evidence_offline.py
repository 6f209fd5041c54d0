"""Committed version 2 receipts (issued on Anvil, whose node is long gone) verify from their evidence and a
committed checkpoint alone: no node, no network, in a unit test."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring.dataintegrity import Signer
from anchoring.multibase import encode_multikey
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


@pytest.mark.parametrize(
    ("seed", "outcome"),
    [
        # The evidence's nodes happen to prove this key's slot empty: never listed, proven.
        (bytes([1]) * 32, " is not listed in the registry"),
        # Their paths leave the evidence's nodes: nothing is proven about these keys.
        (bytes([2]) * 32, ": the evidence does not prove its registry entry"),
        (bytes([3]) * 32, ": the evidence does not prove its registry entry"),
    ],
)
def test_a_credential_resigned_with_a_key_the_evidence_never_covered_is_invalid_offline(
    seed: bytes, outcome: str
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)

    def resign(doc: dict[str, Any]) -> None:
        credential = {k: v for k, v in doc["credential"].items() if k != "proof"}
        method = f"{credential['issuer']['id']}#{encode_multikey(key.public_key().public_bytes_raw())}"
        credential["proof"] = [Signer(seed, "eddsa-rdfc-2022", method, "2026-11-30T00:00:00Z").sign(credential)]
        doc["credential"] = credential

    report = verify_changed(resign)
    assert report.verdict == Verdict.INVALID
    steps = {s.name: s for s in report.steps}
    assert steps["evidence"].ok is True
    assert report.reason == f"signing key {encode_multikey(key.public_key().public_bytes_raw())}{outcome}"
