"""Signing a batch's credentials with the workspace's Ed25519 key, on every core.

Invariants: every proof of a batch has the same `created` (the batch's issue time), `verificationMethod`
(``<issuer id>#<Multikey>``) and cryptosuite; the key is decrypted once, when a batch is signed, and reaches
worker processes only as they fork (`anchoring.batchsign`), never written anywhere.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring.batchsign import SignerSpec
from issuer.profile import verification_method


@dataclass
class WorkspaceSigner:
    """`issuer.batch.Signing` with the workspace's key, loaded on first use."""

    issuer_id: str
    multikey: str
    cryptosuite: str
    load_key: Callable[[], Ed25519PrivateKey]

    def spec(self, created: datetime) -> SignerSpec:
        method = verification_method(self.issuer_id, self.multikey)
        return SignerSpec.of(self.load_key().private_bytes_raw(), self.cryptosuite, method, created)
