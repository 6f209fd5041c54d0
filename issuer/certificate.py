"""The certificate PDF: one page an earner can print or send, carrying the receipt it was drawn from.

Invariants:
- Pure: receipt bytes, badge PNG bytes and the verification URL in, PDF bytes out; no clock (reportlab's
  invariant mode: fixed dates and ids, so the same inputs give the same bytes) and no font from the system.
- Everything printed comes from the receipt's credential. The page states what the credential says and how
  to check it ("verify at ..."), never that it was checked: the PDF is no more trustworthy than its receipt.
- The receipt's exact bytes ride along as the PDF attachment `credential-receipt.json` (application/json,
  in the EmbeddedFiles name tree), so `credanchor verify certificate.pdf` needs nothing else.
- The QR code is drawn only when there is a verification URL; without one the page says how to verify
  instead of showing a code that leads nowhere.
- Fonts: DejaVu Sans (Latin, Greek, Cyrillic, Hebrew and Arabic letters) with WenQuanYi Micro Hei for
  Chinese, Japanese and Korean, chosen per run of characters by which font has them; reportlab embeds
  only the glyphs used. Right-to-left text is laid out before reportlab sees it (it has no bidi or Arabic
  shaping of its own without extra C libraries): Arabic letters take their joining forms (arabic-reshaper,
  presentation forms: ligature-rich scripts such as Urdu Nastaliq are beyond it) and each line is put in
  visual order by the Unicode bidi algorithm (python-bidi), the order PDF text is stored in; text
  extraction reads names back in logical order.
- Layout: the whole name and achievement are always shown (one line, shrunk; else balanced wrapped lines);
  only the description is cut, with an ellipsis, when the page has no room left for it.
"""

import io
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import arabic_reshaper
import segno
from bidi import get_display
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, TextStringObject
from reportlab import rl_config
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from anchoring.pdfcarrier import RECEIPT_NAME, RECEIPT_TYPE
from anchoring.receipt import Receipt
from issuer.badgeimage import FONTS, colour_of

PAGE = landscape(A4)  # ISO A4, what registrars outside North America print on; Letter printers scale it
REGULAR, BOLD, CJK = "CredanchorSans", "CredanchorSans-Bold", "CredanchorCJK"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf", CJK: "wqy-microhei.ttc"}
INK = HexColor("#1d2330")
MUTED = HexColor("#5b6473")


@dataclass(frozen=True)
class Facts:
    """What the page shows, read from the credential."""

    credential_id: str
    achievement: str
    description: str
    issuer: str
    earner: str | None
    valid_from: str
    valid_until: str | None
    credits: str | None


def facts_of(credential: dict[str, Any]) -> Facts:
    subject = credential.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {}
    issuer = credential.get("issuer")
    names = [
        i.get("identityHash")
        for i in subject.get("identifier", [])
        if isinstance(i, dict) and i.get("identityType") == "name" and i.get("hashed") is False
    ]
    earned, available = subject.get("creditsEarned"), achievement.get("creditsAvailable")
    credits = None
    if earned is not None:
        credits = f"{_number(earned)} of {_number(available)}" if available is not None else _number(earned)
    return Facts(
        credential_id=str(credential.get("id", "")),
        achievement=str(achievement.get("name", credential.get("name", ""))),
        description=str(achievement.get("description", "")),
        issuer=str(issuer.get("name", issuer.get("id", ""))) if isinstance(issuer, dict) else str(issuer),
        earner=str(names[0]) if names and isinstance(names[0], str) else None,
        valid_from=_day(str(credential.get("validFrom", ""))),
        valid_until=_day(str(credential["validUntil"])) if "validUntil" in credential else None,
        credits=credits,
    )


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _day(timestamp: str) -> str:
    """`2026-03-01T09:00:00Z` as `1 March 2026` (unambiguous in every locale, unlike 03/01/2026)."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return f"{moment.day} {moment:%B %Y} (UTC)"


@cache
def _fonts() -> dict[str, TTFont]:
    fonts = {}
    for name, file in _FILES.items():
        with resources.as_file(FONTS / file) as path:
            font = TTFont(name, str(path), subfontIndex=0) if file.endswith(".ttc") else TTFont(name, str(path))
        pdfmetrics.registerFont(font)
        fonts[name] = font
    return fonts


def runs(text: str, latin: str) -> list[tuple[str, str]]:
    """`text` cut into (font, characters) runs: each character in `latin` (a DejaVu face) when it has it,
    else in the CJK font; spaces stay in the run they are in, so a CJK name keeps one run."""
    fonts = _fonts()
    out: list[tuple[str, str]] = []
    for char in text:
        if out and char.isspace():
            font = out[-1][0]
        elif ord(char) in fonts[latin].face.charToGlyph or ord(char) not in fonts[CJK].face.charToGlyph:
            font = latin
        else:
            font = CJK
        if out and out[-1][0] == font:
            out[-1] = (font, out[-1][1] + char)
        else:
            out.append((font, char))
    return out


_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


@cache
def visual(line: str) -> str:
    """A line as drawn: Arabic letters in their joining forms, right-to-left runs in visual order (the
    Unicode bidi algorithm); a line with no right-to-left letter is left as it is."""
    if not _RTL.search(line):
        return line
    return str(get_display(arabic_reshaper.reshape(line)))


def width(text: str, font: str, size: float) -> float:
    return float(sum(pdfmetrics.stringWidth(part, f, size) for f, part in runs(visual(text), font)))


def _draw(canvas: Canvas, x: float, y: float, text: str, font: str, size: float, align: str = "left") -> None:
    """One line in one text object (so text extraction reads it as one line), font switched per run."""
    total = width(text, font, size)
    line = canvas.beginText({"left": x, "centre": x - total / 2, "right": x - total}[align], y)
    for f, part in runs(visual(text), font):
        line.setFont(f, size)
        line.textOut(part)
    canvas.drawText(line)


def fit(text: str, font: str, size: float, room: float, smallest: float) -> float:
    """The largest size up to `size` (down to `smallest`) at which `text` fits in `room` points."""
    while size > smallest and width(text, font, size) > room:
        size -= 1
    return size


def wrap(text: str, font: str, size: float, room: float, most: int) -> list[str]:
    """Greedy lines of `text` no wider than `room`; words too long for a line (CJK has no spaces) are cut
    between characters; past `most` lines the last one ends in an ellipsis."""
    lines: list[str] = []
    for word in " ".join(text.split()).split(" "):
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and width(candidate, font, size) <= room:
            lines[-1] = candidate
            continue
        piece = ""
        for char in word:
            if piece and width(piece + char, font, size) > room:
                lines.append(piece)
                piece = ""
            piece += char
        lines.append(piece)
    if len(lines) > most:
        last = lines[most - 1]
        while last and width(last + " …", font, size) > room:
            last = last[:-1]
        lines = [*lines[: most - 1], last.rstrip() + " …"]
    return lines


def _qr(canvas: Canvas, url: str, x: float, y: float, side: float) -> None:
    """The QR code drawn as vector squares (sharp at any zoom), with its quiet zone inside `side`."""
    code = segno.make(url, error="m", micro=False)
    matrix = [list(row) for row in code.matrix_iter(scale=1, border=4)]
    cell = side / len(matrix)
    canvas.setFillColor(HexColor("#ffffff"))
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    canvas.setFillColor(HexColor("#000000"))
    path = canvas.beginPath()  # one path: adjacent modules merge, with no hairline seams between them
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):  # a run of dark modules is one rectangle
            if not row[c]:
                c += 1
                continue
            end = c
            while end < len(row) and row[end]:
                end += 1
            path.rect(x + c * cell, y + side - (r + 1) * cell, (end - c) * cell, cell)
            c = end
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.linkURL(url, (x, y, x + side, y + side), relative=0)


def _frame(canvas: Canvas, colour: Color) -> None:
    w, h = PAGE
    canvas.setFillColor(HexColor("#fbfaf6"))
    canvas.rect(0, 0, w, h, stroke=0, fill=1)
    canvas.setStrokeColor(colour)
    canvas.setLineWidth(6)
    canvas.rect(22, 22, w - 44, h - 44, stroke=1, fill=0)
    canvas.setLineWidth(0.8)
    canvas.rect(32, 32, w - 64, h - 64, stroke=1, fill=0)


Block = tuple[list[str], str, float, Color, float]  # lines, font, size, colour, space above


def _sized(
    text: str, font: str, single: tuple[float, float], wrapped: float, room: float, most: int
) -> tuple[list[str], float]:
    """`text` on one line at the largest size in `single` (largest, smallest) that fits; failing that,
    wrapped at the largest size from `wrapped` down that needs at most `most` lines."""
    size = fit(text, font, single[0], room, single[1])
    if width(text, font, size) <= room:
        return [text], size
    size = wrapped
    while size > 12 and len(wrap(text, font, size, room, most + 1)) > most:
        size -= 1
    lines = wrap(text, font, size, room, most)
    # Balance the lines (no lone last word): the narrowest room that still needs no more lines.
    low, high = room / 2, room
    while high - low > 4:
        middle = (low + high) / 2
        low, high = (low, middle) if len(wrap(text, font, size, middle, most + 1)) <= len(lines) else (middle, high)
    return wrap(text, font, size, high, most), size


def _statement(facts: Facts, room: float, colour: Color) -> list[Block]:
    blocks: list[Block] = []
    if facts.earner:
        name, size = _sized(facts.earner, BOLD, (34, 22), 22, room, 2)
        blocks += [(["awarded to"], REGULAR, 12, INK, 0), (name, BOLD, size, INK, 8), (["for"], REGULAR, 12, INK, 10)]
    else:
        blocks.append((["awarded for"], REGULAR, 12, INK, 0))
    title, size = _sized(facts.achievement, BOLD, (26, 20), 20, room, 3)
    blocks.append((title, BOLD, size, colour, 6))
    # The description gets what room is left (the page has about 230 points for the whole statement).
    used = sum(gap + size * len(lines) * 1.2 for lines, _, size, _, gap in blocks)
    most = max(1, min(4, int((228 - used - 10) // (10.5 * 1.2))))
    if facts.description:
        blocks.append((wrap(facts.description, REGULAR, 10.5, room - 60, most), REGULAR, 10.5, MUTED, 10))
    return blocks


def draw_page(canvas: Canvas, facts: Facts, badge_png: bytes, url: str | None) -> None:
    w, h = PAGE
    colour = HexColor(colour_of(facts.achievement))
    _frame(canvas, colour)
    centre, room = w / 2, w - 200

    # Header: the issuer, as the one who makes the statement.
    canvas.setFillColor(MUTED)
    _draw(canvas, centre, h - 78, facts.issuer, REGULAR, fit(facts.issuer, REGULAR, 15, room, 9), "centre")
    canvas.setFillColor(colour)
    _draw(canvas, centre, h - 112, "C E R T I F I C A T E", BOLD, 13, "centre")

    # The statement: who was awarded what, as one block centred between the header and the facts row.
    block = _statement(facts, room, colour)
    height = sum(gap + size * len(lines) * 1.2 for lines, _, size, _, gap in block)
    y = h - 130 - max(0.0, (h - 130 - 236 - height) * 0.3)  # a short block sits a little above the middle
    for lines, font, size, ink, gap in block:
        canvas.setFillColor(ink)
        y -= gap
        for line in lines:
            y -= size * 1.2
            _draw(canvas, centre, y + size * 0.25, line, font, size, "centre")

    # Facts row: date, validity, credits.
    details = [f"Issued {facts.valid_from}"]
    if facts.valid_until:
        details.append(f"valid until {facts.valid_until}")
    if facts.credits:
        details.append(f"credits {facts.credits}")
    canvas.setFillColor(INK)
    _draw(canvas, centre, 212, "  ·  ".join(details), REGULAR, 11, "centre")

    # Badge (left) and QR code (right), level with each other above the footer.
    canvas.drawImage(ImageReader(io.BytesIO(badge_png)), 62, 62, 118, 118, mask="auto")
    if url is not None:
        _qr(canvas, url, w - 62 - 106, 74, 106)
        canvas.setFillColor(MUTED)
        _draw(canvas, w - 62 - 53, 64, "scan to verify", REGULAR, 8, "centre")

    # Footer: the id and how to check this page, in plain words.
    left, right = 200, w - 190
    canvas.setFillColor(INK)
    _draw(canvas, left, 152, "Credential ID", BOLD, 8.5)
    _draw(canvas, left, 140, facts.credential_id, REGULAR, 8.5)
    if url is not None:
        _draw(canvas, left, 122, "Verify at", BOLD, 8.5)
        _draw(canvas, left, 110, url, REGULAR, 8.5)
        canvas.linkURL(url, (left, 106, left + width(url, REGULAR, 8.5), 118), relative=0)
        how = ""
    else:
        how = "No public verification page is configured for this credential. "
    how += (
        f"This PDF carries the issuer-signed receipt as the attachment {RECEIPT_NAME}: `credanchor verify` "
        "checks this file, and the signed Open Badges 3.0 credential inside it can be checked by any OB 3.0 "
        "verifier. This page only shows what the receipt says; the verifier's result is what counts."
    )
    canvas.setFillColor(MUTED)
    top = 92 if url is not None else 122
    for i, line in enumerate(wrap(how, REGULAR, 7.5, right - left, 5)):
        _draw(canvas, left, top - 10 * i, line, REGULAR, 7.5)


def render_certificate(receipt: bytes, *, badge_png: bytes, verification_url: str | None) -> bytes:
    """The certificate PDF of one receipt (its bytes, as written for the earner)."""
    credential = Receipt.from_json(receipt, source="receipt").credential
    facts = facts_of(credential)
    _fonts()
    page = io.BytesIO()
    rl_config.useA85 = 0  # binary streams: ASCII85 makes images 25% larger and costs time, for 7-bit channels
    canvas = Canvas(page, pagesize=PAGE, invariant=True, pageCompression=True)
    canvas.setTitle(f"{facts.achievement}: {facts.earner}" if facts.earner else facts.achievement)
    canvas.setAuthor(facts.issuer)
    canvas.setSubject(f"Certificate of the credential {facts.credential_id}")
    canvas.setCreator("credanchor")
    draw_page(canvas, facts, badge_png, verification_url)
    canvas.showPage()
    canvas.save()
    return _attach(page.getvalue(), receipt)


def _attach(pdf: bytes, receipt: bytes) -> bytes:
    """The PDF with `receipt` embedded as its one credential receipt attachment."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    attached = writer.add_attachment(RECEIPT_NAME, receipt)
    attached.subtype = NameObject("/" + RECEIPT_TYPE)
    attached.description = TextStringObject("Credential receipt: Open Badges 3.0 credential, Merkle proof, anchor")
    attached.associated_file_relationship = NameObject("/Source")
    writer.page_mode = "/UseAttachments"  # viewers open the attachments pane beside the page
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
