"""The W3C vc-di-eddsa test vectors, both cryptosuites: our canonical forms, hashes and signatures equal
theirs (Ed25519 is deterministic, so signing their unsigned document reproduces their proofValue), and their
signed documents, proof sets and proof chains verify."""

import hashlib
from pathlib import Path
from typing import Any

import pytest

from anchoring.dataintegrity import (
    JCS,
    RDFC,
    ProofFailed,
    Signer,
    canonical_document,
    canonical_proof_config,
    hash_data,
    proofs_of,
    verify_proof,
)
from anchoring.multibase import decode_multikey, decode_secret_multikey, multibase_decode
from tests.unit.ob3_docs import VECTORS, load, vector_processor

PAIR = load(VECTORS / "keyPair.json")
PUBLIC = decode_multikey(PAIR["publicKeyMultibase"])
SECRET = decode_secret_multikey(PAIR["privateKeyMultibase"])
SUITES = [
    (RDFC, VECTORS / "eddsa-rdfc-2022", "DataInt", "unsigned.json"),
    (RDFC, VECTORS / "eddsa-rdfc-2022" / "employ", "DataInt", "employmentAuth.json"),
    (JCS, VECTORS / "eddsa-jcs-2022", "JCS", "unsigned.json"),
]
IDS = ["rdfc-alumni", "rdfc-employment", "jcs-alumni"]


def text(folder: Path, name: str) -> str:
    return (folder / name).read_text(encoding="utf-8").strip()


@pytest.mark.parametrize(("suite", "folder", "tag", "unsigned"), SUITES, ids=IDS)
def test_canonical_forms_and_hashes_equal_the_vectors(suite: str, folder: Path, tag: str, unsigned: str) -> None:
    processor = vector_processor()
    document = load(VECTORS / unsigned)
    config: dict[str, Any] = load(folder / f"proofConfig{tag}.json")
    doc_bytes = canonical_document(document, suite, processor)
    config_bytes = canonical_proof_config(config, suite, processor)
    assert doc_bytes == (folder / f"canonDoc{tag}.txt").read_bytes()
    assert config_bytes == (folder / f"proofCanon{tag}.txt").read_bytes()
    assert hashlib.sha256(doc_bytes).hexdigest() == text(folder, f"docHash{tag}.txt")
    assert hashlib.sha256(config_bytes).hexdigest() == text(folder, f"proofHash{tag}.txt")
    assert hash_data(config_bytes, doc_bytes).hex() == text(folder, f"combinedHash{tag}.txt")


@pytest.mark.parametrize(("suite", "folder", "tag", "unsigned"), SUITES, ids=IDS)
def test_signing_reproduces_the_vector_proof(suite: str, folder: Path, tag: str, unsigned: str) -> None:
    document = load(VECTORS / unsigned)
    config = load(folder / f"proofConfig{tag}.json")
    signer = Signer(SECRET, suite, config["verificationMethod"], config["created"], processor=vector_processor())
    assert signer.public_key == PUBLIC
    proof = signer.sign(document)
    assert proof == load(folder / f"signed{tag}.json")["proof"]
    assert proof["proofValue"] == text(folder, f"sigBTC58{tag}.txt")
    assert multibase_decode(proof["proofValue"]).hex() == text(folder, f"sigHex{tag}.txt")


@pytest.mark.parametrize(("suite", "folder", "tag", "unsigned"), SUITES, ids=IDS)
def test_the_signed_vectors_verify(suite: str, folder: Path, tag: str, unsigned: str) -> None:
    signed = load(folder / f"signed{tag}.json")
    [proof] = proofs_of(signed)
    verify_proof(signed, proof, PUBLIC, processor=vector_processor())
    assert {key: value for key, value in signed.items() if key != "proof"} == load(VECTORS / unsigned)


CHAIN = VECTORS / "proof-set-chain"
KEYS = {
    pair["publicKeyMultibase"]: decode_multikey(pair["publicKeyMultibase"])
    for pair in load(CHAIN / "multiKeyPairs.json").values()
}


@pytest.mark.parametrize(
    "name", ["signedProofSet1.json", "signedProofSet2.json", "signedProofChain1.json", "signedProofChain2.json"]
)
def test_proof_sets_and_chains_verify_proof_by_proof(name: str) -> None:
    document = load(CHAIN / name)
    for proof in proofs_of(document):
        key = KEYS[proof["verificationMethod"].split("#")[1]]
        verify_proof(document, proof, key, processor=vector_processor())


def test_a_chained_proof_needs_the_proofs_it_names() -> None:
    document = load(CHAIN / "signedProofChain2.json")
    last = proofs_of(document)[-1]
    trimmed = {**document, "proof": [p for p in proofs_of(document) if p.get("id") != last["previousProof"]]}
    with pytest.raises(ProofFailed) as caught:
        verify_proof(trimmed, last, KEYS[last["verificationMethod"].split("#")[1]], processor=vector_processor())
    assert str(caught.value) == (
        "previousProof names ['urn:uuid:d94f792a-c546-4d06-b38a-da070ab56c23'], but the document's proofs "
        "with those ids are []"
    )


def test_the_legacy_suite_is_refused_by_its_type() -> None:
    signed = load(VECTORS / "Ed25519Signature2020" / "signedEdSig.json")
    with pytest.raises(ProofFailed) as caught:
        verify_proof(signed, proofs_of(signed)[0], PUBLIC, processor=vector_processor())
    assert str(caught.value) == "proof type is 'Ed25519Signature2020', expected 'DataIntegrityProof'"
