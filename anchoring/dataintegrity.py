"""W3C Data Integrity proofs with the EdDSA cryptosuites v1.0: `eddsa-rdfc-2022` and `eddsa-jcs-2022`.

Invariants (vc-di-eddsa §3): the proof configuration (the proof without `proofValue`, with the document's
`@context`) and the document without `proof` are canonicalised and sha256-hashed separately; the Ed25519
signature is over ``sha256(proofConfig) || sha256(document)``, proof configuration first; `proofValue` is
multibase base58btc. Pure: keys and documents in, proofs or `ProofError` out; nothing is fetched.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anchoring.errors import VerificationFailed
from anchoring.jcs import canonicalize
from anchoring.jsonld import UnsafeJsonLd, canonical_nquads
from anchoring.multikey import multibase_decode, multibase_encode

RDFC = "eddsa-rdfc-2022"
JCS = "eddsa-jcs-2022"
SUITES = (RDFC, JCS)
PROOF_TYPE = "DataIntegrityProof"
PURPOSE = "assertionMethod"


class ProofError(VerificationFailed):
    """A Data Integrity proof that does not verify; the message says why."""


def _canonical(suite: str, document: Mapping[str, Any]) -> bytes:
    if suite == JCS:
        return canonicalize(document)
    return canonical_nquads(dict(document)).encode("utf-8")


def proof_config(proof: Mapping[str, Any], context: Any) -> dict[str, Any]:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if context is not None:
        config["@context"] = context
    return config


def hash_data(suite: str, document: Mapping[str, Any], config: Mapping[str, Any]) -> bytes:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config_hash = hashlib.sha256(_canonical(suite, config)).digest()
    return config_hash + hashlib.sha256(_canonical(suite, unsecured)).digest()


@dataclass(frozen=True)
class ProofOptions:
    cryptosuite: str
    verification_method: str
    created: str

    def proof(self, context: Any) -> dict[str, Any]:
        proof: dict[str, Any] = {
            "type": PROOF_TYPE,
            "cryptosuite": self.cryptosuite,
            "created": self.created,
            "verificationMethod": self.verification_method,
            "proofPurpose": PURPOSE,
        }
        if self.cryptosuite == JCS and context is not None:
            proof["@context"] = context
        return proof


def sign(document: Mapping[str, Any], key: Ed25519PrivateKey, options: ProofOptions) -> dict[str, Any]:
    if options.cryptosuite not in SUITES:
        raise ValueError(f"unknown cryptosuite {options.cryptosuite!r}")
    context = document.get("@context")
    proof = options.proof(context)
    signature = key.sign(hash_data(options.cryptosuite, document, proof_config(proof, context)))
    return {**proof, "proofValue": multibase_encode(signature)}


def verify_proof(document: Mapping[str, Any], proof: Mapping[str, Any], public_key: bytes) -> None:
    """Raise `ProofError` unless `proof` is a valid eddsa proof of `document` by `public_key`."""
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(f"proof type is {proof.get('type')!r}, not {PROOF_TYPE!r}")
    suite = proof.get("cryptosuite")
    if suite not in SUITES:
        raise ProofError(f"cryptosuite {suite!r} is not supported ({' or '.join(SUITES)})")
    if proof.get("proofPurpose") != PURPOSE:
        raise ProofError(f"proofPurpose is {proof.get('proofPurpose')!r}, not {PURPOSE!r}")
    value = proof.get("proofValue")
    try:
        signature = multibase_decode(value) if isinstance(value, str) else b""
    except ValueError as exc:
        raise ProofError(f"proofValue {exc}") from None
    if len(signature) != 64:
        raise ProofError(f"proofValue holds {len(signature)} bytes, an Ed25519 signature has 64")
    context = document.get("@context")
    if suite == JCS and "@context" in proof and proof["@context"] != context:
        raise ProofError("the proof's @context differs from the credential's")
    try:
        data = hash_data(str(suite), document, proof_config(proof, context))
    except UnsafeJsonLd as exc:
        raise ProofError(str(exc)) from None
    except ValueError as exc:
        raise ProofError(f"credential cannot be canonicalised: {exc}") from None
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except InvalidSignature:
        raise ProofError(f"{suite} signature does not verify: the credential or its proof was changed") from None
