"""What verifying a batch's receipts no longer does twice, held equal to doing it: the canonical bytes a
receipt's digest hashed, given to its `eddsa-jcs-2022` signature check only where the proof signed exactly
those; libsodium's Ed25519 against OpenSSL's; a proof configuration remembered without JSON encoding; the
lines of one JSON Lines file read through one open file; storage keys as nibbles."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring import mpt
from anchoring.credential import canonical_bytes
from anchoring.dataintegrity import (
    JCS,
    RDFC,
    ProofFailed,
    Signer,
    _jcs,
    _sign,
    canonical_proof_config,
    proofs_of,
    signs_whole,
    verify_proof,
)
from anchoring.errors import InvalidReceipt
from anchoring.multibase import b58decode, encode_multikey
from anchoring.receipt import Receipt
from anchoring.receiptfiles import read_receipt_at, read_receipts_at
from tests.unit.ob3_docs import knob_credential
from verifier.fastread import ReceiptReader
from verifier.signature import check_signature

SEED = bytes(range(32))
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
METHOD = f"https://registrar.test.edu#{encode_multikey(PUBLIC)}"
CREATED = datetime(2026, 6, 30, 12, 0, 5, tzinfo=UTC)
VALID = Path(__file__).parent.parent / "assets" / "receipts" / "valid.json"
WRONG = (
    f"the {JCS} signature does not verify with key {encode_multikey(PUBLIC)}: the document or its proof is not "
    "what was signed, or another key signed it"
)


def signed(document: dict[str, Any], suite: str = JCS) -> dict[str, Any]:
    return {**document, "proof": [Signer(SEED, suite, METHOD, CREATED).sign(document)]}


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=200))
def test_libsodium_signs_the_bytes_openssl_signs(seed: bytes, message: bytes) -> None:
    secret = Signer(seed, JCS, METHOD, CREATED)._secret
    assert _sign(message, secret) == Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def test_the_canonical_bytes_given_are_the_ones_checked() -> None:
    document = signed(knob_credential(frozenset({"name", "credits"})))
    [proof] = proofs_of(document)
    canonical = canonical_bytes(document)
    verify_proof(document, proof, PUBLIC, canonical_document=canonical)
    with pytest.raises(ProofFailed) as caught:
        verify_proof(document, proof, PUBLIC, canonical_document=canonical.replace(b"Test", b"Tost", 1))
    assert str(caught.value) == WRONG


def test_given_bytes_are_ignored_where_the_proof_signed_another_context() -> None:
    # The proof's @context is a prefix of the document's: the signed document is the one with the proof's
    # context, so the document's own canonical bytes (or any others) must not be used.
    original = knob_credential(frozenset({"name"}))
    secured = signed(original)
    widened = {**secured, "@context": [*original["@context"], "https://w3id.org/security/data-integrity/v2"]}
    [proof] = proofs_of(widened)
    verify_proof(widened, proof, PUBLIC, canonical_document=b"{}")
    verify_proof(widened, proof, PUBLIC, canonical_document=canonical_bytes(widened))


def test_given_bytes_are_ignored_for_the_rdf_suite() -> None:
    document = signed(knob_credential(frozenset({"name"})), RDFC)
    [proof] = proofs_of(document)
    verify_proof(document, proof, PUBLIC, canonical_document=b"{}")


@pytest.mark.parametrize(
    ("options", "whole"),
    [
        ({"type": "DataIntegrityProof"}, True),
        ({"@context": ["https://a", "https://b"]}, True),
        ({"@context": ["https://a"]}, False),
        ({"@context": ["https://a", "https://b"], "previousProof": "urn:uuid:1"}, False),
        ({"@context": "https://a"}, False),
    ],
)
def test_only_a_proof_over_the_whole_document_takes_given_bytes(options: dict[str, Any], whole: bool) -> None:
    assert signs_whole({"@context": ["https://a", "https://b"]}, options) is whole


def test_equal_but_not_the_same_contexts_are_not_taken_as_the_same() -> None:
    assert signs_whole({"@context": ["https://a", 1]}, {"@context": ["https://a", True]}) is False


def test_a_receipt_hands_its_canonical_bytes_out_once() -> None:
    data = VALID.read_bytes()
    for receipt in (Receipt.from_json(data), ReceiptReader().parse(data, "valid.json")):
        assert receipt.take_canonical() == canonical_bytes(receipt.credential)
        assert receipt.take_canonical() is None
        assert receipt.computed_digest() == json.loads(data)["digest"]


def test_the_signature_check_says_the_same_with_or_without_the_bytes() -> None:
    document = signed(knob_credential(frozenset({"name", "credits"})))
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert check_signature(document, now, canonical_bytes(document)) == check_signature(document, now)
    tampered = {**document, "name": "Another name"}
    assert check_signature(tampered, now, canonical_bytes(tampered)) == check_signature(tampered, now)
    assert check_signature(tampered, now).ok is False


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.text(max_size=12), st.lists(st.text(max_size=12), max_size=3)),
        max_size=6,
    )
)
def test_a_remembered_configuration_is_canonicalised_as_its_json(config: dict[str, Any]) -> None:
    assert canonical_proof_config(config, JCS) == _jcs(json.loads(json.dumps(config)), "proof configuration")


def test_a_configuration_with_other_values_is_still_canonicalised() -> None:
    config = {"type": "DataIntegrityProof", "expires": {"nested": [1, 2.0]}, "n": 3}
    assert canonical_proof_config(config, JCS) == b'{"expires":{"nested":[1,2]},"n":3,"type":"DataIntegrityProof"}'


def test_lines_of_one_file_read_alike_through_one_open_file(tmp_path: Path) -> None:
    lines = [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    path = tmp_path / "receipts.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    offsets = [0, 8, 16]
    wanted = [f"{path}#{offset}" for offset in offsets]
    wanted += [f"{path}#3", f"{tmp_path / 'gone.jsonl'}#0", str(tmp_path / "gone.json"), f"{path}#8"]
    answers = list(read_receipts_at(wanted))
    assert [location for location, _ in answers] == wanted
    assert [data for _, data in answers[:3]] == lines
    assert answers[-1][1] == lines[1]
    errors = [data for _, data in answers[3:6]]
    assert all(isinstance(error, InvalidReceipt) for error in errors)
    assert [str(error) for error in errors] == [
        f"{path}#3: no receipt starts at byte 3",
        f"{tmp_path / 'gone.jsonl'}#0: no such file",
        f"{tmp_path / 'gone.json'}: no such file",
    ]
    for location in wanted[3:6]:
        with pytest.raises(InvalidReceipt) as caught:
            read_receipt_at(location)
        assert str(caught.value) == str(errors[wanted.index(location) - 3])


@given(st.binary(max_size=40))
def test_storage_keys_split_into_nibbles(data: bytes) -> None:
    assert mpt._nibbles(data) == tuple(n for byte in data for n in (byte >> 4, byte & 0x0F))


@pytest.mark.parametrize(("text", "bad"), [("abc\u00e9", "'é'"), ("ab0", "'0'"), ("Il", "'I'")])
def test_base58_names_the_first_character_outside_its_alphabet(text: str, bad: str) -> None:
    with pytest.raises(ValueError, match="is not a base58btc character") as caught:
        b58decode(text)
    assert str(caught.value) == f"{bad} is not a base58btc character"
