"""Signing a batch's credentials with the workspace's Ed25519 key, on every core.

Invariants: every proof of a batch has the same `created` (the batch's issue time), `verificationMethod`
(``<issuer id>#<Multikey>``) and cryptosuite; the key is decrypted once, when a batch is signed, and reaches
worker processes only as they fork (`anchoring.batchsign`), never written anywhere.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring.batchsign import CHUNK, SignerSpec, sign_many
from issuer.profile import verification_method


@dataclass
class WorkspaceSigner:
    """`issuer.batch.Signing` with the workspace's key, loaded on first use."""

    issuer_id: str
    multikey: str
    cryptosuite: str
    load_key: Callable[[], Ed25519PrivateKey]

    def sign(
        self, credentials: list[dict[str, Any]], created: datetime, advance: Callable[[int], None]
    ) -> list[dict[str, Any]]:
        method = verification_method(self.issuer_id, self.multikey)
        spec = SignerSpec.of(self.load_key().private_bytes_raw(), self.cryptosuite, method, created)
        proofs: list[dict[str, Any]] = []
        # In slices, so the progress bar moves; each slice is still signed on every core.
        step = CHUNK * 40
        for start in range(0, len(credentials), step):
            proofs += sign_many(credentials[start : start + step], spec)
            advance(min(step, len(credentials) - start))
        return proofs
