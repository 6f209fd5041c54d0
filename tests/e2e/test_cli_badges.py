"""`bake`, `extract` and `verify` on badges as a user meets them without a workspace: one clear line, the
right exit code, nothing overwritten."""

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from anchoring.baking import extract
from anchoring.pngchunks import itxt
from issuer.badgeimage import default_png
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
ASSETS = Path(__file__).parent.parent / "assets" / "receipts"


@pytest.fixture(autouse=True)
def no_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CREDANCHOR_WORKSPACE", raising=False)
    monkeypatch.delenv("CREDANCHOR_RPC_URL", raising=False)


def test_a_stranger_bakes_a_receipt_into_the_default_badge(cli: Cli, tmp_path: Path) -> None:
    receipt = tmp_path / "r.json"
    receipt.write_bytes((ASSETS / "valid.json").read_bytes())
    result = cli("bake", receipt)
    assert result.code == 0, result.err
    badge = tmp_path / "r.png"
    assert result.out.strip() == f"baked {receipt} into {badge} (PNG, read back and checked)"
    found = extract(badge.read_bytes(), "r.png")
    assert json.loads(found.credential or "") == json.loads(receipt.read_text())["credential"]
    credential = json.loads(receipt.read_text())["credential"]
    drawn = default_png(credential["credentialSubject"]["achievement"]["name"], credential["issuer"]["name"])
    with Image.open(io.BytesIO(badge.read_bytes())) as baked, Image.open(io.BytesIO(drawn)) as expected:
        assert baked.tobytes() == expected.tobytes()  # the default badge, drawn from the credential's names
    assert cli("bake", receipt).err.strip() == f"error: {badge} exists already; pass --force to replace it"


def test_bake_refuses_a_receipt_that_does_not_verify_and_a_hostile_picture(cli: Cli, tmp_path: Path) -> None:
    tampered = cli("bake", ASSETS / "tampered_subject.json", "-o", tmp_path / "t.png")
    assert tampered.code == 2
    assert tampered.err.startswith(f"error: {ASSETS / 'tampered_subject.json'}: credential hashes to 0x")
    assert tampered.err.rstrip().endswith("; a receipt that does not verify is not baked")
    assert not (tmp_path / "t.png").exists()
    picture = tmp_path / "evil.svg"
    picture.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("https://x")</script></svg>')
    evil = cli("bake", ASSETS / "valid.json", "--image", picture, "-o", tmp_path / "e.svg")
    assert evil.code == 2
    assert evil.err.strip() == f"error: {picture}: SVG holds a <script> element; refused (a badge must not run code)"


def test_extract_and_verify_a_badge_without_a_receipt(cli: Cli, tmp_path: Path) -> None:
    credential = json.loads((ASSETS / "valid.json").read_text())["credential"]
    png = default_png("A", "B")
    foreign = tmp_path / "foreign.png"
    foreign.write_bytes(png[:-12] + itxt("openbadgecredential", json.dumps(credential)) + png[-12:])
    extracted = cli("extract", foreign)
    assert extracted.code == 0, extracted.err
    assert json.loads((tmp_path / "foreign.credential.json").read_text()) == credential
    assert not (tmp_path / "foreign.receipt.json").exists()
    assert "carries no credanchor receipt" in extracted.out
    verified = cli("verify", foreign, "--rpc-url", "http://127.0.0.1:9")
    assert verified.code == 2
    assert "PNG carries an Open Badges 3.0 credential but no credanchor receipt" in verified.out
    plain = tmp_path / "plain.png"
    plain.write_bytes(png)
    nothing = cli("extract", plain)
    assert nothing.code == 2
    assert nothing.err.strip() == (
        f"error: {plain}: PNG carries no Open Badges credential (no iTXt chunk 'openbadgecredential')"
    )
