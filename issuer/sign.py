"""Signing a batch's credentials with the workspace's Ed25519 key, on every core.

Invariants: every proof of a batch has the same `created` (the batch's issue time), `verificationMethod`
(``<issuer id>#<Multikey>``) and cryptosuite; the key is decrypted once, when the first batch is signed, and
handed to worker processes only as they fork (never written anywhere). Credentials travel to workers as JSON
text and proofs come back as dicts, in order.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring.dataintegrity import ProofOptions, sign
from anchoring.receipt import utc_seconds
from anchoring.workers import parallel_map
from issuer.profile import verification_method

CHUNK = 500


def _sign_chunk(seed: bytes, options: ProofOptions, documents: list[str]) -> list[dict[str, Any]]:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return [sign(json.loads(text), key, options) for text in documents]


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
        key = self.load_key()
        options = ProofOptions(
            self.cryptosuite, verification_method(self.issuer_id, self.multikey), utc_seconds(created)
        )
        texts = [json.dumps(c, ensure_ascii=False) for c in credentials]
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        proofs: list[dict[str, Any]] = []
        for done in parallel_map(partial(_sign_chunk, key.private_bytes_raw(), options), chunks):
            proofs += done
            advance(len(done))
        return proofs
