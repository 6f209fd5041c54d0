"""Reading the receipt out of hostile PDFs: each case a clean `InvalidReceipt` with an exact message, and
fuzzed bytes never more than that."""

import io
import os
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from anchoring.errors import InvalidReceipt
from anchoring.pdfcarrier import MAX_PDF_BYTES, RECEIPT_NAME, extract_receipt
from anchoring.receipt import MAX_RECEIPT_BYTES
from issuer.certificates import Look, certificate_bytes
from tests.unit.test_checks import RECEIPTS

VALID_BYTES = (RECEIPTS / "valid.json").read_bytes()
CERTIFICATE = certificate_bytes(VALID_BYTES, Look(None, "https://verify.example.edu"))
EXAMPLES = int(os.environ.get("CREDANCHOR_FUZZ_EXAMPLES", "1000"))


def hand_made(*objects: bytes) -> bytes:
    """A PDF of the numbered objects given (object 1 the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def catalog(names: bytes) -> bytes:
    return b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names " + names + b" >> >> >>"


PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"


def filespec(stream: int) -> bytes:
    return b"<< /Type /Filespec /F (%s) /EF << /F %d 0 R >> >>" % (RECEIPT_NAME.encode(), stream)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def test_a_hand_made_pdf_with_one_receipt_reads() -> None:
    pdf = hand_made(catalog(b"[(%s) 3 0 R]" % RECEIPT_NAME.encode()), PAGES, filespec(4), stream(VALID_BYTES))
    assert extract_receipt(pdf) == VALID_BYTES


def test_a_flate_compressed_receipt_reads() -> None:
    packed = zlib.compress(VALID_BYTES)
    pdf = hand_made(
        catalog(b"[(%s) 3 0 R]" % RECEIPT_NAME.encode()), PAGES, filespec(4), stream(packed, b"/Filter /FlateDecode")
    )
    assert extract_receipt(pdf) == VALID_BYTES


def encrypted() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(CERTIFICATE)))
    writer.encrypt("secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def two_receipts() -> bytes:
    name = RECEIPT_NAME.encode()
    return hand_made(
        catalog(b"[(%s) 3 0 R (%s) 5 0 R]" % (name, name)),
        PAGES,
        filespec(4),
        stream(VALID_BYTES),
        filespec(6),
        stream(VALID_BYTES),
    )


def nested(depth: int) -> bytes:
    return hand_made(catalog(b"3 0 R"), PAGES, b"[" * depth + b"]" * depth)


def deep_name_tree() -> bytes:
    objects = [catalog(b"[]").replace(b"/Names []", b"/Kids [3 0 R]"), PAGES]
    for i in range(3, 14):
        objects.append(b"<< /Kids [%d 0 R] >>" % (i + 1))
    objects.append(b"<< /Names [] >>")
    return hand_made(*objects)


def many_attachments() -> bytes:
    pairs = b" ".join(b"(other-%d.txt) 3 0 R" % i for i in range(100))
    return hand_made(catalog(b"[" + pairs + b"]"), PAGES, filespec(4), stream(b"x"))


def bomb() -> bytes:
    packed = zlib.compress(b" " * (50 * 1024 * 1024), 9)
    return hand_made(
        catalog(b"[(%s) 3 0 R]" % RECEIPT_NAME.encode()), PAGES, filespec(4), stream(packed, b"/Filter /FlateDecode")
    )


def other_filter() -> bytes:
    return hand_made(
        catalog(b"[(%s) 3 0 R]" % RECEIPT_NAME.encode()),
        PAGES,
        filespec(4),
        stream(VALID_BYTES.hex().encode() + b">", b"/Filter /ASCIIHexDecode"),
    )


DAMAGED = "PDF is damaged or truncated and cannot be read"
HOSTILE = {
    "not a PDF": (VALID_BYTES, "not a PDF (it does not start with %PDF-)"),
    "too big": (b"%PDF-" + bytes(MAX_PDF_BYTES), f"PDF of {MAX_PDF_BYTES + 5:,} bytes is over the limit of 20,971,520 bytes"),
    "only a header": (b"%PDF-1.7\n", DAMAGED),
    "truncated": (CERTIFICATE[: len(CERTIFICATE) // 3], DAMAGED),
    "no attachment": (hand_made(b"<< /Type /Catalog /Pages 2 0 R >>", PAGES), f"PDF carries no {RECEIPT_NAME} attachment (not a credanchor certificate)"),
    "two receipts": (two_receipts(), f"PDF carries 2 attachments named {RECEIPT_NAME}; a certificate carries exactly one"),
    "encrypted": (encrypted(), "PDF is encrypted; a certificate's receipt must be readable without a password"),
    "huge attachment": (
        hand_made(catalog(b"[(%s) 3 0 R]" % RECEIPT_NAME.encode()), PAGES, filespec(4), stream(b" " * (MAX_RECEIPT_BYTES + 1))),
        f"{RECEIPT_NAME} attachment of 2,097,153 stored bytes is over the limit of {MAX_RECEIPT_BYTES:,} bytes for a receipt",
    ),
    "decompression bomb": (bomb(), f"{RECEIPT_NAME} attachment inflates to over the limit of 2,097,152 bytes for a receipt"),
    "nested objects": (nested(200_000), "PDF objects are nested too deeply to read"),
    "deep attachment tree": (deep_name_tree(), "PDF attachment list is nested over 8 levels deep"),
    "many attachments": (many_attachments(), "PDF has over 64 attachments"),
    "other filter": (other_filter(), f"{RECEIPT_NAME} attachment uses filters ['/ASCIIHexDecode']; only FlateDecode"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_pdfs_are_refused_with_exact_messages(case: str) -> None:
    data, message = HOSTILE[case]
    with pytest.raises(InvalidReceipt) as caught:
        extract_receipt(data)
    assert str(caught.value) == message


def test_pypdf_warnings_do_not_reach_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidReceipt):
        extract_receipt(CERTIFICATE[: len(CERTIFICATE) // 3])
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


FUZZ = settings(max_examples=EXAMPLES // 5, deadline=5000, suppress_health_check=[HealthCheck.too_slow])


def outcome(data: bytes) -> bytes | None:
    try:
        return extract_receipt(data)
    except InvalidReceipt as exc:
        message = str(exc)
    assert message
    assert "\n" not in message
    return None


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_after_a_pdf_header(data: bytes) -> None:
    assert outcome(b"%PDF-1.7\n" + data) is None


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(CERTIFICATE) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_certificates(changes: list[tuple[int, int]]) -> None:
    data = bytearray(CERTIFICATE)
    for position, value in changes:
        data[position] = value
    got = outcome(bytes(data))
    assert got is None or isinstance(got, bytes)


@FUZZ
@given(st.integers(1, len(CERTIFICATE) - 1))
def test_truncated_certificates(cut: int) -> None:
    got = outcome(CERTIFICATE[:cut])
    assert got is None or got == VALID_BYTES
