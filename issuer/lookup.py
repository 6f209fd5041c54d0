"""Finding issued credentials and saying where each stands, in words a registrar reads.

Invariants: the functions that take a `Store` are the shell (they ask it, then call the rest); the rest is
pure (store rows and credential documents in, values and text out). A credential's state is its
batch's (prepared, submitted, confirmed, delivered) unless it was revoked, on its own or with its whole batch;
then it is revoked, with the date and the reason given on chain. Names match in part, without regard to case,
accents or runs of spaces; emails match whole, once normalised as the records were.
"""

import json
import unicodedata
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from anchoring.errors import InvalidInput
from anchoring.files import StagedFile
from anchoring.hashing import is_hash32
from issuer.delivery import BOM, Delivery, deliveries, delivery_csv_header, delivery_csv_lines
from issuer.records import normalise_email
from issuer.revoke import credential_key
from issuer.sharing import linkedin_url, verification_url
from issuer.store import Batch, Issued, State, Store

MONTHS = "January February March April May June July August September October November December".split()


@dataclass(frozen=True)
class Standing:
    state: str
    """prepared, submitted, confirmed, delivered, or revoked."""
    revoked_at: datetime | None = None
    reason: str | None = None
    revoked_with: str | None = None
    """"credential" (revoked on its own) or "batch" (with its whole batch)."""

    def describe(self) -> str:
        if self.revoked_at is None:
            return self.state
        how = " with its batch" if self.revoked_with == "batch" else ""
        return f"revoked{how} on {human_date(self.revoked_at)}: {self.reason}"


def standing(issued: Issued) -> Standing:
    if issued.revoked_at is not None:
        return Standing("revoked", issued.revoked_at, issued.revoke_reason, "credential")
    batch = issued.batch
    if batch.revoked_at is not None:
        return Standing("revoked", batch.revoked_at, batch.revoke_reason, "batch")
    return Standing(str(batch.state))


def fold(text: str) -> str:
    """Text as names are compared: accents dropped, case folded, spaces collapsed ("Zoë  Ann" ~ "zoe ann")."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def matching_name(found: Sequence[Issued], part: str) -> list[Issued]:
    wanted = fold(part)
    return [issued for issued in found if wanted in fold(issued.name)]


def batch_ref(text: str) -> int | str:
    """A batch named by its number (as `credanchor batches` lists it) or by its root."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if is_hash32(text.lower()):
        return text.lower()
    raise InvalidInput(f"batch {text!r}: give its number (see `credanchor batches`) or its root (0x + 64 hex digits)")


def human_date(moment: datetime | str) -> str:
    """30 June 2026 (and the time, in UTC, when it is not midnight); the same in every locale."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    moment = _utc(moment)
    day = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    return day if (moment.hour, moment.minute, moment.second) == (0, 0, 0) else f"{day}, {moment:%H:%M} UTC"


def person_view(document: dict[str, Any], issued: Issued) -> list[tuple[str, str]]:
    """One credential as a person reads it: (label, text) lines, the personal data from the store beside what
    the credential itself says."""
    subject = document.get("credentialSubject", {})
    achievement = subject.get("achievement", {})
    issuer = document.get("issuer", {})
    batch = issued.batch
    names_shown = any(i.get("identityType") == "name" for i in subject.get("identifier", []))
    lines = [
        ("credential", str(document.get("name", achievement.get("name", "")))),
        ("id", issued.id),
        ("recipient", f"{issued.name} <{issued.email}>"),
        ("records row", f"{issued.row} of batch {batch.id}"),
        (
            "in the credential",
            "the name, and the e-mail as a salted hash" if names_shown else "the e-mail as a salted hash only",
        ),
        ("achievement", f"{achievement.get('name', '')} ({achievement.get('achievementType', '')})"),
    ]
    if achievement.get("description"):
        lines.append(("description", str(achievement["description"])))
    lines.append(("issued by", f"{issuer.get('name', '')} ({issuer.get('id', '')})"))
    valid = f"from {human_date(document['validFrom'])}" if document.get("validFrom") else ""
    valid += f" until {human_date(document['validUntil'])}" if document.get("validUntil") else ", no end date"
    lines.append(("valid", valid.strip()))
    if "creditsEarned" in subject:
        available = achievement.get("creditsAvailable")
        lines.append(("credits", f"{subject['creditsEarned']}" + (f" of {available}" if available else "")))
    results = {r.get("id"): r.get("name") for r in achievement.get("resultDescription", [])}
    for result in subject.get("result", []):
        label = results.get(result.get("resultDescription")) or "result"
        lines.append(("result", f"{label}: {result.get('value', '')}"))
    for evidence in document.get("evidence", []):
        parts = [str(evidence[k]) for k in ("narrative", "id") if evidence.get(k)]
        lines.append(("evidence", " - ".join(parts)))
    lines.append(("state", standing(issued).describe()))
    if batch.block_number is not None:
        lines.append(("anchored", f"block {batch.block_number} of chain {batch.chain_id}, tx {batch.tx_hash}"))
    else:
        lines.append(("anchored", f"not yet (batch {batch.id} is {batch.state})"))
    lines.append(("batch root", batch.root))
    lines.append(("receipt", issued.receipt_path or "not written yet"))
    return lines


def listing_json(issued: Issued) -> dict[str, Any]:
    """One found credential for scripts (camelCase, like every JSON output)."""
    st = standing(issued)
    return {
        "credentialId": issued.id,
        "batch": issued.batch.id,
        "row": issued.row,
        "email": issued.email,
        "name": issued.name,
        "achievement": issued.batch.achievement,
        "state": st.state,
        "revokedAt": _utc(st.revoked_at).isoformat() if st.revoked_at else None,
        "revokeReason": st.reason,
        "revokedWith": st.revoked_with,
        "receiptPath": issued.receipt_path,
    }


def _utc(moment: datetime) -> datetime:
    """The store keeps UTC times without their zone (SQLite has none)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_batch(store: Store, ref: str) -> Batch:
    found = batch_ref(ref)
    if isinstance(found, int):
        return store.batch(found)
    batch = store.batch_by_root(found)
    if batch is None:
        raise InvalidInput(f"no batch with root {found} in this workspace")
    return batch


def batch_deliveries(store: Store, ref: str, base_url: str | None = None) -> tuple[Batch, list[Delivery]]:
    """A delivered batch's delivery list, as `delivery.csv` beside its receipts holds it."""
    batch = find_batch(store, ref)
    if batch.state != State.DELIVERED:
        raise InvalidInput(
            f"batch {batch.id} is {batch.state}: its receipts are not written yet; finish it with `credanchor resume`"
        )
    return batch, list(delivery_entries(store, batch.id or 0, base_url))


def write_delivery_list(path: Path, store: Store, batch_id: int, base_url: str | None) -> None:
    """The batch's delivery list as `delivery.csv` at `path`, written as it is read from the store (a million
    entries are never whole in memory): personal data, so readable by its owner only."""
    with DeliveryListWriter(path, base_url) as listing:
        for rows in store.delivery_chunks(batch_id, documents=base_url is not None, size=5000):
            listing.add(rows)
        listing.commit()


DeliveryRow = tuple[int, str, str, str, str | None, str | None]
"""(records row, email, name, credential id, receipt location, signed document), as `Store.delivery_chunks`
gives them."""


def delivery_entries(store: Store, batch_id: int, base_url: str | None, *, chunk: int = 5000) -> Iterator[Delivery]:
    """The batch's delivery list, with verification and LinkedIn URLs when a base URL is configured, read from
    the store `chunk` credentials at a time (a million-credential batch's list, documents and all, is never
    whole in memory)."""
    for rows in store.delivery_chunks(batch_id, documents=base_url is not None, size=chunk):
        yield from entries_of(rows, base_url)


def entries_of(rows: Sequence[DeliveryRow], base_url: str | None) -> list[Delivery]:
    """Delivery entries from rows as `Store.delivery_chunks` gives them (row, email, name, credential id,
    receipt location, signed document): the links need the document, and only when a base URL is configured."""
    links: dict[str, tuple[str, str]] = {}
    for _, _, _, cid, _, document in rows:
        if base_url is not None and document is not None:  # the LinkedIn link names the certification
            page = verification_url(base_url, cid)
            links[cid] = (page, linkedin_url(orjson.loads(document), page))  # a fourth of `json`'s time
    return deliveries([row[:5] for row in rows], links)


class DeliveryListWriter:
    """A batch's delivery list written as its receipts are, a chunk at a time (`add`), and put in place beside
    them only by `commit` (`anchoring.files.StagedFile`; leaving its `with` block uncommitted removes it):
    personal data, so readable by its owner only. What it holds is what `write_delivery_list` writes from the
    store once the receipts' locations are recorded."""

    def __init__(self, path: Path, base_url: str | None) -> None:
        self.base_url = base_url
        self._file = StagedFile(path, mode=0o600)
        self._file.write((BOM + delivery_csv_header()).encode())
        self._pages: deque[list[tuple[str, str, str, str | None, int, str, str]]] = deque()

    def receipt_rows(self, store: Store, batch_id: int) -> Iterator[list[tuple[str, str, str]]]:
        """The batch's (credential id, digest, leaf) a chunk at a time, as receipts are written from them; each
        chunk's people kept until `written` is told where its receipts went (with their documents, read only
        when the links need them)."""
        for page in store.receipt_chunks(batch_id, documents=self.base_url is not None):
            self._pages.append(page)
            yield [(cid, digest, leaf) for cid, digest, leaf, *_ in page]

    def written(self, locations: dict[str, str]) -> None:
        """The next chunk of `receipt_rows` was written: its entries added, each with its receipt's location."""
        self.add(
            [
                (row, email, name, cid, locations[cid], document)
                for cid, _, _, document, row, email, name in self._pages.popleft()
            ]
        )

    def add(self, rows: Sequence[DeliveryRow]) -> None:
        """Rows as `Store.delivery_chunks` gives them, in batch order (the document only when a base URL is
        configured)."""
        self._file.write(delivery_csv_lines(entries_of(rows, self.base_url)).encode())

    def commit(self) -> None:
        self._file.commit()

    def __enter__(self) -> "DeliveryListWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._file.__exit__(kind, value, trace)  # not committed: removed, and the list before it left as it was


def find_credentials(
    store: Store,
    *,
    email: str | None = None,
    name: str | None = None,
    credential_id: str | None = None,
    batch: str | None = None,
) -> list[Issued]:
    """Credentials matching every criterion given (at least one is)."""
    if email is None and name is None and credential_id is None and batch is None:
        raise InvalidInput("say what to look for: --email, --name, --id or --batch")
    if name is not None and not fold(name):
        raise InvalidInput("--name is empty")
    found = store.find_credentials(
        email=normalise_email(email) if email is not None else None,
        credential_id=credential_key(credential_id) if credential_id is not None else None,
        batch_id=find_batch(store, batch).id if batch is not None else None,
    )
    return matching_name(found, name) if name is not None else found


def one_credential(store: Store, credential_id: str) -> tuple[dict[str, Any], Issued]:
    """A credential's document and its listing, by id (urn:uuid:..., the bare UUID, or the receipt's name)."""
    key = credential_key(credential_id)
    found = store.find_credentials(credential_id=key)
    text = store.document(key)
    if not found or text is None:
        raise InvalidInput(f"no credential {key} in this workspace")
    document: dict[str, Any] = json.loads(text)
    return document, found[0]
