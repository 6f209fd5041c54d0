"""Extracting receipts from a container (`credanchor extract FILE.jsonl|FILE.zip`): each one a file, named as
`issue --receipts dir` names it, in a folder.

Invariants: nothing is written until the whole container was read once and found sound (every entry readable
and under the size cap, no name twice, every `--id` asked for present, no file to overwrite unless `force`);
a receipt's bytes are written as they are in the container (a JSON Lines line gets its newline back); every
file is written atomically and flushed with one sync at the end.
"""

import json
import os
from collections.abc import Collection, Iterator
from pathlib import Path

from anchoring.errors import InvalidInput, InvalidReceipt
from anchoring.files import atomic_write
from anchoring.receiptfiles import Container, Entry, iter_receipts, receipt_file_name


def default_folder(container: Path) -> Path:
    """`receipts.jsonl` -> `receipts/` beside it."""
    return container.parent / container.stem


def _named(path: Path, kind: Container, entries: Iterator[Entry]) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of each receipt; `InvalidReceipt` at the first that cannot be read or named."""
    for entry in entries:
        if entry.data is None:
            raise InvalidReceipt(entry.problem or f"{entry.source}: unreadable")
        if entry.name is not None:
            yield entry.name, entry.data
            continue
        try:
            document = json.loads(entry.data)
        except ValueError:
            raise InvalidReceipt(f"{entry.source}: is not JSON") from None
        credential = document.get("credential") if isinstance(document, dict) else None
        credential_id = credential.get("id") if isinstance(credential, dict) else None
        if not isinstance(credential_id, str) or not credential_id:
            raise InvalidReceipt(f"{entry.source}: is not a receipt (no credential id)")
        yield receipt_file_name(credential_id), entry.data + b"\n"


def extract_receipts(
    path: Path, kind: Container, out: Path, ids: Collection[str] = (), *, force: bool = False
) -> list[Path]:
    """Write the container's receipts (only those of `ids`, if any are given) into `out`; the files written."""
    wanted = {receipt_file_name(i): i for i in ids}
    names: set[str] = set()
    for name, _ in _named(path, kind, iter_receipts(path, kind)):
        if name in names:
            raise InvalidReceipt(f"{path}: holds {name} twice")
        names.add(name)
    missing = [i for name, i in wanted.items() if name not in names]
    if missing:
        raise InvalidInput(f"{path} holds no receipt of {', '.join(missing)}")
    chosen = [name for name in names if not wanted or name in wanted]
    existing = [str(out / name) for name in sorted(chosen) if (out / name).exists() or (out / name).is_symlink()]
    if existing and not force:
        raise InvalidInput(
            f"{', '.join(existing[:3])}{' ...' if len(existing) > 3 else ''} exists already; pass --force to replace it"
        )
    written = []
    for name, data in _named(path, kind, iter_receipts(path, kind)):
        if not wanted or name in wanted:
            atomic_write(out / name, data, durable=False)
            written.append(out / name)
    os.sync()  # one flush for every file above
    return written
