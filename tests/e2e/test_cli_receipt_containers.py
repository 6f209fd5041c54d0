"""`verify` and `extract` on .jsonl and .zip files of receipts as a user meets them without a workspace: each
bad line or member named in its report, the right exit code, nothing written from a container that is not
sound."""

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from anchoring.receipt import MAX_RECEIPT_BYTES
from issuer.badgeimage import default_png
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
VALID = Path(__file__).parent.parent / "assets" / "receipts" / "valid.json"
NO_NODE = ("--rpc-url", "http://127.0.0.1:9")


@pytest.fixture(autouse=True)
def no_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CREDANCHOR_WORKSPACE", raising=False)
    monkeypatch.delenv("CREDANCHOR_RPC_URL", raising=False)


def compact() -> bytes:
    return json.dumps(json.loads(VALID.read_bytes()), separators=(",", ":")).encode()


def reports(result: CliResult) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.out.splitlines()]


def test_every_bad_line_is_reported_by_its_number_and_the_rest_still_verified(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    path.write_bytes(compact() + b"\nnot json\n" + b"x" * (MAX_RECEIPT_BYTES + 1) + b"\n" + compact() + b"\n")
    result = cli("verify", "--json", path, *NO_NODE)
    assert result.code == 2
    found = reports(result)
    assert [r["source"] for r in found] == [f"{path} line {n}" for n in (1, 2, 3, 4)]
    assert [r["verdict"] for r in found] == ["chain-unavailable", "malformed", "malformed", "chain-unavailable"]
    assert found[1]["steps"][0]["detail"] == f"{path} line 2: not valid JSON at line 1 column 1: Expecting value"  # type: ignore[index]
    assert found[2]["steps"][0]["detail"] == f"{path} line 3: the line is over the limit of 2,097,152 bytes"  # type: ignore[index]
    summary = cli("verify", path, *NO_NODE)
    assert summary.out.splitlines()[-1] == "4 receipts: 2 chain-unavailable, 2 malformed"


def test_a_truncated_zip_is_one_malformed_report_and_is_not_extracted(cli: Cli, tmp_path: Path) -> None:
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", VALID.read_bytes())
    path = tmp_path / "receipts.zip"
    path.write_bytes(whole.read_bytes()[:-30])
    result = cli("verify", "--json", path, *NO_NODE)
    assert result.code == 2
    (report,) = reports(result)
    assert report["steps"][0]["detail"] == f"{path}: not a readable zip archive (File is not a zip file)"  # type: ignore[index]
    extracted = cli("extract", path)
    assert extracted.code == 2
    assert extracted.err.strip() == f"error: {path}: not a readable zip archive (File is not a zip file)"
    assert not (tmp_path / "receipts").exists()


def test_extract_refuses_a_member_name_that_leaves_the_folder(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "receipts.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../evil.json", VALID.read_bytes())
    result = cli("extract", path, "--out", tmp_path / "out")
    assert result.code == 2
    assert result.err.strip() == f"error: {path}: member '../evil.json' is not a plain relative path; refused"
    assert not (tmp_path / "evil.json").exists()
    assert not (tmp_path / "out").exists()


def test_extract_writes_a_zip_s_receipts_into_a_folder_named_after_it(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "receipts.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", VALID.read_bytes())
        archive.writestr("b.json", VALID.read_bytes())
    result = cli("extract", path)
    assert result.code == 0, result.err
    assert result.out.strip() == f"wrote 2 receipt(s) from {path} to {tmp_path / 'receipts'}"
    assert (tmp_path / "receipts" / "a.json").read_bytes() == VALID.read_bytes()
    assert cli("verify", tmp_path / "receipts" / "b.json", *NO_NODE).code == 3  # read fine; no node to ask


def test_id_is_only_for_containers(cli: Cli, tmp_path: Path) -> None:
    badge = tmp_path / "b.png"
    badge.write_bytes(default_png("A", "B"))
    result = cli("extract", badge, "--id", "urn:uuid:x")
    assert result.code == 2
    assert result.err.strip() == f"error: --id picks receipts from a .jsonl or .zip of receipts; {badge} is not one"
