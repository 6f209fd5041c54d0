"""The default badge image: deterministic, a real picture, names escaped; template image paths kept inside."""

import io
import re
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
from PIL import Image, ImageColor

from anchoring.errors import InvalidInput
from issuer.badgeimage import SIZE, colour_of, default_png, default_svg
from issuer.templates import load_template


def test_png_is_a_square_badge_and_the_same_names_give_the_same_bytes() -> None:
    data = default_png("Python Basics", "Example University")
    assert data == default_png("Python Basics", "Example University")
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size, image.mode) == ("PNG", (SIZE, SIZE), "RGBA")
    rgba = image.convert("RGBA")
    assert rgba.getpixel((SIZE // 2, 20)) == (*ImageColor.getrgb(colour_of("Python Basics")), 255)
    assert rgba.getpixel((0, 0)) == (0, 0, 0, 0)  # the corners stay transparent


def test_svg_escapes_names_and_parses_with_a_hardened_parser() -> None:
    data = default_svg('Python <script>alert("x")</script>', 'Example & "Co"')
    root = SafeET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<script" not in data
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "".join(t or "" for t in texts).startswith('Python <script>alert("x")</script>'[:18])
    assert root.get("aria-label") == 'Python <script>alert("x")</script>, issued by Example & "Co"'


def test_long_names_are_cut_to_four_lines_with_an_ellipsis() -> None:
    root = SafeET.fromstring(default_svg("word " * 60, "Example University"))
    lines = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert len(lines) == 5
    assert lines[3].endswith("…")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/etc/passwd.png", "must be a path inside the achievements folder"),
        ("../secret.png", "must be a path inside the achievements folder"),
        ("images/../../x.svg", "must be a path inside the achievements folder"),
        ("~/x.png", "must be a path inside the achievements folder"),
        ("C:/x.png", "must be a path inside the achievements folder"),
        ("badge.gif", "must be a .png or .svg file"),
    ],
)
def test_template_image_file_stays_in_the_achievements_folder(tmp_path: Path, value: str, reason: str) -> None:
    folder = tmp_path
    (folder / "x.toml").write_text(f'name = "X"\ndescription = "D"\ncriteria = "C"\nimage_file = "{value}"\n')
    with pytest.raises(InvalidInput, match=re.escape(reason)):
        load_template(folder, "x")
