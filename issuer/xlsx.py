"""Excel workbooks (.xlsx) as tables of cells, read with openpyxl in read-only mode.

Invariants: bytes in, a `Table` out, no file I/O (the workbook is opened from memory). Cells hold what the
spreadsheet last calculated, never a formula's text; date cells come back as dates (openpyxl converts both of
Excel's date systems). Before openpyxl sees the archive its unpacked size is checked (a zip bomb is refused),
and openpyxl parses the XML through defusedxml. The header is row 1 of the sheet, empty cells at its end are
dropped, and every row is padded to the header's width.
"""

import io
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import openpyxl

from anchoring.errors import InvalidInput
from issuer.table import Cell, Table

MAX_UNPACKED = 1024 * 1024 * 1024
_ODS = b"application/vnd.oasis.opendocument.spreadsheet"


def read_xlsx(data: bytes, source: str, sheet: str | None = None) -> Table:
    _check_archive(data, source)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook; each is bad input here
        raise InvalidInput(f"{source}: not a readable Excel workbook: {exc}") from None
    titles = [ws.title for ws in book.worksheets]
    if not titles:
        raise InvalidInput(f"{source}: has no sheet of cells")
    if sheet is None:
        index = 0
    else:
        wanted = sheet.strip().casefold()
        matches = [i for i, title in enumerate(titles) if title.strip().casefold() == wanted]
        if not matches:
            raise InvalidInput(f"{source}: no sheet {sheet!r} (sheets: {', '.join(repr(t) for t in titles)})")
        index = matches[0]
    worksheet: Any = book.worksheets[index]
    worksheet.reset_dimensions()  # the stored size can be wrong (some writers put A1); read every row there is
    rows = worksheet.iter_rows(values_only=True)
    name = f"sheet {worksheet.title!r}"
    first = _next_row(rows, source, name, 1)
    if first is None:
        raise InvalidInput(f"{source}: {name} is empty")
    header = [_header_text(value) for value in first]
    while header and not header[-1]:
        header.pop()
    return Table(tuple(header), _padded(rows, len(header), source, name), name, workbook=True)


def _check_archive(data: bytes, source: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            unpacked = sum(info.file_size for info in infos)
            if unpacked > MAX_UNPACKED:
                raise InvalidInput(f"{source}: unpacks to {unpacked:,} bytes; at most {MAX_UNPACKED:,}")
            names = {info.filename for info in infos}
            if "xl/workbook.xml" in names:
                return
            mimetype = archive.read("mimetype")[: len(_ODS)] if "mimetype" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, ValueError, zlib.error):
        raise InvalidInput(f"{source}: is a damaged zip archive, not a readable Excel workbook") from None
    if mimetype == _ODS:
        raise InvalidInput(
            f"{source}: is an OpenDocument spreadsheet (.ods); save it as an Excel workbook (.xlsx) or as CSV UTF-8"
        )
    raise InvalidInput(f"{source}: is a zip archive but not an Excel workbook (.xlsx)")


def _header_text(value: Cell) -> str:
    return "" if value is None else str(value)


def _next_row(rows: Iterator[tuple[Cell, ...]], source: str, name: str, row: int) -> tuple[Cell, ...] | None:
    try:
        return next(rows, None)
    except Exception as exc:  # a damaged sheet fails while it is read, not when the workbook opens
        raise InvalidInput(f"{source}: {name} is damaged at row {row}: {exc}") from None


def _padded(
    rows: Iterator[tuple[Cell, ...]], width: int, source: str, name: str
) -> Iterator[tuple[int, Sequence[Cell]]]:
    row = 1
    while True:
        row += 1
        cells = _next_row(rows, source, name, row)
        if cells is None:
            return
        yield row, (tuple(cells) + (None,) * (width - len(cells)) if len(cells) < width else cells)
