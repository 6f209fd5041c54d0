"""Records CSV: every row is checked first; each problem is reported with its row number."""

from pathlib import Path

import pytest

from anchoring.errors import InvalidInput
from issuer.batch import read_records_file
from issuer.records import RecordErrors, normalise_email, parse_records
from issuer.templates import Template

TEMPLATE = Template.model_validate(
    {"key": "course", "name": "Course", "description": "D", "criteria": "C", "credits_available": 3.0}
)


def parse(data: bytes, columns: dict[str, str] | None = None) -> list[object]:
    return list(parse_records(data, "rec.csv", columns or {}, TEMPLATE))


def test_all_fields_parse() -> None:
    data = (
        b"email,name,issue_date,credits_earned,evidence_url,evidence_narrative,result\n"
        b" Ada@Example.ORG ,Ada Lovelace,2026-06-30,2.5,https://ex.org/p/1,Final project,A\n"
        b"bob@example.org,Bob,,,,,\n\n"
    )
    first, second = parse_records(data, "rec.csv", {}, TEMPLATE)
    assert first.email == "ada@example.org"
    assert first.row == 2
    assert first.issue_date is not None
    assert first.issue_date.isoformat() == "2026-06-30T00:00:00+00:00"
    assert first.credits_earned == 2.5
    assert (first.evidence_url, first.evidence_narrative, first.result) == ("https://ex.org/p/1", "Final project", "A")
    assert second.issue_date is None
    assert second.credits_earned is None


def test_mapped_and_ignored_columns() -> None:
    data = b"E-mail Address,Full Name,Phone\na@b.org,A,123\n"
    (record,) = parse_records(
        data, "rec.csv", {"E-mail Address": "email", "Full Name": "name", "Phone": "ignore"}, TEMPLATE
    )
    assert (record.email, record.name) == ("a@b.org", "A")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "rec.csv: file is empty"),
        (
            b"email,name\na@b.org,\xffA\n",
            "rec.csv: row 2 is not UTF-8 text (byte 0xff in column B); the file is probably a Latin-1 or "
            'Windows-1252 export: save it as UTF-8 ("CSV UTF-8" in Excel, character set "Unicode (UTF-8)" in '
            "LibreOffice)",
        ),
        (b"email\na@b.org\n", "rec.csv: missing column name"),
        (b"name\nA\n", "rec.csv: missing column email"),
        (
            b"email,name,phone\na@b.org,A,123\n",
            "rec.csv: row 1: unknown column 'phone' (column C); known: email, name, issue_date, credits_earned, "
            "evidence_url, "
            "evidence_narrative, result (map others with --map 'HEADER=FIELD' or --map 'HEADER=ignore')",
        ),
        (b"email,email,name\na,b,c\n", "rec.csv: more than one column for email"),
        (b"email,name\n", "rec.csv: has a header but no records"),
        (b'email,name\n"a@b.org,A\n', "rec.csv: malformed CSV at line 2: unexpected end of data"),
    ],
    ids=[
        "empty",
        "non-utf8",
        "no name column",
        "no email column",
        "unknown column",
        "twice",
        "no rows",
        "quote",
    ],
)
def test_file_level_errors(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(data)
    assert str(caught.value) == message


def test_every_row_problem_is_listed_with_its_row() -> None:
    data = (
        b"email,name,issue_date,credits_earned,evidence_url\n"
        b"a@b.org,A,,,\n"
        b"A@B.org ,B,,,\n"
        b"not-an-email,C,,,\n"
        b",D,,,\n"
        b"x@y.org,,,,\n"
        b"q@b.org,Q,2026-13-01,abc,ftp://x\n"
        b"r@b.org,R,,4,\n"
        b"s@b.org,S,,-1,\n"
        b"t@b.org,T,too,many,cells,here\n"
    )
    with pytest.raises(RecordErrors) as caught:
        parse(data)
    assert caught.value.problems == [
        "row 3: duplicate email a@b.org (first on row 2)",
        "row 4: invalid email 'not-an-email'",
        "row 5: email is empty",
        "row 6: name is empty",
        "row 7: issue_date '2026-13-01' is not a date like 2026-06-30 (or 2026-06-30T12:00:00Z)",
        "row 7: credits_earned 'abc' is not a number",
        "row 7: evidence_url 'ftp://x' is not an http(s) URL",
        "row 8: credits_earned 4 is more than the 3.0 the achievement offers",
        "row 9: credits_earned '-1' must be a number of zero or more",
        "row 10: has 6 cells, the header has 5",
    ]
    assert str(caught.value).startswith("rec.csv: 10 problems, nothing was issued:\n  row 3: duplicate email")


@pytest.mark.parametrize(
    "email",
    [
        "plain",
        "a@b",
        "a@@b.org",
        "a b@c.org",
        "a@b..org",
        ".a@b.org",
        "a.@b.org",
        "a@-b.org",
        "a@b.o",
        "x" * 65 + "@b.org",
    ],
)
def test_invalid_emails(email: str) -> None:
    with pytest.raises(RecordErrors, match="invalid email"):
        parse(f"email,name\n{email},N\n".encode())


@pytest.mark.parametrize(
    "email", ["a@b.org", "first.last+tag@sub.example.co.uk", "o'brien@example.ie", "x@xn--bcher-kva.de"]
)
def test_valid_emails(email: str) -> None:
    assert len(parse(f"email,name\n{email},N\n".encode())) == 1


def test_email_normalisation() -> None:
    assert normalise_email("  Ada@Example.ORG \t") == "ada@example.org"


def test_long_cells_are_refused() -> None:
    with pytest.raises(RecordErrors, match="row 2: name is 5000 characters; at most 4000"):
        parse(b"email,name\na@b.org," + b"n" * 5000 + b"\n")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"email,name\n,Ada\n", "rec.csv: 1 problem, nothing was issued:\n  row 2: email is empty"),
        (
            b"email,name\nada@example,Ada\n",
            "rec.csv: 1 problem, nothing was issued:\n  row 2: invalid email 'ada@example'",
        ),
        (
            b"email,name\nada@example.org,Ada\nbob@example.org,Bob\n ADA@example.org,Ada L.\n",
            "rec.csv: 1 problem, nothing was issued:\n  row 4: duplicate email ada@example.org (first on row 2)",
        ),
        (
            b"email,name,issue_date\nada@example.org,Ada,30.06.2026\n",
            "rec.csv: 1 problem, nothing was issued:\n"
            "  row 2: issue_date '30.06.2026' is not a date like 2026-06-30 (or 2026-06-30T12:00:00Z)",
        ),
        (
            b"email,name,credits_earned\nada@example.org,Ada,two\n",
            "rec.csv: 1 problem, nothing was issued:\n  row 2: credits_earned 'two' is not a number",
        ),
        (b"", "rec.csv: file is empty"),
        (b"\xef\xbb\xbf\r\n \r\n", "rec.csv: file is empty"),
        (b"\xef\xbb\xbfEmail;Name\r\n", "rec.csv: has a header but no records"),
    ],
    ids=[
        "missing email",
        "invalid email",
        "duplicate email",
        "bad date",
        "bad number",
        "empty file",
        "empty but for a bom",
        "header only",
    ],
)
def test_each_kind_of_bad_input_has_its_message(data: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(data)
    assert str(caught.value) == expected


def test_a_200_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(200 * 1000 * 1000)  # sparse: nothing is written, the size is what counts
    with pytest.raises(InvalidInput) as caught:
        read_records_file(path)
    assert str(caught.value) == (
        f"{path}: 200,000,000 bytes is over the limit of 104,857,600 bytes (100 MiB); "
        "split the records into smaller batches"
    )


def test_records_files_up_to_the_limit_are_read(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    path.write_bytes(b"email,name\na@b.org,A\n")
    assert read_records_file(path) == b"email,name\na@b.org,A\n"
    with pytest.raises(InvalidInput) as caught:
        read_records_file(tmp_path / "missing.csv")
    assert str(caught.value) == f"{tmp_path}/missing.csv: no such file"
