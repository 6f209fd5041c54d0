"""Batch signing across worker processes gives exactly the proofs one signer gives, in order."""

import pytest

from anchoring.batchsign import SignerSpec, sign_many, sign_range
from anchoring.dataintegrity import JCS, RDFC, verify_proof
from anchoring.errors import InvalidInput
from tests.unit.ob3_docs import every_knob_combination, knob_credential

SEED = bytes(range(32))
METHOD = "https://registrar.test.edu#key-1"


@pytest.mark.parametrize("suite", [RDFC, JCS])
def test_parallel_proofs_equal_one_signers_proofs(suite: str) -> None:
    documents = [knob_credential(knobs, serial) for serial, knobs in enumerate(every_knob_combination()[::25])]
    spec = SignerSpec.of(SEED, suite, METHOD, "2026-06-30T12:00:00Z")
    proofs = sign_many(documents, spec, chunk=3)  # four jobs: the worker processes do the work
    signer = spec.signer()
    assert proofs == [signer.sign(document) for document in documents]
    for document, proof in zip(documents, proofs, strict=True):
        verify_proof(document, proof, signer.public_key)


def test_nothing_to_sign() -> None:
    assert sign_many([], SignerSpec.of(SEED, RDFC, METHOD, "2026-06-30T12:00:00Z")) == []


def test_bad_settings_fail_before_any_worker_starts() -> None:
    spec = SignerSpec.of(SEED[:31], RDFC, METHOD, "2026-06-30T12:00:00Z")
    with pytest.raises(InvalidInput, match="^an Ed25519 private key has 32 bytes, not 31$"):
        sign_many([knob_credential(frozenset())] * 3, spec, chunk=1)


def test_a_range_is_signed_only_inside_sign_many() -> None:
    spec = SignerSpec.of(SEED, RDFC, METHOD, "2026-06-30T12:00:00Z")
    with pytest.raises(RuntimeError, match="^sign_range runs only in workers forked by sign_many$"):
        sign_range((spec, 0, 1))
