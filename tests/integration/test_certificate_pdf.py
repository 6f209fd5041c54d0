"""Certificate PDFs on a real node: `issue --pdf` to names in many scripts, `verify certificate.pdf`, a
tampered attachment, `credanchor certificate`, and a crash while the PDFs are written."""

import io
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from pypdf import PdfReader, PdfWriter

from anchoring.pdfcarrier import RECEIPT_NAME, extract_receipt
from issuer.store import State, Store
from issuer.workspace import Workspace, open_workspace
from tests.conftest import CliResult, issue_killed_at, people, write_csv
from tests.unit.test_certificate import NAMES, page_image

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
BASE = "https://verify.registrar.test.edu"


def verify_json(cli: Cli, *args: str | Path) -> tuple[int, list[dict[str, Any]]]:
    result = cli("verify", "--json", *args)
    return result.code, [json.loads(line) for line in result.out.splitlines() if line.strip()]


def with_receipt(pdf: bytes, receipt: bytes) -> bytes:
    """The PDF with its receipt attachment's bytes replaced (as someone editing the certificate would)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    root: Any = writer.root_object
    spec = root["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
    spec["/EF"]["/F"].get_object().set_data(receipt)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_config(workspace: Workspace, section: str) -> Workspace:
    with workspace.config_path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + section)
    return open_workspace(workspace.root)


@pytest.fixture
def issued(cli: Cli, workspace: Workspace) -> tuple[Workspace, Path, dict[str, str]]:
    ws = with_config(workspace, f'[share]\nbase_url = "{BASE}"\n')
    rows = [{"email": f"{script}@example.org", "name": name} for script, name in NAMES.items()]
    out = ws.root / "out"
    result = cli(
        "issue", write_csv(ws.root / "r.csv", rows), "--achievement", "example", "--out", out, "--pdf", "-w", ws.root
    )
    assert result.code == 0, result.err
    return ws, out, {row["email"]: row["name"] for row in rows}


def test_issue_pdf_writes_a_verifying_certificate_beside_each_receipt(
    cli: Cli, issued: tuple[Workspace, Path, dict[str, str]]
) -> None:
    ws, out, names = issued
    receipts = sorted(out.glob("*.json"))
    pdfs = sorted(out.glob("*.pdf"))
    assert [p.stem for p in pdfs] == [r.stem for r in receipts]
    assert len(pdfs) == len(NAMES)
    found = set()
    for receipt, pdf in zip(receipts, pdfs, strict=True):
        data = pdf.read_bytes()
        assert extract_receipt(data) == receipt.read_bytes()
        lines = unicodedata.normalize("NFKC", PdfReader(io.BytesIO(data)).pages[0].extract_text()).splitlines()
        credential = json.loads(receipt.read_bytes())["credential"]
        name = next(
            i["identityHash"] for i in credential["credentialSubject"]["identifier"] if i["identityType"] == "name"
        )
        assert unicodedata.normalize("NFKC", name) in lines
        assert "Foundations of Data Literacy" in lines
        assert "Test University" in lines
        assert credential["id"] in lines
        found.add(name)
    assert found == set(names.values())

    (code, reports) = verify_json(cli, *pdfs, "-w", ws.root)
    assert code == 0
    assert [r["verdict"] for r in reports] == ["valid"] * len(pdfs)
    uuid = json.loads(receipts[0].read_bytes())["credential"]["id"].removeprefix("urn:uuid:")
    assert [c.text for c in zxingcpp.read_barcodes(page_image(pdfs[0].read_bytes()))] == [f"{BASE}/credentials/{uuid}"]


def test_a_certificate_with_a_tampered_receipt_is_invalid(
    cli: Cli, issued: tuple[Workspace, Path, dict[str, str]], tmp_path: Path
) -> None:
    ws, out, _ = issued
    pdf = sorted(out.glob("*.pdf"))[0]
    receipt = json.loads(extract_receipt(pdf.read_bytes()))
    receipt["credential"]["credentialSubject"]["creditsEarned"] = 99
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(with_receipt(pdf.read_bytes(), json.dumps(receipt).encode()))
    code, (report,) = verify_json(cli, forged, "-w", ws.root)
    assert code == 1
    assert report["verdict"] == "invalid"
    assert report["reason"].startswith("credential hashes to 0x")
    assert ", receipt says 0x" in report["reason"]


def test_verify_reports_a_broken_pdf_as_malformed(
    cli: Cli, issued: tuple[Workspace, Path, dict[str, str]], tmp_path: Path
) -> None:
    ws, _, _ = issued
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nnothing else")
    code, (report,) = verify_json(cli, broken, "-w", ws.root)
    assert code == 2
    assert report["reason"] == f"{broken}: PDF is damaged or truncated and cannot be read"


def test_certificate_command_writes_pdfs_for_receipts(
    cli: Cli, issued: tuple[Workspace, Path, dict[str, str]], tmp_path: Path
) -> None:
    ws, out, _ = issued
    receipt = sorted(out.glob("*.json"))[0]
    plain = cli("certificate", receipt, "-o", tmp_path / "plain")
    assert plain.code == 0, plain.err
    made = tmp_path / "plain" / receipt.with_suffix(".pdf").name
    assert plain.out.strip() == f"wrote {made}"
    assert extract_receipt(made.read_bytes()) == receipt.read_bytes()
    assert zxingcpp.read_barcodes(page_image(made.read_bytes())) == []  # no workspace: no share URL, no QR
    shared = cli("certificate", receipt, "-o", tmp_path / "shared", "-w", ws.root)
    assert shared.code == 0, shared.err
    codes = zxingcpp.read_barcodes(page_image((tmp_path / "shared" / made.name).read_bytes()))
    assert [c.text.startswith(f"{BASE}/credentials/") for c in codes] == [True]
    bad = cli("certificate", tmp_path / "plain" / made.name)
    assert bad.code == 2
    assert bad.err.strip() == (
        f"error: {tmp_path / 'plain' / made.name}: is a PDF, not a receipt; a certificate is made from the receipt "
        "(.json)"
    )


def test_issue_pdf_again_makes_only_the_missing_certificates(
    cli: Cli, issued: tuple[Workspace, Path, dict[str, str]]
) -> None:
    ws, out, _ = issued
    pdfs = sorted(out.glob("*.pdf"))
    pdfs[0].unlink()
    kept = pdfs[1].stat().st_mtime_ns
    again = cli("issue", ws.root / "r.csv", "--achievement", "example", "--out", out, "--pdf", "-w", ws.root)
    assert again.code == 0, again.err
    assert f"1 certificate PDF(s) written in {out}" in again.out
    assert pdfs[0].exists()
    assert pdfs[1].stat().st_mtime_ns == kept


@pytest.mark.slow
def test_a_crash_while_writing_certificates_resumes_to_every_pdf(cli: Cli, workspace: Workspace) -> None:
    ws = with_config(workspace, "[earner]\npdf = true\n")
    csv = write_csv(ws.root / "crash.csv", people(120))
    issue_killed_at(ws, csv, "certificates-half")
    (batch,) = Store(ws.database_url).batches()
    assert batch.state == State.CONFIRMED
    out = Path(batch.out_dir)
    # Killed once half the PDFs were recorded; the worker processes may have written the rest meanwhile, but
    # the batch was not marked delivered, so `resume` must check and finish it either way.
    assert 0 < len(list(out.glob("*.pdf"))) <= 120
    resumed = cli("resume", "-w", ws.root)
    assert resumed.code == 0, resumed.err
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 120
    for pdf in pdfs:
        assert extract_receipt(pdf.read_bytes()) == pdf.with_suffix(".json").read_bytes()
    code, reports = verify_json(cli, *pdfs[:10], "-w", ws.root)
    assert code == 0
    assert RECEIPT_NAME not in {r["reason"] for r in reports}
