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
from anchoring.receiptfiles import container_kind, iter_receipts
from verifier.checks import Report, malformed
from verifier.service import read_receipt_file

Verify = Callable[[bytes, str], Report]


def receipt_inputs(paths: Iterable[Path]) -> Iterator[tuple[str, bytes | Report]]:
    """(source, the receipt's bytes or the report of why they cannot be read) for every receipt given."""
    for path in paths:
        kind = container_kind(path)
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


def verify_inputs(paths: Iterable[Path], verify: Verify) -> Iterator[Report]:
    """A report for every receipt in `paths` (containers expanded), in order."""
    for source, data in receipt_inputs(paths):
        yield data if isinstance(data, Report) else verify(data, source)


def has_containers(paths: Iterable[Path]) -> bool:
    return any(container_kind(path) is not None for path in paths)
