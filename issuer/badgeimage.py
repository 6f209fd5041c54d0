"""The default badge image: drawn for an achievement whose template names no image file, so every earner gets one.

Invariants: pure (names in, image bytes out; no clock, no randomness: the same names give the same bytes).
Drawn with the bundled DejaVu fonts, never a system font. Text is the issuer's and the achievement's names,
which come from config and templates: in SVG they are XML-escaped, so a name can never add markup.
"""

import hashlib
import io
import textwrap
from functools import cache
from importlib import resources
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfbase.ttfonts import TTFontFile

SIZE = 512
FONTS = resources.files("issuer") / "fonts"
_PALETTE = ("#1f4e79", "#6b2c91", "#0f6b4f", "#8a3b12", "#7a1f3d", "#2d4a8a", "#4d5d12", "#12626b")
CJK_FONT = "wqy-microhei.ttc"
_TITLE_WIDTH = 18  # characters a line of the achievement's name holds at the title size
_TITLE_LINES = 4
_ISSUER_WIDTH = 30


def colour_of(achievement: str) -> str:
    """A colour picked from the achievement's name, so badges of different achievements look apart."""
    return _PALETTE[hashlib.sha256(achievement.encode("utf-8")).digest()[0] % len(_PALETTE)]


def _lines(text: str, width: int, most: int) -> list[str]:
    lines = textwrap.wrap(" ".join(text.split()), width, break_long_words=True) or [""]
    if len(lines) > most:
        lines = [*lines[: most - 1], textwrap.shorten(" ".join(lines[most - 1 :]), width, placeholder="…")]
    return lines


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    with resources.as_file(FONTS / name) as path:
        return ImageFont.truetype(str(path), size, index=0)


@cache
def _cmap(name: str) -> frozenset[int]:
    with resources.as_file(FONTS / name) as path:
        return frozenset(TTFontFile(str(path), subfontIndex=0).charToGlyph)


def _face(text: str, dejavu: str) -> str:
    """DejaVu, or the bundled CJK font for text with characters DejaVu lacks (Chinese, Japanese, Korean)."""
    missing = {ord(c) for c in text if not c.isspace()} - _cmap(dejavu)
    return CJK_FONT if missing and missing <= _cmap(CJK_FONT) else dejavu


def default_png(achievement: str, issuer: str) -> bytes:
    """A round badge with the achievement's name and, below it, the issuer's, as PNG bytes."""
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = colour_of(achievement)
    draw.ellipse((8, 8, SIZE - 8, SIZE - 8), fill=colour)
    draw.ellipse((30, 30, SIZE - 30, SIZE - 30), outline="white", width=6)
    face = _face(achievement, "DejaVuSans-Bold.ttf")
    title, small = _font(face, 40), _font(_face(issuer, "DejaVuSans.ttf"), 22)
    # CJK characters are twice as wide as Latin letters: half as many fit on a line.
    lines = _lines(achievement, _TITLE_WIDTH // 2 if face == CJK_FONT else _TITLE_WIDTH, _TITLE_LINES)
    top = SIZE // 2 - 24 * len(lines) - 10
    for i, line in enumerate(lines):
        draw.text((SIZE // 2, top + 48 * i), line, font=title, fill="white", anchor="mt")
    for i, line in enumerate(_lines(issuer, _ISSUER_WIDTH, 2)):
        draw.text((SIZE // 2, top + 48 * len(lines) + 24 + 28 * i), line, font=small, fill="white", anchor="mt")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def default_svg(achievement: str, issuer: str) -> bytes:
    """The same badge as SVG (text kept as text, so it stays searchable and sharp)."""
    colour = colour_of(achievement)
    lines = _lines(achievement, _TITLE_WIDTH, _TITLE_LINES)
    top = SIZE // 2 - 24 * len(lines) - 10
    texts = [
        f'<text x="256" y="{top + 48 * i + 36}" font-size="40" font-weight="bold">{escape(line)}</text>'
        for i, line in enumerate(lines)
    ]
    texts += [
        f'<text x="256" y="{top + 48 * len(lines) + 24 + 28 * i + 20}" font-size="22">{escape(line)}</text>'
        for i, line in enumerate(_lines(issuer, _ISSUER_WIDTH, 2))
    ]
    label = escape(f"{achievement}, issued by {issuer}", {'"': "&quot;"})
    body = "\n  ".join(texts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}" '
        f'role="img" aria-label="{label}">\n'
        f"  <title>{escape(achievement)}</title>\n"
        f'  <circle cx="256" cy="256" r="248" fill="{colour}"/>\n'
        '  <circle cx="256" cy="256" r="223" fill="none" stroke="white" stroke-width="6"/>\n'
        '  <g fill="white" text-anchor="middle" font-family="DejaVu Sans, Verdana, sans-serif">\n'
        f"  {body}\n"
        "  </g>\n"
        "</svg>\n"
    ).encode()
