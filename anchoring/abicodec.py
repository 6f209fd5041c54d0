"""Solidity ABI encoding and decoding for the registry's read side: bytes in, values out, nothing imported.

Only the types the registry's views and events use: `bytes32`, `uintN`, `address`, `bool`, `string` and
`bytes32[]` (arguments), and tuples of static types (the views' structs). The answers are decoded as strictly
as eth-abi decodes them for web3 (a test checks both against each other): padding must be zero, a `uintN`
must fit N bits, a bool is 0 or 1, a string is UTF-8 and lies inside the data; anything else raises
`AbiDecodeError` named like eth-abi's exception, so a message reads the same whichever reader asked.
Values come out as the `anchoring.chain` reader gives them: hashes as lowercase 0x-hex, addresses EIP-55.
"""

from collections.abc import Sequence
from typing import Any

from anchoring.hashing import checksum_address, keccak256, to_hex

WORD = 32


class AbiDecodeError(ValueError):
    """Bytes that are not a valid ABI encoding of the expected types; `kind` is eth-abi's name for it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def selector(signature: str) -> bytes:
    """The 4-byte function selector (or with `topic`, the event topic) of `name(type,...)`."""
    return keccak256(signature.encode())[:4]


def signature_of(item: dict[str, Any]) -> str:
    """`name(type,...)` of an ABI function, event or error entry (tuples spelt out, as Solidity does)."""
    return f"{item['name']}({','.join(_canonical_type(i) for i in item['inputs'])})"


def _canonical_type(spec: dict[str, Any]) -> str:
    kind = str(spec["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_canonical_type(c) for c in spec["components"]) + ")" + kind[len("tuple") :]
    return kind


def flat_types(specs: Sequence[dict[str, Any]]) -> list[str]:
    """ABI parameter entries as type strings, a struct as `(t1,t2,...)`."""
    return [_canonical_type(s) for s in specs]


# -- encoding -------------------------------------------------------------------------------------------


def encode_call(sig: str, types: Sequence[str], values: Sequence[Any]) -> bytes:
    return selector(sig) + encode(types, values)


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """Head-and-tail encoding of `values` (bytes for bytes32, 0x-hex or bytes for address)."""
    if len(types) != len(values):
        raise ValueError(f"{len(types)} types, {len(values)} values")
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = WORD * len(types)
    for kind, value in zip(types, values, strict=True):
        if _is_dynamic(kind):
            tail = _encode_dynamic(kind, value)
            heads.append(offset.to_bytes(WORD, "big"))
            tails.append(tail)
            offset += len(tail)
        else:
            heads.append(_encode_static(kind, value))
    return b"".join(heads) + b"".join(tails)


def _is_dynamic(kind: str) -> bool:
    return kind in ("string", "bytes") or kind.endswith("[]")


def _encode_static(kind: str, value: Any) -> bytes:
    if kind == "bytes32":
        raw = bytes(value)
        if len(raw) != WORD:
            raise ValueError(f"bytes32 needs 32 bytes, got {len(raw)}")
        return raw
    if kind == "address":
        raw = bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)
        if len(raw) != 20:
            raise ValueError(f"an address is 20 bytes, got {len(raw)}")
        return raw.rjust(WORD, b"\0")
    if kind == "bool":
        return int(bool(value)).to_bytes(WORD, "big")
    if kind.startswith("uint"):
        bits = int(kind[4:] or 256)
        if not 0 <= int(value) < 1 << bits:
            raise ValueError(f"{value} does not fit {kind}")
        return int(value).to_bytes(WORD, "big")
    raise ValueError(f"ABI type {kind} is not supported here")


def _encode_dynamic(kind: str, value: Any) -> bytes:
    if kind == "string":
        raw: bytes = value.encode("utf-8")
        return len(raw).to_bytes(WORD, "big") + raw.ljust(-(-len(raw) // WORD) * WORD, b"\0")
    if kind.endswith("[]") and not _is_dynamic(kind[:-2]):
        return len(value).to_bytes(WORD, "big") + b"".join(_encode_static(kind[:-2], v) for v in value)
    raise ValueError(f"ABI type {kind} is not supported here")


# -- decoding -------------------------------------------------------------------------------------------


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """The values of `types` in `data` (a struct `(t1,...)` as a tuple), as strictly as eth-abi decodes."""
    values = []
    head = 0
    for kind in types:
        values.append(_decode_at(kind, data, head))
        head += _static_size(kind)
    return tuple(values)


def _static_size(kind: str) -> int:
    if kind.startswith("("):
        return sum(_static_size(t) for t in _tuple_members(kind))
    return WORD


def _tuple_members(kind: str) -> list[str]:
    inner = kind[1:-1]
    if "(" in inner or _is_dynamic(inner):
        raise ValueError(f"ABI type {kind} is not supported here")
    return inner.split(",") if inner else []


def _word(data: bytes, at: int) -> bytes:
    if at + WORD > len(data):
        raise AbiDecodeError("InsufficientDataBytes", f"tried to read {WORD} bytes at {at}, only {len(data)} bytes")
    return data[at : at + WORD]


def _decode_at(kind: str, data: bytes, at: int) -> Any:
    if kind.startswith("("):
        values = []
        for member in _tuple_members(kind):
            values.append(_decode_at(member, data, at))
            at += WORD
        return tuple(values)
    if kind == "string":
        return _decode_string(data, at)
    return decode_word(kind, _word(data, at))


def decode_word(kind: str, word: bytes) -> Any:
    """One static value from its 32-byte word (also how an indexed event argument is read from its topic)."""
    if len(word) != WORD:
        raise AbiDecodeError("InsufficientDataBytes", f"a word is 32 bytes, got {len(word)}")
    if kind == "bytes32":
        return to_hex(word)
    if kind == "address":
        _zero_padding(word[:12], kind)
        return checksum_address(to_hex(word[12:]))
    if kind == "bool":
        _zero_padding(word[:31], kind)
        if word[31] > 1:
            raise AbiDecodeError("NonEmptyPaddingBytes", f"bool word ends in {word[31]}, not 0 or 1")
        return bool(word[31])
    if kind.startswith("uint"):
        bits = int(kind[4:] or 256)
        _zero_padding(word[: WORD - bits // 8], kind)
        return int.from_bytes(word, "big")
    raise ValueError(f"ABI type {kind} is not supported here")


def _zero_padding(padding: bytes, kind: str) -> None:
    if padding.strip(b"\0"):
        raise AbiDecodeError("NonEmptyPaddingBytes", f"padding of a {kind} holds {to_hex(padding)}")


def _decode_string(data: bytes, at: int) -> str:
    offset = int.from_bytes(_word(data, at), "big")
    length = int.from_bytes(_word(data, offset), "big") if offset < len(data) else None
    if length is None:
        raise AbiDecodeError("InsufficientDataBytes", f"string offset {offset} is past the data ({len(data)} bytes)")
    start = offset + WORD
    padded = -(-length // WORD) * WORD
    if start + padded > len(data):
        raise AbiDecodeError("InsufficientDataBytes", f"string of {length} bytes runs past the data")
    _zero_padding(data[start + length : start + padded], "string")
    try:
        return data[start : start + length].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AbiDecodeError("DecodingError", f"string is not UTF-8: {exc.reason}") from None
