"""`issue --receipts dir|jsonl|zip` on a real node: the container verifies whole and receipt by receipt, a
SIGKILL while it is written leaves nothing that looks finished and `resume` finishes it in the batch's form,
and every reader of a stored receipt (certificates, badges, e-mail, the web page) reads it inside."""

import json
import re
import stat
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anchoring.receiptfiles import location_file, read_receipt_at, receipt_file_name
from credanchor.web.app import create_app
from credanchor.web.settings import WebSettings
from issuer.store import Store
from issuer.workspace import Workspace, open_workspace
from tests.conftest import CliResult, Node, issue_killed_at, make_workspace, people, write_csv
from tests.mailserver import mail_server

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
CONTAINERS = ["jsonl", "zip"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, node: Node) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("forms") / "ws", node)


counter = iter(range(1, 1000))


def issue(cli: Cli, ws: Workspace, n: int, *extra: str) -> tuple[int, Path]:
    domain = f"f{next(counter)}.example.org"
    records = write_csv(ws.root / f"{domain}.csv", people(n, domain))
    out = ws.root / f"out-{domain}"
    result = cli("issue", records, "--achievement", "example", "--out", out, "-w", ws.root, *extra)
    assert result.code == 0, result.out + result.err
    return int(re.search(r"issued batch (\d+)", result.out).group(1)), out  # type: ignore[union-attr]


def locations(ws: Workspace, batch: int) -> dict[str, str]:
    return {cid: str(at) for cid, at in Store(ws.database_url).receipt_paths(batch)}


@pytest.mark.parametrize("form", CONTAINERS)
def test_a_container_verifies_whole_and_each_receipt_extracted(cli: Cli, ws: Workspace, form: str) -> None:
    batch, out = issue(cli, ws, 30, "--receipts", form)
    container = out / f"receipts.{form}"
    # one container, the manifest and the delivery list beside it: no receipt files, no temporary file
    assert sorted(p.name for p in out.iterdir()) == ["delivery.csv", "manifest", container.name]
    found = locations(ws, batch)
    assert len(found) == 30
    assert {location_file(at) for at in found.values()} == {container}
    for cid, at in found.items():
        assert json.loads(read_receipt_at(at))["credential"]["id"] == cid
    if form == "zip":
        with zipfile.ZipFile(container) as archive:
            assert archive.testzip() is None
            assert sorted(archive.namelist()) == sorted(receipt_file_name(cid) for cid in found)
    else:
        assert len(container.read_bytes().splitlines()) == 30

    whole = cli("verify", container, "-w", ws.root)
    assert whole.code == 0, whole.out + whole.err
    assert whole.out.splitlines()[-1] == "30 receipts: 30 valid"
    as_json = cli("verify", "--json", container, "-w", ws.root)
    sources = [json.loads(line)["source"] for line in as_json.out.splitlines()]
    first = receipt_file_name(next(iter(found)))
    assert sources[0] == (f"{container} line 1" if form == "jsonl" else f"{container}:{first}")

    one = next(iter(found))
    picked = cli("extract", container, "--id", one, "--out", out / "picked")
    assert picked.code == 0, picked.err
    assert picked.out == f"wrote 1 receipt(s) from {container} to {out / 'picked'}\n"
    single = out / "picked" / receipt_file_name(one)
    alone = cli("verify", single, "-w", ws.root)
    assert alone.code == 0, alone.out
    assert "valid" in alone.out

    every = cli("extract", container)
    assert every.code == 0, every.err
    assert len(list((out / "receipts").glob("*.json"))) == 30
    again = cli("extract", container)
    assert again.code == 2
    assert "exists already; pass --force to replace it" in again.err
    assert cli("extract", container, "--force").code == 0
    refreshed = cli("refresh", container, "--rpc-url", ws.config.chain.rpc_url)
    assert refreshed.code == 2
    assert refreshed.err.strip() == (
        f"error: {container}: refresh rewrites receipt files (.json); take the receipts out of a .jsonl or .zip "
        "with `credanchor extract` first"
    )
    moved = container.rename(out / "elsewhere")
    doctor = cli("doctor", "-w", ws.root)
    assert doctor.code == 1
    assert f"30 receipt file(s) missing, first for {next(iter(found))}" in doctor.out
    moved.rename(container)
    # a container, an extracted file and the delivery list's name for it, all on one command line
    mixed = cli("verify", container, single, "-w", ws.root)
    assert mixed.code == 0
    assert mixed.out.splitlines()[-1] == "31 receipts: 31 valid"


def test_the_default_form_is_the_config_s_and_dir_is_unchanged(cli: Cli, ws: Workspace) -> None:
    batch, out = issue(cli, ws, 3)
    assert len(list(out.glob("*.json"))) == 3
    assert all(Path(at).is_file() for at in locations(ws, batch).values())
    assert Store(ws.database_url).batch(batch).receipts == "dir"


def test_auto_writes_one_json_lines_file_for_a_batch_over_the_limit(
    cli: Cli, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("anchoring.receiptwrite.ONE_FILE_ABOVE", 3)  # 100,000 in use: the same rule, smaller
    small, small_out = issue(cli, ws, 3)
    assert len(list(small_out.glob("*.json"))) == 3
    records = write_csv(ws.root / "over.csv", people(4, "over.example.org"))
    out = ws.root / "out-over"
    result = cli("issue", records, "--achievement", "example", "--out", out, "-w", ws.root, "--receipts", "auto")
    assert result.code == 0, result.out + result.err
    batch = int(re.search(r"issued batch (\d+)", result.out).group(1))  # type: ignore[union-attr]
    container = out / "receipts.jsonl"
    assert f"receipts in {container} (each verified against the chain)" in result.out
    assert f"one earner's receipt: credanchor extract {container} --id <credential id>" in result.out
    assert sorted(p.name for p in out.iterdir()) == ["delivery.csv", "manifest", "receipts.jsonl"]
    store = Store(ws.database_url)
    assert [store.batch(small).receipts, store.batch(batch).receipts] == ["dir", "jsonl"]  # kept for `resume`
    whole = cli("verify", container, "-w", ws.root)
    assert whole.out.splitlines()[-1] == "4 receipts: 4 valid"
    again = cli("issue", records, "--achievement", "example", "--out", out, "-w", ws.root)
    assert again.code == 0, again.out + again.err
    assert f"batch {batch} was issued already (root " in again.out
    assert again.out.rstrip().endswith(f"; receipts in {container}")


def test_an_unknown_form_is_refused(cli: Cli, ws: Workspace) -> None:
    records = write_csv(ws.root / "unknown-form.csv", people(2, "unknown.example.org"))
    refused = cli("issue", records, "--achievement", "example", "--receipts", "tar", "-w", ws.root)
    assert refused.code == 2
    assert (
        "Invalid value for '--receipts': Value error, 'tar' is not one of 'auto', 'dir', 'jsonl', 'zip'."
        in " ".join(refused.err.replace("│", " ").split())
    )


@pytest.mark.slow
@pytest.mark.parametrize("form", CONTAINERS)
def test_killed_while_writing_the_container_then_resumed(cli: Cli, tmp_path: Path, node: Node, form: str) -> None:
    ws = make_workspace(tmp_path / "ws", node)
    with ws.config_path.open("a") as config:
        config.write(f'\n[earner]\nreceipts = "{form}"\n')
    records = write_csv(ws.root / "records.csv", people(2500))
    issue_killed_at(ws, records, "receipts-half")
    store = Store(ws.database_url)
    (batch,) = store.batches()
    assert batch.receipts == form
    out = Path(batch.out_dir)
    container = out / f"receipts.{form}"
    assert not container.exists()  # only a temporary name, which no reader takes for a finished container
    # the manifest is written before the receipts; of them, only the temporary file is there, and the delivery
    # list being written with them, under a temporary name too (both cleared by the next run)
    written = sorted(p.name for p in out.iterdir() if p.name != "manifest")
    assert [re.fullmatch(r"\.delivery\.csv\.[0-9]+\.tmp", written[0]) is not None, len(written)] == [True, 2]
    assert re.fullmatch(rf"\.receipts\.{form}\.[0-9]+\.tmp", written[1]) is not None
    assert stat.S_IMODE((out / written[0]).stat().st_mode) == 0o600  # names and e-mails: its owner's only
    # resumed with the other form configured: the batch keeps the form it was issued with
    ws = open_workspace(ws.root).set("earner", "receipts", "zip" if form == "jsonl" else "jsonl")
    resumed = cli("resume", "-w", ws.root)
    assert resumed.code == 0, resumed.out + resumed.err
    assert f"receipts in {container} (each verified against the chain)" in resumed.out
    assert sorted(p.name for p in out.iterdir()) == ["delivery.csv", "manifest", container.name]
    whole = cli("verify", container, "-w", ws.root)
    assert whole.code == 0
    assert whole.out.splitlines()[-1] == "2500 receipts: 2500 valid"


def parts(message: EmailMessage) -> dict[str, bytes]:
    return {a.get_filename() or "": a.get_payload(decode=True) for a in message.iter_attachments()}  # type: ignore[misc]


@pytest.mark.parametrize("form", CONTAINERS)
def test_certificates_badges_mail_and_the_web_page_read_receipts_inside(cli: Cli, ws: Workspace, form: str) -> None:
    batch, out = issue(cli, ws, 3, "--receipts", form, "--bake", "png", "--pdf")
    found = locations(ws, batch)
    names = {cid: receipt_file_name(cid) for cid in found}
    # the badges and certificates beside the container, named as the dir form names the receipt's files
    for name in names.values():
        assert (out / name).with_suffix(".png").is_file()
        assert (out / name).with_suffix(".pdf").is_file()
    assert not list(out.glob("*.json"))
    badge = cli("verify", (out / names[next(iter(found))]).with_suffix(".png"), "-w", ws.root)
    assert badge.code == 0, badge.out

    with mail_server() as server:
        text = ws.config_path.read_text().split("\n[smtp]\n")[0]
        smtp = f'port = {server.port}\nsender = "r@test.edu"\nstarttls = false\nrate = 100\n'
        ws.config_path.write_text(f"{text}\n[smtp]\n{smtp}")
        sent = cli("notify", "--batch", str(batch), "-w", ws.root)
        assert sent.code == 0, sent.out + sent.err
        assert sent.out == f"batch {batch}: sent 3, already sent before 0\n"
        for received in server.handler.received:
            files = parts(received.parsed())
            (receipt,) = [n for n in files if n.endswith(".json")]
            cid = next(c for c, n in names.items() if n == receipt)
            assert files[receipt] == read_receipt_at(found[cid])
            assert set(files) == {receipt, receipt.replace(".json", ".png"), receipt.replace(".json", ".pdf")}

    cid = next(iter(found))
    uuid = cid.removeprefix("urn:uuid:")
    with TestClient(create_app(WebSettings(workspace=str(ws.root)))) as client:
        page = client.get(f"/credentials/{uuid}")
        assert page.status_code == 200
        assert "Valid" in page.text
        download = client.get(f"/credentials/{uuid}/receipt.json")
        assert download.status_code == 200
        assert download.content == read_receipt_at(found[cid])
        assert download.headers["content-disposition"] == f'attachment; filename="credential-{uuid}.json"'
        picture = client.get(f"/credentials/{uuid}/badge.png")
        assert picture.status_code == 200
        assert picture.content == (out / names[cid]).with_suffix(".png").read_bytes()


@pytest.mark.parametrize("form", CONTAINERS)
def test_a_late_anchor_replaces_the_container_whole(cli: Cli, tmp_path: Path, node: Node, form: str) -> None:
    from anchoring.localnode import free_port
    from tests.conftest import add_chain, start_node, stop_node

    other = start_node("anvil", log=tmp_path / "other.log", chain_id=31341)
    try:
        ws = add_chain(make_workspace(tmp_path / "ws", node), other)
        ws = ws.set("chain", "rpc_url", f"http://127.0.0.1:{free_port()}", 1)  # the other chain is down
        batch, out = issue(cli, ws, 4, "--receipts", form)
        container = out / f"receipts.{form}"
        first = {json.loads(read_receipt_at(at))["version"] for at in locations(ws, batch).values()}
        assert first == {2}
        before = container.stat().st_ino
        ws = ws.set("chain", "rpc_url", other.url, 1)  # it answers again
        resumed = cli("resume", "-w", ws.root)
        assert resumed.code == 0, resumed.out + resumed.err
        assert container.stat().st_ino != before  # a new file renamed over the old one, not rewritten in place
        after = locations(ws, batch)
        assert {json.loads(read_receipt_at(at))["version"] for at in after.values()} == {3}
        assert sorted(p.name for p in out.iterdir()) == ["delivery.csv", "manifest", container.name]
        whole = cli("verify", container, "-w", ws.root)
        assert whole.code == 0, whole.out
    finally:
        stop_node(other)
