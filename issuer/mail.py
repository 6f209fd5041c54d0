"""The e-mail an earner gets for a credential: values in, an `email.message.EmailMessage` out.

Invariants: pure (no file, socket or clock: the date and every attachment's bytes are passed in). One
message per credential, multipart/mixed around a multipart/alternative of a plain-text and an HTML part,
both from the package's jinja2 templates; the HTML one autoescaped, so a name from a records file can never
add markup. Header values are single lines (a name cannot add a header). The Message-ID is derived from the
credential id alone, so every attempt at the same message carries the same one and a receiving system that
keeps Message-IDs can drop a duplicate.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import PurePath

from jinja2 import Environment, PackageLoader, StrictUndefined

from issuer.sharing import credential_uuid

_CONTENT_TYPES = {
    ".json": ("application", "json"),
    ".png": ("image", "png"),
    ".svg": ("image", "svg+xml"),
    ".pdf": ("application", "pdf"),
}
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes

    @property
    def kind(self) -> str:
        """What the earner is told the file is."""
        suffix = PurePath(self.filename).suffix.lower()
        if suffix == ".json":
            return "receipt"
        return "certificate" if suffix == ".pdf" else "badge"


@dataclass(frozen=True)
class Letter:
    """Everything one message says, as values."""

    sender: str
    issuer: str
    recipient: str
    recipient_name: str
    achievement: str
    credential_id: str
    issued_on: str
    """The issue date as a person reads it (30 June 2026)."""
    verification_url: str | None
    linkedin_url: str | None
    date: datetime
    attachments: Sequence[Attachment]
    message_id: str
    """The credential's one Message-ID (`message_id`), as recorded when its message was first queued."""


def message_id(credential_id: str, sender: str) -> str:
    """The one Message-ID of the credential's e-mail, on the sender's domain (RFC 5322 msg-id)."""
    return f"<credential.{credential_uuid(credential_id)}@{sender.rsplit('@', 1)[1]}>"


def one_line(text: str) -> str:
    """`text` without line breaks or control characters, for a header."""
    return " ".join(_LINE_BREAKS.sub(" ", text).split())


_html = Environment(
    loader=PackageLoader("issuer", "mail_templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_text = Environment(
    loader=PackageLoader("issuer", "mail_templates"),
    autoescape=False,  # noqa: S701  (the plain-text part is not HTML: nothing in it is interpreted)
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def subject(letter: Letter) -> str:
    return one_line(f"Your credential from {letter.issuer}: {letter.achievement}")


def build_message(letter: Letter) -> EmailMessage:
    """The message for `letter`: headers, a text and an HTML part, and the attachments in the order given."""
    values = {
        "letter": letter,
        "attachments": [(a.filename, a.kind) for a in letter.attachments],
        "receipt": next((a.filename for a in letter.attachments if a.kind == "receipt"), None),
    }
    message = EmailMessage()
    message["From"] = Address(display_name=one_line(letter.issuer), addr_spec=letter.sender)
    message["To"] = Address(display_name=one_line(letter.recipient_name), addr_spec=letter.recipient)
    message["Subject"] = subject(letter)
    message["Date"] = format_datetime(letter.date)
    message["Message-ID"] = letter.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies stay away
    message.set_content(_text.get_template("credential.txt.j2").render(values))
    message.add_alternative(_html.get_template("credential.html.j2").render(values), subtype="html")
    for attachment in letter.attachments:
        maintype, subtype = _CONTENT_TYPES.get(
            PurePath(attachment.filename).suffix.lower(), ("application", "octet-stream")
        )
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return message
