"""Issuing from the files registrars have (.xlsx, Excel's semicolon CSV with a BOM), the delivery list beside
the receipts, and finding credentials again: through the CLI, on a real node."""

import csv
import io
import json
import re
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from issuer.store import Store
from issuer.workspace import Workspace
from tests.conftest import ASSETS, CliResult, issue_killed_at, people, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
DELIVERY_HEADER = ["row", "email", "name", "credential_id", "receipt_file", "verification_url", "linkedin_url"]


def issue(cli: Cli, ws: Workspace, records: Path, *extra: str) -> tuple[CliResult, Path]:
    out = ws.root / f"out-{records.stem}"
    result = cli("issue", records, "--achievement", "example", "--out", out, "-w", ws.root, *extra)
    assert result.code == 0, result.err
    return result, out


def delivery_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_xlsx_and_semicolon_csv_are_issued_with_a_private_delivery_list(cli: Cli, workspace: Workspace) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "Name", "Issue date", "Credits earned", "Result"])
    sheet.append(["ada@example.org", "Ada Lovelace", date(2026, 6, 30), 3, "A"])
    sheet.append(["zoe@example.org", "Zoë Ångström", date(2026, 6, 30), 2.5, "B"])
    sheet.append([])
    sheet.append(["grace@example.org", "Grace [red]Hopper[/red]", date(2026, 6, 30), 1, "C"])
    records = workspace.root / "class.xlsx"
    book.save(records)
    result, out = issue(cli, workspace, records)
    delivery = out / "delivery.csv"
    assert f"delivery list {delivery} (e-mails and names: mode 0600)" in result.out
    assert stat.S_IMODE(delivery.stat().st_mode) == 0o600
    raw = delivery.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfrow,email,name,")  # Excel opens it as UTF-8
    header, *rows = delivery_rows(raw.decode("utf-8-sig"))
    assert header == DELIVERY_HEADER
    assert [(r[0], r[1], r[2], r[5], r[6]) for r in rows] == [
        ("2", "ada@example.org", "Ada Lovelace", "", ""),
        ("3", "zoe@example.org", "Zoë Ångström", "", ""),
        ("5", "grace@example.org", "Grace [red]Hopper[/red]", "", ""),
    ]
    for row in rows:
        receipt = json.loads((out / row[4]).read_text())
        assert receipt["credential"]["id"] == row[3]
    verified = cli("verify", *(out / r[4] for r in rows), "-w", workspace.root)
    assert verified.code == 0, verified.out

    semicolon = workspace.root / "excel-semicolon-bom.csv"
    semicolon.write_bytes((ASSETS / "records" / "excel-semicolon-bom.csv").read_bytes())
    _, out2 = issue(cli, workspace, semicolon)
    _, *rows2 = delivery_rows((out2 / "delivery.csv").read_text(encoding="utf-8-sig"))
    assert [(r[0], r[1], r[2]) for r in rows2] == [
        ("2", "rene@example.fr", "René Lévesque"),
        ("3", "juergen@example.de", "Jürgen Groß"),
    ]

    # printed again, by number or by root, as CSV (without the BOM, for pipes) or JSON
    again = cli("deliveries", "1", "-w", workspace.root)
    assert again.code == 0
    assert again.out == raw.decode("utf-8-sig")
    root = Store(workspace.database_url).batch(2).root
    listed = cli("deliveries", root, "--format", "json", "-w", workspace.root)
    assert json.loads(listed.out) == [
        {
            "row": int(r[0]),
            "email": r[1],
            "name": r[2],
            "credentialId": r[3],
            "receiptFile": r[4],
            "verificationUrl": None,
            "linkedinUrl": None,
        }
        for r in rows2
    ]


def test_deliveries_of_an_unfinished_batch_and_of_no_batch(cli: Cli, workspace: Workspace) -> None:
    records = write_csv(workspace.root / "records.csv", people(3))
    issue_killed_at(workspace, records, "prepared")
    result = cli("deliveries", "1", "-w", workspace.root)
    assert (result.code, result.err.strip()) == (
        2,
        "error: batch 1 is prepared: its receipts are not written yet; finish it with `credanchor resume`",
    )
    resumed = cli("resume", "-w", workspace.root)
    assert resumed.code == 0, resumed.err
    batch = Store(workspace.database_url).batch(1)
    assert stat.S_IMODE((Path(batch.out_dir) / "delivery.csv").stat().st_mode) == 0o600
    assert cli("deliveries", "1", "-w", workspace.root).out.count("@example.org") == 3
    for ref, message in [
        ("7", "error: no batch 7"),
        ("0x" + "ab" * 32, f"error: no batch with root 0x{'ab' * 32} in this workspace"),
        (
            "latest",
            "error: batch 'latest': give its number (see `credanchor batches`) or its root (0x + 64 hex digits)",
        ),
    ]:
        result = cli("deliveries", ref, "-w", workspace.root)
        assert (result.code != 0, result.err.strip()) == (True, message)


def listing(cli: Cli, ws: Workspace, *args: str) -> list[dict[str, object]]:
    result = cli("credentials", *args, "--json", "-w", ws.root)
    found: list[dict[str, object]] = json.loads(result.out)
    return found


def test_find_credentials_and_show_one(cli: Cli, workspace: Workspace) -> None:
    rows = [
        {"email": "ada@example.org", "name": "Ada Lovelace", "result": "A"},
        {"email": "zoe@example.org", "name": "Zoë  Ångström", "result": "B"},
        {"email": "bob@example.org", "name": "Bob [b]Brown[/b]", "result": "C"},
    ]
    _, out = issue(cli, workspace, write_csv(workspace.root / "records.csv", rows))

    (ada,) = listing(cli, workspace, "--email", " ADA@example.org ")
    assert {k: ada[k] for k in ("batch", "row", "email", "name", "state", "revokedAt")} == {
        "batch": 1,
        "row": 2,
        "email": "ada@example.org",
        "name": "Ada Lovelace",
        "state": "delivered",
        "revokedAt": None,
    }
    assert ada["receiptPath"] == str(out / (str(ada["credentialId"]).removeprefix("urn:uuid:") + ".json"))
    assert [f["email"] for f in listing(cli, workspace, "--name", "zoe angstrom")] == ["zoe@example.org"]
    assert [f["row"] for f in listing(cli, workspace, "--batch", "1")] == [2, 3, 4]
    bare_id = str(ada["credentialId"]).removeprefix("urn:uuid:")
    assert [f["email"] for f in listing(cli, workspace, "--id", bare_id + ".json")] == ["ada@example.org"]
    assert listing(cli, workspace, "--name", "ada", "--batch", "1", "--email", "zoe@example.org") == []

    people_view = cli("credentials", "--batch", "1", "-w", workspace.root)
    assert people_view.code == 0
    lines = people_view.out.splitlines()
    assert lines[0].split() == ["batch", "row", "credential", "email", "name", "state"]
    assert "Bob [b]Brown[/b]" in lines[3]
    assert lines[3].endswith("delivered")
    assert lines[-1] == "3 credentials"

    none = cli("credentials", "--email", "nobody@example.org", "-w", workspace.root)
    assert (none.code, none.out.strip()) == (1, "no credential matches")
    vague = cli("credentials", "-w", workspace.root)
    assert (vague.code, vague.err.strip()) == (2, "error: say what to look for: --email, --name, --id or --batch")

    revoked = cli("revoke", bare_id, "--reason", "Issued in error", "-w", workspace.root)
    assert revoked.code == 0, revoked.err
    (ada,) = listing(cli, workspace, "--email", "ada@example.org")
    assert (ada["state"], ada["revokeReason"], ada["revokedWith"]) == ("revoked", "Issued in error", "credential")
    text = cli("credentials", "--email", "ada@example.org", "-w", workspace.root).out
    assert "revoked on " in text
    assert text.splitlines()[1].endswith(": Issued in error")

    shown = cli("show", bare_id, "-w", workspace.root)
    assert shown.code == 0
    view = {}
    for line in shown.out.splitlines():
        label, text = re.split(r" {2,}", line, maxsplit=1)
        view[label] = text
    assert view["credential"] == "Foundations of Data Literacy"
    assert view["recipient"] == "Ada Lovelace <ada@example.org>"
    assert view["records row"] == "2 of batch 1"
    assert view["in the credential"] == "the name, and the e-mail as a salted hash"
    assert view["issued by"] == "Test University (https://registrar.test.edu)"
    assert view["result"] == "Final grade: A"
    assert view["state"].startswith("revoked on ")
    assert view["state"].endswith(": Issued in error")
    assert view["receipt"] == ada["receiptPath"]
    as_json = json.loads(cli("show", str(ada["credentialId"]), "--json", "-w", workspace.root).out)
    assert as_json["credential"]["id"] == ada["credentialId"]
    assert as_json["state"] == "revoked"
    missing = cli("show", "urn:uuid:00000000-0000-0000-0000-000000000000", "-w", workspace.root)
    assert (missing.code, missing.err.strip()) == (
        2,
        "error: no credential urn:uuid:00000000-0000-0000-0000-000000000000 in this workspace",
    )


@pytest.mark.parametrize("form", ["jsonl", "zip", "dir"])
def test_the_delivery_list_written_with_the_receipts_is_the_one_the_store_gives(
    cli: Cli, workspace: Workspace, form: str
) -> None:
    """Written chunk by chunk as the receipts are (more than one chunk here), it is byte for byte the list the
    store gives once every receipt's location is recorded, links and quoted names included."""
    with workspace.config_path.open("a", encoding="utf-8") as handle:
        handle.write('\n[share]\nbase_url = "https://credentials.example.edu"\n')
    rows = [
        {"email": f"p{i}@example.org", "name": ["=SUM(A1)", 'Ann "Nan" Lee', "Lee, Ann", "Zoë"][i % 4] + f" {i}"}
        for i in range(2345)
    ]
    _, out = issue(cli, workspace, write_csv(workspace.root / "many.csv", rows), "--receipts", form)
    written = (out / "delivery.csv").read_bytes()
    assert [p.name for p in out.iterdir() if p.name.startswith(".delivery")] == []  # no temporary file left
    again = cli("deliveries", "1", "-w", workspace.root)
    assert again.code == 0, again.err
    assert written.decode("utf-8-sig") == again.out
    header, *listed = delivery_rows(again.out)
    assert header == DELIVERY_HEADER
    assert len(listed) == 2345
    assert listed[1][2] == 'Ann "Nan" Lee 1'
    assert listed[0][2] == "'=SUM(A1) 0"  # never a formula
    assert all(r[5].startswith("https://credentials.example.edu/") and r[6] for r in listed)
