"""Streaming a batch's receipts into one container: a JSON Lines file or a zip archive of receipt files.

Workers encode chunks of receipts into container entries (`encode_chunk`: each receipt as one line of
compact JSON; in a zip, that line deflated, with its CRC and local header) and write each chunk straight into
the container, at the range the chunks before it leave (`Slots`: ranges handed out in chunk order); the
parent (`ContainerWriter`) knows where each receipt is from the entries' sizes alone, and adds the zip
directory at the end.

Invariants: the container is written under a temporary dot-name beside its final name, flushed with one
fsync and renamed over the final name only when complete, so a crash leaves the old container (or none),
never a half one under the final name; a zip member is named as the `dir` form's file and holds the same
receipt as it, in compact JSON (one line, as in the JSON Lines form: a third of the bytes to deflate and no
parse to re-indent it); the locations returned are those of `anchoring.receiptfiles`.
"""

import json
import multiprocessing
import os
import shutil
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from anchoring import zipwrite
from anchoring.files import fsync_dir
from anchoring.receiptfiles import jsonl_location, zip_location

Form = Literal["dir", "jsonl", "zip"]
FORMS: tuple[Form, ...] = ("dir", "jsonl", "zip")
CONTAINER_NAMES: dict[str, str] = {"jsonl": "receipts.jsonl", "zip": "receipts.zip"}
ZIP_LEVEL = 6


ONE_FILE_ABOVE = 100_000
"""`auto` writes a file per receipt for batches of up to this many, one JSON Lines file for larger ones: each
file costs the kernel 25-300 us to create here (a million: minutes, and a folder `ls` and `rm` choke on),
where a line of one file costs a sequential write."""


def check_form(value: str) -> Form:
    for form in FORMS:
        if value == form:
            return form
    raise ValueError(f"receipts form {value!r} is not one of dir, jsonl, zip")


def chosen_form(value: str, count: int) -> Form:
    """The form a batch of `count` receipts is written in when `value` ("auto" or a form) is asked for."""
    if value == "auto":
        return "dir" if count <= ONE_FILE_ABOVE else "jsonl"
    if value not in FORMS:
        raise ValueError(f"receipts form {value!r} is not one of auto, dir, jsonl, zip")
    return check_form(value)


@dataclass(frozen=True)
class Encoded:
    """A chunk of receipts as container entries (a JSON Lines line; a zip member's local header and data):
    entry i is bytes `sum(spans[:i])` to `sum(spans[:i + 1])` of `blob`, or of the container from `offset`
    when the encoder wrote them there (then `blob` is empty)."""

    ids: list[str]
    names: list[str]
    spans: list[int]
    """Each entry's bytes (a zip member's local header included)."""
    sizes: list[int]
    """Each receipt's bytes as stored (deflated, in a zip)."""
    raw_sizes: list[int]
    crcs: list[int]
    blob: bytes
    offset: int | None = None


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
    form: Form, receipts: list[tuple[str, str, bytes]], when: tuple[int, int], slot: "tuple[Slots, int] | None" = None
) -> Encoded:
    """(credential id, file name, receipt as one line of JSON, with or without its line break) -> container
    entries for `form` ("jsonl", "zip"; `when`: the zip members' DOS time, `ContainerWriter.when`); with
    `slot` (the writer's `Slots` and the chunk's number), written straight into the container (a worker's
    chunk then passes neither through a pipe and the parent's memory, nor through a file of its own)."""
    ids, names, spans, sizes, raw_sizes, crcs = [], [], [], [], [], []
    parts: list[bytes] = []
    for credential_id, name, line in receipts:
        broken = line.endswith(b"\n")
        if form == "jsonl":  # the line and its break as two buffers: no copy of the line to join them
            size, crc = len(line) + (not broken), 0
            parts += (line,) if broken else (line, b"\n")
            spans.append(size)
            sizes.append(size)
        else:
            data = line if broken else line + b"\n"
            packer = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
            stored, crc, size = packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)
            header = zipwrite.local_header(name.encode("utf-8"), crc, size, len(stored), when)
            parts += (header, stored)
            spans.append(len(header) + len(stored))
            sizes.append(len(stored))
        ids.append(credential_id)
        names.append(name)
        raw_sizes.append(size)
        crcs.append(crc)
    if slot is None:
        return Encoded(ids, names, spans, sizes, raw_sizes, crcs, b"".join(parts))
    slots, number = slot
    return Encoded(ids, names, spans, sizes, raw_sizes, crcs, b"", slots.write(number, parts))


class Slots:
    """Consecutive byte ranges of one file, handed to numbered chunks in their order (0, 1, ...) by whichever
    process writes each, in any process forked after this is made: a chunk waits for the one before it to
    take its range, then writes its bytes at its own while the next takes the range after it.

    Invariant: a chunk that will not be written (its encoding failed) must `give_up`, or the chunks after it
    would wait for it forever; they then fail too."""

    def __init__(self, path: Path) -> None:
        context = multiprocessing.get_context("fork")
        self.path = path
        self._turn = context.Condition()
        self._next = context.RawValue("q", 0)
        self._end = context.RawValue("q", 0)
        self._broken = context.RawValue("b", 0)

    def write(self, number: int, parts: list[bytes]) -> int:
        """`parts` written at the range after chunk `number - 1`'s; where that range starts."""
        size = sum(map(len, parts))
        with self._turn:
            while self._next.value != number:
                if self._broken.value:
                    raise ChunkNotWritten(f"chunk {number} of the container was not written: one before it failed")
                self._turn.wait(0.5)
            start: int = self._end.value
            self._end.value = start + size
            self._next.value = number + 1
            self._turn.notify_all()
        fd = os.open(self.path, os.O_WRONLY)
        try:
            write_all(fd, parts, start)
        finally:
            os.close(fd)
        return start

    def give_up(self) -> None:
        """A chunk will not be written: those waiting for it, and any after it, fail."""
        with self._turn:
            self._broken.value = 1
            self._turn.notify_all()


class ChunkNotWritten(RuntimeError):
    """A chunk of a container could not take its range (one before it failed)."""


IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16
"""How many buffers one `pwritev` takes."""


def write_all(fd: int, parts: list[bytes], offset: int) -> None:
    """`parts` written to `fd` in order from `offset`, `IOV_MAX` at a time with `pwritev` (no copy into one
    buffer first), whatever a write leaves unwritten written after it."""
    for start in range(0, len(parts), IOV_MAX):
        group = parts[start : start + IOV_MAX]
        total = sum(map(len, group))
        written = os.pwritev(fd, group, offset)
        if written < total:
            rest = memoryview(b"".join(group))[written:]
            while rest:
                rest = rest[os.pwrite(fd, rest, offset + total - len(rest)) :]
        offset += total


def temp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.tmp"


def remove_stale_temps(path: Path) -> None:
    """Temporary containers left by a killed run (any process's), and the folders of chunk files that earlier
    versions wrote beside them."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    for folder in path.parent.glob(f".{path.name}.*.parts"):
        shutil.rmtree(folder, ignore_errors=True)


class ContainerWriter:
    """Appends encoded chunks to a temporary file; `finish` completes it and renames it into place. Workers
    forked after it is made may write their chunks straight into it (`encode_chunk(..., slot=(writer.slots,
    number))`); the chunks are then added in their order, each where its worker wrote it."""

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
        self._fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self.slots = Slots(self._temp)
        self._offset = 0
        self._members: list[zipwrite.Member] = []

    def add(self, chunk: Encoded) -> dict[str, str]:
        """Add one chunk (written by its worker, or here in one write); credential id -> location of each
        receipt in it."""
        if chunk.offset is not None and chunk.offset != self._offset:
            raise ValueError(
                f"a chunk of {len(chunk.ids)} receipts was written at byte {chunk.offset}, not at {self._offset}"
            )
        locations: dict[str, str] = {}
        at = self._offset
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
        if chunk.offset is None:
            if len(chunk.blob) != at - self._offset:
                held, listed = len(chunk.blob), at - self._offset
                raise ValueError(f"a chunk of {len(chunk.ids)} receipts held {held} bytes, not the {listed} listed")
            write_all(self._fd, [chunk.blob], self._offset)
        self._offset = at
        return locations

    def finish(self) -> None:
        """Complete the container, flush it to disk and rename it over the final name."""
        if self.form == "zip":
            directory = zipwrite.central_directory(self._members, self.when, self._offset)
            write_all(self._fd, [directory], self._offset)
            self._offset += len(directory)
        held = os.fstat(self._fd).st_size
        if held != self._offset:
            raise ValueError(f"the container holds {held} bytes, not the {self._offset} its chunks listed")
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        os.replace(self._temp, self.path)
        fsync_dir(self.path.parent)

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> "ContainerWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()
