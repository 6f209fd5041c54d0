"""Reading JSON that strangers send: limits first, then a strict parse.

Invariants: the size is checked before anything is decoded, the nesting depth and the longest string
before the parser runs, and the parse rejects what `json` would otherwise let through silently (a
byte-order mark, duplicate keys, NaN and Infinity). Every failure is an `InvalidInput` subclass chosen by
the caller, with a one-line message.
"""

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anchoring.errors import InvalidInput

MAX_DEPTH = 32
MAX_STRING = 256 * 1024
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_ESCAPES = re.compile(rb"\\.", re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_regular(path: Path, status: os.stat_result, max_bytes: int | None, error: type[InvalidInput]) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise error(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise error(f"{path}: is not a regular file")
    if max_bytes is not None and status.st_size > max_bytes:
        raise error(f"{path}: {status.st_size:,} bytes is over the limit of {max_bytes:,} bytes")


def _read(path: Path, max_bytes: int | None, wanted: int, error: type[InvalidInput]) -> tuple[bytes, int]:
    """Up to `wanted` bytes of a regular file, and its size.

    A device or FIFO is refused before it is opened; the file opened is checked again (opened without
    blocking), so one swapped in between cannot make the read hang.
    """
    try:
        _check_regular(path, path.stat(), max_bytes, error)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            status = os.fstat(fd)
            _check_regular(path, status, max_bytes, error)
            return handle.read(wanted), status.st_size
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None


def read_limited(path: Path, max_bytes: int, error: type[InvalidInput] = InvalidInput) -> bytes:
    """The file's bytes, refusing before reading when it is not a regular file or larger than `max_bytes`."""
    data, _ = _read(path, max_bytes, max_bytes + 1, error)
    if len(data) > max_bytes:  # the file grew while we looked
        raise error(f"{path}: over the limit of {max_bytes:,} bytes")
    return data


def read_head(path: Path, wanted: int, error: type[InvalidInput] = InvalidInput) -> tuple[bytes, int]:
    """The first `wanted` bytes of a regular file of any size, and its size."""
    return _read(path, None, wanted, error)


def longest_string(data: bytes) -> int:
    """Bytes in the longest JSON string of `data` (escapes counted as one), without parsing."""
    pieces = _ESCAPES.sub(b"_", data).split(b'"')
    return max((len(p) for p in pieces[1::2]), default=0)


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects, counted without parsing (brackets in strings ignored).

    Escapes are dropped first, so every remaining quote opens or closes a string; the pieces between quote
    pairs are outside strings. All of it runs in C but the walk over the brackets themselves.
    """
    outside = b"".join(_ESCAPES.sub(b"", data).split(b'"')[::2])
    return bracket_depth(outside)


def bracket_depth(text: bytes) -> int:
    """The deepest nesting of the square and curly brackets in `text` (all of them count)."""
    depth = deepest = 0
    for byte in text.translate(None, _NOT_BRACKETS):
        if byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _unbalanced(data: bytes) -> bool:
    """Whether a string or bracket is left open at the end: the sign of a cut-off file."""
    stripped = _STRINGS.sub(b"", data)  # whole strings go; a cut-off one leaves its opening quote
    if b'"' in stripped:
        return True
    opened = stripped.count(b"[") + stripped.count(b"{")
    return opened > stripped.count(b"]") + stripped.count(b"}")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate member {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_text(data: bytes, what: str, error: type[InvalidInput] = InvalidInput) -> str:
    """UTF-8 text with no byte-order mark, or a clear error naming `what`."""
    if not data.strip():
        raise error(f"{what}: file is empty")
    if data.startswith(b"\xef\xbb\xbf"):
        raise error(f"{what}: starts with a byte-order mark (BOM); save it as UTF-8 without BOM")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def parse_json(
    data: bytes,
    what: str,
    error: type[InvalidInput] = InvalidInput,
    max_depth: int = MAX_DEPTH,
    max_string: int = MAX_STRING,
    hook: Callable[[list[tuple[str, Any]]], dict[str, Any]] = _reject_duplicates,
) -> Any:
    """Parse `data` as strict JSON; `what` names the input in errors (a path, usually)."""
    text = decode_text(data, what, error)
    depth = nesting_depth(data)
    if depth > max_depth:
        raise error(f"{what}: nested {depth} levels deep; at most {max_depth}")
    longest = longest_string(data)
    if longest > max_string:
        raise error(f"{what}: holds a string of {longest:,} bytes; at most {max_string:,}")
    try:
        return json.loads(text, object_pairs_hook=hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if _unbalanced(data) else ""
        problem = exc.msg.replace(" starting at", "")
        raise error(f"{what}: not valid JSON at line {exc.lineno} column {exc.colno}: {problem}{hint}") from None
    except (ValueError, RecursionError) as exc:
        raise error(f"{what}: not valid JSON: {exc}") from None
