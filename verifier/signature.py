"""The issuer's signature on a credential (W3C Data Integrity, EdDSA), checked without the chain.

Invariants: pure: the credential in, a `SignatureCheck` out; no key is ever fetched. The verification
method must be ``<controller>#<Ed25519 Multikey>`` (the form the 1EdTech example uses, and what `did:key` and
our `did:web` documents give), so the key is read from the method's own text, and its controller must be the
credential's issuer, as standard VC verifiers require. Whether the chain lists the key is decided with the
anchor, in `verifier.checks`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anchoring.dataintegrity import proofs_of, verify_proof
from anchoring.errors import CredanchorError
from anchoring.hashing import to_hex
from anchoring.multibase import decode_multikey

MAX_PROOFS = 4


@dataclass(frozen=True)
class SignatureCheck:
    """`ok` True: every proof verifies (`public_keys` signed); False: a proof is bad; None: unsigned."""

    ok: bool | None
    detail: str
    public_keys: tuple[str, ...] = ()
    """The signing keys as 0x-hex (32 bytes), for the registry lookup."""
    cryptosuite: str | None = None


def check_signature(credential: Mapping[str, Any], now: datetime, canonical: bytes | None = None) -> SignatureCheck:
    """Every proof of the credential, checked at `now` (a proof past its `expires` fails). `canonical`: the
    credential's RFC 8785 bytes without its proof, when the caller has them (`Receipt.take_canonical`)."""
    if credential.get("proof") is None:
        return SignatureCheck(None, "credential is not signed (no proof)")
    try:
        proofs = proofs_of(credential)
    except CredanchorError as exc:
        return SignatureCheck(False, str(exc))
    if len(proofs) > MAX_PROOFS:
        return SignatureCheck(False, f"credential has {len(proofs)} proofs; at most {MAX_PROOFS} are checked")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    keys = []
    suites = []
    for number, proof in enumerate(proofs, 1):
        label = f"proof {number}: " if len(proofs) > 1 else ""
        method = proof.get("verificationMethod")
        if not isinstance(method, str):
            return SignatureCheck(False, f"{label}verificationMethod is missing or not a string")
        controller, hash_sign, fragment = method.partition("#")
        if not hash_sign:
            return SignatureCheck(False, f"{label}verificationMethod {method!r} has no #key fragment")
        try:
            public_key = decode_multikey(fragment)
        except CredanchorError as exc:
            return SignatureCheck(False, f"{label}verificationMethod does not end in a key: {exc}")
        if controller != issuer_id:
            return SignatureCheck(
                False, f"{label}verificationMethod is controlled by {controller!r}, not by the issuer {issuer_id!r}"
            )
        try:
            verify_proof(credential, proof, public_key, now=now, canonical_document=canonical)
        except CredanchorError as exc:
            return SignatureCheck(False, f"{label}{exc}")
        except (ValueError, TypeError, RecursionError) as exc:  # hostile shapes the core did not foresee
            return SignatureCheck(False, f"{label}proof cannot be checked: {type(exc).__name__}")
        keys.append(to_hex(public_key))
        suites.append(str(proof.get("cryptosuite")))
    return SignatureCheck(True, f"{', '.join(sorted(set(suites)))} signature verifies", tuple(keys), suites[0])
