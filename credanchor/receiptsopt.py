"""The `--receipts` option of `issue`: the form a batch's receipts are written in (kept with the batch)."""

from enum import StrEnum
from typing import Annotated

import typer


class ReceiptForm(StrEnum):
    AUTO = "auto"
    DIR = "dir"
    JSONL = "jsonl"
    ZIP = "zip"


ReceiptsOpt = Annotated[
    ReceiptForm | None,
    typer.Option(
        "--receipts",
        help="Write receipts as a file each (dir), one JSON Lines file (jsonl) or one zip; auto: a file each up "
        "to 100,000 receipts, jsonl above (default: [earner] receipts, auto). `resume` keeps the batch's form.",
    ),
]
