"""Baked badges on a real node, through the CLI: `issue --bake`, `verify badge.png|svg`, tampering, `bake`,
`extract`, a template's own picture, and a crash while baking."""

import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from anchoring.baking import OB3_NS
from anchoring.errors import InvalidInput
from anchoring.pngchunks import SIGNATURE, itxt, raw, read_chunks
from issuer.store import State, Store
from issuer.workspace import Workspace, open_workspace
from tests.conftest import CliResult, people, write_csv
from tests.integration.test_issue_verify import issue, verify_json

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


def pillow_credential(path: Path) -> dict[str, object]:
    """The credential as a plain OB 3.0 reader finds it: Pillow's PNG text chunks."""
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        found: dict[str, object] = json.loads(image.text["openbadgecredential"])
        return found


def elementtree_credential(path: Path) -> dict[str, object]:
    root = ET.fromstring(path.read_bytes())  # noqa: S314  (our own output, read as a plain OB 3.0 tool would)
    assert root[0].tag == f"{{{OB3_NS}}}credential"
    found: dict[str, object] = json.loads(root[0].text or "")
    return found


@pytest.fixture
def baked_png(cli: Cli, workspace: Workspace) -> tuple[Workspace, Path]:
    result, out = issue(cli, workspace, people(6), "--bake", "png")
    assert result.code == 0, result.err
    assert "baked PNG badges beside the receipts (each read back and checked)" in result.out
    return workspace, out


def test_issue_bake_png_writes_a_verified_badge_beside_each_receipt(
    cli: Cli, baked_png: tuple[Workspace, Path]
) -> None:
    ws, out = baked_png
    receipts = sorted(out.glob("*.json"))
    badges = sorted(out.glob("*.png"))
    assert [b.stem for b in badges] == [r.stem for r in receipts]
    for receipt, badge in zip(receipts, badges, strict=True):
        credential = json.loads(receipt.read_text())["credential"]
        assert "proof" in credential
        assert pillow_credential(badge) == credential
    code, reports = verify_json(cli, *badges, "-w", ws.root)
    assert code == 0
    assert [r["verdict"] for r in reports] == ["valid"] * 6
    steps = {s["name"]: s for s in reports[0]["steps"]}
    assert steps["badge"]["ok"] is True
    assert steps["signature"]["ok"] is True
    assert steps["anchor"]["ok"] is True


def test_config_default_bakes_svg_and_verify_checks_it(cli: Cli, workspace: Workspace) -> None:
    with workspace.config_path.open("a") as config:
        config.write('\n[earner]\nbake = "svg"\n')
    ws = open_workspace(workspace.root)
    result, out = issue(cli, ws, people(3))
    assert result.code == 0, result.err
    badges = sorted(out.glob("*.svg"))
    assert len(badges) == 3
    assert not list(out.glob("*.png"))
    for badge in badges:
        receipt = json.loads(badge.with_suffix(".json").read_text())
        assert elementtree_credential(badge) == receipt["credential"]
    code, reports = verify_json(cli, *badges, "-w", ws.root)
    assert (code, [r["verdict"] for r in reports]) == (0, ["valid"] * 3)


def forged(data: bytes, keywords: tuple[str, ...], old: bytes, new: bytes) -> bytes:
    """`data` with `old` replaced by `new` in the text of the named iTXt chunks, CRCs recomputed (a careful
    forger)."""
    chunks = read_chunks(data, "badge", InvalidInput)
    out = []
    for chunk in chunks:
        keyword, _, text = chunk.data.partition(b"\0\0\0\0\0")
        if chunk.type == b"iTXt" and keyword.decode() in keywords:
            out.append(itxt(keyword.decode(), text.replace(old, new, 1).decode()))
        else:
            out.append(raw(chunk))
    return SIGNATURE + b"".join(out)


def test_a_tampered_png_is_rejected_with_the_reason(cli: Cli, baked_png: tuple[Workspace, Path]) -> None:
    ws, out = baked_png
    badge = sorted(out.glob("*.png"))[0]
    credential = json.loads(badge.with_suffix(".json").read_text())["credential"]
    name = credential["credentialSubject"]["achievement"]["name"].encode()
    forged_name = name[:-1] + bytes([name[-1] ^ 1])
    data = badge.read_bytes()
    both = badge.with_name("both.png")
    both.write_bytes(forged(data, ("openbadgecredential", "credanchorreceipt"), name, forged_name))
    one = badge.with_name("one.png")  # only the OB 3.0 chunk: what other tools would show
    one.write_bytes(forged(data, ("openbadgecredential",), name, forged_name))
    flipped = badge.with_name("flipped.png")
    flipped.write_bytes(data.replace(name, forged_name, 1))  # a careless forger: the CRC no longer matches
    code, reports = verify_json(cli, both, one, flipped, "-w", ws.root)
    assert code == 2
    by_source = {Path(r["source"]).name: r for r in reports}
    assert by_source["both.png"]["verdict"] == "invalid"
    assert by_source["both.png"]["reason"].startswith("credential hashes to 0x")
    assert by_source["one.png"]["verdict"] == "invalid"
    assert by_source["one.png"]["reason"] == (
        "the credential in the image's iTXt chunk 'openbadgecredential' differs from its receipt's credential at "
        "name: one of them was changed"
    )
    assert by_source["flipped.png"]["verdict"] == "malformed"
    assert by_source["flipped.png"]["reason"].endswith("has a bad CRC")
    human = cli("verify", one, "-w", ws.root)
    assert human.code == 1
    assert "INVALID" in human.out
    assert "FAIL badge" in human.out


def test_bake_and_extract_commands(cli: Cli, baked_png: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, out = baked_png
    receipt = sorted(out.glob("*.json"))[0]
    target = tmp_path / "mine.svg"
    made = cli("bake", receipt, "--format", "svg", "-o", target, "-w", ws.root)
    assert made.code == 0, made.err
    assert elementtree_credential(target) == json.loads(receipt.read_text())["credential"]
    again = cli("bake", receipt, "--format", "svg", "-o", target, "-w", ws.root)
    assert again.code == 2
    assert again.err.strip() == f"error: {target} exists already; pass --force to replace it"
    assert cli("bake", receipt, "--format", "svg", "-o", target, "--force", "-w", ws.root).code == 0
    wrong = cli("bake", receipt, "--image", target, "--format", "png", "-o", tmp_path / "x.png")
    assert wrong.code == 2
    assert wrong.err.strip() == f"error: {target}: is SVG, but a PNG badge was asked for"

    extracted = cli("extract", target, "-o", tmp_path)
    assert extracted.code == 0, extracted.err
    assert (tmp_path / "mine.receipt.json").read_bytes() == receipt.read_bytes()
    assert json.loads((tmp_path / "mine.credential.json").read_text()) == json.loads(receipt.read_text())["credential"]
    code, reports = verify_json(cli, tmp_path / "mine.receipt.json", "-w", ws.root)
    assert (code, reports[0]["verdict"]) == (0, "valid")
    twice = cli("extract", target, "-o", tmp_path)
    assert twice.code == 2
    assert "exists already; pass --force to replace it" in twice.err


def test_a_template_picture_is_used_and_a_hostile_one_refused_before_anchoring(cli: Cli, workspace: Workspace) -> None:
    folder = workspace.achievements_dir
    template = folder / "example.toml"
    template.write_text('image_file = "art/badge.svg"\n' + template.read_text())
    (folder / "art").mkdir()
    picture = folder / "art" / "badge.svg"
    picture.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle id="ours" r="4"/>'
        '<rect onload="steal()"/></svg>'
    )
    refused = cli(
        "issue",
        write_csv(workspace.root / "r.csv", people(2)),
        "--achievement",
        "example",
        "--bake",
        "svg",
        "-w",
        workspace.root,
    )
    assert refused.code == 2
    assert refused.err.strip() == f"error: {picture}: SVG <rect> has an event handler 'onload'; refused"
    assert Store(workspace.database_url).batches() == []
    png_asked = cli(
        "issue", workspace.root / "r.csv", "--achievement", "example", "--bake", "png", "-w", workspace.root
    )
    assert png_asked.code == 2
    assert "has a SVG image_file (art/badge.svg); bake svg badges for it" in png_asked.err

    picture.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle id="ours" r="4"/></svg>')
    result, out = issue(cli, workspace, people(2), "--bake", "svg", name="r2.csv")
    assert result.code == 0, result.err
    for badge in out.glob("*.svg"):
        assert b'<circle id="ours" r="4"/>' in badge.read_bytes()
    code, reports = verify_json(cli, *out.glob("*.svg"), "-w", workspace.root)
    assert (code, {r["verdict"] for r in reports}) == (0, {"valid"})


def test_a_crash_while_baking_is_finished_by_running_again(workspace: Workspace) -> None:
    csv = write_csv(workspace.root / "many.csv", people(300))
    command = [sys.executable, "-m", "credanchor", "issue", str(csv), "--achievement", "example", "--bake", "png"]
    command += ["--out", str(workspace.root / "out"), "-w", str(workspace.root)]
    killed = subprocess.run(
        command, env={**os.environ, "CREDANCHOR_FAULT": "baking"}, capture_output=True, check=False, timeout=300
    )
    assert killed.returncode == -9, killed.stderr.decode()
    (batch,) = Store(workspace.database_url).batches()
    assert batch.state == State.CONFIRMED  # not delivered while any badge may be missing
    out = workspace.root / "out"
    badges = sorted(out.glob("*.png"))
    assert badges
    # Whatever the crash left: some badges missing, one stale (another receipt's), the rest in place.
    for badge in badges[:20]:
        badge.unlink()
    stale = badges[-1]
    stale.write_bytes(badges[-2].read_bytes())
    finished = subprocess.run(command, capture_output=True, check=False, timeout=300)
    assert finished.returncode == 0, finished.stderr.decode()
    assert Store(workspace.database_url).batch(batch.id or 0).state == State.DELIVERED
    badges = sorted(out.glob("*.png"))
    assert len(badges) == 300
    for badge in [*badges[::50], stale]:
        assert pillow_credential(badge) == json.loads(badge.with_suffix(".json").read_text())["credential"]
