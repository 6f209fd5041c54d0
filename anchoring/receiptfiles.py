"""Where a receipt lives: its own file, a line of a JSON Lines file, or a member of a zip archive.

A receipt's *location* is a string the store keeps for it:
- `PATH` — a receipt file (`.json`), as `issue` writes them by default;
- `PATH.jsonl#OFFSET` — the line starting at byte OFFSET of a JSON Lines file of receipts;
- `PATH.zip#MEMBER` — the member MEMBER of a zip archive of receipts.

Invariants: reading a location never reads more than `MAX_RECEIPT_BYTES` of receipt (plus one byte to tell
it is over); every failure is an `InvalidReceipt` naming the location.
"""

import re
import zipfile
from pathlib import Path

from anchoring.errors import InvalidReceipt
from anchoring.jsonio import read_limited
from anchoring.receipt import MAX_RECEIPT_BYTES

_JSONL = re.compile(r"^(?P<path>.+\.jsonl)#(?P<offset>[0-9]{1,15})$", re.DOTALL)
_ZIP = re.compile(r"^(?P<path>.+\.zip)#(?P<member>[^/\\#][^#]*)$", re.DOTALL)


def jsonl_location(path: Path, offset: int) -> str:
    return f"{path}#{offset}"


def zip_location(path: Path, member: str) -> str:
    return f"{path}#{member}"


def location_file(location: str) -> Path:
    """The file on disk that holds the receipt at `location`."""
    for form in (_JSONL, _ZIP):
        found = form.match(location)
        if found:
            return Path(found["path"])
    return Path(location)


def read_receipt_at(location: str) -> bytes:
    """The receipt's bytes at `location` (see the module's docstring for its forms)."""
    found = _JSONL.match(location)
    if found:
        return _jsonl_line(Path(found["path"]), int(found["offset"]), location)
    found = _ZIP.match(location)
    if found:
        return _zip_member(Path(found["path"]), found["member"], location)
    return read_limited(Path(location), MAX_RECEIPT_BYTES, InvalidReceipt)


def _jsonl_line(path: Path, offset: int, location: str) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            line = handle.readline(MAX_RECEIPT_BYTES + 2)
    except FileNotFoundError:
        raise InvalidReceipt(f"{location}: no such file") from None
    except OSError as exc:
        raise InvalidReceipt(f"{location}: cannot read: {exc.strerror}") from None
    line = line.removesuffix(b"\n")
    if not line:
        raise InvalidReceipt(f"{location}: no receipt starts at byte {offset}")
    if len(line) > MAX_RECEIPT_BYTES:
        raise InvalidReceipt(f"{location}: the line is over the limit of {MAX_RECEIPT_BYTES:,} bytes")
    return line


def _zip_member(path: Path, member: str, location: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise InvalidReceipt(f"{location}: the archive has no member {member!r}") from None
            if info.file_size > MAX_RECEIPT_BYTES:
                raise InvalidReceipt(
                    f"{location}: {info.file_size:,} bytes is over the limit of {MAX_RECEIPT_BYTES:,} bytes"
                )
            with archive.open(info) as handle:
                return handle.read(MAX_RECEIPT_BYTES + 1)[:MAX_RECEIPT_BYTES]
    except FileNotFoundError:
        raise InvalidReceipt(f"{location}: no such file") from None
    except zipfile.BadZipFile as exc:
        raise InvalidReceipt(f"{location}: not a readable zip archive ({exc})") from None
    except OSError as exc:
        raise InvalidReceipt(f"{location}: cannot read: {exc.strerror}") from None
