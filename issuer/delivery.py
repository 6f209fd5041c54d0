"""The delivery list of a batch: which receipt goes to whom, in the order of the records file.

Invariants: pure (rows in, text out). One entry per credential, in batch order, with the records file's row
number so a registrar can find the student in their own spreadsheet. The list holds personal data (e-mail
addresses and names, which credentials and receipts never hold in clear), so whoever writes it to disk
writes it readable by its owner only. The verification and LinkedIn URLs are filled only when the workspace
names the public address of its web verifier (`[share] base_url`): an invented URL would be worse than none.
"""

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from anchoring.receiptfiles import beside_name

COLUMNS = ("row", "email", "name", "credential_id", "receipt_file", "verification_url", "linkedin_url")
BOM = "\ufeff"  # so that Excel, which the list is opened in, reads it as UTF-8 and shows names right
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = re.compile(r'["\r\n]')
"""What makes the csv module quote a field, beside the comma (RFC 4180; its default dialect, minimal quoting)."""
_FORMULA_FIELDS = tuple("," + start for start in _FORMULA_START if start != "\r")
"""A field after the first that starts like a formula, in lines whose fields are separated by commas alone (one
that starts with a carriage return shows as a line's second one: `delivery_csv_lines` counts them)."""


def cell(text: str) -> str:
    """Text a spreadsheet shows as text: one starting like a formula (=, +, -, @) gets a leading apostrophe,
    so a name in the records file can never run as a formula when the list is opened (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


class Delivery(NamedTuple):
    """One entry of the list (a tuple: a million are made for a batch's list, at a fifth of a frozen dataclass's
    cost)."""

    row: int
    email: str
    name: str
    credential_id: str
    receipt_file: str
    verification_url: str | None = None
    linkedin_url: str | None = None


def deliveries(
    rows: Sequence[tuple[int, str, str, str, str | None]], links: Mapping[str, tuple[str, str]] | None = None
) -> list[Delivery]:
    """Entries from the store's (row, email, name, credential id, receipt location); the receipt by its file
    name, which is where it lies beside the list (or its name in the receipts.jsonl or receipts.zip beside it,
    as `extract` writes it and `notify` attaches it). `links`: credential id -> (verification URL, LinkedIn URL)."""
    links = links or {}
    return [
        Delivery(row, email, name, cid, beside_name(path, cid, ".json") if path else "", *links.get(cid, (None, None)))
        for row, email, name, cid, path in rows
    ]


def delivery_csv(entries: Iterable[Delivery]) -> str:
    """The list as CSV (RFC 4180: comma-separated, CRLF line ends), header first."""
    return "".join(delivery_csv_parts(entries))


def delivery_csv_parts(entries: Iterable[Delivery], per_part: int = 5000) -> Iterator[str]:
    """`delivery_csv` as consecutive parts of `per_part` entries (the first also holds the header), taking
    `entries` as they come: a million-entry list is written without ever being whole in memory."""
    head = delivery_csv_header()
    chunk: list[Delivery] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == per_part:
            yield head + delivery_csv_lines(chunk)
            head = ""
            chunk.clear()
    if chunk or head:
        yield head + delivery_csv_lines(chunk)


def delivery_csv_header() -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(COLUMNS)
    return buffer.getvalue()


def delivery_csv_lines(entries: Iterable[Delivery]) -> str:
    """The entries' lines of the list, as `delivery_csv` writes them (no header).

    Written plainly for the whole chunk at once, and taken when nothing in it needs the csv module or `cell`:
    a line per entry, six commas in each, no quote, no line break and no formula start in any field (the row
    number, an integer, never starts one). Otherwise, entry by entry (measured, 300,000 entries: 0.40-0.42 s
    a chunk at once against 0.63-0.82 s entry by entry)."""
    entries = list(entries)
    text = "".join(
        [
            f"{e.row},{e.email},{e.name},{e.credential_id},{e.receipt_file},{e.verification_url or ''},"
            f"{e.linkedin_url or ''}\r\n"
            for e in entries
        ]
    )
    count = len(entries)
    if (
        text.count(",") == (len(COLUMNS) - 1) * count
        and text.count("\n") == count
        and text.count("\r") == count
        and '"' not in text
        and not any(field in text for field in _FORMULA_FIELDS)
    ):
        return text
    return _lines_one_by_one(entries)


def _lines_one_by_one(entries: Iterable[Delivery]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    lines = []
    for e in entries:
        fields = (
            str(e.row),
            cell(e.email),
            cell(e.name),
            e.credential_id,
            cell(e.receipt_file),
            cell(e.verification_url or ""),
            cell(e.linkedin_url or ""),
        )
        line = ",".join(fields)
        if line.count(",") == len(COLUMNS) - 1 and _QUOTED.search(line) is None:
            lines.append(line + "\r\n")  # what the csv module writes for fields that need no quotes, 5x faster
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(fields)
            lines.append(buffer.getvalue())
    return "".join(lines)


def delivery_json(entries: Sequence[Delivery]) -> list[dict[str, Any]]:
    return [
        {
            "row": e.row,
            "email": e.email,
            "name": e.name,
            "credentialId": e.credential_id,
            "receiptFile": e.receipt_file,
            "verificationUrl": e.verification_url,
            "linkedinUrl": e.linkedin_url,
        }
        for e in entries
    ]
