"""Where a receipt lives: its own file, a line of a JSON Lines file, or a member of a zip archive.

A receipt's *location* is a string the store keeps for it:
- `PATH` — a receipt file (`.json`), as `issue` writes them by default;
- `PATH.jsonl#OFFSET` — the line starting at byte OFFSET of a JSON Lines file of receipts;
- `PATH.zip#MEMBER` — the member MEMBER of a zip archive of receipts.

Invariants: reading a location never reads more than `MAX_RECEIPT_BYTES` of receipt (plus one byte to tell
it is over); every failure is an `InvalidReceipt` naming the location.

`iter_receipts` streams every receipt of a container (for `verify` and `extract`): one line or member in
memory at a time, each capped at `MAX_RECEIPT_BYTES`; a zip with a member named twice, or named with a path
that leaves the folder it is extracted to, is refused whole; a member that declares more than the cap, or
compresses more than `MAX_RATIO` to one, is refused alone. `zipfile` is loaded only for a zip archive.
"""

from __future__ import annotations

import json
import os
import re
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, Literal

from anchoring.errors import InvalidReceipt
from anchoring.jsonio import read_limited
from anchoring.receipt import MAX_RECEIPT_BYTES

if TYPE_CHECKING:
    import zipfile

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


def read_receipts_at(locations: Iterable[str]) -> Iterator[tuple[str, bytes | InvalidReceipt]]:
    """`read_receipt_at` of each location in turn, each answer its bytes or the error it raised; a JSON Lines
    file is opened once for all its lines (a self-check reads a million lines of one file)."""
    handles: dict[str, BinaryIO] = {}
    try:
        for location in locations:
            found = _JSONL.match(location)
            try:
                if found is None:
                    yield location, read_receipt_at(location)
                    continue
                handle = handles.get(found["path"])
                if handle is None:
                    handle = _open_jsonl(Path(found["path"]), location, READ_AHEAD)
                    handles[found["path"]] = handle
                yield location, _line_at(handle, int(found["offset"]), location)
            except InvalidReceipt as exc:
                yield location, exc
    finally:
        for handle in handles.values():
            handle.close()


READ_AHEAD = 1 << 20
"""Bytes read at a time from a JSON Lines file whose lines are read one after another (about 130 receipts
with evidence: a seek within them costs no system call, where the default 8 KiB held about one)."""


def _open_jsonl(path: Path, location: str, buffering: int = -1) -> BinaryIO:
    try:
        return path.open("rb", buffering=buffering)
    except FileNotFoundError:
        raise InvalidReceipt(f"{location}: no such file") from None
    except OSError as exc:
        raise InvalidReceipt(f"{location}: cannot read: {exc.strerror}") from None


def _jsonl_line(path: Path, offset: int, location: str) -> bytes:
    with _open_jsonl(path, location) as handle:
        return _line_at(handle, offset, location)


def _line_at(handle: BinaryIO, offset: int, location: str) -> bytes:
    try:
        handle.seek(max(offset - 1, 0))
        before = handle.read(1) if offset else b"\n"
        line = handle.readline(MAX_RECEIPT_BYTES + 2)
    except OSError as exc:
        raise InvalidReceipt(f"{location}: cannot read: {exc.strerror}") from None
    line = line.removesuffix(b"\n")
    if before != b"\n" or not line:  # an offset into another file than the one it was taken from
        raise InvalidReceipt(f"{location}: no receipt starts at byte {offset}")
    if len(line) > MAX_RECEIPT_BYTES:
        raise InvalidReceipt(f"{location}: the line is over the limit of {MAX_RECEIPT_BYTES:,} bytes")
    return line


def unreadable_zip(where: str, exc: OSError | zipfile.BadZipFile) -> InvalidReceipt:
    """Why a zip archive (or a member of it) could not be read, naming `where`."""
    import zipfile

    if isinstance(exc, FileNotFoundError):
        return InvalidReceipt(f"{where}: no such file")
    if isinstance(exc, zipfile.BadZipFile):
        return InvalidReceipt(f"{where}: not a readable zip archive ({exc})")
    return InvalidReceipt(f"{where}: cannot read: {exc.strerror}")


_ARCHIVES: dict[tuple[int, str, int, int, int], zipfile.ZipFile] = {}
_ARCHIVES_LOCK = threading.Lock()


def _archive(path: Path) -> zipfile.ZipFile:
    """The open archive at `path`, kept while the file is unchanged: reading a million members one location
    at a time must not read its central directory a million times. Call with `_ARCHIVES_LOCK` held. Kept per
    process: a forked worker must not share its parent's file offset."""
    import zipfile

    status = path.stat()
    key = (os.getpid(), str(path), status.st_ino, status.st_size, status.st_mtime_ns)
    archive = _ARCHIVES.get(key)
    if archive is None:
        archive = zipfile.ZipFile(path)
        for old_key, old in _ARCHIVES.items():
            if old_key[0] == key[0]:
                old.close()  # a parent's archive, inherited, is left to the parent
        _ARCHIVES.clear()
        _ARCHIVES[key] = archive
    return archive


def _zip_member(path: Path, member: str, location: str) -> bytes:
    import zipfile

    try:
        with _ARCHIVES_LOCK:
            archive = _archive(path)
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
    except (OSError, zipfile.BadZipFile) as exc:
        raise unreadable_zip(location, exc) from None


MAX_RATIO = 100
"""A zip member that decompresses to more than this many times its compressed size is refused (a receipt
deflates about five to one)."""
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
Container = Literal["jsonl", "zip"]


def receipt_file_name(credential_id: str) -> str:
    """The file name of a credential's receipt in the `dir` form, and its member name in a zip."""
    return credential_id.removeprefix("urn:uuid:").replace(":", "_") + ".json"


def beside(location: str, credential_id: str, suffix: str) -> Path:
    """A file that goes with the receipt at `location` (its baked badge, its certificate): beside the receipt
    file with `suffix` for its own; in a container's folder, named after the credential, for one inside."""
    file = location_file(location)
    if file == Path(location):
        return file.with_suffix(suffix)
    return file.parent / Path(receipt_file_name(credential_id)).with_suffix(suffix)


def beside_name(location: str, credential_id: str, suffix: str) -> str:
    """``beside(location, credential_id, suffix).name`` without building paths (15 us each; a delivery list
    names a million receipts). Only a name that path parsing would change (empty, ``.``, ``..``) takes the
    slow way, so the answer is the same for every location."""
    container = _JSONL.match(location) or _ZIP.match(location)
    name = (receipt_file_name(credential_id) if container else location).rpartition("/")[2]
    if name in ("", ".", ".."):
        return beside(location, credential_id, suffix).name
    dot = name.rfind(".")
    return (name[:dot] if 0 < dot < len(name) - 1 else name) + suffix


def container_kind(path: Path) -> Container | None:
    """What `path` holds, by its content: a zip archive (its magic), a JSON Lines file (named .jsonl, or a
    first line that is a JSON object with more lines after it), or None (a receipt or anything else)."""
    try:
        with path.open("rb") as handle:
            if handle.read(4) in ZIP_MAGICS:
                return "zip"
            if path.suffix.lower() == ".jsonl":
                return "jsonl"
            handle.seek(0)
            first = handle.readline(MAX_RECEIPT_BYTES + 1)
            if not first.endswith(b"\n") or not first.lstrip().startswith(b"{"):
                return None
            try:
                if not isinstance(json.loads(first), dict):
                    return None
            except ValueError:
                return None
            while chunk := handle.read(65536):
                if chunk.strip():
                    return "jsonl"
            return None
    except OSError:
        return None  # the ordinary reader says why it cannot read it


@dataclass(frozen=True)
class Entry:
    """One receipt in a container: its bytes, or why it cannot be read (the others still can)."""

    source: str
    """`FILE.jsonl line N` or `FILE.zip:MEMBER`."""
    name: str | None
    """The zip member's name (None in JSON Lines, where only the receipt names its credential)."""
    data: bytes | None
    problem: str | None = None


def iter_receipts(path: Path, kind: Container | None = None) -> Iterator[Entry]:
    """Every receipt of the container at `path`, streamed; `InvalidReceipt` when it cannot be read at all."""
    kind = kind or container_kind(path)
    if kind == "jsonl":
        yield from _jsonl_entries(path)
    elif kind == "zip":
        yield from _zip_entries(path)
    else:
        raise InvalidReceipt(f"{path}: is neither a JSON Lines file nor a zip archive of receipts")


def _jsonl_entries(path: Path) -> Iterator[Entry]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InvalidReceipt(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidReceipt(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        number = 0
        while line := handle.readline(MAX_RECEIPT_BYTES + 1):
            number += 1
            source = f"{path} line {number}"
            if len(line) > MAX_RECEIPT_BYTES and not line.endswith(b"\n"):
                while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass  # the rest of the line is skipped, never held
                yield Entry(source, None, None, f"{source}: the line is over the limit of {MAX_RECEIPT_BYTES:,} bytes")
                continue
            data = line.removesuffix(b"\n").removesuffix(b"\r")
            if data.strip():
                yield Entry(source, None, data)


def unsafe_member(name: str) -> bool:
    """A member name that is not a plain relative path inside the folder it is extracted to."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return True
    return any(part in ("..", "") for part in PurePosixPath(name.rstrip("/")).parts) or name.rstrip("/") == "."


def _zip_entries(path: Path) -> Iterator[Entry]:
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise unreadable_zip(str(path), exc) from None
    with archive:
        infos = archive.infolist()
        seen: set[str] = set()
        for info in infos:
            if info.filename in seen:
                raise InvalidReceipt(f"{path}: the archive holds {info.filename!r} twice")
            seen.add(info.filename)
            if unsafe_member(info.filename):
                raise InvalidReceipt(f"{path}: member {info.filename!r} is not a plain relative path; refused")
        for info in infos:
            if not info.is_dir():
                yield _zip_entry(archive, info, f"{path}:{info.filename}")


def _zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Entry:
    import zipfile

    def refused(problem: str) -> Entry:
        return Entry(source, info.filename, None, f"{source}: {problem}")

    if info.file_size > MAX_RECEIPT_BYTES:
        return refused(f"{info.file_size:,} bytes is over the limit of {MAX_RECEIPT_BYTES:,} bytes")
    if info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return refused(
            f"{info.compress_size:,} bytes that expand to {info.file_size:,} (over {MAX_RATIO} to 1): refused as a "
            "zip bomb"
        )
    try:
        with archive.open(info) as handle:
            data = handle.read(MAX_RECEIPT_BYTES + 1)
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        return refused(f"cannot be read ({exc})")
    if len(data) != info.file_size:
        return refused(f"holds {len(data):,} bytes, not the {info.file_size:,} it declares")
    return Entry(source, info.filename, data)
