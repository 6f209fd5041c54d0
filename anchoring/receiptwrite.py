"""Streaming a batch's receipts into one container: a JSON Lines file or a zip archive of receipt files.

Workers encode chunks of receipts into container bytes (`encode_chunk`: each receipt as one line of compact
JSON; in a zip, that line deflated, with its CRC); the parent appends them in large sequential writes
(`ContainerWriter`).

Invariants: the container is written under a temporary dot-name beside its final name, flushed with one
fsync and renamed over the final name only when complete, so a crash leaves the old container (or none),
never a half one under the final name; a zip member is named as the `dir` form's file and holds the same
receipt as it, in compact JSON (one line, as in the JSON Lines form: a third of the bytes to deflate and no
parse to re-indent it); the locations returned are those of `anchoring.receiptfiles`.
"""

import json
import os
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
    """A chunk of receipts as container bytes: entry i is `blob[sum(sizes[:i]):][:sizes[i]]`."""

    ids: list[str]
    names: list[str]
    sizes: list[int]
    raw_sizes: list[int]
    crcs: list[int]
    blob: bytes


def compact_receipt(document: dict[str, Any], credential: str) -> bytes:
    """A receipt document as one line of compact JSON, its credential spliced in as the JSON text `credential`
    (as the store keeps it: no parse and re-dump of every credential)."""
    text = json.dumps({**document, "credential": _MARK}, ensure_ascii=False, separators=(",", ":"))
    if "\n" in credential or "\r" in credential:
        credential = json.dumps(json.loads(credential), ensure_ascii=False, separators=(",", ":"))
    return text.replace(_MARK_JSON, credential, 1).encode("utf-8")


_MARK = "\x00credential\x00"
_MARK_JSON = json.dumps(_MARK)


def encode_chunk(form: Form, receipts: list[tuple[str, str, bytes]]) -> Encoded:
    """(credential id, file name, receipt as one line of JSON) -> container bytes for `form` ("jsonl", "zip")."""
    ids, names, sizes, raw_sizes, crcs, parts = [], [], [], [], [], []
    for credential_id, name, line in receipts:
        data = line + b"\n"
        if form == "jsonl":
            stored, crc = data, 0
        else:
            packer = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
            stored, crc = packer.compress(data) + packer.flush(), zlib.crc32(data)
        ids.append(credential_id)
        names.append(name)
        sizes.append(len(stored))
        raw_sizes.append(len(data))
        crcs.append(crc)
        parts.append(stored)
    return Encoded(ids, names, sizes, raw_sizes, crcs, b"".join(parts))


def temp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.tmp"


def remove_stale_temps(path: Path) -> None:
    """Temporary containers left by a killed run (any process's)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


class ContainerWriter:
    """Appends encoded chunks to a temporary file; `finish` completes it and renames it into place."""

    def __init__(self, path: Path, form: Form, when: datetime | None = None) -> None:
        if form not in CONTAINER_NAMES:
            raise ValueError(f"form {form!r} is not a container")
        self.path = path
        self.form = form
        moment = (when or datetime.now(UTC)).astimezone(UTC)
        self._when = zipwrite.dos_time(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        self._temp = temp_name(path)
        self._handle: BinaryIO = self._temp.open("wb")
        self._offset = 0
        self._members: list[zipwrite.Member] = []

    def add(self, chunk: Encoded) -> dict[str, str]:
        """Append one chunk (one large write); credential id -> location of each receipt in it."""
        locations: dict[str, str] = {}
        if self.form == "jsonl":
            at = self._offset
            for credential_id, size in zip(chunk.ids, chunk.sizes, strict=True):
                locations[credential_id] = jsonl_location(self.path, at)
                at += size
            self._write(chunk.blob)
            return locations
        parts: list[bytes | memoryview] = []
        view = memoryview(chunk.blob)
        at, start = self._offset, 0
        for credential_id, name, size, raw, crc in zip(
            chunk.ids, chunk.names, chunk.sizes, chunk.raw_sizes, chunk.crcs, strict=True
        ):
            header = zipwrite.local_header(name.encode("utf-8"), crc, raw, size, self._when)
            self._members.append(zipwrite.Member(name, crc, raw, size, at))
            parts += [header, view[start : start + size]]
            at += len(header) + size
            start += size
            locations[credential_id] = zip_location(self.path, name)
        self._write(b"".join(parts))
        return locations

    def _write(self, data: bytes) -> None:
        self._handle.write(data)
        self._offset += len(data)

    def finish(self) -> None:
        """Complete the container, flush it to disk and rename it over the final name."""
        if self.form == "zip":
            self._write(zipwrite.central_directory(self._members, self._when, self._offset))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._temp, self.path)
        fsync_dir(self.path.parent)

    def abort(self) -> None:
        self._handle.close()
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> "ContainerWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()
