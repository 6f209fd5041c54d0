"""Data Integrity EdDSA proofs: the 1EdTech signed example verifies byte for byte, our own credentials sign and
verify with both cryptosuites, and every tampering is refused with a message that names the failed check."""

import copy
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp

from anchoring import dataintegrity
from anchoring.dataintegrity import (
    JCS,
    RDFC,
    OwnSignatures,
    ProofFailed,
    Signer,
    canonical_document,
    canonical_proof_config,
    created_text,
    ed25519_verifies,
    hash_data,
    proofs_of,
    signature_tag,
    verify_proof,
    without_proof,
)
from anchoring.errors import InvalidInput
from anchoring.jsonld import UnsafeJsonLd
from anchoring.multibase import encode_multikey, multibase_decode, multibase_encode
from tests.unit.ob3_docs import OB3, knob_credential, load

EXAMPLE = load(OB3 / "ob3-example-signed.json")
EXAMPLE_KEY = bytes.fromhex(load(OB3 / "ob3-example-key.json")["publicKeyHex"])
SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
METHOD = f"https://registrar.test.edu#{encode_multikey(PUBLIC)}"
CREATED = datetime(2026, 6, 30, 12, 0, 5, 123456, tzinfo=UTC)
NOT_SIGNED = "the document or its proof is not what was signed, or another key signed it"


def not_verified(suite: str, key: bytes = PUBLIC) -> str:
    return f"the {suite} signature does not verify with key {encode_multikey(key)}: {NOT_SIGNED}"


def signed(document: dict[str, Any], suite: str, seed: bytes = SEED) -> dict[str, Any]:
    proof = Signer(seed, suite, METHOD, CREATED).sign(document)
    return {**document, "proof": [proof]}


def test_1edtech_example_canonical_forms_are_byte_exact() -> None:
    assert canonical_document(EXAMPLE, RDFC) == (OB3 / "ob3-example-doc.rdfc.nq").read_bytes()
    options = {key: value for key, value in EXAMPLE["proof"].items() if key != "proofValue"}
    config = {**options, "@context": EXAMPLE["@context"]}
    assert canonical_proof_config(config, RDFC) == (OB3 / "ob3-example-proof.rdfc.nq").read_bytes()


def test_1edtech_example_verifies_with_its_object_proof() -> None:
    assert proofs_of(EXAMPLE) == [EXAMPLE["proof"]]
    verify_proof(EXAMPLE, EXAMPLE["proof"], EXAMPLE_KEY)
    as_array = {**EXAMPLE, "proof": [EXAMPLE["proof"]]}
    verify_proof(as_array, proofs_of(as_array)[0], EXAMPLE_KEY)


@pytest.mark.parametrize("suite", [RDFC, JCS])
def test_our_credentials_sign_and_verify(suite: str) -> None:
    document = knob_credential(frozenset({"name", "credits", "result", "evidence_url", "alignments", "validity"}))
    secured = signed(document, suite)
    [proof] = proofs_of(secured)
    assert list(proof) == [
        "type",
        "cryptosuite",
        "created",
        "verificationMethod",
        "proofPurpose",
        *(["@context"] if suite == JCS else []),
        "proofValue",
    ]
    assert proof["created"] == "2026-06-30T12:00:05Z"
    assert proof["type"] == "DataIntegrityProof"
    assert proof["proofPurpose"] == "assertionMethod"
    verify_proof(secured, proof, PUBLIC)
    verify_proof(document, proof, PUBLIC)


@pytest.mark.parametrize("suite", [RDFC, JCS])
def test_hash_data_is_the_proof_configuration_hash_then_the_document_hash(suite: str) -> None:
    document = knob_credential(frozenset({"name"}))
    proof = Signer(SEED, suite, METHOD, CREATED).sign(document)
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    config = options if suite == JCS else {**options, "@context": document["@context"]}
    config_bytes = canonical_proof_config(config, suite)
    doc_bytes = canonical_document(document, suite)
    data = hash_data(config_bytes, doc_bytes)
    assert data == hashlib.sha256(config_bytes).digest() + hashlib.sha256(doc_bytes).digest()
    assert multibase_decode(proof["proofValue"]) == Ed25519PrivateKey.from_private_bytes(SEED).sign(data)


def test_the_signer_takes_the_key_from_a_cryptography_key_as_raw_bytes() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, _no_encryption())
    assert Signer(raw, RDFC, METHOD, CREATED).public_key == PUBLIC


def _no_encryption() -> Any:
    from cryptography.hazmat.primitives.serialization import NoEncryption

    return NoEncryption()


def flip_bit(proof: dict[str, Any]) -> dict[str, Any]:
    signature = bytearray(multibase_decode(proof["proofValue"]))
    signature[10] ^= 0x01
    return {**proof, "proofValue": multibase_encode(bytes(signature))}


@pytest.mark.parametrize("suite", [RDFC, JCS])
def test_tampering_is_refused(suite: str) -> None:
    document = knob_credential(frozenset({"name", "result"}))
    secured = signed(document, suite)
    [proof] = proofs_of(secured)

    with pytest.raises(ProofFailed) as caught:
        verify_proof(secured, flip_bit(proof), PUBLIC)
    assert str(caught.value) == not_verified(suite)

    changed = copy.deepcopy(secured)
    changed["credentialSubject"]["identifier"][1]["identityHash"] = "Eve"
    with pytest.raises(ProofFailed) as caught:
        verify_proof(changed, proof, PUBLIC)
    assert str(caught.value) == not_verified(suite)

    other_key = (
        Ed25519PrivateKey.from_private_bytes(OTHER_SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    with pytest.raises(ProofFailed) as caught:
        verify_proof(secured, proof, other_key)
    assert str(caught.value) == not_verified(suite, other_key)

    by_other = proofs_of(signed(document, suite, OTHER_SEED))[0]
    with pytest.raises(ProofFailed) as caught:
        verify_proof(secured, by_other, PUBLIC)
    assert str(caught.value) == not_verified(suite)

    other_credential = knob_credential(frozenset({"name", "result"}), serial=7)
    with pytest.raises(ProofFailed) as caught:
        verify_proof(other_credential, proof, PUBLIC)
    assert str(caught.value) == not_verified(suite)

    later = {**proof, "created": "2026-06-30T12:00:06Z"}
    with pytest.raises(ProofFailed) as caught:
        verify_proof(secured, later, PUBLIC)
    assert str(caught.value) == not_verified(suite)


def test_a_proof_made_for_one_cryptosuite_does_not_verify_as_the_other() -> None:
    document = knob_credential(frozenset())
    proof = proofs_of(signed(document, RDFC))[0]
    with pytest.raises(ProofFailed) as caught:
        verify_proof(document, {**proof, "cryptosuite": JCS}, PUBLIC)
    assert str(caught.value) == not_verified(JCS)


def test_an_unknown_context_is_refused_before_any_signature_check() -> None:
    document = signed(knob_credential(frozenset()), RDFC)
    document["@context"] = [*document["@context"], "https://evil.example/ctx"]
    with pytest.raises(UnsafeJsonLd, match=r"^context 'https://evil.example/ctx' is not bundled with credanchor"):
        verify_proof(document, proofs_of(document)[0], PUBLIC)


def test_an_added_undefined_term_is_refused_not_ignored() -> None:
    document = signed(knob_credential(frozenset()), RDFC)
    document["credentialSubject"]["favouriteColour"] = "blue"
    with pytest.raises(UnsafeJsonLd) as caught:
        verify_proof(document, proofs_of(document)[0], PUBLIC)
    assert str(caught.value) == (
        "term 'favouriteColour' under 'credentialSubject' is not defined by the document's @context; "
        "it would drop out of the signed data"
    )


PROOF = {
    "type": "DataIntegrityProof",
    "cryptosuite": RDFC,
    "created": "2026-06-30T12:00:05Z",
    "verificationMethod": METHOD,
    "proofPurpose": "assertionMethod",
    "proofValue": multibase_encode(bytes(64)),
}
MALFORMED = [
    ({"type": "Ed25519Signature2020"}, "proof type is 'Ed25519Signature2020', expected 'DataIntegrityProof'"),
    ({"type": None}, "proof type is None, expected 'DataIntegrityProof'"),
    (
        {"cryptosuite": "ecdsa-rdfc-2019"},
        "proof cryptosuite is 'ecdsa-rdfc-2019'; supported: eddsa-rdfc-2022, eddsa-jcs-2022",
    ),
    ({"proofPurpose": "authentication"}, "proof purpose is 'authentication', expected 'assertionMethod'"),
    ({"verificationMethod": None}, "proof has no verificationMethod"),
    ({"proofValue": None}, "proof has no proofValue string"),
    (
        {"proofValue": "u" + PROOF["proofValue"][1:]},
        "proofValue is malformed: must be multibase base58btc, starting with 'z', not 'u'",
    ),
    ({"proofValue": "z3mJ0"}, "proofValue is malformed: '0' is not a base58btc character"),
    ({"proofValue": multibase_encode(bytes(63))}, "proofValue decodes to 63 bytes; an Ed25519 signature has 64"),
    ({"proofValue": multibase_encode(bytes(65))}, "proofValue decodes to 65 bytes; an Ed25519 signature has 64"),
    ({"created": "yesterday"}, "proof created 'yesterday' is not an XML Schema dateTime"),
    ({"expires": 5}, "proof expires 5 is not an XML Schema dateTime"),
    ({"expires": "2026-07-01T00:00:00Z"}, "proof expired at 2026-07-01T00:00:00Z"),
]


@pytest.mark.parametrize(("change", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_proofs_say_what_is_wrong(change: dict[str, Any], message: str) -> None:
    now = datetime(2026, 7, 2, tzinfo=UTC)
    with pytest.raises(ProofFailed) as caught:
        verify_proof(EXAMPLE, {**PROOF, **change}, EXAMPLE_KEY, now=now)
    assert str(caught.value) == message


def test_expiry_is_checked_against_the_given_time_only() -> None:
    proof = {**EXAMPLE["proof"], "expires": "2030-01-01T00:00:00Z"}
    with pytest.raises(ProofFailed, match="does not verify"):  # expires is covered by the signature
        verify_proof(EXAMPLE, proof, EXAMPLE_KEY, now=datetime(2029, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="^now needs a time zone$"):
        verify_proof(EXAMPLE, proof, EXAMPLE_KEY, now=datetime(2029, 1, 1))


def test_another_purpose_can_be_required() -> None:
    with pytest.raises(ProofFailed) as caught:
        verify_proof(EXAMPLE, EXAMPLE["proof"], EXAMPLE_KEY, purpose="authentication")
    assert str(caught.value) == "proof purpose is 'assertionMethod', expected 'authentication'"


def test_picking_the_proofs_out() -> None:
    assert proofs_of({"proof": [PROOF, PROOF]}) == [PROOF, PROOF]
    assert without_proof({"a": 1, "proof": PROOF}) == {"a": 1}
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "the document has no proof"),
        ({"proof": []}, "the document's proof array is empty"),
        ({"proof": "z123"}, "a proof must be a JSON object, not str"),
        ({"proof": [PROOF, 5]}, "a proof must be a JSON object, not int"),
    ]
    for document, message in cases:
        with pytest.raises(ProofFailed) as caught:
            proofs_of(document)
        assert str(caught.value) == message


def test_a_jcs_proof_needs_the_documents_context_to_start_with_its_own() -> None:
    document = knob_credential(frozenset())
    secured = signed(document, JCS)
    [proof] = proofs_of(secured)
    assert proof["@context"] == document["@context"]
    # As the spec says: contexts appended after the proof's (say, for another proof) are allowed and not covered.
    extended = {**secured, "@context": [*document["@context"], "https://w3id.org/security/data-integrity/v2"]}
    verify_proof(extended, proof, PUBLIC)
    swapped = {**secured, "@context": list(reversed(document["@context"]))}
    with pytest.raises(ProofFailed) as caught:
        verify_proof(swapped, proof, PUBLIC)
    assert str(caught.value) == (
        f"the document's @context {swapped['@context']} does not start with the proof's @context {document['@context']}"
    )


BAD_SIGNERS = [
    ((bytes(31), RDFC, METHOD, CREATED), "an Ed25519 private key has 32 bytes, not 31"),
    ((SEED, "eddsa-2022", METHOD, CREATED), "unknown cryptosuite 'eddsa-2022'; known: eddsa-rdfc-2022, eddsa-jcs-2022"),
    ((SEED, RDFC, "", CREATED), "the verification method must be a non-empty IRI"),
    ((SEED, RDFC, METHOD, "today"), "created 'today' is not an XML Schema dateTimeStamp (a date-time with a zone)"),
    (
        (SEED, RDFC, METHOD, "2026-01-01T00:00:00"),
        "created '2026-01-01T00:00:00' is not an XML Schema dateTimeStamp (a date-time with a zone)",
    ),
    ((SEED, RDFC, METHOD, datetime(2026, 1, 1)), "the proof's created time needs a time zone"),
]


@pytest.mark.parametrize(("args", "message"), BAD_SIGNERS, ids=[m for _, m in BAD_SIGNERS])
def test_a_signer_refuses_bad_settings(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Signer(*args)
    assert str(caught.value) == message


def test_created_is_utc_to_the_second() -> None:
    moment = datetime(2026, 6, 30, 14, 0, 5, 999999, tzinfo=UTC) + timedelta(0)
    assert created_text(moment.astimezone(UTC)) == "2026-06-30T14:00:05Z"
    from zoneinfo import ZoneInfo

    assert created_text(moment.astimezone(ZoneInfo("Europe/Paris"))) == "2026-06-30T14:00:05Z"


def test_a_document_without_a_proof_cannot_be_verified_from_its_own_proofs() -> None:
    with pytest.raises(ProofFailed, match="^the document has no proof$"):
        proofs_of(knob_credential(frozenset()))


def test_deeply_nested_input_is_refused_before_it_is_walked() -> None:
    deep: list[object] = ["bottom"]
    for _ in range(1000):  # deep enough to refuse, shallow enough for pytest to print if this ever fails
        deep = [deep]
    message = "the document is nested more than 100 levels deep"
    for suite in (RDFC, JCS):
        with pytest.raises(UnsafeJsonLd, match=f"^{message}$"):
            verify_proof(EXAMPLE, {**EXAMPLE["proof"], "cryptosuite": suite, "nonce": deep}, EXAMPLE_KEY)
        with pytest.raises(UnsafeJsonLd, match=f"^{message}$"):
            verify_proof({**EXAMPLE, "name": deep}, {**EXAMPLE["proof"], "cryptosuite": suite}, EXAMPLE_KEY)
        with pytest.raises(UnsafeJsonLd, match=f"^{message}$"):
            Signer(SEED, suite, METHOD, CREATED).sign({**EXAMPLE, "@context": [*EXAMPLE["@context"], deep]})


def _other_signature(seed: bytes, data: bytes) -> bytes:
    """A valid signature of `data` by `seed`'s key that is not the deterministic one (another nonce r): what
    any holder of the key can make, and any verifier accepts."""
    order = 2**252 + 27742317777372353535851937790883648493
    base = crypto_scalarmult_ed25519_base_noclamp
    expanded = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(bytearray(expanded[:32]), "little")
    scalar = (scalar & ((1 << 254) - 8)) | (1 << 254)
    nonce = int.from_bytes(hashlib.sha512(b"another nonce" + data).digest(), "little") % order
    r_point = base(nonce.to_bytes(32, "little"))
    k = int.from_bytes(hashlib.sha512(r_point + PUBLIC + data).digest(), "little") % order
    return r_point + ((nonce + k * scalar) % order).to_bytes(32, "little")


def test_own_signatures_give_the_verdicts_of_verification() -> None:
    own = OwnSignatures(SEED)
    other_public = (
        Ed25519PrivateKey.from_private_bytes(OTHER_SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    data = hashlib.sha256(b"config").digest() + hashlib.sha256(b"document").digest()
    made = Ed25519PrivateKey.from_private_bytes(SEED).sign(data)
    by_other = Ed25519PrivateKey.from_private_bytes(OTHER_SEED).sign(data)
    other_nonce = _other_signature(SEED, data)
    assert other_nonce != made
    flipped = bytes([made[0] ^ 1]) + made[1:]
    cases = [
        (PUBLIC, made, data, True),  # made again, equal
        (PUBLIC, other_nonce, data, True),  # not the one made again, but valid: verified
        (PUBLIC, flipped, data, False),
        (PUBLIC, made, data[:-1] + b"\0", False),
        (PUBLIC, made[:63], data, False),
        (other_public, by_other, data, True),  # another key: verified
        (other_public, made, data, False),
        (PUBLIC, by_other, data, False),
    ]
    for public_key, signature, signed, valid in cases:
        assert own(public_key, signature, signed) is valid
        assert ed25519_verifies(public_key, signature, signed) is valid
    assert repr(own) == f"OwnSignatures(public key {PUBLIC.hex()}, 0 signatures made)"
    assert SEED.hex() not in repr(own)


def test_signatures_a_signer_made_are_known_by_their_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = Signer(SEED, JCS, METHOD, CREATED)
    signer.made = bytearray()
    documents = [{**EXAMPLE, "name": f"credential {i}"} for i in range(5)]
    proofs = [signer.sign(document) for document in documents[:3]]
    proofs += [signer.sign_canonical(document, canonical_document(document, JCS)) for document in documents[3:]]
    config = canonical_proof_config({**signer.options, "@context": EXAMPLE["@context"]}, JCS)
    pairs = [
        (hash_data(config, canonical_document(document, JCS)), multibase_decode(proof["proofValue"]))
        for document, proof in zip(documents, proofs, strict=True)
    ]
    assert bytes(signer.made) == b"".join(signature_tag(PUBLIC, data, signature) for data, signature in pairs)
    own = OwnSignatures(SEED, made=bytes(signer.made))
    assert own.known == 5
    assert repr(own) == f"OwnSignatures(public key {PUBLIC.hex()}, 5 signatures made)"

    # A signature the signer made is known by its tag: nothing is signed or verified for it.
    def refused(*args: object) -> object:
        raise AssertionError("signed or verified again")

    with monkeypatch.context() as patch:
        patch.setattr(dataintegrity, "_sign", refused)
        patch.setattr(dataintegrity, "ed25519_verifies", refused)
        for data, signature in pairs:
            assert own(PUBLIC, signature, data) is True
    # Anything else gets verification's verdict: a made signature with other data, another key, a flipped bit,
    # a signature made but not seen (signed again), a valid one with another nonce (verified).
    (first_data, first), (second_data, _) = pairs[:2]
    other_public = (
        Ed25519PrivateKey.from_private_bytes(OTHER_SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    unseen = hashlib.sha256(b"config").digest() + hashlib.sha256(b"unseen").digest()
    cases = [
        (PUBLIC, first, second_data, False),
        (PUBLIC, bytes([first[0] ^ 1]) + first[1:], first_data, False),
        (other_public, first, first_data, False),
        (other_public, Ed25519PrivateKey.from_private_bytes(OTHER_SEED).sign(first_data), first_data, True),
        (PUBLIC, Ed25519PrivateKey.from_private_bytes(SEED).sign(unseen), unseen, True),
        (PUBLIC, _other_signature(SEED, second_data), second_data, True),
    ]
    for public_key, signature, signed, valid in cases:
        assert own(public_key, signature, signed) is valid
        assert ed25519_verifies(public_key, signature, signed) is valid


def test_tags_of_another_keys_signatures_prove_nothing() -> None:
    """Tags given by mistake from another key's signer: its signatures are still verified under the key named."""
    other = Signer(OTHER_SEED, JCS, METHOD, CREATED)
    other.made = bytearray()
    proof = other.sign(EXAMPLE)
    config = canonical_proof_config({**other.options, "@context": EXAMPLE["@context"]}, JCS)
    data = hash_data(config, canonical_document(EXAMPLE, JCS))
    signature = multibase_decode(proof["proofValue"])
    own = OwnSignatures(SEED, made=bytes(other.made))
    assert own.known == 1
    assert own(PUBLIC, signature, data) is False
    assert ed25519_verifies(PUBLIC, signature, data) is False


def test_own_signatures_refuse_tags_of_the_wrong_length() -> None:
    with pytest.raises(InvalidInput, match="^signature tags have 16 bytes each; 33 bytes is not a whole number$"):
        OwnSignatures(SEED, made=bytes(33))


def test_own_signatures_need_a_whole_private_key() -> None:
    with pytest.raises(InvalidInput, match="^an Ed25519 private key has 32 bytes, not 31$"):
        OwnSignatures(SEED[:31])
