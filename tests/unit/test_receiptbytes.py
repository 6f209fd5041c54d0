"""Receipts assembled around the stored credential text are the receipts `receipt_document` describes."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anchoring.evidencecollect import BatchEvidence
from anchoring.receipt import Receipt, receipt_document
from issuer.receiptbytes import Envelope
from tests.unit.test_credentials import credential

ANCHOR: dict[str, Any] = {
    "chainId": 31337,
    "registry": "0x" + "ab" * 20,
    "txHash": "0x" + "cd" * 32,
    "blockNumber": 7,
    "timestamp": "2026-06-30T12:00:00Z",
}
OTHER = {**ANCHOR, "chainId": 31338, "blockNumber": 9}
HEADER = {"number": "0x7", "hash": "0x" + "11" * 32, "parentHash": "0x" + "22" * 32}
nodes = st.lists(st.sampled_from([f"0x{i:02x}" * 3 for i in range(12)]), max_size=6)


def evidence(shared: list[str], own: list[str], leaf: str, chain_id: int = 31337) -> BatchEvidence:
    return BatchEvidence(chain_id, str(ANCHOR["registry"]), HEADER, tuple(shared), {leaf: tuple(own)})


def expected(
    document: str, leaf: str, proof: list[bytes], anchors: list[dict[str, Any]], found: list[BatchEvidence]
) -> dict[str, Any]:
    return receipt_document(
        json.loads(document), "0x" + "aa" * 32, leaf, proof, "0x" + "ff" * 32, anchors[0],
        [e.for_leaf(leaf) for e in found], anchors[1:],
    )  # fmt: skip


@given(shared=nodes, own=nodes, other_own=nodes, depth=st.integers(0, 5), two=st.booleans(), proven=st.booleans())
def test_same_receipt_as_receipt_document(
    shared: list[str], own: list[str], other_own: list[str], depth: int, two: bool, proven: bool
) -> None:
    document = json.dumps(credential(), ensure_ascii=False, separators=(",", ":"))
    leaf = "0x" + "bb" * 32
    proof = [bytes([i]) * 32 for i in range(depth)]
    anchors = [ANCHOR, OTHER] if two else [ANCHOR]
    found = [evidence(shared, own, leaf)] + ([evidence(shared, other_own, leaf, 31338)] if two else [])
    found = found if proven else []
    data = Envelope("0x" + "ff" * 32, anchors, found).receipt(document, "0x" + "aa" * 32, leaf, proof)
    assert data.endswith(b"}")
    assert b"\n" not in data  # one line; the writer adds its break
    assert json.loads(data) == expected(document, leaf, proof, anchors, found)


def test_non_ascii_credential_text_is_kept_as_utf8() -> None:
    document = json.dumps({**credential(), "name": "Zoë Ångström — 数学"}, ensure_ascii=False, separators=(",", ":"))
    data = Envelope("0x" + "ff" * 32, [ANCHOR]).receipt(document, "0x" + "aa" * 32, "0x" + "bb" * 32, [])
    assert "Zoë Ångström — 数学".encode() in data
    assert Receipt.from_json(data).credential["name"] == "Zoë Ångström — 数学"


def test_no_anchor_no_receipt() -> None:
    with pytest.raises(ValueError, match="^a receipt needs at least one anchor$"):
        Envelope("0x" + "ff" * 32, [])


def test_credential_text_on_several_lines_becomes_one_line() -> None:
    document = json.dumps(credential(), ensure_ascii=False, indent=2)
    data = Envelope("0x" + "ff" * 32, [ANCHOR]).receipt(document, "0x" + "aa" * 32, "0x" + "bb" * 32, [])
    assert b"\n" not in data
    assert json.loads(data)["credential"] == json.loads(document)
