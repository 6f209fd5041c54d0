"""Files a verifier is handed: receipts and baked badges told apart by their bytes, and a badge whose two
copies of the credential disagree reported invalid with the reason, before any node is asked."""

import json
from pathlib import Path
from typing import Any

import pytest

from anchoring.baking import MAX_IMAGE_BYTES, bake
from anchoring.carriers import extracted, first_difference, sniff, unwrap
from anchoring.errors import InvalidReceipt
from anchoring.pngchunks import itxt
from issuer.badgeimage import default_png, default_svg
from tests.unit.test_baking import CREDENTIAL, PNG, RECEIPT, png_of
from tests.unit.test_checks import NOW, REGISTRY, ROOT, TRUST, FakeReader, anchored_view
from verifier.checks import Report, Verdict
from verifier.service import Session


def verify(data: bytes, source: str = "badge.png") -> tuple[Report, FakeReader]:
    reader = FakeReader({(REGISTRY, ROOT): anchored_view()})
    return Session(lambda: reader, TRUST, NOW).verify_bytes(data, source), reader


def baked_png(credential: str | None, receipt: str | None) -> bytes:
    chunks = [itxt(k, v) for k, v in (("openbadgecredential", credential), ("credanchorreceipt", receipt)) if v]
    return png_of(*chunks)


@pytest.mark.parametrize("picture", [default_png("A", "B"), default_svg("A", "B")], ids=["png", "svg"])
def test_a_baked_badge_verifies_like_its_receipt_with_the_badge_step_first(picture: bytes) -> None:
    report, _ = verify(bake(picture, RECEIPT))
    assert report.verdict == Verdict.VALID
    assert report.source == "badge.png"
    assert [s.name for s in report.steps][:3] == ["schema", "badge", "digest"]
    badge = report.steps[1]
    assert badge.ok is True
    kind = "PNG" if picture.startswith(b"\x89PNG") else "SVG"
    place = "iTXt chunk 'openbadgecredential'" if kind == "PNG" else "<openbadges:credential>"
    assert badge.detail == f"{kind}'s OB 3.0 credential ({place}) is the receipt's credential"


def test_a_credential_changed_in_one_chunk_only_is_invalid_without_asking_the_chain() -> None:
    changed = json.dumps({**CREDENTIAL, "name": "Doctor of Everything"})
    report, reader = verify(baked_png(changed, RECEIPT.decode()))
    assert report.verdict == Verdict.INVALID
    assert report.reason == (
        "the credential in the image's iTXt chunk 'openbadgecredential' differs from its receipt's credential at "
        "name: one of them was changed"
    )
    assert reader.reads == []


def test_a_credential_changed_in_both_chunks_fails_its_digest() -> None:
    document = json.loads(RECEIPT)
    document["credential"]["name"] = "Doctor of Everything"
    report, _ = verify(baked_png(json.dumps(document["credential"]), json.dumps(document)))
    assert report.verdict == Verdict.INVALID
    assert report.reason.startswith("credential hashes to ")
    assert report.steps[1].ok is True  # the two copies agree; the receipt itself does not check out


def test_types_count_when_comparing_the_two_copies() -> None:
    assert first_difference({"a": [1, {"b": True}]}, {"a": [1, {"b": 1}]}) == "a[1].b"
    assert first_difference({"a": 1.0}, {"a": 1}) == "a"
    assert first_difference({"a": 1}, {"a": 1, "b": 2}) == "b"
    assert first_difference([1], {"a": 1}) == ""
    assert first_difference(CREDENTIAL, json.loads(json.dumps(CREDENTIAL))) is None


def test_a_badge_without_a_receipt_says_so_and_claims_nothing_more() -> None:
    report, reader = verify(baked_png(json.dumps(CREDENTIAL), None))
    assert report.verdict == Verdict.MALFORMED
    assert report.reason == (
        "badge.png: PNG carries an Open Badges 3.0 credential but no credanchor receipt; its anchor, issuer, "
        "signing key and revocation cannot be checked"
    )
    assert [(s.name, s.ok) for s in report.steps] == [("schema", False), ("signature", None)]
    assert report.credential_id == CREDENTIAL["id"]
    assert reader.reads == []
    jwt, _ = verify(baked_png("h.p.s", None))
    assert jwt.steps[1].detail == "not checked: the credential is not JSON (a VC-JWT is not supported)"


def test_a_badge_with_only_the_receipt_verifies_and_says_other_tools_see_nothing() -> None:
    report, _ = verify(baked_png(None, RECEIPT.decode()))
    assert report.verdict == Verdict.VALID
    assert report.steps[1].ok is None
    assert report.steps[1].detail == "PNG has the receipt but no OB 3.0 credential (other OB tools see none)"


def test_a_jwt_beside_a_receipt_is_a_mismatch() -> None:
    report, _ = verify(baked_png("h.p.s", RECEIPT.decode()))
    assert report.verdict == Verdict.INVALID
    assert report.reason == (
        "the image's iTXt chunk 'openbadgecredential' holds no JSON credential (a VC-JWT?), unlike its receipt"
    )


def test_pdf_and_unknown_files() -> None:
    report, _ = verify(b"%PDF-1.7\n...", "c.pdf")
    assert report.verdict == Verdict.MALFORMED
    assert report.reason == "c.pdf: PDF is damaged or truncated and cannot be read"
    assert sniff(b'{"name": "%PDF-1.7"}') == "json"
    assert sniff(b"GIF89a") == "json"  # read as a receipt, whose parser says what is wrong
    garbage, _ = verify(b"GIF89a", "g.gif")
    assert garbage.reason == "g.gif: not valid JSON at line 1 column 1: Expecting value"


def test_each_kind_has_its_own_size_cap(tmp_path: Path) -> None:
    big = PNG + b"\0" * MAX_IMAGE_BYTES
    with pytest.raises(InvalidReceipt, match=rf"^b.png: {len(big):,} bytes is over the limit of {MAX_IMAGE_BYTES:,}"):
        unwrap(big, "b.png")
    picture = tmp_path / "big.png"
    picture.write_bytes(big)
    reader = FakeReader({})
    report = Session(lambda: reader, TRUST, NOW).verify_file(picture)
    assert report.reason == f"{picture}: {len(big):,} bytes is over the limit of {MAX_IMAGE_BYTES:,} bytes"
    # A baked image larger than any receipt may be is still read whole.
    padded = bake(PNG[:-12] + itxt("comment", "x" * 3_000_000) + PNG[-12:], RECEIPT)
    picture.write_bytes(padded)
    assert Session(lambda: FakeReader({(REGISTRY, ROOT): anchored_view()}), TRUST, NOW).verify_file(
        picture
    ).verdict == (Verdict.VALID)


def test_extracted_files_are_the_receipt_and_the_bare_credential() -> None:
    files = extracted(bake(PNG, RECEIPT), "b.png")
    assert files[".receipt.json"] == RECEIPT
    assert json.loads(files[".credential.json"]) == CREDENTIAL
    with pytest.raises(InvalidReceipt, match=r"^r.json: is a receipt already, not a baked badge$"):
        extracted(RECEIPT, "r.json")
    swapped = baked_png(json.dumps({**CREDENTIAL, "name": "X"}), RECEIPT.decode())
    with pytest.raises(InvalidReceipt, match=r"^s.png: the credential in the image's .* at name: one of them"):
        extracted(swapped, "s.png")
    only: dict[str, Any] = extracted(baked_png(json.dumps(CREDENTIAL), None), "o.png")
    assert list(only) == [".credential.json"]


@pytest.mark.parametrize("picture", [default_png("A", "B"), default_svg("A", "B")], ids=["png", "svg"])
def test_a_badge_of_a_version_2_receipt_verifies_offline_from_its_evidence(picture: bytes) -> None:
    from tests.unit.test_evidence_offline import ASSETS, session

    report = session().verify_bytes(bake(picture, (ASSETS / "receipt-0.json").read_bytes()), "v2-badge")
    assert report.verdict == Verdict.VALID, report
    steps = {s.name: s.ok for s in report.steps}
    assert (steps["badge"], steps["evidence"]) == (True, True)


@pytest.mark.parametrize("keyword", ["credanchorreceipt", "openbadgecredential"])
def test_a_baked_text_over_the_receipt_limit_is_refused_before_it_is_parsed(keyword: str) -> None:
    huge = '{"padding": "' + "x" * (2 * 1024 * 1024) + '"}'
    data = baked_png(
        huge if keyword == "openbadgecredential" else None, huge if keyword == "credanchorreceipt" else RECEIPT.decode()
    )
    what = "receipt" if keyword == "credanchorreceipt" else "OB 3.0 credential"
    with pytest.raises(
        InvalidReceipt, match=f"^badge.png: the baked {what} is 2,097,167 bytes, over the limit of 2,097,152 bytes$"
    ):
        unwrap(data, "badge.png")
