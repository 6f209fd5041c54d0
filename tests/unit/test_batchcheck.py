"""The issuer's self-check reads receipts at their locations: a file, a line of a JSON Lines file, a zip member."""

import zipfile
from pathlib import Path

from tests.unit.test_checks import BLOCK, NOW, RECEIPTS, REGISTRY, ROOT, TRUST, anchored_view
from verifier.batchcheck import BatchReader, verify_batch
from verifier.checks import Verdict


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
