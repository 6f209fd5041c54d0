"""A batch's signer settings: one signer per process and spec, bad settings refused with the signer's error."""

import pytest

from anchoring.batchsign import SignerSpec
from anchoring.dataintegrity import JCS, RDFC, verify_proof
from anchoring.errors import InvalidInput
from tests.unit.ob3_docs import every_knob_combination, knob_credential

SEED = bytes(range(32))
METHOD = "https://registrar.test.edu#key-1"


@pytest.mark.parametrize("suite", [RDFC, JCS])
def test_one_signer_a_spec_and_its_proofs_verify(suite: str) -> None:
    spec = SignerSpec.of(SEED, suite, METHOD, "2026-06-30T12:00:00Z")
    signer = spec.signer()
    assert spec.signer() is signer
    assert SignerSpec.of(SEED, suite, METHOD, "2026-06-30T12:00:00Z").signer() is signer  # equal spec, same signer
    for serial, knobs in enumerate(every_knob_combination()[::50]):
        document = knob_credential(knobs, serial)
        verify_proof(document, signer.sign(document), signer.public_key)


def test_another_spec_another_signer() -> None:
    first = SignerSpec.of(SEED, JCS, METHOD, "2026-06-30T12:00:00Z").signer()
    second = SignerSpec.of(SEED, JCS, METHOD, "2026-07-01T12:00:00Z").signer()
    assert second is not first
    assert second.public_key == first.public_key


def test_bad_settings_fail_with_the_signers_error() -> None:
    spec = SignerSpec.of(SEED[:31], RDFC, METHOD, "2026-06-30T12:00:00Z")
    with pytest.raises(InvalidInput, match="^an Ed25519 private key has 32 bytes, not 31$"):
        spec.signer()
