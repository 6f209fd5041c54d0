"""RLP (Ethereum's Recursive Length Prefix) for what chain evidence needs: encoding a header's fields and
decoding trie nodes, with no dependency (the `rlp` package brings eth-utils, eth-typing and toolz, a tenth of
a second of a `verify`'s start-up).

Invariants: pure. `decode` accepts exactly what `rlp.decode(data)` (strict) accepts, and returns the same
value (bytes, or nested lists of them); anything else raises `DecodingError`: a shorter encoding that was
possible (a single byte below 0x80 as a string, a long form for a length under 56, a length with a leading
zero byte), a length that runs past its list or the data, or bytes left over. `encode` gives `rlp.encode`'s
bytes for bytes, non-negative ints (big-endian, minimal: 0 is the empty string) and lists of them. A test
holds both equal to the `rlp` package on random data.
"""

from collections.abc import Sequence

Item = bytes | list["Item"]
Encodable = bytes | int | Sequence["Encodable"]


class DecodingError(ValueError):
    """Bytes that are not exactly one canonical RLP item."""


def decode(data: bytes) -> Item:
    """The one item `data` encodes."""
    if not isinstance(data, bytes | bytearray):
        raise DecodingError(f"can only decode bytes, not {type(data).__name__}")
    item, end = _item(bytes(data), 0, len(data))
    if end != len(data):
        raise DecodingError(f"RLP data ends with {len(data) - end} superfluous bytes")
    return item


def _item(data: bytes, start: int, limit: int) -> tuple[Item, int]:
    """The item at `start`, which must end by `limit`, and where it ends."""
    if start >= limit:
        raise DecodingError("RLP data too short")
    first = data[start]
    if first < 0x80:
        return data[start : start + 1], start + 1
    if first < 0xB8:
        length, body = first - 0x80, start + 1
        if length == 1 and (body >= limit or data[body] < 0x80):
            raise DecodingError("a single byte below 0x80 encoded as a string")
    elif first < 0xC0:
        length, body = _long_length(data, start, first - 0xB7, limit)
    elif first < 0xF8:
        length, body = first - 0xC0, start + 1
    else:
        length, body = _long_length(data, start, first - 0xF7, limit)
    end = body + length
    if end > limit:
        raise DecodingError("RLP length runs past the data")
    if first < 0xC0:
        return data[body:end], end
    items: list[Item] = []
    at = body
    while at < end:
        item, at = _item(data, at, end)
        items.append(item)
    return items, end


def _long_length(data: bytes, start: int, size: int, limit: int) -> tuple[int, int]:
    body = start + 1 + size
    if body > limit:
        raise DecodingError("RLP length runs past the data")
    raw = data[start + 1 : body]
    if raw[0] == 0:
        raise DecodingError("RLP length starts with a zero byte")
    length = int.from_bytes(raw, "big")
    if length < 56:
        raise DecodingError("RLP long form used for a length under 56")
    return length, body


def encode(value: Encodable) -> bytes:
    """The RLP encoding of bytes, a non-negative int, or a (nested) sequence of them."""
    if isinstance(value, bool):
        raise TypeError("cannot RLP-encode a bool")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"cannot RLP-encode a negative integer: {value}")
        value = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if isinstance(value, bytes | bytearray):
        if len(value) == 1 and value[0] < 0x80:
            return bytes(value)
        return _prefix(len(value), 0x80) + bytes(value)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"cannot RLP-encode {type(value).__name__}")
    payload = b"".join(encode(item) for item in value)
    return _prefix(len(payload), 0xC0) + payload


def _prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    size = (length.bit_length() + 7) // 8
    return bytes([offset + 55 + size]) + length.to_bytes(size, "big")
