"""Building a batch a chunk at a time on every core: each credential canonicalised once, and what comes back
is exactly what building, signing and hashing it the plain way gives."""

import dataclasses
import json
import multiprocessing
import time
from datetime import UTC, datetime

import pytest

from anchoring.batchsign import SignerSpec
from anchoring.credential import credential_digest
from anchoring.dataintegrity import JCS, RDFC, verify_proof
from anchoring.errors import InvalidInput
from anchoring.merkle import leaf_hash
from issuer import batchbuild
from issuer.batchbuild import WINDOW, BatchJob, Chunk, build_chunks, build_range
from issuer.records import Record
from tests.unit.test_credentials import ISSUER, template

SEED = bytes(range(32))
METHOD = "https://registrar.test.edu#key-1"
ISSUED = datetime(2026, 6, 30, 12, tzinfo=UTC)


def job(n: int, suite: str = JCS) -> BatchJob:
    records = [
        Record(
            row=i + 2,
            email=f"e{i}@example.org",
            name=f"Earner {i}",
            credits_earned=i / 4,
            result="Pass" if i % 2 else None,
        )
        for i in range(n)
    ]
    t = template()
    spec = SignerSpec.of(SEED, suite, METHOD, ISSUED)
    return BatchJob(records, t, ISSUER, t.achievement(ISSUER.id), ISSUED, spec)


@pytest.mark.parametrize("suite", [JCS, RDFC])
def test_chunks_hold_every_credential_in_order_signed_and_hashed(suite: str) -> None:
    batch = job(23, suite)
    chunks = list(build_chunks(batch, chunk=5))  # the first alone, then five jobs on the worker processes
    assert [c.start for c in chunks] == [0, 1, 6, 11, 16, 21]
    documents = [json.loads(d) for c in chunks for d in c.documents]
    assert len(documents) == 23
    assert len({d["id"] for d in documents}) == 23
    signer = batch.spec.signer()
    signer.made = bytearray()
    for i, (chunk, document) in enumerate((c, d) for c in chunks for d in c.documents):
        credential = json.loads(document)
        at = chunk.ids.index(credential["id"])
        record = batch.records[chunk.start + at]
        assert chunk.start + at == i
        subject = credential["credentialSubject"]
        assert subject["identifier"][0]["identityHash"].startswith("sha256$")
        assert [r["value"] for r in subject.get("result", [])] == ([record.result] if record.result else [])
        assert chunk.digest(at) == credential_digest(credential)
        assert chunk.leaf(at) == leaf_hash(chunk.digest(at))
        (proof,) = credential["proof"]
        verify_proof(credential, proof, signer.public_key)
        assert proof == signer.sign(credential)  # Ed25519 is deterministic: the one-pass proof is the plain one
    # Each chunk's tags are those of its signatures, in order (what the self-check knows them by).
    assert [len(c.made) for c in chunks] == [16 * len(c.ids) for c in chunks]
    assert b"".join(c.made for c in chunks) == bytes(signer.made)


def test_the_canonical_form_signed_is_the_one_hashed() -> None:
    signer = SignerSpec.of(SEED, JCS, METHOD, ISSUED).signer()
    (chunk,) = list(build_chunks(job(1)))
    credential = json.loads(chunk.documents[0])
    proof = credential.pop("proof")[0]
    assert signer.sign(credential) == proof


def test_rdfc_signs_no_given_bytes() -> None:
    signer = SignerSpec.of(SEED, RDFC, METHOD, ISSUED).signer()
    with pytest.raises(InvalidInput, match="^eddsa-rdfc-2022 signs the RDF canonical form, not given bytes$"):
        signer.sign_canonical({}, b"{}")


def test_bad_signer_fails_before_any_worker_starts() -> None:
    batch = job(10)
    broken = dataclasses.replace(batch, spec=SignerSpec.of(SEED[:31], JCS, METHOD, ISSUED))
    with pytest.raises(InvalidInput, match="^an Ed25519 private key has 32 bytes, not 31$"):
        next(build_chunks(broken, chunk=2))


def test_no_records_no_batch() -> None:
    with pytest.raises(InvalidInput, match="^a batch needs at least one record$"):
        next(build_chunks(job(0)))


def test_a_range_is_built_only_inside_build_chunks() -> None:
    with pytest.raises(RuntimeError, match="^build_range runs only while build_chunks does$"):
        build_range((0, 1))


_STARTED = multiprocessing.get_context("fork").Value("i", 0)  # inherited by the forked workers


def _counting_build_range(span: tuple[int, int]) -> Chunk:
    with _STARTED.get_lock():
        _STARTED.value += 1
    return build_range(span)


def test_workers_build_only_a_window_ahead_of_a_slow_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the window the workers would build all 60 chunks while the caller stores the first few, and their
    # documents would pile up in the caller (a million-record batch: about 1.5 GB).
    monkeypatch.setattr(batchbuild, "build_range", _counting_build_range)
    _STARTED.value = 0
    taken = 0
    for _ in build_chunks(job(121), chunk=2):
        taken += 1
        time.sleep(0.02)  # the caller storing the chunk
        assert _STARTED.value <= taken + WINDOW
    assert taken == 61
    assert _STARTED.value == 61  # each chunk built once (the first in this process)
