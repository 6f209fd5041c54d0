"""Reading the records of a batch from a CSV file or an Excel workbook: every row is checked before anything is
issued.

Invariants: `parse_table` either returns one `Record` per filled row, all valid, or raises `RecordErrors`
listing every problem with its row number (the header is row 1, as in a spreadsheet). Headers match fields
(and `--map` names) without regard to case, spaces, hyphens or underscores; a header that still matches
nothing is an error. Emails are normalised (trimmed, lowercased) before they are compared or hashed; no email appears
twice in a batch. Spreadsheet cells keep their meaning: a date cell is a date, a number cell a number, and a
cell holding a spreadsheet error (#REF!) is refused, never issued as text.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from anchoring.errors import InvalidInput
from issuer.config import FIELDS, IGNORE
from issuer.table import Cell, Table, column_letter, read_csv
from issuer.templates import Template
from issuer.xlsx import read_xlsx

REQUIRED = ("email", "name")
MAX_ROWS = 1_000_000
MAX_CELL = 4000
MAX_SHOWN = 50
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-protected workbooks
_UNNAMED = ""  # a column with an empty header: ignored while it stays empty
_EMAIL = re.compile(
    r"(?=.{3,254}$)(?=[^@]{1,64}@)"
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{2}):(\d{2})(Z)?)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_SPREADSHEET_ERRORS = frozenset(
    ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!")
)


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


def header_key(text: str) -> str:
    """What a header is matched by: case, spaces, hyphens and underscores do not count ("E-mail " is email,
    "Issue date" is issue_date)."""
    return "".join(text.replace("_", " ").replace("-", " ").split()).casefold()


_FIELD_KEYS = {header_key(field): field for field in FIELDS}


def read_table(data: bytes, source: str, *, delimiter: str | None = None, sheet: str | None = None) -> Table:
    """The file as a table: an Excel workbook if its bytes say so, CSV otherwise (never judged by its name)."""
    if data.startswith(XLSX_MAGIC):
        if delimiter is not None:
            raise InvalidInput(f"{source}: is an Excel workbook; --delimiter is for CSV files")
        return read_xlsx(data, source, sheet)
    if data.startswith(OLE_MAGIC):
        raise InvalidInput(
            f"{source}: is an old Excel .xls workbook (or a password-protected one); "
            "save it as an Excel workbook (.xlsx) or as CSV UTF-8"
        )
    if sheet is not None:
        raise InvalidInput(f"{source}: is not an Excel workbook; --sheet is for .xlsx files")
    return read_csv(data, source, delimiter)


def parse_records(
    data: bytes,
    source: str,
    columns: dict[str, str],
    template: Template,
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> list[Record]:
    return parse_table(read_table(data, source, delimiter=delimiter, sheet=sheet), source, columns, template)


def parse_table(table: Table, source: str, columns: dict[str, str], template: Template) -> list[Record]:
    fields = _map_header(table.header, columns, source)
    width = len(fields)
    records: list[Record] = []
    problems: list[str] = []
    first_row_of: dict[str, int] = {}
    # The columns read (in the common case every column is a field: no per-cell test needed below).
    wanted = [(i, f) for i, f in enumerate(fields) if f not in (IGNORE, _UNNAMED)]
    unnamed = [i for i, f in enumerate(fields) if f == _UNNAMED]
    for row, cells in table.rows:
        if len(cells) == width and not unnamed and all(type(c) is str for c in cells):
            if not "".join(cells).strip():  # type: ignore[arg-type]
                continue
            beyond = None
        else:
            if not any(_filled(c) for c in cells):
                continue
            # Cells past the header's width are fine while empty (spreadsheets export touched columns as ",,").
            beyond = next((i for i in range(width, len(cells)) if _filled(cells[i])), None)
        if len(records) + len(problems) >= MAX_ROWS:
            raise InvalidInput(f"{source}: more than {MAX_ROWS:,} rows; split the batch")
        if beyond is not None and table.workbook:
            problems.append(f"row {row}: column {column_letter(beyond)} has a value but no header")
            continue
        if len(cells) < width or beyond is not None:
            problems.append(f"row {row}: has {len(cells)} cells, the header has {width}")
            continue
        problems += [
            f"row {row}: column {column_letter(i)} has a value but no header" for i in unnamed if _filled(cells[i])
        ]
        values = {field: cells[i] for i, field in wanted}
        record, row_problems = _record(row, values, template, table.decimal_comma)
        if record is not None:
            earlier = first_row_of.setdefault(record.email, row)
            if earlier != row:
                row_problems.append(f"row {row}: duplicate email {record.email} (first on row {earlier})")
        if row_problems:
            problems.extend(row_problems)
        elif record is not None:
            records.append(record)
    if problems:
        raise RecordErrors(source, problems)
    if not records:
        raise InvalidInput(f"{source}: has a header but no records")
    return records


def _filled(cell: Cell) -> bool:
    return cell is not None and (not isinstance(cell, str) or bool(cell.strip()))


def _map_header(header: Sequence[str], columns: dict[str, str], source: str) -> list[str]:
    mapping = {header_key(name): field for name, field in columns.items()}
    fields = []
    unknown = []
    for index, raw in enumerate(header):
        key = header_key(raw)
        target = _UNNAMED if not key else mapping.get(key, _FIELD_KEYS.get(key))
        if target is None:
            unknown.append(f"{raw.strip()!r} (column {column_letter(index)})")
        fields.append(target or _UNNAMED)
    if unknown:
        raise InvalidInput(
            f"{source}: row 1: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"known: {', '.join(FIELDS)} (map others with --map 'HEADER=FIELD' or --map 'HEADER=ignore')"
        )
    repeated = sorted({f for f in fields if f not in (IGNORE, _UNNAMED) and fields.count(f) > 1})
    if repeated:
        raise InvalidInput(f"{source}: more than one column for {', '.join(repeated)}")
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        raise InvalidInput(f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return fields


def _text(cell: Cell) -> str:
    """A cell as text: what the spreadsheet shows for it, give or take its number format."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime) and cell.time() == time_of_day():
        return cell.date().isoformat()
    return str(cell)


def _record(
    row: int, cells: dict[str, Cell], template: Template, decimal_comma: bool
) -> tuple[Record | None, list[str]]:
    problems = []
    values = {field: cell.strip() if type(cell) is str else _text(cell) for field, cell in cells.items()}
    texts = values.values()
    if max(map(len, texts)) > MAX_CELL or not _SPREADSHEET_ERRORS.isdisjoint(texts):  # each cell looked at once
        for field, value in values.items():
            if len(value) > MAX_CELL:
                problems.append(f"row {row}: {field} is {len(value)} characters; at most {MAX_CELL}")
            elif value in _SPREADSHEET_ERRORS:
                problems.append(f"row {row}: {field} holds the spreadsheet error {value}")
        return None, problems
    email = normalise_email(values["email"])
    if not email:
        problems.append(f"row {row}: email is empty")
    elif not _EMAIL.fullmatch(email):
        problems.append(f"row {row}: invalid email {values['email']!r}")
    name = values["name"]
    if not name:
        problems.append(f"row {row}: name is empty")
    dated = cells.get("issue_date")
    issue_date = None if dated is None else _date(dated, row, problems)
    credits = _credits(cells.get("credits_earned"), row, template, decimal_comma, problems)
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


def _date(cell: Cell, row: int, problems: list[str]) -> datetime | None:
    """A date cell, or ISO text (2026-06-30, 2026-06-30T12:00:00Z); the day is taken as UTC."""
    if isinstance(cell, bool | int | float):
        problems.append(
            f"row {row}: issue_date {_text(cell)} is a number, not a date (format the cell as a date, "
            "or write 2026-06-30)"
        )
        return None
    if isinstance(cell, str):
        cell = cell.strip()
        if not cell:
            return None
        cell = _iso_date(cell)
        if isinstance(cell, datetime) and cell.tzinfo is not None:
            return cell
    if isinstance(cell, datetime):
        if cell.time() != time_of_day():
            problems.append(
                f"row {row}: issue_date {cell:%Y-%m-%d %H:%M} has a time of day but no time zone; "
                "give the date alone (or 2026-06-30T12:00:00Z)"
            )
            return None
        cell = cell.date()
    if isinstance(cell, date):
        return datetime(cell.year, cell.month, cell.day, tzinfo=UTC)
    if cell is None:
        return None
    problems.append(f"row {row}: issue_date {_text(cell)!r} is not a date like 2026-06-30 (or 2026-06-30T12:00:00Z)")
    return None


def _iso_date(text: str) -> datetime | str:
    """2026-06-30 or 2026-06-30T12:00:00Z (UTC), or a date and time without a zone as spreadsheets export a
    date column (2026-06-30 00:00:00); the text itself when it is none of these (a regex: strptime is 10x
    slower, and a 100,000-row file has 100,000 dates)."""
    found = _ISO_DATE.fullmatch(text)
    if found is None:
        return text
    year, month, day, hour, minute, second, zone = found.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return text
    return moment.replace(tzinfo=UTC) if zone else moment


def _credits(cell: Cell, row: int, template: Template, decimal_comma: bool, problems: list[str]) -> float | None:
    if cell is None or cell == "":
        return None
    amount, problem = _amount(cell, type(cell).__name__, decimal_comma, template.credits_available)  # Cells hash
    if problem:
        problems.append(f"row {row}: {problem}")
    return amount


@lru_cache(maxsize=4096)
def _amount(cell: Cell, kind: str, decimal_comma: bool, available: float | None) -> tuple[float | None, str]:
    """A credits cell's amount, or the problem with it (without its row): kept for the few values a batch's
    rows hold, each read once (`kind` keeps 1 and True apart, which are equal keys)."""
    value = _text(cell)
    if not value:
        return None, ""
    if decimal_comma and _DECIMAL_COMMA.fullmatch(value):
        value = value.replace(",", ".")
    try:
        if not isinstance(cell, str | int | float) or isinstance(cell, bool):
            raise InvalidOperation
        amount = Decimal(value)
    except InvalidOperation:
        return None, f"credits_earned {_text(cell)!r} is not a number"
    if not amount.is_finite() or amount < 0:
        return None, f"credits_earned {_text(cell)!r} must be a number of zero or more"
    if available is not None and amount > Decimal(str(available)):
        return None, f"credits_earned {_text(cell)} is more than the {available} the achievement offers"
    return float(amount), ""
