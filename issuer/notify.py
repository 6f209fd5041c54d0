"""`credanchor notify`: e-mail each earner of a delivered batch their credential, once.

Invariants: every message's state is in the database (issuer.store `Message`) and moves queued -> sending ->
sent | failed | unknown, `sending` committed before the SMTP transaction begins and the outcome right after
the server's reply. So a crash, a refused or a dropped connection loses nothing, and a rerun sends only what
is still queued: a message found in `sending` (its run stopped before the server's answer was recorded) or cut
off after it was handed over is `unknown, possibly sent` and is sent again only when asked
(`--resend-unknown`), with the same Message-ID. Failed messages (the server refused them, so they were not
delivered) are sent again with `--retry-failed`. One process at a time e-mails a batch (a lock file), and a
message is claimed by a conditional update, so even two processes could not both send it. Revoked
credentials are never announced. A dry run writes the messages as .eml files and records nothing.
"""

import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.policy import SMTP
from pathlib import Path
from typing import Any, Protocol

from anchoring.errors import CredanchorError, InvalidInput, InvalidReceipt
from anchoring.faults import fault
from anchoring.files import atomic_write
from anchoring.progress import Progress, Silent
from anchoring.receiptfiles import beside, location_file, read_receipt_at
from issuer.locks import locks_for
from issuer.lookup import human_date, write_delivery_list
from issuer.mail import Attachment, Letter, build_message, message_id
from issuer.sharing import linkedin_url, verification_url
from issuer.store import Batch, Issued, Mailbox, Message, MessageState, State, Store

COMPANIONS = (".png", ".svg", ".pdf")  # baked badge and certificate, beside the receipt when they were made
MAX_LOSSES = 3  # connections lost in a row (no message sent in between) before the run stops
INTERRUPTED = "its run stopped before the server's answer was recorded; it may have been delivered"


class Refused(CredanchorError):
    """The server refused the message (at `stage`: sender, recipient, data or message): not delivered."""

    def __init__(self, code: int, reply: str, stage: str) -> None:
        super().__init__(reply)
        self.code, self.reply, self.stage = code, reply, stage


class ConnectionLost(CredanchorError):
    """The connection broke during a transaction; `handed_over`: after the whole message was sent."""

    def __init__(self, message: str, *, handed_over: bool) -> None:
        super().__init__(message)
        self.handed_over = handed_over


class MailServerUnavailable(CredanchorError):
    """The mail server could not be reached (or the connection to it set up)."""

    exit_code = 3


class Transport(Protocol):
    """How messages leave (issuer.smtp.SmtpTransport): connect, then one `send` per message."""

    def connect(self) -> None: ...

    def send(self, sender: str, recipient: str, data: bytes) -> str:
        """The server's reply on acceptance; raises `Refused` or `ConnectionLost`."""

    def close(self) -> None: ...


@dataclass
class Summary:
    batch: int
    sent: int = 0
    already_sent: int = 0
    failed: list[tuple[str, int | None, str]] = field(default_factory=list)
    """(address, reply code, reply) of each message the server refused in this run."""
    unknown: list[tuple[str, str, str]] = field(default_factory=list)
    """(address, Message-ID, why) of each message possibly sent, not sent again."""
    waiting: list[tuple[str, str]] = field(default_factory=list)
    """(address, state) of messages failed earlier and not retried in this run."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(address or credential id, reason) of credentials not e-mailed."""
    written: list[Path] = field(default_factory=list)
    stopped: str | None = None
    """Why the run stopped before the end (what is left stays queued)."""

    @property
    def complete(self) -> bool:
        return not (self.failed or self.unknown or self.waiting or self.stopped)


@dataclass(frozen=True)
class Outgoing:
    credential_id: str
    recipient: str
    data: bytes
    file_stem: str


def attachments_of(location: str, credential_id: str) -> list[Attachment]:
    """The receipt at `location` (a file, a JSON Lines line or a zip member, attached as the `dir` form's file)
    and, when they were made, its baked badge and certificate (same name, other suffix)."""
    name = beside(location, credential_id, ".json").name
    found = [Attachment(name, read_receipt_at(location))]
    for suffix in COMPANIONS:
        companion = beside(location, credential_id, suffix)
        if companion.is_file():
            found.append(Attachment(companion.name, companion.read_bytes()))
    return found


def letter_for(
    issued: Issued,
    document: dict[str, Any],
    *,
    sender: str,
    base_url: str | None,
    date: datetime,
    attachments: Sequence[Attachment],
    message_id: str,
) -> Letter:
    issuer = document.get("issuer", {})
    achievement = document.get("credentialSubject", {}).get("achievement", {})
    page = verification_url(base_url, issued.id) if base_url else None
    return Letter(
        sender=sender,
        issuer=str(issuer.get("name", "")) if isinstance(issuer, dict) else str(issuer),
        recipient=issued.email,
        recipient_name=issued.name,
        achievement=str(achievement.get("name") or document.get("name", "")),
        credential_id=issued.id,
        issued_on=human_date(str(document["validFrom"])[:10]),  # the day; the time of issue is no news
        verification_url=page,
        linkedin_url=linkedin_url(document, page) if page else None,
        date=date,
        attachments=attachments,
        message_id=message_id,
    )


class Notifier:
    def __init__(
        self,
        store: Store,
        locks: Path,
        *,
        sender: str,
        base_url: str | None,
        rate: float,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store, self.mailbox, self.locks = store, Mailbox(store), locks
        self.sender, self.base_url, self.interval = sender, base_url, 1.0 / rate
        self.progress = progress or Silent()
        self.clock, self.sleep = clock, sleep

    def send(self, batch: Batch, transport: Transport, *, retry_failed: bool, resend_unknown: bool) -> Summary:
        """Send the batch's messages that are due; the summary says what happened to each."""
        batch_id = _delivered(batch)
        with self._lock(batch_id):
            issued = self._credentials(batch_id)
            self.mailbox.queue(batch_id, {i.id: message_id(i.id, self.sender) for i in issued})
            self.mailbox.interrupted(batch_id, INTERRUPTED)
            summary = Summary(batch_id)
            due = self._due(issued, self.mailbox.messages(batch_id), summary, retry_failed, resend_unknown)
            self.progress.stage(f"e-mailing the earners of batch {batch_id}", len(due))
            try:
                self._send_all(due, self.mailbox.messages(batch_id), transport, summary)
            finally:
                transport.close()
            return summary

    def dry_run(self, batch: Batch, folder: Path, *, retry_failed: bool, resend_unknown: bool) -> Summary:
        """Write the messages a run would send as `<receipt name>.eml` in `folder`; nothing is recorded."""
        batch_id = _delivered(batch)
        issued = self._credentials(batch_id)
        summary = Summary(batch_id)
        messages = self.mailbox.messages(batch_id)
        due = self._due(issued, messages, summary, retry_failed, resend_unknown)
        folder.mkdir(parents=True, exist_ok=True)
        for credential in due:
            outgoing = self._outgoing(credential, self._document(credential.id), summary, messages.get(credential.id))
            if outgoing is not None:
                path = folder / f"{outgoing.file_stem}.eml"
                atomic_write(path, outgoing.data, mode=0o600)  # personal data
                summary.written.append(path)
        return summary

    def forget(self, batch: Batch, *, even_unsent: bool) -> int:
        """Blank the batch's e-mail addresses in the database and its delivery list; how many were kept."""
        batch_id = _delivered(batch)
        with self._lock(batch_id):
            issued = self._credentials(batch_id)
            messages = self.mailbox.messages(batch_id)
            unsent = [
                i for i in issued if i.email and _live(i) and (i.id not in messages or messages[i.id].state != "sent")
            ]
            if unsent and not even_unsent:
                raise InvalidInput(
                    f"batch {batch_id}: {len(unsent)} earner(s) have not been e-mailed; send with "
                    f"`credanchor notify --batch {batch_id}`, or forget anyway with --even-unsent"
                )
            forgotten = self.mailbox.forget_addresses(batch_id, sorted({i.email for i in issued if i.email}))
            listing = Path(batch.out_dir) / "delivery.csv"
            if listing.exists():
                write_delivery_list(listing, self.store, batch_id, self.base_url)
            return forgotten

    def _credentials(self, batch_id: int) -> list[Issued]:
        return self.store.find_credentials(batch_id=batch_id)

    def _document(self, credential_id: str) -> dict[str, Any]:
        """The credential's signed document, read when its message is made (a batch's million documents are
        never all in memory)."""
        text = self.store.document(credential_id)
        if text is None:
            raise InvalidInput(f"{credential_id}: no such credential in this workspace")
        document: dict[str, Any] = json.loads(text)
        return document

    def _due(
        self,
        issued: Sequence[Issued],
        messages: dict[str, Message],
        summary: Summary,
        retry_failed: bool,
        resend_unknown: bool,
    ) -> list[Issued]:
        wanted = {MessageState.QUEUED}
        wanted |= {MessageState.FAILED} if retry_failed else set()
        wanted |= {MessageState.UNKNOWN} if resend_unknown else set()
        due = []
        for credential in issued:
            message = messages.get(credential.id)
            state = message.state if message is not None else MessageState.QUEUED
            if not _live(credential):
                summary.skipped.append((credential.email or credential.id, "revoked"))
            elif not credential.email:
                summary.skipped.append((credential.id, "address forgotten"))
            elif state == MessageState.SENT:
                summary.already_sent += 1
            elif state in wanted:
                due.append(credential)
            elif state == MessageState.UNKNOWN and message is not None:
                summary.unknown.append((credential.email, message.message_id, message.reply or INTERRUPTED))
            else:
                summary.waiting.append((credential.email, f"{state}: {message.reply if message else ''}"))
        return due

    def _outgoing(
        self, credential: Issued, document: dict[str, Any], summary: Summary, recorded: Message | None
    ) -> Outgoing | None:
        location = credential.receipt_path or ""
        if not location or not location_file(location).is_file():
            summary.skipped.append((credential.email, f"receipt {location} not found"))
            return None
        try:
            attachments = attachments_of(location, credential.id)
        except InvalidReceipt as exc:
            summary.skipped.append((credential.email, str(exc)))
            return None
        letter = letter_for(
            credential,
            document,
            sender=self.sender,
            base_url=self.base_url,
            date=datetime.now(UTC),
            attachments=attachments,
            message_id=recorded.message_id if recorded else message_id(credential.id, self.sender),
        )
        data = build_message(letter).as_bytes(policy=SMTP)
        return Outgoing(credential.id, credential.email, data, Path(attachments[0].filename).stem)

    def _send_all(
        self,
        due: Sequence[Issued],
        messages: dict[str, Message],
        transport: Transport,
        summary: Summary,
    ) -> None:
        losses, next_slot, half = 0, self.clock(), max(1, len(due) // 2)
        queue = list(due)
        while queue:
            credential = queue[0]
            message = messages[credential.id]
            outgoing = self._outgoing(credential, self._document(credential.id), summary, message)
            if outgoing is None:
                queue.pop(0)
                self.progress.advance()
                continue
            try:
                transport.connect()  # before the message is claimed: a server that is not there moves nothing
            except MailServerUnavailable as exc:
                if not (summary.sent or summary.failed or summary.unknown):
                    raise  # nothing happened yet: the error alone says it
                summary.stopped = f"{exc}; {len(queue)} message(s) still to send: run `credanchor notify` again"
                return
            self.sleep(max(0.0, next_slot - self.clock()))  # the bounded rate
            next_slot = max(next_slot, self.clock()) + self.interval
            if not self.mailbox.move(
                credential.id, MessageState.SENDING, only_from=(message.state,), attempts=message.attempts + 1
            ):
                queue.pop(0)  # another process took it meanwhile
                continue
            if summary.sent + len(summary.failed) + 1 >= half:
                fault("notify-sending")
            try:
                reply = transport.send(self.sender, outgoing.recipient, outgoing.data)
            except Refused as exc:
                if exc.stage == "sender":  # every message would be refused alike
                    self.mailbox.move(credential.id, MessageState.QUEUED, only_from=(MessageState.SENDING,))
                    summary.stopped = f"the mail server refused the sender {self.sender}: {exc.reply}"
                    return
                self.mailbox.move(
                    credential.id,
                    MessageState.FAILED,
                    only_from=(MessageState.SENDING,),
                    reply_code=exc.code,
                    reply=exc.reply,
                )
                summary.failed.append((outgoing.recipient, exc.code, exc.reply))
            except ConnectionLost as exc:
                if exc.handed_over:
                    self.mailbox.move(
                        credential.id, MessageState.UNKNOWN, only_from=(MessageState.SENDING,), reply=str(exc)
                    )
                    summary.unknown.append((outgoing.recipient, message.message_id, str(exc)))
                else:  # the server never had the whole message: it stays to be sent, on a new connection
                    self.mailbox.move(credential.id, MessageState.QUEUED, only_from=(MessageState.SENDING,))
                    messages[credential.id] = message.model_copy(
                        update={"state": MessageState.QUEUED, "attempts": message.attempts + 1}
                    )
                    losses += 1
                    self.progress.note(f"{exc}; reconnecting")
                    if losses >= MAX_LOSSES:
                        summary.stopped = (
                            f"{exc} ({losses} times in a row); {len(queue)} message(s) still to send: "
                            "run `credanchor notify` again"
                        )
                        return
                    continue
            else:
                if summary.sent + 1 >= half:
                    fault("notify-accepted")
                self.mailbox.move(
                    credential.id,
                    MessageState.SENT,
                    only_from=(MessageState.SENDING,),
                    sent_at=datetime.now(UTC).replace(microsecond=0),
                    reply_code=250,
                    reply=reply,
                )
                summary.sent += 1
            losses = 0
            queue.pop(0)
            self.progress.advance()

    def _lock(self, batch_id: int) -> AbstractContextManager[None]:
        """One process at a time e-mails a batch; with the lock held, a message in `sending` is orphaned.
        `self.locks` is the workspace's lock folder; on PostgreSQL the lock is the database's."""
        return locks_for(self.store.engine, self.locks.parent).notify(batch_id)


def _delivered(batch: Batch) -> int:
    if batch.state != State.DELIVERED:
        raise InvalidInput(
            f"batch {batch.id} is {batch.state}: its receipts are not written yet; finish it with `credanchor resume`"
        )
    return batch.id or 0


def _live(issued: Issued) -> bool:
    return issued.revoked_at is None and issued.batch.revoked_at is None
