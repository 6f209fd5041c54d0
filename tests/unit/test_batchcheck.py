"""The issuer's self-check reads receipts at their locations: a file, a line of a JSON Lines file, a zip member."""

import itertools
import json
import zipfile
from pathlib import Path

import pytest

from anchoring import dataintegrity
from anchoring.dataintegrity import OwnSignatures, ed25519_verifies, signature_tag
from anchoring.hashing import to_hex
from anchoring.multibase import multibase_decode
from anchoring.onchain import SigningKeyStatus
from tests.unit import test_batchfast as batch
from tests.unit.test_checks import BLOCK, NOW, RECEIPTS, REGISTRY, ROOT, TRUST, anchored_view
from tests.unit.test_dataintegrity import OTHER_SEED, PUBLIC, SEED
from verifier import batchcheck, batchfast
from verifier.batchcheck import BatchReader, _Run, _verify_chunk, verify_batch
from verifier.checks import Report, Verdict
from verifier.multichain import Verifier


def test_receipts_are_read_at_their_locations(tmp_path: Path) -> None:
    valid = (RECEIPTS / "valid.json").read_bytes()
    tampered = (RECEIPTS / "tampered_subject.json").read_bytes()
    lines = tmp_path / "receipts.jsonl"
    compact = [valid.replace(b"\n", b""), tampered.replace(b"\n", b"")]
    lines.write_bytes(b"\n".join(compact) + b"\n")
    archive = tmp_path / "receipts.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("a/valid.json", valid)
    file = tmp_path / "valid.json"
    file.write_bytes(valid)
    locations: list[str | Path] = [
        str(file),
        file,
        f"{lines}#0",
        f"{lines}#{len(compact[0]) + 1}",
        f"{archive}#a/valid.json",
        f"{archive}#missing.json",
        f"{lines}#3",
    ]
    reader = BatchReader(31337, BLOCK + 5, REGISTRY, ROOT, anchored_view(), {})
    reports = verify_batch(locations, reader, TRUST, NOW, chunk=2)
    assert [r.source for r in reports] == [str(x) for x in locations]
    verdicts = [r.verdict for r in reports]
    assert verdicts[:3] == [Verdict.VALID] * 3
    assert verdicts[3] == Verdict.INVALID
    assert verdicts[4] == Verdict.VALID
    assert reports[5].verdict == Verdict.MALFORMED
    assert reports[5].reason == f"{archive}#missing.json: the archive has no member 'missing.json'"
    assert reports[6].verdict == Verdict.MALFORMED
    assert reports[6].reason == f"{lines}#3: no receipt starts at byte 3"  # not at a line's start

    counted: list[int] = []
    failing = verify_batch(
        locations, reader, TRUST, NOW, chunk=2, passing=frozenset({Verdict.VALID}), on_done=counted.append
    )
    assert [r.source for r in failing] == [str(locations[i]) for i in (3, 5, 6)]  # the valid ones only counted
    assert sum(counted) == len(locations)


def test_the_chunks_of_one_run_share_what_the_shortcut_learnt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process verifies in full only the first receipt of a run (a `verify_batch` call), not of each chunk; a
    new run (another `now`, trust list, reader) learns again."""
    lines = tmp_path / "receipts.jsonl"
    lines.write_bytes(b"\n".join(batch.RECEIPTS) + b"\n")
    starts = [0, *itertools.accumulate(len(data) + 1 for data in batch.RECEIPTS[:-1])]
    where = [f"{lines}#{start}" for start in starts]
    keys = {to_hex(PUBLIC): SigningKeyStatus(to_hex(PUBLIC), 1, 0)}
    reader = BatchReader(31337, batch.BLOCK + 3, batch.REGISTRY, batch.ROOT, batch.view(), keys)
    in_full: list[str] = []
    verify_bytes = Verifier.verify_bytes

    def counted(self: Verifier, data: bytes, source: str) -> Report:
        in_full.append(source)
        return verify_bytes(self, data, source)

    monkeypatch.setattr(Verifier, "verify_bytes", counted)
    passing = frozenset({Verdict.VALID})
    runs = [_Run(key, {31337: reader}, 1, batch.TRUST, batch.NOW, passing) for key in ("run-1", "run-2")]
    for run in runs:
        for chunk in (where[:3], where[3:6], where[6:]):
            assert _verify_chunk(run, chunk) == (len(chunk), [])
    assert in_full == [where[0], where[0]]  # once a run
    tampered = batch.RECEIPTS[5].replace(b'"Student 10"', b'"Student 11"')
    lines.write_bytes(b"\n".join([*batch.RECEIPTS[:5], tampered, *batch.RECEIPTS[6:]]) + b"\n")
    count, failed = _verify_chunk(runs[1], where[3:])
    assert count == len(where) - 3
    assert [(report.source, report.verdict) for report in failed] == [(where[5], Verdict.INVALID)]


@pytest.mark.parametrize("seed", [SEED, OTHER_SEED])
@pytest.mark.parametrize("tagged", [False, True])
def test_the_issuers_own_key_knows_its_signatures_with_the_same_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: bytes, tagged: bool
) -> None:
    """Given the key that signed the batch, the self-check knows each receipt's signature by its tag among
    those the signer made, or else signs its bytes again, instead of verifying (`OwnSignatures`); a signature
    that differs, or another key, is verified, so every verdict is the same."""
    lines = tmp_path / "receipts.jsonl"
    value = json.loads(batch.RECEIPTS[4])["credential"]["proof"][0]["proofValue"]
    forged = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    every = [*batch.RECEIPTS[:4], batch.RECEIPTS[4].replace(value.encode(), forged.encode()), *batch.RECEIPTS[5:]]
    lines.write_bytes(b"\n".join(every) + b"\n")
    where = [f"{lines}#{start}" for start in [0, *itertools.accumulate(len(data) + 1 for data in every[:-1])]]
    keys = {to_hex(PUBLIC): SigningKeyStatus(to_hex(PUBLIC), 1, 0)}
    reader = BatchReader(31337, batch.BLOCK + 3, batch.REGISTRY, batch.ROOT, batch.view(), keys)
    passing = frozenset({Verdict.VALID})
    verified: list[bytes] = []
    checked: list[tuple[bytes, bytes, bytes]] = []

    def counted(public_key: bytes, signature: bytes, data: bytes) -> bool:
        verified.append(signature)
        checked.append((public_key, data, signature))
        return ed25519_verifies(public_key, signature, data)

    monkeypatch.setattr(batchfast, "ed25519_verifies", counted)
    monkeypatch.setattr(dataintegrity, "ed25519_verifies", counted)
    signatures = [multibase_decode(json.loads(data)["credential"]["proof"][0]["proofValue"]) for data in every]
    _, plain = _verify_chunk(_Run("plain", {31337: reader}, 1, batch.TRUST, batch.NOW, passing), where)
    assert set(verified) == set(signatures)
    # The tags a signer of these receipts made: each valid one's (the forged one was never made).
    made = b"".join(signature_tag(*triple) for triple in checked if triple[2] != signatures[4]) if tagged else b""
    verified.clear()
    signed_again: list[bytes] = []
    sign = dataintegrity._sign

    def signing(message: bytes, secret: bytes) -> bytes:
        signed_again.append(message)
        return sign(message, secret)

    monkeypatch.setattr(dataintegrity, "_sign", signing)
    monkeypatch.setattr(batchcheck, "_SIGNATURES", OwnSignatures(seed, made))
    _, own = _verify_chunk(_Run("own", {31337: reader}, 1, batch.TRUST, batch.NOW, passing), where)
    assert [(r.source, r.verdict, r.reason) for r in own] == [(r.source, r.verdict, r.reason) for r in plain]
    assert [(r.source, r.verdict) for r in own] == [(where[4], Verdict.INVALID)]
    if seed == SEED:  # known or made again: verified only in the first receipt's full verification
        assert set(verified) == {signatures[0], signatures[4]}
        # known by their tags: only the forged one is signed again (to compare); else every one after the first
        assert len(signed_again) == (1 if tagged else len(every) - 1)
    else:  # another key makes other signatures, and its tags are not theirs: each is verified, as without it
        assert set(verified) == set(signatures)
