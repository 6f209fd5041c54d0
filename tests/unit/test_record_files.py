"""Records files as spreadsheets write them: BOMs, separators, encodings, header spellings, .xlsx workbooks."""

import hashlib
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from anchoring.errors import InvalidInput
from issuer import xlsx
from issuer.batch import plan_batch
from issuer.records import Record, RecordErrors, parse_records, read_table
from issuer.table import delimiter_option, detect_delimiter
from issuer.templates import Template, load_template
from issuer.workspace import init_workspace
from tests.conftest import ASSETS, TEST_SCRYPT_N

RECORDS = ASSETS / "records"
TEMPLATE = Template.model_validate(
    {"key": "course", "name": "Course", "description": "D", "criteria": "C", "credits_available": 3.0}
)
JUNE_30 = datetime(2026, 6, 30, tzinfo=UTC)
UTF8_HINT = (
    'the file is probably a Latin-1 or Windows-1252 export: save it as UTF-8 ("CSV UTF-8" in Excel, '
    'character set "Unicode (UTF-8)" in LibreOffice)'
)


def parse(
    data: bytes,
    source: str = "rec.csv",
    columns: dict[str, str] | None = None,
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> list[Record]:
    return parse_records(data, source, columns or {}, TEMPLATE, delimiter=delimiter, sheet=sheet)


def problems(data: bytes, source: str = "rec.csv") -> list[str]:
    with pytest.raises(RecordErrors) as caught:
        parse(data, source)
    return caught.value.problems


def message(data: bytes, source: str = "rec.csv", *, delimiter: str | None = None, sheet: str | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(data, source, delimiter=delimiter, sheet=sheet)
    return str(caught.value)


def workbook(*sheets: tuple[str, list[list[Any]]], epoch: Any = None) -> bytes:
    """An .xlsx written by openpyxl, as Excel stores it: dates as numbers with a date format."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    if epoch is not None:
        book.epoch = epoch
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# CSV as spreadsheets export it


@pytest.mark.parametrize(
    ("asset", "read_as", "expected"),
    [
        (
            "excel-csv-utf8.csv",
            "comma-separated CSV",
            [
                ("ada@example.org", "Ada Lovelace", JUNE_30, 2.5, None),
                ("zoe@example.org", "Zoë Ångström", JUNE_30, 3.0, None),
            ],
        ),
        (
            "excel-semicolon-bom.csv",
            "semicolon-separated CSV",
            [
                ("rene@example.fr", "René Lévesque", JUNE_30, 2.5, "B; with merit"),
                ("juergen@example.de", "Jürgen Groß", datetime(2026, 7, 1, tzinfo=UTC), 3.0, "A"),
            ],
        ),
        (
            "tab-separated.txt",
            "tab-separated CSV",
            [("ada@example.org", "Ada Lovelace", None, 2.5, None), ("bob@example.org", "Bob, Jr.", None, 1.0, None)],
        ),
        (
            "excel-unicode-text.txt",
            "tab-separated CSV",
            [
                ("ada@example.org", "Ada Lovelace", None, None, None),
                ("zoe@example.org", "Zoë Ångström", None, None, None),
            ],
        ),
    ],
    ids=["excel csv utf-8 (bom, crlf)", "excel semicolon (bom, decimal comma)", "tabs", "excel unicode text (utf-16)"],
)
def test_spreadsheet_exports_are_read(asset: str, read_as: str, expected: list[tuple[object, ...]]) -> None:
    data = (RECORDS / asset).read_bytes()
    assert read_table(data, asset).read_as == read_as
    records = parse(data, asset)
    assert [(r.email, r.name, r.issue_date, r.credits_earned, r.result) for r in records] == expected
    assert [r.row for r in records] == [2, 3]


def test_latin1_export_names_the_row_and_the_fix() -> None:
    data = (RECORDS / "latin1-export.csv").read_bytes()
    assert message(data, "latin1-export.csv") == (
        f"latin1-export.csv: row 3 is not UTF-8 text (byte 0xe9 in column B, and 1 more row like it); {UTF8_HINT}"
    )


def test_not_utf8_in_the_header_is_row_1() -> None:
    assert (
        message(b"email,n\xe4me\na@b.org,A\n")
        == f"rec.csv: row 1 is not UTF-8 text (byte 0xe4 in column B); {UTF8_HINT}"
    )


def test_bad_utf16_is_refused() -> None:
    data = b"\xff\xfe" + "email\tname\n".encode("utf-16-le") + b"\x00\xd8"  # a lone surrogate half
    assert message(data) == "rec.csv: starts as UTF-16 text but is not valid UTF-16; save it as UTF-8"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("email,name\na@b.org,A\n", ","),
        ("email;name\na@b.org;A\n", ";"),
        ("email\tname\na@b.org\tA\n", "\t"),
        ('email,name\na@b.org,"Ada; Countess"\nb@b.org,B\n', ","),
        ('email;name\na@b.org;"Lovelace, Ada"\n', ";"),
        ("email;name;credits_earned\na@b.org;A;2,5\nb@b.org;B;1,5\n", ";"),
        ("email\na@b.org\n", ","),
    ],
    ids=[
        "comma",
        "semicolon",
        "tab",
        "semicolon in a quoted cell",
        "comma in a quoted cell",
        "decimal commas",
        "one column",
    ],
)
def test_separator_is_detected(text: str, delimiter: str) -> None:
    assert detect_delimiter(text) == delimiter


def test_forced_separator_wins() -> None:
    data = (RECORDS / "excel-semicolon-bom.csv").read_bytes()
    assert message(data, delimiter=",") == (
        "rec.csv: row 1: unknown column 'E-mail ; Name ;ISSUE_DATE;Credits Earned;Result' (column A); known: email, "
        "name, issue_date, credits_earned, evidence_url, evidence_narrative, result "
        "(map others with --map 'HEADER=FIELD' or --map 'HEADER=ignore')"
    )
    (record,) = parse(b"email;name\na@b.org;Smith, Ann\n", delimiter=";")
    assert record.name == "Smith, Ann"


@pytest.mark.parametrize(
    ("option", "delimiter"), [(",", ","), (";", ";"), ("tab", "\t"), ("\t", "\t"), ("Semicolon", ";")]
)
def test_delimiter_option(option: str, delimiter: str) -> None:
    assert delimiter_option(option) == delimiter


def test_unknown_delimiter_option() -> None:
    with pytest.raises(InvalidInput) as caught:
        delimiter_option("|")
    assert str(caught.value) == "--delimiter '|': expected one of , ; tab"


def test_decimal_comma_only_in_semicolon_files() -> None:
    assert problems(b'email,name,credits_earned\na@b.org,A,"2,5"\n') == ["row 2: credits_earned '2,5' is not a number"]


# headers


def test_headers_match_without_case_spaces_hyphens_or_underscores() -> None:
    data = b" EMAIL ,Name,Issue-Date,credits earned,Evidence_URL\na@b.org,A,2026-06-30,1,https://ex.org/1\n"
    (record,) = parse(data)
    assert (record.email, record.issue_date, record.credits_earned, record.evidence_url) == (
        "a@b.org",
        JUNE_30,
        1.0,
        "https://ex.org/1",
    )


def test_mapped_headers_match_the_same_way() -> None:
    (record,) = parse(
        b"Student E-Mail,FULL  NAME,Notes\na@b.org,A,x\n",
        columns={"student e-mail": "email", "Full name": "name", "notes": "ignore"},
    )
    assert (record.email, record.name) == ("a@b.org", "A")


def test_every_unknown_header_is_listed_with_its_row_and_column() -> None:
    assert message(b"Email;Full name;Phone\na@b.org;A;1\n") == (
        "rec.csv: row 1: unknown columns 'Full name' (column B), 'Phone' (column C); known: email, name, issue_date, "
        "credits_earned, evidence_url, evidence_narrative, result "
        "(map others with --map 'HEADER=FIELD' or --map 'HEADER=ignore')"
    )


def test_two_headers_for_one_field() -> None:
    assert message(b"Email,name,E-MAIL\na,b,c\n") == "rec.csv: more than one column for email"


def test_empty_columns_beside_the_data_are_ignored_until_they_hold_a_value() -> None:
    assert len(parse(b"email,name,,\r\na@b.org,A,,\r\nb@b.org,B\r\n".replace(b"B\r\n", b"B,,\r\n"))) == 2
    assert len(parse(b"email,name\na@b.org,A,,\n")) == 1
    assert problems(b"email,name,\na@b.org,A,stray\nb@b.org,B,\n") == ["row 2: column C has a value but no header"]
    assert problems(b"email,name\na@b.org,A,stray\n") == ["row 2: has 3 cells, the header has 2"]
    assert problems(b"email,name,result\na@b.org,A\n") == ["row 2: has 2 cells, the header has 3"]


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    data = b'email,name,evidence_narrative\na@b.org,A,"two\nlines"\n\nnot-an-email,B,\n'
    assert problems(data) == ["row 4: invalid email 'not-an-email'"]


def test_spreadsheet_errors_are_not_issued_as_text() -> None:
    assert problems(b"email,name,result\na@b.org,#REF!,#N/A\n") == [
        "row 2: name holds the spreadsheet error #REF!",
        "row 2: result holds the spreadsheet error #N/A",
    ]


# dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-30", JUNE_30),
        ("2026-06-30T12:00:00Z", datetime(2026, 6, 30, 12, tzinfo=UTC)),
        ("2026-06-30 00:00:00", JUNE_30),
        ("2026-06-30T00:00:00", JUNE_30),
    ],
)
def test_iso_dates(text: str, expected: datetime) -> None:
    (record,) = parse(f"email,name,issue_date\na@b.org,A,{text}\n".encode())
    assert record.issue_date == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("30/06/2026", "row 2: issue_date '30/06/2026' is not a date like 2026-06-30 (or 2026-06-30T12:00:00Z)"),
        ("2026-02-30", "row 2: issue_date '2026-02-30' is not a date like 2026-06-30 (or 2026-06-30T12:00:00Z)"),
        (
            "2026-06-30 14:30:00",
            "row 2: issue_date 2026-06-30 14:30 has a time of day but no time zone; give the date alone "
            "(or 2026-06-30T12:00:00Z)",
        ),
    ],
    ids=["day first", "no such day", "time without zone"],
)
def test_bad_dates(text: str, problem: str) -> None:
    assert problems(f"email,name,issue_date\na@b.org,A,{text}\n".encode()) == [problem]


# .xlsx workbooks


def test_xlsx_cells_keep_their_types() -> None:
    data = workbook(
        (
            "Grades",
            [
                [" Email", "Name ", "Issue Date", "Credits earned", "Result", None, None],
                ["ada@example.org", "Ada", date(2026, 6, 30), 2.5, 92],
                ["bob@example.org", "Bob", datetime(2026, 7, 1), 3, "B"],
                [],
                ["cy@example.org", "Cy", None, 1.0, 92.5],
            ],
        )
    )
    table = read_table(data, "rec.xlsx")
    assert (table.header, table.read_as) == (
        (" Email", "Name ", "Issue Date", "Credits earned", "Result"),
        "sheet 'Grades'",
    )
    records = parse(data, "rec.xlsx")
    assert [(r.row, r.issue_date, r.credits_earned, r.result) for r in records] == [
        (2, JUNE_30, 2.5, "92"),
        (3, datetime(2026, 7, 1, tzinfo=UTC), 3.0, "B"),
        (5, None, 1.0, "92.5"),
    ]


def test_xlsx_dates_in_the_1904_system() -> None:
    data = workbook(
        ("S", [["email", "name", "issue_date"], ["a@b.org", "A", date(2026, 6, 30)]]), epoch=CALENDAR_MAC_1904
    )
    assert parse(data, "rec.xlsx")[0].issue_date == JUNE_30


def test_xlsx_first_sheet_by_default_or_the_one_named() -> None:
    data = workbook(
        ("Spring", [["email", "name"], ["spring@b.org", "S"]]),
        ("Autumn term", [["email", "name"], ["autumn@b.org", "A"]]),
    )
    assert [r.email for r in parse(data, "rec.xlsx")] == ["spring@b.org"]
    assert [r.email for r in parse(data, "rec.xlsx", sheet=" autumn TERM")] == ["autumn@b.org"]
    assert message(data, "rec.xlsx", sheet="Summer") == "rec.xlsx: no sheet 'Summer' (sheets: 'Spring', 'Autumn term')"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            ["a@b.org", "A", 46203],
            "row 2: issue_date 46203 is a number, not a date (format the cell as a date, or write 2026-06-30)",
        ),
        (
            ["a@b.org", "A", datetime(2026, 6, 30, 9, 15)],
            "row 2: issue_date 2026-06-30 09:15 has a time of day but no time zone; give the date alone "
            "(or 2026-06-30T12:00:00Z)",
        ),
        (["a@b.org", "A", None, True], "row 2: credits_earned 'TRUE' is not a number"),
        (["a@b.org", "A", None, date(2026, 1, 1)], "row 2: credits_earned '2026-01-01' is not a number"),
        (["a@b.org", "A", None, 4], "row 2: credits_earned 4 is more than the 3.0 the achievement offers"),
        (["a@b.org", "A", None, None, "stray"], "row 2: column E has a value but no header"),
    ],
    ids=["date as a number", "date with a time", "boolean credits", "date as credits", "too many credits", "no header"],
)
def test_xlsx_cell_problems(row: list[Any], problem: str) -> None:
    data = workbook(("S", [["email", "name", "issue_date", "credits_earned", None], row]))
    assert problems(data, "rec.xlsx") == [problem]


@pytest.mark.parametrize(
    ("data", "how", "expected"),
    [
        (workbook(("Empty", [])), {}, "rec.xlsx: sheet 'Empty' is empty"),
        (workbook(("S", [["email", "name"]])), {}, "rec.xlsx: has a header but no records"),
        (
            workbook(("S", [["email", "name"], ["a@b.org", "A"]])),
            {"delimiter": ";"},
            "rec.xlsx: is an Excel workbook; --delimiter is for CSV files",
        ),
        (b"email,name\na@b.org,A\n", {"sheet": "S"}, "rec.xlsx: is not an Excel workbook; --sheet is for .xlsx files"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512,
            {},
            "rec.xlsx: is an old Excel .xls workbook (or a password-protected one); save it as an Excel workbook "
            "(.xlsx) or as CSV UTF-8",
        ),
        (b"PK\x03\x04 cut short", {}, "rec.xlsx: is a damaged zip archive, not a readable Excel workbook"),
    ],
    ids=["empty sheet", "header only", "delimiter for xlsx", "sheet for csv", "xls", "damaged"],
)
def test_xlsx_file_errors(data: bytes, how: dict[str, str], expected: str) -> None:
    assert message(data, "rec.xlsx", delimiter=how.get("delimiter"), sheet=how.get("sheet")) == expected


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_other_zip_archives_are_named_for_what_they_are() -> None:
    ods = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
    assert message(ods, "rec.ods") == (
        "rec.ods: is an OpenDocument spreadsheet (.ods); save it as an Excel workbook (.xlsx) or as CSV UTF-8"
    )
    assert (
        message(zipped({"readme.txt": b"hi"}), "rec.zip")
        == "rec.zip: is a zip archive but not an Excel workbook (.xlsx)"
    )


def test_a_workbook_that_unpacks_too_large_is_refused_before_openpyxl_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = workbook(("S", [["email", "name"], ["a@b.org", "A"]]))
    unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    monkeypatch.setattr(xlsx, "MAX_UNPACKED", unpacked - 1)
    assert message(data, "rec.xlsx") == f"rec.xlsx: unpacks to {unpacked:,} bytes; at most {unpacked - 1:,}"


def test_a_workbook_with_broken_parts_is_bad_input() -> None:
    data = zipped({"xl/workbook.xml": b"<not-a-workbook", "[Content_Types].xml": b"<x/>"})
    assert message(data, "rec.xlsx").startswith("rec.xlsx: not a readable Excel workbook: ")


def test_formulas_give_their_calculated_value_never_their_text(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", "name"])
    sheet.append(["a@b.org", '=CONCAT("A", "da")'])
    path = tmp_path / "formula.xlsx"
    book.save(path)
    # openpyxl stores no calculated value (Excel would): the cell reads as empty, and is refused as such
    assert problems(path.read_bytes(), "rec.xlsx") == ["row 2: name is empty"]


# the batch a file maps to


def test_a_file_read_the_same_way_maps_to_the_same_batch(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", issuer_id="https://r.test.edu", issuer_name="R", scrypt_n=TEST_SCRYPT_N)
    data = b"email,name\na@b.org,A\n"
    records = tmp_path / "r.csv"
    records.write_bytes(data)
    plan = plan_batch(ws, records, "example", {})
    # A comma-separated file keeps the key it had before other formats were read, so a batch prepared then
    # still resumes when the same command runs again.
    before = hashlib.sha256()
    for part in (
        data,
        b"example",
        load_template(ws.achievements_dir, "example").source_sha256.encode(),
        ws.config.issuer.model_dump_json().encode(),
        b"{}",
        f"{ws.config.chain.chain_id}:{ws.config.chain.registry}".encode(),
    ):
        before.update(hashlib.sha256(part).digest())
    assert plan.input_key == before.hexdigest()
    assert plan_batch(ws, records, "example", {}, delimiter=",").input_key == plan.input_key

    book = tmp_path / "r.xlsx"
    book.write_bytes(
        workbook(("First", [["email", "name"], ["a@b.org", "A"]]), ("Second", [["email", "name"], ["a@b.org", "A"]]))
    )
    first = plan_batch(ws, book, "example", {})
    assert (first.read_as, first.records) == ("sheet 'First'", plan.records)
    assert plan_batch(ws, book, "example", {}, sheet="first").input_key == first.input_key
    assert plan_batch(ws, book, "example", {}, sheet="Second").input_key not in (first.input_key, plan.input_key)


@pytest.mark.parametrize(
    ("sample", "read_as", "count"),
    [
        ("sample-records.csv", "comma-separated CSV", 10),
        ("sample-records.xlsx", "sheet 'Spring 2026'", 6),
        ("sample-records-semicolon.csv", "semicolon-separated CSV", 5),
    ],
)
def test_the_samples_the_project_ships_are_read(sample: str, read_as: str, count: int) -> None:
    data = (ASSETS.parent.parent / "scripts" / sample).read_bytes()
    assert read_table(data, sample).read_as == read_as
    records = parse(data, sample)
    assert len(records) == count
    assert len({r.email for r in records}) == count


# whatever the bytes: records, or the project's own clean error

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL_BOOK = workbook(("S", [["email", "name", "issue_date"], ["a@b.org", "A", date(2026, 6, 30)]]))


def records_or_clean_error(data: bytes) -> None:
    message = ""
    try:
        parse(data)
    except InvalidInput as exc:  # any other exception fails the test
        message = str(exc)
    assert message == "" or message.startswith("rec.csv: ")


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_as_records(data: bytes) -> None:
    records_or_clean_error(data)
    records_or_clean_error(b"PK\x03\x04" + data)
    records_or_clean_error(b"\xef\xbb\xbf" + data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SMALL_BOOK) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_workbooks(changes: list[tuple[int, int]]) -> None:
    data = bytearray(SMALL_BOOK)
    for position, value in changes:
        data[position] = value
    records_or_clean_error(bytes(data))


@FUZZ
@given(st.lists(st.lists(st.text(max_size=12), max_size=5), max_size=6), st.sampled_from([",", ";", "\t"]))
def test_random_tables_as_csv(rows: list[list[str]], delimiter: str) -> None:
    text = "\n".join(delimiter.join(cells) for cells in [["email", "name"], *rows])
    records_or_clean_error(text.encode("utf-8", "surrogatepass"))


def test_credits_read_once_per_value_keep_each_row_and_each_cell_type() -> None:
    # A credits value is read once per batch and kept (a million rows hold a few values): each row still gets
    # its own problem, and a number cell, a text cell and a boolean cell holding "the same" value stay apart.
    rows: list[list[Any]] = [["a@b.org", "A", 2], ["c@b.org", "C", True], ["d@b.org", "D", 2.0], ["e@b.org", "E", "2"]]
    rows += [["f@b.org", "F", True], ["g@b.org", "G", "x"], ["h@b.org", "H", "x"], ["i@b.org", "I", 1]]
    data = workbook(("S", [["email", "name", "credits_earned"], *rows]))
    assert problems(data, "rec.xlsx") == [
        "row 3: credits_earned 'TRUE' is not a number",
        "row 6: credits_earned 'TRUE' is not a number",
        "row 7: credits_earned 'x' is not a number",
        "row 8: credits_earned 'x' is not a number",
    ]
    fine = workbook(
        ("S", [["email", "name", "credits_earned"], *(r for r in rows if r[2] not in ("x",) and r[2] is not True)])
    )
    assert [(r.email, r.credits_earned) for r in parse(fine, "rec.xlsx")] == [
        ("a@b.org", 2.0),
        ("d@b.org", 2.0),
        ("e@b.org", 2.0),
        ("i@b.org", 1.0),
    ]
