"""The certificate PDF read back as a person's tools read it: text layer, attachment, QR code, metadata."""

import copy
import io
import json
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from anchoring.errors import InvalidInput
from anchoring.pdfcarrier import RECEIPT_NAME, extract_receipt
from issuer.certificate import render_certificate
from issuer.certificates import Look, certificate_bytes, template_badge
from issuer.sharing import verification_url
from issuer.workspace import init_workspace
from tests.unit.test_checks import NOW, RECEIPTS, REGISTRY, ROOT, TRUST, FakeReader, anchored_view
from verifier.checks import Verdict
from verifier.service import Session

VALID_BYTES = (RECEIPTS / "valid.json").read_bytes()
VALID: dict[str, Any] = json.loads(VALID_BYTES)
BASE = "https://verify.registrar.example.edu"
CREDENTIAL_ID = VALID["credential"]["id"]

NAMES = {
    "latin": "Zoë Ñúñez-Øberg",
    "greek": "Ελένη Παπαδοπούλου",
    "cyrillic": "Дмитрий Иванов",
    "arabic": "محمد علي",
    "hebrew": "שרה כהן",
    "chinese": "王小明",
    "japanese": "山田 太郎（やまだ たろう）",
    "korean": "김민준",
    "mixed": "王小明 (Wáng Xiǎomíng)",
}


def receipt_for(earner: str | None, **achievement: str) -> bytes:
    doc = copy.deepcopy(VALID)
    subject = doc["credential"]["credentialSubject"]
    subject["identifier"] = [i for i in subject["identifier"] if i.get("identityType") != "name"]
    if earner is not None:
        subject["identifier"].append(
            {"type": "IdentityObject", "identityHash": earner, "identityType": "name", "hashed": False}
        )
    subject["achievement"].update(achievement)
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


def text_of(pdf: bytes) -> str:
    # Arabic is drawn in its joining (presentation) forms; NFKC maps them back to the letters.
    return unicodedata.normalize("NFKC", PdfReader(io.BytesIO(pdf)).pages[0].extract_text())


def page_image(pdf: bytes, scale: float = 2.0) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        image: Image.Image = document[0].render(scale=scale).to_pil()
        return image
    finally:
        document.close()


@pytest.mark.parametrize("script", list(NAMES))
def test_the_text_layer_holds_name_achievement_issuer_and_id_in_every_script(script: str) -> None:
    name = NAMES[script]
    achievement, description = f"{name} {name}", f"{name} {name} {name}"
    receipt = receipt_for(name, name=achievement, description=description)
    pdf = certificate_bytes(receipt, Look(None, BASE))
    lines = text_of(pdf).splitlines()
    # Each line as a reader's text layer gives it back (NFKC: fullwidth brackets read as ASCII ones, and
    # Arabic joining forms as letters); right-to-left lines come back in logical order.
    for wanted in (name, achievement, description, "Example University Registrar", CREDENTIAL_ID):
        assert unicodedata.normalize("NFKC", wanted) in lines
    assert extract_receipt(pdf) == receipt


def test_the_page_says_what_the_credential_says_and_how_to_verify_it() -> None:
    pdf = certificate_bytes(VALID_BYTES, Look(None, BASE))
    text = text_of(pdf)
    assert "Bob Brown" in text
    assert "Foundations of Data Literacy" in text
    assert "Issued 15 January 2026 (UTC)" in text
    assert "valid until 15 January 2029 (UTC)" in text
    assert "credits 2.5 of 3" in text
    assert verification_url(BASE, CREDENTIAL_ID) in text
    assert "`credanchor verify`" in text
    assert "verified" not in text.lower().replace("verifier", "")  # states how to check, never a result


def test_the_receipt_is_the_one_attachment_byte_for_byte_as_json() -> None:
    pdf = certificate_bytes(VALID_BYTES, Look(None, BASE))
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments == {RECEIPT_NAME: [VALID_BYTES]}
    root: Any = reader.trailer["/Root"]
    spec = root["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/json"
    assert spec["/AFRelationship"] == "/Source"
    assert len(reader.pages) == 1


def test_metadata_names_the_achievement_earner_and_issuer() -> None:
    metadata = PdfReader(io.BytesIO(certificate_bytes(VALID_BYTES, Look(None, BASE)))).metadata
    assert metadata is not None
    assert metadata.title == "Foundations of Data Literacy: Bob Brown"
    assert metadata.author == "Example University Registrar"
    assert metadata.subject == f"Certificate of the credential {CREDENTIAL_ID}"


def test_the_qr_code_decodes_to_the_verification_url() -> None:
    pdf = certificate_bytes(VALID_BYTES, Look(None, BASE))
    codes = zxingcpp.read_barcodes(page_image(pdf))
    assert [(c.format, c.text) for c in codes] == [
        (zxingcpp.BarcodeFormat.QRCode, f"{BASE}/credentials/{CREDENTIAL_ID.removeprefix('urn:uuid:')}")
    ]


def test_without_a_share_url_there_is_no_qr_code_and_the_page_says_so() -> None:
    pdf = certificate_bytes(VALID_BYTES, Look(None, None))
    assert zxingcpp.read_barcodes(page_image(pdf)) == []
    text = text_of(pdf)
    assert "No public verification page is configured for this credential." in text
    assert "credentials/" not in text
    assert extract_receipt(pdf) == VALID_BYTES


def test_a_credential_without_a_name_is_awarded_without_one() -> None:
    text = text_of(certificate_bytes(receipt_for(None), Look(None, BASE)))
    assert "awarded to" not in text
    assert "awarded for" in text


def test_same_inputs_give_the_same_bytes() -> None:
    assert certificate_bytes(VALID_BYTES, Look(None, BASE)) == certificate_bytes(VALID_BYTES, Look(None, BASE))


def test_only_the_glyphs_used_are_embedded() -> None:
    pdf = certificate_bytes(receipt_for(NAMES["chinese"]), Look(None, BASE))
    assert len(pdf) < 200_000  # the CJK font file alone is 5 MB


def test_a_certificate_verifies_as_its_receipt_does() -> None:
    pdf = render_certificate(VALID_BYTES, badge_png=_png(), verification_url=None)
    reader = FakeReader({(REGISTRY, ROOT): anchored_view()})
    report = Session(lambda: reader, TRUST, NOW).verify_bytes(pdf, "certificate.pdf")
    assert report.verdict == Verdict.VALID, report.reason
    # The page is drawn by whoever made the PDF: the report says what it should show, not that it does.
    (note,) = [n for n in report.notes if n.startswith("only the receipt attached to this PDF is checked")]
    assert note.startswith("only the receipt attached to this PDF is checked, not the page: compare the page with")
    assert "; issued by " in note


def test_a_certificate_whose_receipt_was_tampered_with_is_invalid() -> None:
    tampered = VALID_BYTES.replace(b"Bob Brown", b"Rob Brown")
    pdf = render_certificate(tampered, badge_png=_png(), verification_url=None)
    reader = FakeReader({(REGISTRY, ROOT): anchored_view()})
    report = Session(lambda: reader, TRUST, NOW).verify_bytes(pdf, "certificate.pdf")
    assert report.verdict == Verdict.INVALID
    assert report.reason.startswith("credential hashes to")


def test_a_template_png_is_the_badge_and_an_svg_one_gives_the_default(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", issuer_id="https://registrar.test.edu", issuer_name="T", scrypt_n=2**12)
    folder = ws.achievements_dir
    (folder / "badge.png").write_bytes(_png((200, 30, 30)))
    (folder / "badge.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (folder / "not-png.png").write_bytes(b"GIF89a not a png")
    for key, image in (("png", "badge.png"), ("svg", "badge.svg"), ("bad", "not-png.png")):
        (folder / f"{key}.toml").write_text(f'name = "N"\ndescription = "D"\ncriteria = "C"\nimage_file = "{image}"\n')
    assert template_badge(ws, "png") == (folder / "badge.png").read_bytes()
    assert template_badge(ws, "svg") is None
    with pytest.raises(InvalidInput, match=r"not-png.png: not a readable PNG image$"):
        template_badge(ws, "bad")
    pdf = certificate_bytes(VALID_BYTES, Look(template_badge(ws, "png"), None))
    red = page_image(pdf, 1.0).convert("RGB").getpixel((62 + 59, 595 - 62 - 59))
    assert red == (200, 30, 30)


def _png(colour: tuple[int, int, int] = (20, 60, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, format="PNG")
    return out.getvalue()


def test_the_certificate_command_refuses_a_tampered_receipt_and_never_overwrites_silently(tmp_path: Path) -> None:
    from issuer.certificates import certificates_for_receipts

    source = Path(__file__).parent.parent / "assets" / "evidence" / "v2" / "receipt-0.json"
    receipt = tmp_path / "r.json"
    shutil.copy(source, receipt)
    (made,) = certificates_for_receipts([receipt], None, None)
    assert made == tmp_path / "r.pdf"
    with pytest.raises(InvalidInput, match=f"^{re.escape(str(made))} exists; give --force to replace it$"):
        certificates_for_receipts([receipt], None, None)
    assert certificates_for_receipts([receipt], None, None, force=True) == [made]

    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(source, other / "r.json")
    with pytest.raises(InvalidInput, match="would both write"):
        certificates_for_receipts([receipt, other / "r.json"], tmp_path / "out", None)

    doc = json.loads(receipt.read_text())
    doc["credential"]["name"] = "Doctor of Medicine"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="a receipt that does not verify gets no certificate$"):
        certificates_for_receipts([forged], None, None)
    assert not (tmp_path / "forged.pdf").exists()
