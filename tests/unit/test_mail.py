"""The earner's e-mail as a pure function (issuer.mail), the delivery list's links, and the [smtp] config."""

import csv
import io
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from anchoring.errors import InvalidInput
from issuer.config import load_config
from issuer.delivery import deliveries, delivery_csv
from issuer.mail import Attachment, Letter, build_message, message_id
from issuer.sharing import linkedin_url, verification_url

CID = "urn:uuid:0b5c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"
PAGE = "https://verify.example.edu/credentials/0b5c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"
LINKEDIN = "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name=A&certId=x"


def letter(**changes: object) -> Letter:
    values: dict[str, object] = {
        "sender": "registrar@example.edu",
        "issuer": "Example University",
        "recipient": "ada@example.org",
        "recipient_name": "Ada Lovelace",
        "achievement": "Analytical Engines",
        "credential_id": CID,
        "issued_on": "30 June 2026",
        "verification_url": PAGE,
        "linkedin_url": LINKEDIN,
        "date": datetime(2026, 6, 30, 12, 0, tzinfo=UTC),
        "attachments": (Attachment("0b5c.json", b'{"receipt": 1}'), Attachment("0b5c.png", b"\x89PNG\r\n")),
        "message_id": message_id(CID, "registrar@example.edu"),
    }
    return Letter(**(values | changes))  # type: ignore[arg-type]


def round_trip(built: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(built.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def test_a_message_has_a_text_and_an_html_part_the_links_and_the_attachments() -> None:
    message = round_trip(build_message(letter()))
    assert message.get_content_type() == "multipart/mixed"
    assert message["From"] == "Example University <registrar@example.edu>"
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    assert message["Subject"] == "Your credential from Example University: Analytical Engines"
    assert message["Message-ID"] == "<credential.0b5c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3@example.edu>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] == "Tue, 30 Jun 2026 12:00:00 +0000"
    text, html = bodies(message)
    assert "Dear Ada Lovelace," in text
    assert PAGE in text.splitlines()
    assert LINKEDIN in text.splitlines()
    assert f'href="{PAGE}"' in html
    assert f'href="{LINKEDIN.replace("&", "&amp;")}"' in html
    assert "credanchor verify 0b5c.json" in text
    assert f"Credential id: {CID}" in text
    files = [(a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in message.iter_attachments()]
    assert files == [("0b5c.json", "application/json", b'{"receipt": 1}'), ("0b5c.png", "image/png", b"\x89PNG\r\n")]


def test_without_a_base_url_there_are_no_links() -> None:
    text, html = bodies(round_trip(build_message(letter(verification_url=None, linkedin_url=None))))
    assert "http" not in text
    assert "linkedin" not in html.lower()
    assert "open the page above" not in text


def test_names_cannot_add_markup_or_headers() -> None:
    hostile = "Eve <script>alert(1)</script>\r\nBcc: everyone@example.org"
    built = build_message(letter(recipient_name=hostile, achievement="A\nB", issuer='Evil "U" <x@y>'))
    message = round_trip(built)
    assert message["Bcc"] is None
    assert message["To"].addresses[0].display_name == "Eve <script>alert(1)</script> Bcc: everyone@example.org"
    assert message["To"].addresses[0].addr_spec == "ada@example.org"
    assert message["From"].addresses[0].addr_spec == "registrar@example.edu"
    assert message["Subject"] == 'Your credential from Evil "U" <x@y>: A B'
    _, html = bodies(message)
    assert "<script>" not in html
    assert "Eve &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_message_id_is_the_credentials_own() -> None:
    assert message_id(CID, "a@mail.example.edu") == "<credential.0b5c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3@mail.example.edu>"
    with pytest.raises(InvalidInput, match="credential id 'https://x/1' is not a urn:uuid: id"):
        message_id("https://x/1", "a@example.edu")


def test_the_delivery_list_carries_the_links_given() -> None:
    credential = {"id": CID, "name": "=HYPERLINK(1)", "validFrom": "2026-06-30T00:00:00Z", "issuer": {"name": "U"}}
    page = verification_url("https://verify.example.edu/", CID)
    link = linkedin_url(credential, page)
    entries = deliveries([(2, "ada@example.org", "Ada", CID, "/w/x/0b5c.json")], {CID: (page, link)})
    rows = list(csv.reader(io.StringIO(delivery_csv(entries), newline="")))
    assert rows[1] == ["2", "ada@example.org", "Ada", CID, "0b5c.json", PAGE, link]
    assert "name=%3DHYPERLINK%281%29" in link  # query-encoded: no formula can start a cell


SMTP_CONFIG = """
[issuer]
id = "https://x.edu"
name = "X"
[chain]
rpc_url = "http://127.0.0.1:1"
chain_id = 1
[smtp]
"""


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            'password = "hunter2"',
            "smtp: the SMTP password never goes in credanchor.toml: put it in a file named by "
            "[smtp] password_file or CREDANCHOR_SMTP_PASSWORD_FILE, or in the environment variable "
            "CREDANCHOR_SMTP_PASSWORD",
        ),
        ('sender = "registrar"', "smtp.sender: 'registrar' is not an e-mail address"),
        ("rate = 0", "smtp.rate: must be greater than 0, got 0"),
        ("rate = 1001", "smtp.rate: must be less than or equal to 1000, got 1001"),
        ("timeout = 0", "smtp.timeout: must be greater than 0, got 0"),
        ('starttls = "yes"', "smtp.starttls: must be true or false, got 'yes'"),
        ('pasword_file = "x"', "smtp.pasword_file: unknown member"),
    ],
)
def test_smtp_config_errors(tmp_path: Path, section: str, problem: str) -> None:
    path = tmp_path / "credanchor.toml"
    path.write_text(SMTP_CONFIG + section + "\n")
    with pytest.raises(InvalidInput) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}: {problem}"
