"""The bytes of a zip archive whose members arrive already deflated (by worker processes), ZIP64 when needed.

Python's `zipfile` compresses in the process that writes the archive; a batch's receipts are deflated on
every core instead, so the writer here only lays out headers around bytes it is given. Pure: values in,
bytes out; the caller writes them in order.

Invariants: every member is deflated (method 8) with its CRC-32 and both sizes in its local header (no data
descriptors); names are UTF-8 (flag bit 11); the central directory switches to ZIP64 fields exactly where a
value does not fit its 16 or 32 bits, as APPNOTE 6.3 section 4.5.3 says, so `zipfile`, Info-ZIP and 7-Zip read
archives of any size.
"""

import struct
from dataclasses import dataclass

DEFLATED = 8
_UTF8 = 0x0800
_VERSION = 20
_VERSION_ZIP64 = 45
_MADE_BY_UNIX = 3 << 8
_MODE = 0o100644 << 16
_MAX32 = 0xFFFFFFFF
_MAX16 = 0xFFFF


@dataclass(frozen=True)
class Member:
    name: str
    crc: int
    size: int
    """Uncompressed."""
    stored: int
    """Compressed, as written."""
    offset: int
    """Of its local header."""


def dos_time(year: int, month: int, day: int, hour: int, minute: int, second: int) -> tuple[int, int]:
    """(time, date) in MS-DOS form."""
    return (hour << 11) | (minute << 5) | (second // 2), ((max(year, 1980) - 1980) << 9) | (month << 5) | day


def local_header(name: bytes, crc: int, size: int, stored: int, when: tuple[int, int]) -> bytes:
    """A member's local header; a receipt is far below 4 GiB, so its sizes always fit 32 bits."""
    if size >= _MAX32 or stored >= _MAX32:
        raise ValueError(f"member {name!r} of {size} bytes is too large for this writer")
    return (
        struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", _VERSION, _UTF8, DEFLATED, when[0], when[1], crc, stored, size, len(name), 0
        )
        + name
    )


def central_directory(members: list[Member], when: tuple[int, int], start: int) -> bytes:
    """The central directory and end records for `members`, the directory starting at byte `start`."""
    parts = []
    for member in members:
        name = member.name.encode("utf-8")
        extra = b""
        offset = member.offset
        if offset >= _MAX32:
            extra = struct.pack("<2HQ", 1, 8, offset)
            offset = _MAX32
        version = _VERSION_ZIP64 if extra else _VERSION
        parts.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                _MADE_BY_UNIX | version,
                version,
                _UTF8,
                DEFLATED,
                when[0],
                when[1],
                member.crc,
                member.stored,
                member.size,
                len(name),
                len(extra),
                0,
                0,
                0,
                _MODE,
                offset,
            )
            + name
            + extra
        )
    directory = b"".join(parts)
    return directory + end_records(len(members), len(directory), start)


def end_records(count: int, size: int, start: int) -> bytes:
    """The end of central directory record, preceded by the ZIP64 record and locator when a value needs them."""
    tail = b""
    if count >= _MAX16 or size >= _MAX32 or start >= _MAX32:
        zip64_at = start + size
        tail = struct.pack(
            "<4sQ2H2L4Q",
            b"PK\x06\x06",
            44,
            _MADE_BY_UNIX | _VERSION_ZIP64,
            _VERSION_ZIP64,
            0,
            0,
            count,
            count,
            size,
            start,
        ) + struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1)
    return tail + struct.pack(
        "<4s4H2LH",
        b"PK\x05\x06",
        0,
        0,
        min(count, _MAX16),
        min(count, _MAX16),
        min(size, _MAX32),
        min(start, _MAX32),
        0,
    )
