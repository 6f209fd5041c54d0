"""What `credanchor verify` reads: receipt files, baked badges, certificate PDFs, and containers of receipts
(a JSON Lines file or a zip archive, as `issue --receipts jsonl|zip` writes them).

A container is expanded into its receipts as (source, bytes), streamed one at a time, so a file of millions
of receipts is verified in constant memory; each report names its receipt as `FILE.jsonl line N` or
`FILE.zip:MEMBER`. Whatever cannot be read becomes a malformed report naming it (exit 2), and the rest is
still verified.
"""

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from anchoring.errors import InvalidReceipt
from anchoring.receiptfiles import Container, container_kind, iter_receipts
from verifier.checks import Report, malformed
from verifier.service import read_receipt_file

Verify = Callable[[bytes, str], Report]


def sniffed(paths: Iterable[Path]) -> list[tuple[Path, Container | None]]:
    """Each path with what it holds: a container ("jsonl", "zip") or None (a receipt, badge or PDF)."""
    return [(path, container_kind(path)) for path in paths]


def receipt_inputs(paths: Iterable[tuple[Path, Container | None]]) -> Iterator[tuple[str, bytes | Report]]:
    """(source, the receipt's bytes or the report of why they cannot be read) for every receipt given."""
    for path, kind in paths:
        if kind is None:
            yield str(path), read_receipt_file(path)
            continue
        try:
            for entry in iter_receipts(path, kind):
                if entry.data is None:
                    yield entry.source, malformed(entry.source, entry.problem or f"{entry.source}: unreadable")
                else:
                    yield entry.source, entry.data
        except InvalidReceipt as exc:  # the container as a whole: its reports so far stand
            yield str(path), malformed(str(path), str(exc))


def verify_inputs(paths: Iterable[tuple[Path, Container | None]], verify: Verify) -> Iterator[Report]:
    """A report for every receipt in `paths` (as `sniffed` gives them; containers expanded), in order."""
    for source, data in receipt_inputs(paths):
        yield data if isinstance(data, Report) else verify(data, source)
