"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port), with the misbehaviours asked of it:
refusing some recipients, dropping the connection at a given MAIL or right after taking a message, STARTTLS
with a self-signed certificate made here, and AUTH."""

import datetime
import ipaddress
import ssl
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from anchoring.localnode import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Handler:
    refuse: set[str] = field(default_factory=set)
    drop_at_mail: set[int] = field(default_factory=set)
    """Close the connection instead of answering the n-th MAIL (counted from 1, over the server's life)."""
    drop_after_data: set[int] = field(default_factory=set)
    """Take the n-th message, then close the connection before answering it."""
    refuse_mail: str | None = None
    """Answer every MAIL with this reply (a refused sender)."""
    received: list[Received] = field(default_factory=list)
    mails: int = 0
    datas: int = 0

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self.mails += 1
        if self.mails in self.drop_at_mail:
            server.transport.close()
            return "421 4.3.2 closing"
        if self.refuse_mail is not None:
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.datas += 1
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        if self.datas in self.drop_after_data:
            server.transport.close()
        return "250 2.0.0 Ok: queued as TEST"

    def per_recipient(self) -> Counter[str]:
        return Counter(r for message in self.received for r in message.recipients)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key: (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "credanchor test mail server")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class MailServer:
    handler: Handler
    port: int
    controller: Controller


@contextmanager
def mail_server(
    handler: Handler | None = None,
    *,
    tls: tuple[Path, Path] | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[MailServer]:
    """The server on a free port of 127.0.0.1; with `tls` it requires STARTTLS, with `login` AUTH too."""
    handler = handler or Handler()
    options: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        options |= {"tls_context": context, "require_starttls": True}
    if login is not None:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

        options |= {"authenticator": authenticator, "auth_required": True}
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield MailServer(handler, port, controller)
    finally:
        controller.stop()
