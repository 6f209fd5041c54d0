"""Reading the records of a batch from CSV: every row is checked before anything is issued.

Invariants: `parse_records` either returns one `Record` per data row, all valid, or raises `RecordErrors`
listing every problem with its row number (the header is row 1, as in a spreadsheet). Emails are normalised
(trimmed, lowercased) before they are compared or hashed; no email appears twice in a batch.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from anchoring.errors import InvalidInput
from anchoring.jsonio import decode_text
from issuer.config import FIELDS, IGNORE
from issuer.templates import Template

REQUIRED = ("email", "name")
MAX_ROWS = 1_000_000
MAX_CELL = 4000
MAX_SHOWN = 50
_EMAIL = re.compile(
    r"(?=.{3,254}$)(?=[^@]{1,64}@)"
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*")


class RecordErrors(InvalidInput):
    """Every problem found in a records file; nothing was issued."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_SHOWN]
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        plural = "s" if len(problems) != 1 else ""
        body = "\n".join(f"  {p}" for p in shown)
        super().__init__(f"{source}: {len(problems)} problem{plural}, nothing was issued:\n{body}{more}")


@dataclass(frozen=True)
class Record:
    row: int
    email: str
    name: str
    issue_date: datetime | None = None
    credits_earned: float | None = None
    evidence_url: str | None = None
    evidence_narrative: str | None = None
    result: str | None = None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def parse_records(data: bytes, source: str, columns: dict[str, str], template: Template) -> list[Record]:
    text = decode_text(data, source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise InvalidInput(f"{source}: cannot read the header row: {exc}") from None
    fields = _map_header(header, columns, source)
    records: list[Record] = []
    problems: list[str] = []
    first_row_of: dict[str, int] = {}
    try:
        for cells in reader:
            row = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(records) + len(problems) >= MAX_ROWS:
                raise InvalidInput(f"{source}: more than {MAX_ROWS:,} rows; split the batch")
            if len(cells) != len(header):
                problems.append(f"row {row}: has {len(cells)} cells, the header has {len(header)}")
                continue
            values = {f: c.strip() for f, c in zip(fields, cells, strict=True) if f != IGNORE}
            record, row_problems = _record(row, values, template)
            if record is not None:
                earlier = first_row_of.setdefault(record.email, row)
                if earlier != row:
                    row_problems.append(f"row {row}: duplicate email {record.email} (first on row {earlier})")
            if row_problems:
                problems.extend(row_problems)
            elif record is not None:
                records.append(record)
    except csv.Error as exc:
        raise InvalidInput(f"{source}: malformed CSV at line {reader.line_num}: {exc}") from None
    if problems:
        raise RecordErrors(source, problems)
    if not records:
        raise InvalidInput(f"{source}: has a header but no records")
    return records


def _map_header(header: list[str], columns: dict[str, str], source: str) -> list[str]:
    fields = []
    unknown = []
    for raw in header:
        name = raw.strip()
        target = columns.get(name, name if name in FIELDS else None)
        if target is None:
            unknown.append(name)
        fields.append(target or "")
    if unknown:
        shown = ", ".join(repr(u) for u in unknown)
        raise InvalidInput(
            f"{source}: unknown column{'s' if len(unknown) > 1 else ''} {shown}; known: {', '.join(FIELDS)} "
            f"(map others with --map 'HEADER=FIELD' or --map 'HEADER=ignore')"
        )
    repeated = sorted({f for f in fields if f != IGNORE and fields.count(f) > 1})
    if repeated:
        raise InvalidInput(f"{source}: more than one column for {', '.join(repeated)}")
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        raise InvalidInput(f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return fields


def _record(row: int, values: dict[str, str], template: Template) -> tuple[Record | None, list[str]]:
    problems = []
    for field, value in values.items():
        if len(value) > MAX_CELL:
            problems.append(f"row {row}: {field} is {len(value)} characters; at most {MAX_CELL}")
    email = normalise_email(values["email"])
    if not email:
        problems.append(f"row {row}: email is empty")
    elif not _EMAIL.fullmatch(email):
        problems.append(f"row {row}: invalid email {values['email']!r}")
    name = values["name"]
    if not name:
        problems.append(f"row {row}: name is empty")
    issue_date = _date(values.get("issue_date", ""), row, problems)
    credits = _credits(values.get("credits_earned", ""), row, template, problems)
    url = values.get("evidence_url") or None
    if url is not None and not _URL.fullmatch(url):
        problems.append(f"row {row}: evidence_url {url!r} is not an http(s) URL")
    if problems:
        return None, problems
    record = Record(
        row=row,
        email=email,
        name=name,
        issue_date=issue_date,
        credits_earned=credits,
        evidence_url=url,
        evidence_narrative=values.get("evidence_narrative") or None,
        result=values.get("result") or None,
    )
    return record, []


def _date(value: str, row: int, problems: list[str]) -> datetime | None:
    if not value:
        return None
    for pattern in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    problems.append(f"row {row}: issue_date {value!r} is not a date like 2026-06-30 (or 2026-06-30T12:00:00Z)")
    return None


def _credits(value: str, row: int, template: Template, problems: list[str]) -> float | None:
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        problems.append(f"row {row}: credits_earned {value!r} is not a number")
        return None
    if not amount.is_finite() or amount < 0:
        problems.append(f"row {row}: credits_earned {value!r} must be a number of zero or more")
        return None
    available = template.credits_available
    if available is not None and amount > Decimal(str(available)):
        problems.append(f"row {row}: credits_earned {value} is more than the {available} the achievement offers")
        return None
    return float(amount)
