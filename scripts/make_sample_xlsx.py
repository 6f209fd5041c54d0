"""Write scripts/sample-records.xlsx, the class list `make demo` issues from: a workbook as a registrar keeps
one in Excel (title-case headers, date cells, number cells, a notes sheet that is not records).

    .venv/bin/python scripts/make_sample_xlsx.py
"""

from datetime import date
from pathlib import Path

import openpyxl

OUT = Path(__file__).parent / "sample-records.xlsx"
STUDENTS = [
    ("kwame.mensah@example.org", "Kwame Mensah", 3, "A"),
    ("lea.dubois@example.org", "Léa Dubois", 2.5, "B"),
    ("mateo.garcia@example.org", "Mateo García", 3, "A"),
    ("nadia.petrova@example.org", "Nadia Petrova", 2, "C"),
    ("oskar.nowak@example.org", "Oskar Nowak", 3, "B"),
    ("priya.raman@example.org", "Priya Raman", 3, "A"),
]


def main() -> None:
    book = openpyxl.Workbook()
    sheet = book.create_sheet("Spring 2026", 0)
    book.remove(book.worksheets[1])  # the empty default sheet
    sheet.append(["Email", "Name", "Issue date", "Credits earned", "Result"])
    for email, name, credits, grade in STUDENTS:
        sheet.append([email, name, date(2026, 6, 30), credits, grade])
    for row in sheet.iter_rows(min_row=2, min_col=3, max_col=3):
        row[0].number_format = "DD/MM/YYYY"  # shown the local way; stored as a date, read as one
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 20
    notes = book.create_sheet("Notes")
    notes.append(["Grades confirmed by the exam board on 2026-06-25."])
    book.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
