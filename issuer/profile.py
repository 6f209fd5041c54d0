"""The issuer's public identity documents: the Open Badges 3.0 Profile and the controller (DID) document
that standard verifiers resolve the signing keys from.

Invariants: pure: config and key records in, JSON documents out. Every verification method is
``<issuer id>#<Multikey>``, exactly the `verificationMethod` our credentials' proofs name, controlled by the
issuer id, and listed under `assertionMethod` (what Digital Bazaar's `vc` library checks); a revoked key
stays listed with its `revoked` time, so credentials it signed before then still resolve.
"""

from dataclasses import dataclass
from typing import Any

from anchoring.credential import OB3_CONTEXT, VC_CONTEXT
from issuer.config import IssuerConfig
from issuer.credentials import issuer_profile
from issuer.templates import web_base

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


@dataclass(frozen=True)
class PublishedKey:
    multikey: str
    revoked_at: str | None = None
    """UTC time of the block that revoked the key, if it was revoked."""


def verification_method(issuer_id: str, multikey: str) -> str:
    return f"{issuer_id}#{multikey}"


def profile_document(issuer: IssuerConfig) -> dict[str, Any]:
    """The OB 3.0 Profile every credential embeds, as a document of its own."""
    return {"@context": [VC_CONTEXT, OB3_CONTEXT], **issuer_profile(issuer)}


def controller_document(issuer_id: str, keys: list[PublishedKey]) -> dict[str, Any]:
    """A DID document (for a did:web issuer) or controller document (for a URL issuer) listing the keys."""
    methods = []
    for key in keys:
        method: dict[str, Any] = {
            "id": verification_method(issuer_id, key.multikey),
            "type": "Multikey",
            "controller": issuer_id,
            "publicKeyMultibase": key.multikey,
        }
        if key.revoked_at:
            method["revoked"] = key.revoked_at
        methods.append(method)
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": issuer_id,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


def hosting_url(issuer_id: str) -> str:
    """Where the controller document must be served for standard resolvers to find it."""
    if issuer_id.startswith("did:web:"):
        has_path = ":" in issuer_id.removeprefix("did:web:")
        return f"{web_base(issuer_id)}/did.json" if has_path else f"{web_base(issuer_id)}/.well-known/did.json"
    return issuer_id.split("#", 1)[0]
