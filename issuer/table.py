"""Records files as tables of cells: CSV the way spreadsheets export it (the workbook side is `issuer.xlsx`).

Invariants: bytes in, a `Table` out, no I/O. Row numbers are the spreadsheet's: the header is row 1, a blank
line is a row, a line break inside a quoted cell is not. Text is UTF-8 (a UTF-8 byte-order mark is dropped,
UTF-16 with its mark is decoded); anything else is refused with the first row that is not UTF-8, never
guessed, so no credential ever carries mojibake. The separator is the one that splits the first rows into
the same number of cells, comma on a tie, unless the caller forces one.
"""

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from anchoring.errors import InvalidInput

if TYPE_CHECKING:
    from _csv import Reader

Cell = str | int | float | bool | datetime | date | time | timedelta | None
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", ",": ",", ";": ";", "\t": "\t"}
SNIFF_ROWS = 50
SNIFF_CHARS = 64 * 1024
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by "surrogateescape"
UTF8_HINT = (
    'the file is probably a Latin-1 or Windows-1252 export: save it as UTF-8 ("CSV UTF-8" in Excel, '
    'character set "Unicode (UTF-8)" in LibreOffice)'
)


@dataclass(frozen=True)
class Table:
    """A header and its rows, each `(row number, cells)`; rows are read lazily, once."""

    header: tuple[str, ...]
    rows: Iterable[tuple[int, Sequence[Cell]]]
    read_as: str
    """How the file was read, for people and for the batch identity: "comma-separated CSV", "sheet 'Grades'"."""
    decimal_comma: bool = False
    """Numbers may be written 2,5 (semicolon-separated files come from locales that write them so)."""
    workbook: bool = False
    """Cells sit in a grid (a sheet), so a row cannot have too few of them, only values without a header."""


def column_letter(index: int) -> str:
    """Spreadsheet name of the 0-based column `index`: A, B, ..., Z, AA, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def delimiter_option(value: str) -> str:
    """The separator named by `--delimiter`: , ; tab (or comma, semicolon)."""
    found = _DELIMITER_NAMES.get(value if value == "\t" else value.strip().lower())
    if found is None:
        raise InvalidInput(f"--delimiter {value!r}: expected one of , ; tab")
    return found


def read_csv(data: bytes, source: str, delimiter: str | None = None) -> Table:
    text = _decode(data, source, delimiter)
    if not text.strip():
        raise InvalidInput(f"{source}: file is empty")
    chosen = delimiter or detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=chosen, strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise InvalidInput(f"{source}: cannot read the header row: {exc}") from None
    return Table(tuple(header), _rows(reader, source), f"{DELIMITERS[chosen]}-separated CSV", chosen == ";")


def _rows(reader: "Reader", source: str) -> Iterator[tuple[int, Sequence[Cell]]]:
    row = 1
    try:
        for cells in reader:
            row += 1
            yield row, cells
    except csv.Error as exc:
        raise InvalidInput(f"{source}: malformed CSV at line {reader.line_num}: {exc}") from None


def detect_delimiter(text: str) -> str:
    """The separator that gives the first rows most cells, all rows as many as the header; comma on a tie."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only: a cut row would look inconsistent
    best, best_score = ",", (False, False, 0)
    for candidate in DELIMITERS:
        rows = []
        try:
            for cells in csv.reader(io.StringIO(sample, newline=""), delimiter=candidate):
                if any(c.strip() for c in cells):
                    rows.append(len(cells))
                if len(rows) >= SNIFF_ROWS:
                    break
        except csv.Error:
            continue
        if not rows:
            continue
        score = (rows[0] > 1, all(n == rows[0] for n in rows), rows[0])
        if score > best_score:
            best, best_score = candidate, score
    return best


def _decode(data: bytes, source: str, delimiter: str | None) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" export: UTF-16 with its byte-order mark (and tabs).
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidInput(f"{source}: starts as UTF-16 text but is not valid UTF-16; save it as UTF-8") from None
    data = data.removeprefix(codecs.BOM_UTF8)  # Excel's "CSV UTF-8" export starts with one
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, source, delimiter, exc) from None


def _not_utf8(data: bytes, source: str, delimiter: str | None, exc: UnicodeDecodeError) -> InvalidInput:
    """The error for text that is not UTF-8, naming the first row (and column) that holds such a byte."""
    text = data.decode("utf-8", "surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or detect_delimiter(text))
    found: list[tuple[int, int, int]] = []  # (row, column, byte)
    try:
        for row, cells in enumerate(reader, 1):
            for column, cell in enumerate(cells):
                bad = _UNDECODABLE.search(cell)
                if bad:
                    found.append((row, column, ord(bad.group()) - 0xDC00))
                    break
    except csv.Error:
        found = []
    if not found:  # unreadable as CSV too: fall back to the line of the first bad byte
        line = data[: exc.start].count(b"\n") + 1
        return InvalidInput(f"{source}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); {UTF8_HINT}")
    row, column, byte = found[0]
    more = f", and {len(found) - 1} more row{'s' if len(found) > 2 else ''} like it" if len(found) > 1 else ""
    return InvalidInput(
        f"{source}: row {row} is not UTF-8 text (byte 0x{byte:02x} in column {column_letter(column)}{more}); "
        f"{UTF8_HINT}"
    )
