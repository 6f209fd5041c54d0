"""The SMTP edge of `credanchor notify`: one connection (STARTTLS, login), one transaction per message.

Invariants: with `starttls` the connection is encrypted before anything else is said and a server that does
not offer STARTTLS is refused, never spoken to in clear; a password is sent in clear only to a server on this
machine. Each transaction is MAIL, RCPT, DATA run by hand (not `sendmail`), so that a lost connection says
where it was lost: before the end of the message was handed over (the server must discard it: safe to send
again) or after, while waiting for the server's answer (it may have been delivered: `ConnectionLost
.handed_over`). A refused command is reset and reported with the server's code and text.
"""

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from pathlib import Path

from anchoring.errors import CredanchorError, InvalidInput
from issuer.config import SmtpConfig
from issuer.notify import ConnectionLost, MailServerUnavailable, Refused

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {exc.verify_message}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}"


class SmtpTransport:
    """`issuer.notify.Transport` over smtplib; connects on `connect()` and again after a lost connection."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = True,
        ca_file: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if password is not None and not starttls and host not in LOOPBACK:
            raise InvalidInput(
                f"refusing to send the SMTP password to {host}:{port} unencrypted: set [smtp] starttls = true"
            )
        self.host, self.port, self.starttls, self.timeout = host, port, starttls, timeout
        self.username, self.password = username, password
        self.ca_file = ca_file
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self) -> None:
        self._connected()

    def _connected(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailServerUnavailable(f"cannot reach the mail server {self.where}: {_reason(exc)}") from None
        try:
            self._greet(smtp)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _greet(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise CredanchorError(
                        f"the mail server {self.where} does not offer STARTTLS; refusing to send in clear "
                        "([smtp] starttls = false allows it, without a password, for a server you trust)"
                    )
                context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            refusal = _reply(exc.smtp_code, exc.smtp_error)
            raise InvalidInput(
                f"the mail server {self.where} refused the login of {self.username}: {refusal}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise InvalidInput(f"the mail server {self.where} offers no login (AUTH); unset [smtp] username") from None
        except (OSError, smtplib.SMTPException) as exc:
            what = "TLS with" if isinstance(exc, ssl.SSLError) else "connection to"
            raise MailServerUnavailable(f"{what} the mail server {self.where} failed: {_reason(exc)}") from None

    def send(self, sender: str, recipient: str, data: bytes) -> str:
        """Send one message; the server's reply to its end (`250 ...`). Raises `Refused` (the server said no:
        not delivered) or `ConnectionLost`."""
        smtp = self._connected()
        # 1. MAIL, RCPT and DATA: nothing of the message is with the server yet.
        try:
            options = [f"SIZE={len(data)}"] if smtp.has_extn("size") else []
            self._expect(smtp, "sender", smtp.mail(sender, options), (250,))
            self._expect(smtp, "recipient", smtp.rcpt(recipient), (250, 251))
            smtp.putcmd("data")
            self._expect(smtp, "data", smtp.getreply(), (354,))
            # 2. The message, dot-stuffed, and its end. Until `sendall` returns the end was not handed over.
            smtp.send(_LEADING_DOT.sub(b"..", data).removesuffix(b"\r\n") + b"\r\n.\r\n")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.drop()
            raise ConnectionLost(f"connection to {self.where} lost: {_reason(exc)}", handed_over=False) from None
        # 3. The server's answer: only a reply says whether it took the message.
        try:
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.drop()
            raise ConnectionLost(
                f"connection to {self.where} lost after the message was handed over: {_reason(exc)}", handed_over=True
            ) from None
        if code != 250:
            self._reset(smtp)
            raise Refused(code, _reply(code, text), "message")
        return _reply(code, text)

    def _expect(self, smtp: smtplib.SMTP, stage: str, reply: tuple[int, bytes], wanted: tuple[int, ...]) -> None:
        code, text = reply
        if code in wanted:
            return
        if code == 421:  # the server is closing the connection: nothing was taken, try again on a new one
            raise smtplib.SMTPServerDisconnected(_reply(code, text))
        self._reset(smtp)
        if stage == "sender" and code in (452, 552):  # RFC 1870: this message's SIZE, not the sender, is refused
            stage = "message"
        raise Refused(code, _reply(code, text), stage)

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.drop()

    def drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self.drop()


ENV_PASSWORD = "CREDANCHOR_SMTP_PASSWORD"  # noqa: S105  (the name of a variable)
ENV_PASSWORD_FILE = "CREDANCHOR_SMTP_PASSWORD_FILE"  # noqa: S105


def smtp_password(config: SmtpConfig, root: Path, environ: Mapping[str, str]) -> str | None:
    """The password from the environment, the file it names, or the config's password_file; else none."""
    if environ.get(ENV_PASSWORD):
        return environ[ENV_PASSWORD]
    named = environ.get(ENV_PASSWORD_FILE)
    file = Path(named) if named else (root / config.password_file if config.password_file else None)
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise InvalidInput(f"SMTP password file {file}: no such file") from None


def transport_for(config: SmtpConfig, root: Path, environ: Mapping[str, str]) -> SmtpTransport:
    """The transport the workspace's [smtp] section describes (relative paths relative to the workspace)."""
    password = smtp_password(config, root, environ)
    if config.username is not None and password is None:
        raise InvalidInput(
            f"[smtp] username is {config.username!r} but there is no password: set {ENV_PASSWORD}, "
            f"{ENV_PASSWORD_FILE} or [smtp] password_file"
        )
    if config.username is None and password is not None:
        raise InvalidInput("an SMTP password is given but [smtp] username is not set")
    ca_file = root / config.ca_file if config.ca_file else None
    if ca_file is not None and not ca_file.is_file():
        raise InvalidInput(f"[smtp] ca_file {ca_file}: no such file")
    return SmtpTransport(
        config.host,
        config.port,
        starttls=config.starttls,
        ca_file=ca_file,
        username=config.username,
        password=password,
        timeout=config.timeout,
    )
