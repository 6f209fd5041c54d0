"""The settings a batch is signed with, as a value a worker process can receive: `SignerSpec`.

Invariant: `spec.signer()` is one `Signer` per process and spec (it keeps the proof configuration's hash),
so the workers that build and sign a batch's chunks (`issuer.batchbuild`) set up their signer once.
"""

from dataclasses import dataclass
from datetime import datetime

from anchoring.dataintegrity import Signer, created_text


@dataclass(frozen=True)
class SignerSpec:
    """What a worker needs to build the batch's `Signer`: the 32-byte Ed25519 seed and the proof settings."""

    private_key: bytes
    cryptosuite: str
    verification_method: str
    created: str

    @classmethod
    def of(
        cls, private_key: bytes, cryptosuite: str, verification_method: str, created: datetime | str
    ) -> "SignerSpec":
        moment = created_text(created) if isinstance(created, datetime) else created
        return cls(private_key, cryptosuite, verification_method, moment)

    def signer(self) -> Signer:
        return _signer(self)


_SIGNERS: dict[SignerSpec, Signer] = {}


def _signer(spec: SignerSpec) -> Signer:
    signer = _SIGNERS.get(spec)
    if signer is None:
        signer = Signer(spec.private_key, spec.cryptosuite, spec.verification_method, spec.created)
        _SIGNERS.clear()
        _SIGNERS[spec] = signer
    return signer
