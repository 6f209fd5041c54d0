"""`credanchor notify`: e-mailing a batch issued on a real node to a real SMTP server (aiosmtpd on 127.0.0.1),
through refusals, dropped connections and SIGKILL, without losing a message or sending one twice."""

import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from anchoring.localnode import free_port
from issuer.config import CONFIG_NAME
from issuer.store import Mailbox, MessageState, Store
from issuer.workspace import Workspace, open_workspace
from tests.conftest import CliResult, Node, make_workspace, people, write_csv
from tests.mailserver import Handler, mail_server, self_signed

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
BASE = "https://verify.test.edu"
SENDER = "registrar@test.edu"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, node: Node) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("notify") / "ws", node)


def configure(ws: Workspace, **smtp: str | int | float | bool) -> Workspace:
    """The workspace with its [smtp] section (appended last) replaced by `smtp`, and [share] base_url set
    (the config file is written, but not read back, when it holds a password)."""
    path = ws.root / CONFIG_NAME
    text = path.read_text().split("\n[smtp]\n")[0].split("\n[share]\n")[0]
    lines = [f"{key} = {json.dumps(value)}" for key, value in smtp.items()]
    path.write_text(text + f'\n[share]\nbase_url = "{BASE}"\n' + "\n[smtp]\n" + "\n".join(lines) + "\n")
    return ws if "password" in smtp else open_workspace(ws.root)


def plain(ws: Workspace, port: int, **more: str | int | float | bool) -> Workspace:
    """Sending to the local test server in clear, as fast as the rate bound allows."""
    settings: dict[str, str | int | float | bool] = {"port": port, "sender": SENDER, "starttls": False, "rate": 100}
    return configure(ws, **(settings | more))


counter = iter(range(1, 1000))


def issue(cli: Cli, ws: Workspace, n: int) -> tuple[int, Path, list[str]]:
    """A new batch of `n` earners on the node: (batch number, receipts folder, e-mail addresses)."""
    domain = f"b{next(counter)}.example.org"
    rows = people(n, domain)
    rows[0]["name"] = "Zoë <b>Ångström</b>"
    records = write_csv(ws.root / f"{domain}.csv", rows)
    out = ws.root / f"out-{domain}"
    result = cli("issue", records, "--achievement", "example", "--out", out, "-w", ws.root)
    assert result.code == 0, result.err
    batch = int(re.search(r"issued batch (\d+)", result.out).group(1))  # type: ignore[union-attr]
    return batch, out, [row["email"] for row in rows]


def notify(cli: Cli, ws: Workspace, batch: int, *extra: str | Path) -> CliResult:
    return cli("notify", "--batch", str(batch), "-w", ws.root, *extra)


def states(ws: Workspace, batch: int) -> dict[str, str]:
    return {cid: str(m.state) for cid, m in Mailbox(Store(ws.database_url)).messages(batch).items()}


def parts(message: EmailMessage) -> tuple[str, str, dict[str, bytes]]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    files = {a.get_filename() or "": a.get_payload(decode=True) for a in message.iter_attachments()}
    return text.get_content(), html.get_content(), files  # type: ignore[return-value]


def delivery(cli: Cli, ws: Workspace, batch: int) -> list[dict[str, str]]:
    listed = cli("deliveries", str(batch), "--format", "json", "-w", ws.root)
    assert listed.code == 0, listed.err
    return list(json.loads(listed.out))


def test_each_earner_gets_one_message_with_both_parts_links_and_attachments(cli: Cli, ws: Workspace) -> None:
    batch, out, emails = issue(cli, ws, 3)
    with mail_server() as server:
        ws = plain(ws, server.port)
        entries = delivery(cli, ws, batch)
        receipts = {e["email"]: out / e["receiptFile"] for e in entries}
        badge = receipts[emails[0]].with_suffix(".png")  # a baked badge and a certificate beside the first receipt
        Image.new("RGB", (8, 8), "navy").save(badge)
        receipts[emails[0]].with_suffix(".pdf").write_bytes(b"%PDF-1.7\n%test certificate\n")
        sent = notify(cli, ws, batch)
        assert sent.code == 0, sent.out + sent.err
        assert sent.out == f"batch {batch}: sent 3, already sent before 0\n"
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)
        by_recipient = {r.recipients[0]: r for r in server.handler.received}
        for entry in entries:
            received = by_recipient[entry["email"]]
            assert received.sender == SENDER
            message = received.parsed()
            assert message["To"].addresses[0].addr_spec == entry["email"]
            assert message["From"].addresses[0].addr_spec == SENDER
            assert message["Subject"] == "Your credential from Test University: Foundations of Data Literacy"
            uuid = entry["credentialId"].removeprefix("urn:uuid:")
            assert message["Message-ID"] == f"<credential.{uuid}@test.edu>"
            text, html, files = parts(message)
            # the links of the delivery list, in both parts (the HTML one with its & escaped)
            assert entry["verificationUrl"] == f"{BASE}/credentials/{uuid}"
            assert entry["linkedinUrl"].startswith("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME")
            for link in (entry["verificationUrl"], entry["linkedinUrl"]):
                assert link in text
                assert link.replace("&", "&amp;") in html
            assert entry["credentialId"] in text
            assert f"credanchor verify {entry['receiptFile']}" in text
            receipt = receipts[entry["email"]]
            assert files[receipt.name] == receipt.read_bytes()
            if entry["email"] == emails[0]:
                assert set(files) == {receipt.name, badge.name, receipt.with_suffix(".pdf").name}
                assert files[badge.name] == badge.read_bytes()
                assert "Dear Zoë <b>Ångström</b>," in text
                assert "Dear Zoë &lt;b&gt;Ångström&lt;/b&gt;," in html
                assert message["To"].addresses[0].display_name == "Zoë <b>Ångström</b>"
            else:
                assert set(files) == {receipt.name}
        assert set(states(ws, batch).values()) == {"sent"}

        again = notify(cli, ws, batch)
        assert again.code == 0
        assert again.out == f"batch {batch}: sent 0, already sent before 3\n"
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)


def test_refused_recipients_fail_with_the_servers_reply_and_only_they_are_retried(cli: Cli, ws: Workspace) -> None:
    batch, _, emails = issue(cli, ws, 5)
    refused = {emails[1], emails[3]}
    with mail_server(Handler(refuse=set(refused))) as server:
        ws = plain(ws, server.port)
        first = notify(cli, ws, batch)
        assert first.code == 1
        for email in refused:
            reply = f"550 5.1.1 <{email}>: Recipient address rejected: User unknown"
            assert f"failed   {email}: {reply}\n" in first.out
        assert f"batch {batch}: sent 3, already sent before 0\n" in first.out
        assert f"`credanchor notify --batch {batch} --retry-failed`" in first.out
        assert server.handler.per_recipient() == {e: 1 for e in emails if e not in refused}
        messages = Mailbox(Store(ws.database_url)).messages(batch)
        failed = [m for m in messages.values() if m.state == MessageState.FAILED]
        assert sorted((m.reply_code, m.attempts) for m in failed) == [(550, 1), (550, 1)]

        rerun = notify(cli, ws, batch)  # nothing new: the failed ones wait for --retry-failed
        assert rerun.code == 1
        listed = json.loads(notify(cli, ws, batch, "--json").out)
        assert (listed["sent"], listed["alreadySent"], listed["failed"], listed["stopped"]) == (0, 3, [], None)
        assert sorted(w["email"] for w in listed["waiting"]) == sorted(refused)
        assert all(w["state"].startswith("failed: 550 5.1.1 <") for w in listed["waiting"])
        assert f"batch {batch}: sent 0, already sent before 3\n" in rerun.out
        assert rerun.out.count("not retried") == 2
        assert server.handler.per_recipient() == {e: 1 for e in emails if e not in refused}

        server.handler.refuse.clear()
        retried = notify(cli, ws, batch, "--retry-failed")
        assert retried.code == 0, retried.out
        assert retried.out == f"batch {batch}: sent 2, already sent before 3\n"
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)


def test_a_dropped_connection_loses_nothing_and_sends_nothing_twice(cli: Cli, ws: Workspace) -> None:
    batch, _, emails = issue(cli, ws, 6)
    # the 2nd MAIL is cut off (nothing handed over: sent again on a new connection); the 4th message is taken
    # and the connection closed before the answer (possibly delivered: not sent again unasked)
    with mail_server(Handler(drop_at_mail={2}, drop_after_data={4})) as server:
        ws = plain(ws, server.port)
        first = notify(cli, ws, batch)
        assert first.code == 1, first.out + first.err
        assert f"batch {batch}: sent 5, already sent before 0\n" in first.out
        possibly = server.handler.received[3].recipients[0]
        assert re.search(
            rf"unknown, possibly sent  {re.escape(possibly)} <credential\.[0-9a-f-]+@test\.edu>: connection to "
            rf"127\.0\.0\.1:{server.port} lost after the message was handed over",
            first.out,
        )
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)

        rerun = notify(cli, ws, batch)
        assert f"batch {batch}: sent 0, already sent before 5\n" in rerun.out
        assert f"unknown, possibly sent  {possibly}" in rerun.out
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)

        # asked for: the same message with the same Message-ID, recorded when first queued (a changed sender
        # address does not change it)
        ws = plain(ws, server.port, sender="registrar@mail.test.edu")
        resent = notify(cli, ws, batch, "--resend-unknown")
        assert resent.code == 0, resent.out
        twice = [r for r in server.handler.received if r.recipients == [possibly]]
        assert [r.sender for r in twice] == [SENDER, "registrar@mail.test.edu"]
        copies = [r.parsed()["Message-ID"] for r in twice]
        assert len(copies) == 2
        assert copies[0] == copies[1]


def test_a_server_gone_mid_batch_stops_the_run_and_a_rerun_completes_it(cli: Cli, ws: Workspace) -> None:
    batch, _, emails = issue(cli, ws, 5)
    with mail_server(Handler(drop_at_mail={3, 4, 5})) as server:
        ws = plain(ws, server.port)
        first = notify(cli, ws, batch)
        assert first.code == 3
        assert f"batch {batch}: sent 2, already sent before 0\n" in first.out
        assert first.err == (
            f"error: connection to 127.0.0.1:{server.port} lost: Connection unexpectedly closed (3 times in a row); "
            "3 message(s) still to send: run `credanchor notify` again\n"
        )
        assert sorted(states(ws, batch).values()) == ["queued"] * 3 + ["sent"] * 2
        rerun = notify(cli, ws, batch)
        assert rerun.code == 0, rerun.out
        assert rerun.out == f"batch {batch}: sent 3, already sent before 2\n"
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)


def run_killed(ws: Workspace, batch: int, fault: str) -> None:
    env = {**os.environ, "CREDANCHOR_FAULT": fault}
    killed = subprocess.run(
        [sys.executable, "-m", "credanchor", "notify", "--batch", str(batch), "-w", str(ws.root)],
        env=env,
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, (killed.stdout + killed.stderr).decode()


@pytest.mark.parametrize(("fault", "arrived"), [("notify-sending", 2), ("notify-accepted", 3)])
def test_killed_mid_batch_then_rerun(cli: Cli, ws: Workspace, fault: str, arrived: int) -> None:
    batch, _, emails = issue(cli, ws, 6)
    with mail_server() as server:
        ws = plain(ws, server.port)
        run_killed(ws, batch, fault)  # at the 3rd message: before it is sent, or after the server took it
        assert len(server.handler.received) == arrived
        assert sorted(states(ws, batch).values()) == ["queued"] * 3 + ["sending"] + ["sent"] * 2
        rerun = notify(cli, ws, batch)
        assert rerun.code == 1
        assert f"batch {batch}: sent 3, already sent before 2\n" in rerun.out
        assert "its run stopped before the server's answer was recorded; it may have been delivered" in rerun.out
        assert sorted(states(ws, batch).values()) == ["sent"] * 5 + ["unknown"]
        counts = server.handler.per_recipient()
        assert set(counts.values()) == {1}
        # killed after the server took the 3rd message: everyone has theirs once; killed before: the 3rd
        # earner has none, and is reported as possibly sent rather than sent a second time
        assert set(counts) == (set(emails) if fault == "notify-accepted" else set(emails) - {emails[2]})


def test_starttls_with_a_private_ca_and_login(
    cli: Cli, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch, _, emails = issue(cli, ws, 2)
    cert, key = self_signed(tmp_path)
    password_file = tmp_path / "smtp.pass"
    password_file.write_text("correct horse\n")
    with mail_server(tls=(cert, key), login=("registrar", "correct horse")) as server:
        base: dict[str, str | int | float | bool] = {"port": server.port, "sender": SENDER, "username": "registrar"}
        ws = configure(ws, **base, password_file=str(password_file))
        untrusted = notify(cli, ws, batch)
        assert untrusted.code == 3
        assert untrusted.err == (
            f"error: TLS with the mail server 127.0.0.1:{server.port} failed: "
            "certificate not trusted: self-signed certificate\n"
        )
        ws = configure(ws, **base, password_file=str(password_file), ca_file=str(cert))
        monkeypatch.setenv("CREDANCHOR_SMTP_PASSWORD", "wrong")
        wrong = notify(cli, ws, batch)
        assert wrong.code == 2
        assert wrong.err == (
            f"error: the mail server 127.0.0.1:{server.port} refused the login of registrar: "
            "535 5.7.8 Authentication credentials invalid\n"
        )
        monkeypatch.delenv("CREDANCHOR_SMTP_PASSWORD")
        assert server.handler.received == []
        sent = notify(cli, ws, batch)
        assert sent.code == 0, sent.out + sent.err
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)
        assert set(states(ws, batch).values()) == {"sent"}


def test_dry_run_writes_eml_files_and_records_nothing(cli: Cli, ws: Workspace, tmp_path: Path) -> None:
    batch, out, emails = issue(cli, ws, 2)
    ws = plain(ws, free_port())  # no server: a dry run does not connect
    folder = tmp_path / "eml"
    dry = notify(cli, ws, batch, "--dry-run", folder)
    assert dry.code == 0, dry.out + dry.err
    assert dry.out == f"batch {batch}: wrote 2 message(s) to {folder} (dry run: nothing sent)\n"
    files = sorted(folder.glob("*.eml"))
    assert [f.stem for f in files] == sorted(p.stem for p in out.glob("*.json") if "manifest" not in p.name)[:2]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        message = message_from_bytes(file.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        _, _, attached = parts(message)
        assert attached == {f"{file.stem}.json": (out / f"{file.stem}.json").read_bytes()}
        assert message["To"].addresses[0].addr_spec in emails
    assert states(ws, batch) == {}


def test_bad_configuration_is_refused_with_a_clear_message(cli: Cli, ws: Workspace) -> None:
    batch, _, _ = issue(cli, ws, 1)
    ws = configure(ws, port=free_port())
    no_sender = notify(cli, ws, batch)
    assert (no_sender.code, no_sender.err) == (
        2,
        f"error: {ws.root / CONFIG_NAME}: [smtp] sender is not set: the address the e-mails come from "
        '(sender = "registrar@...")\n',
    )
    configure(ws, sender=SENDER, password="hunter2")
    in_config = notify(cli, ws, batch)
    assert (in_config.code, in_config.err) == (
        2,
        f"error: {ws.root / CONFIG_NAME}: smtp: the SMTP password never goes in credanchor.toml: put it in a file "
        "named by [smtp] password_file or CREDANCHOR_SMTP_PASSWORD_FILE, or in the environment variable "
        "CREDANCHOR_SMTP_PASSWORD\n",
    )
    assert "hunter2" not in in_config.err
    port = free_port()
    ws = plain(ws, port)
    unreachable = notify(cli, ws, batch)
    assert (unreachable.code, unreachable.err) == (
        3,
        f"error: cannot reach the mail server 127.0.0.1:{port}: connection refused\n",
    )
    assert set(states(ws, batch).values()) == {"queued"}
    ws = plain(ws, port, username="registrar")
    no_password = notify(cli, ws, batch)
    assert no_password.err == (
        "error: [smtp] username is 'registrar' but there is no password: set CREDANCHOR_SMTP_PASSWORD, "
        "CREDANCHOR_SMTP_PASSWORD_FILE or [smtp] password_file\n"
    )
    os.environ["CREDANCHOR_SMTP_PASSWORD"] = "secret"
    try:
        ws = plain(ws, 587, username="registrar", host="mail.test.edu")
        clear = notify(cli, ws, batch)
    finally:
        del os.environ["CREDANCHOR_SMTP_PASSWORD"]
    assert (clear.code, clear.err) == (
        2,
        "error: refusing to send the SMTP password to mail.test.edu:587 unencrypted: set [smtp] starttls = true\n",
    )
    with mail_server() as server:  # a server without STARTTLS while starttls is on
        ws = configure(ws, port=server.port, sender=SENDER)
        refused = notify(cli, ws, batch)
        assert refused.err == (
            f"error: the mail server 127.0.0.1:{server.port} does not offer STARTTLS; refusing to send in clear "
            "([smtp] starttls = false allows it, without a password, for a server you trust)\n"
        )
        assert server.handler.received == []


def test_forgetting_the_addresses_once_delivered(cli: Cli, ws: Workspace) -> None:
    batch, out, emails = issue(cli, ws, 2)
    with mail_server() as server:
        ws = plain(ws, server.port)
        early = cli("forget-addresses", str(batch), "-w", ws.root)
        assert (early.code, early.err) == (
            2,
            f"error: batch {batch}: 2 earner(s) have not been e-mailed; send with "
            f"`credanchor notify --batch {batch}`, or forget anyway with --even-unsent\n",
        )
        assert notify(cli, ws, batch).code == 0
        forgot = cli("forget-addresses", str(batch), "-w", ws.root)
        assert forgot.code == 0, forgot.err
        assert forgot.out == (
            f"batch {batch}: forgot the e-mail addresses of 2 credential(s) "
            "(database and delivery list; the records file is yours to delete)\n"
        )
        listing = (out / "delivery.csv").read_text(encoding="utf-8-sig")
        assert not any(email in listing for email in emails)
        assert stat.S_IMODE((out / "delivery.csv").stat().st_mode) == 0o600
        assert all(e["email"] == "" for e in delivery(cli, ws, batch))
        database = b"".join(p.read_bytes() for p in ws.root.glob("credanchor.db*"))
        assert [email for email in emails if email.encode() in database] == []
        found = cli("credentials", "--email", emails[0], "-w", ws.root)
        assert found.code == 1
        again = notify(cli, ws, batch)
        assert again.code == 0
        assert again.out.count("address forgotten") == 2
        assert server.handler.per_recipient() == dict.fromkeys(emails, 1)


def test_without_batch_notify_takes_the_only_batch_not_yet_emailed(cli: Cli, tmp_path: Path, node: Node) -> None:
    fresh = make_workspace(tmp_path / "fresh", node)
    batch, _, _ = issue(cli, fresh, 1)
    with mail_server() as server:
        fresh = plain(fresh, server.port)
        sent = cli("notify", "-w", fresh.root)
        assert sent.out == f"batch {batch}: sent 1, already sent before 0\n"
        nothing = cli("notify", "-w", fresh.root)
        assert (nothing.code, nothing.err) == (2, "error: no delivered batch has earners left to e-mail\n")
        second, _, _ = issue(cli, fresh, 1)
        third, _, _ = issue(cli, fresh, 2)
        ambiguous = cli("notify", "-w", fresh.root)
        assert ambiguous.err == (
            f"error: 2 batches have earners not yet e-mailed: {second} (1), {third} (2); name one with --batch\n"
        )


def test_a_revoked_credential_is_not_announced(cli: Cli, ws: Workspace) -> None:
    batch, _, emails = issue(cli, ws, 3)
    with mail_server() as server:
        ws = plain(ws, server.port)
        revoked = delivery(cli, ws, batch)[1]
        assert cli("revoke", revoked["credentialId"], "--reason", "Issued in error", "-w", ws.root).code == 0
        sent = notify(cli, ws, batch)
        assert sent.code == 0, sent.out
        assert sent.out == f"batch {batch}: sent 2, already sent before 0\nskipped  {emails[1]}: revoked\n"
        assert server.handler.per_recipient() == {emails[0]: 1, emails[2]: 1}


def test_a_refused_sender_stops_the_run_with_everything_still_queued(cli: Cli, ws: Workspace) -> None:
    batch, _, _ = issue(cli, ws, 2)
    refusal = "553 5.7.1 <registrar@test.edu>: Sender address rejected: not owned by user"
    with mail_server(Handler(refuse_mail=refusal)) as server:
        ws = plain(ws, server.port)
        stopped = notify(cli, ws, batch)
        assert (stopped.code, stopped.err) == (
            3,
            f"error: the mail server refused the sender {SENDER}: {refusal}\n",
        )
        assert stopped.out == f"batch {batch}: sent 0, already sent before 0\n"
        assert set(states(ws, batch).values()) == {"queued"}
        assert server.handler.received == []
