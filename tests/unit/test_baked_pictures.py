"""The picture a batch is baked into: a template's own file, checked like a stranger's, or the default badge."""

import zlib
from pathlib import Path

import pytest

from anchoring.baking import extract
from anchoring.errors import InvalidInput
from anchoring.pngchunks import SIGNATURE, chunk_bytes
from issuer.badgeimage import default_png, default_svg
from issuer.baked import MAX_PICTURE_BYTES, bake_receipts, checked_picture, receipt_picture, template_picture
from issuer.templates import Template
from issuer.workspace import Workspace, init_workspace
from tests.unit.test_baking import CREDENTIAL, PNG, RECEIPT

IHDR = (4).to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])


def template(**fields: object) -> Template:
    base: dict[str, object] = {"key": "t", "name": "Data Literacy", "description": "d", "criteria": "c"}
    return Template.model_validate(base | fields)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return init_workspace(
        tmp_path_factory.mktemp("ws") / "ws",
        issuer_id="https://registrar.test.edu",
        issuer_name="Test University",
        scrypt_n=2**4,
    )


def test_no_image_file_gives_the_default_badge(workspace: Workspace) -> None:
    assert template_picture(workspace, template(), "png") == default_png("Data Literacy", "Test University")
    assert template_picture(workspace, template(), "svg") == default_svg("Data Literacy", "Test University")


def test_the_template_picture_must_be_what_its_name_says_and_stay_inside(workspace: Workspace) -> None:
    folder = workspace.achievements_dir
    (folder / "fake.png").write_bytes(default_svg("A", "B"))
    with pytest.raises(InvalidInput) as raised:
        template_picture(workspace, template(image_file="fake.png"), "png")
    assert str(raised.value) == f"{folder / 'fake.png'}: is SVG, but a PNG badge was asked for"
    (folder / "outside.svg").symlink_to(Path("/etc/hostname"))
    with pytest.raises(InvalidInput) as raised:
        template_picture(workspace, template(image_file="outside.svg"), "svg")
    assert str(raised.value) == f"{folder / 'outside.svg'}: image_file of achievement 't' leads outside {folder}"
    with pytest.raises(InvalidInput) as raised:
        template_picture(workspace, template(image_file="fake.png"), "svg")
    assert str(raised.value) == (
        "achievement 't' has a PNG image_file (fake.png); bake png badges for it, or remove image_file to bake "
        "the default SVG badge"
    )


def test_a_png_that_would_show_broken_or_is_too_large_is_refused() -> None:
    broken = SIGNATURE + chunk_bytes(b"IHDR", IHDR) + chunk_bytes(b"IDAT", b"not zlib") + chunk_bytes(b"IEND", b"")
    with pytest.raises(InvalidInput, match=r"^p.png: PNG does not decode: "):
        checked_picture(broken, "p.png")
    bomb_header = (4096).to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])
    bomb = zlib.compress(b"\0" * (4096 * (4096 * 4 + 1)), 9)  # 64 MiB of pixels in a few tens of KiB
    inflating = SIGNATURE + chunk_bytes(b"IHDR", bomb_header) + chunk_bytes(b"IDAT", bomb) + chunk_bytes(b"IEND", b"")
    assert checked_picture(inflating, "big.png") == inflating  # within the cap: decoded once, bounded
    over = SIGNATURE + chunk_bytes(b"IHDR", (4097).to_bytes(4, "big") * 2 + IHDR[8:]) + chunk_bytes(b"IEND", b"")
    with pytest.raises(InvalidInput) as raised:
        checked_picture(over, "o.png")
    assert str(raised.value) == "o.png: PNG is 4097 x 4097 pixels; at most 8192 a side and 16,777,216 pixels"
    with pytest.raises(InvalidInput) as raised:
        checked_picture(PNG + b"\0" * MAX_PICTURE_BYTES, "h.png")
    assert str(raised.value) == f"h.png: {len(PNG) + MAX_PICTURE_BYTES:,} bytes is over the limit of 8,388,608 bytes"
    with pytest.raises(InvalidInput, match=r"^g.gif: not a PNG or SVG image$"):
        checked_picture(b"GIF89a", "g.gif")


def test_a_stranger_receipt_gets_the_default_badge_from_its_own_names() -> None:
    picture, kind = receipt_picture(None, RECEIPT, "r.json", None)
    achievement = CREDENTIAL["credentialSubject"]["achievement"]["name"]
    issuer = CREDENTIAL["issuer"].get("name") or CREDENTIAL["issuer"]["id"]
    assert (picture, kind) == (default_png(achievement, issuer), "png")
    assert receipt_picture(None, RECEIPT, "r.json", "svg") == (default_svg(achievement, issuer), "svg")


def test_baking_receipts_writes_only_what_is_missing_or_different(tmp_path: Path) -> None:
    receipts = []
    for i in range(3):
        path = tmp_path / f"r{i}.json"
        path.write_bytes(RECEIPT)
        receipts.append(path)
    assert bake_receipts(PNG, receipts, "png") == 3
    assert bake_receipts(PNG, receipts, "png") == 0
    (tmp_path / "r1.png").unlink()
    (tmp_path / "r2.png").write_bytes(b"stale")
    assert bake_receipts(PNG, receipts, "png") == 2
    assert extract((tmp_path / "r2.png").read_bytes(), "r2.png").receipt == RECEIPT.decode()
