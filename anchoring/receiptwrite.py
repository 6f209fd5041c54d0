"""Streaming a batch's receipts into one container: a JSON Lines file or a zip archive of receipt files.

Workers encode chunks of receipts into container entries (`encode_chunk`: each receipt as one line of
compact JSON; in a zip, that line deflated, with its CRC and local header) and write each chunk to a file of
its own; the parent appends them in order, in large sequential copies (`ContainerWriter`), and knows where
each receipt is from the entries' sizes alone.

Invariants: the container is written under a temporary dot-name beside its final name, flushed with one
fsync and renamed over the final name only when complete, so a crash leaves the old container (or none),
never a half one under the final name; a zip member is named as the `dir` form's file and holds the same
receipt as it, in compact JSON (one line, as in the JSON Lines form: a third of the bytes to deflate and no
parse to re-indent it); the locations returned are those of `anchoring.receiptfiles`.
"""

import errno
import json
import os
import shutil
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal

from anchoring import zipwrite
from anchoring.files import fsync_dir
from anchoring.receiptfiles import jsonl_location, zip_location

Form = Literal["dir", "jsonl", "zip"]
FORMS: tuple[Form, ...] = ("dir", "jsonl", "zip")
CONTAINER_NAMES: dict[str, str] = {"jsonl": "receipts.jsonl", "zip": "receipts.zip"}
ZIP_LEVEL = 6


def check_form(value: str) -> Form:
    for form in FORMS:
        if value == form:
            return form
    raise ValueError(f"receipts form {value!r} is not one of dir, jsonl, zip")


@dataclass(frozen=True)
class Encoded:
    """A chunk of receipts as container entries (a JSON Lines line; a zip member's local header and data):
    entry i is bytes `sum(spans[:i])` to `sum(spans[:i + 1])` of `blob`, or of the file `part` when the
    encoder wrote them there (then `blob` is empty)."""

    ids: list[str]
    names: list[str]
    spans: list[int]
    """Each entry's bytes (a zip member's local header included)."""
    sizes: list[int]
    """Each receipt's bytes as stored (deflated, in a zip)."""
    raw_sizes: list[int]
    crcs: list[int]
    blob: bytes
    part: str | None = None


def compact_receipt(document: dict[str, Any], credential: str) -> bytes:
    """A receipt document as one line of compact JSON, its credential spliced in as the JSON text `credential`
    (as the store keeps it: no parse and re-dump of every credential)."""
    text = json.dumps({**document, "credential": _MARK}, ensure_ascii=False, separators=(",", ":"))
    if "\n" in credential or "\r" in credential:
        credential = json.dumps(json.loads(credential), ensure_ascii=False, separators=(",", ":"))
    return text.replace(_MARK_JSON, credential, 1).encode("utf-8")


_MARK = "\x00credential\x00"
_MARK_JSON = json.dumps(_MARK)


def encode_chunk(
    form: Form, receipts: list[tuple[str, str, bytes]], when: tuple[int, int], part: Path | None = None
) -> Encoded:
    """(credential id, file name, receipt as one line of JSON, with or without its line break) -> container
    entries for `form` ("jsonl", "zip"; `when`: the zip members' DOS time, `ContainerWriter.when`), written
    to the file `part` if given (a worker's chunk then goes to the container without passing through a pipe
    and the parent's memory, and without being joined into one buffer first)."""
    ids, names, spans, sizes, raw_sizes, crcs, parts = [], [], [], [], [], [], []
    for credential_id, name, line in receipts:
        data = line if line.endswith(b"\n") else line + b"\n"
        if form == "jsonl":
            stored, crc, header = data, 0, b""
        else:
            packer = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
            stored, crc = packer.compress(data) + packer.flush(), zlib.crc32(data)
            header = zipwrite.local_header(name.encode("utf-8"), crc, len(data), len(stored), when)
            parts.append(header)
        ids.append(credential_id)
        names.append(name)
        spans.append(len(header) + len(stored))
        sizes.append(len(stored))
        raw_sizes.append(len(data))
        crcs.append(crc)
        parts.append(stored)
    if part is None:
        return Encoded(ids, names, spans, sizes, raw_sizes, crcs, b"".join(parts))
    with part.open("wb", buffering=0) as handle:
        write_all(handle.fileno(), parts)
    return Encoded(ids, names, spans, sizes, raw_sizes, crcs, b"", str(part))


IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16
"""How many buffers one `writev` takes."""


def write_all(fd: int, parts: list[bytes]) -> None:
    """`parts` written to `fd` in order, `IOV_MAX` at a time with `writev` (no copy into one buffer first),
    whatever a write leaves unwritten written after it."""
    for start in range(0, len(parts), IOV_MAX):
        group = parts[start : start + IOV_MAX]
        written = os.writev(fd, group)
        if written < sum(map(len, group)):
            rest = memoryview(b"".join(group))[written:]
            while rest:
                rest = rest[os.write(fd, rest) :]


def temp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.tmp"


def parts_folder(path: Path) -> Path:
    """Where this process's workers write the chunks it appends to the container at `path`."""
    return path.parent / f".{path.name}.{os.getpid()}.parts"


def remove_stale_temps(path: Path) -> None:
    """Temporary containers and folders of chunks left by a killed run (any process's)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    for folder in path.parent.glob(f".{path.name}.*.parts"):
        shutil.rmtree(folder, ignore_errors=True)


class ContainerWriter:
    """Appends encoded chunks to a temporary file; `finish` completes it and renames it into place. Workers
    may write their chunks to files in `parts` (`encode_chunk(..., part=)`): each is copied in and removed as
    it is added (`os.copy_file_range`, in the kernel where the file system allows)."""

    def __init__(self, path: Path, form: Form, when: datetime | None = None) -> None:
        if form not in CONTAINER_NAMES:
            raise ValueError(f"form {form!r} is not a container")
        self.path = path
        self.form = form
        moment = (when or datetime.now(UTC)).astimezone(UTC)
        self.when = zipwrite.dos_time(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
        """The zip members' modification time (DOS date and time), for their local headers and the directory."""
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        self._temp = temp_name(path)
        self.parts = parts_folder(path)
        self.parts.mkdir()
        self._handle: BinaryIO = self._temp.open("wb")
        self._offset = 0
        self._members: list[zipwrite.Member] = []

    def add(self, chunk: Encoded) -> dict[str, str]:
        """Append one chunk (one large write or copy); credential id -> location of each receipt in it."""
        locations: dict[str, str] = {}
        start = at = self._offset
        if self.form == "jsonl":
            for credential_id, span in zip(chunk.ids, chunk.spans, strict=True):
                locations[credential_id] = jsonl_location(self.path, at)
                at += span
        else:
            for credential_id, name, span, size, raw, crc in zip(
                chunk.ids, chunk.names, chunk.spans, chunk.sizes, chunk.raw_sizes, chunk.crcs, strict=True
            ):
                self._members.append(zipwrite.Member(name, crc, raw, size, at))
                locations[credential_id] = zip_location(self.path, name)
                at += span
        if chunk.part is None:
            self._write(chunk.blob)
        else:
            self._append(Path(chunk.part))
        if self._offset != at:
            held, listed = self._offset - start, at - start
            raise ValueError(f"a chunk of {len(chunk.ids)} receipts held {held} bytes, not the {listed} listed")
        return locations

    def _write(self, data: bytes) -> None:
        self._handle.write(data)
        self._offset += len(data)

    def _append(self, part: Path) -> None:
        """The bytes of the file `part` appended, then the file removed."""
        self._handle.flush()  # what is buffered goes first: the copy writes at the file's own position
        with part.open("rb") as source:
            size = os.fstat(source.fileno()).st_size
            left = size
            try:
                while left:
                    copied = os.copy_file_range(source.fileno(), self._handle.fileno(), left)
                    if copied == 0:
                        raise OSError(f"{part} ended {left} bytes early")
                    left -= copied
            except OSError as exc:  # no copy between these files here (EXDEV, ENOSYS, ...): read and write the rest
                if exc.errno not in _NO_COPY:
                    raise
                shutil.copyfileobj(source, self._handle, 1 << 20)
                self._handle.flush()
            self._offset += size
        part.unlink()

    def finish(self) -> None:
        """Complete the container, flush it to disk and rename it over the final name."""
        if self.form == "zip":
            self._write(zipwrite.central_directory(self._members, self.when, self._offset))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._temp, self.path)
        fsync_dir(self.path.parent)
        shutil.rmtree(self.parts, ignore_errors=True)

    def abort(self) -> None:
        self._handle.close()
        self._temp.unlink(missing_ok=True)
        shutil.rmtree(self.parts, ignore_errors=True)

    def __enter__(self) -> "ContainerWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()


_NO_COPY = frozenset((errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF))
"""What `copy_file_range` answers where the kernel or file system does not copy between the two files."""
