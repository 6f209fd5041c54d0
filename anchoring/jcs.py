"""RFC 8785 (JSON Canonicalization Scheme), fast: a Python pre-pass, then the C JSON encoder.

Invariant: `canonicalize(v) == rfc8785.dumps(v)` for every JSON value (a property test checks it against
the `rfc8785` package). The pre-pass sorts object keys by their UTF-16 code units, turns integral floats
into integers and checks number ranges; Python's encoder then writes strings exactly as ECMAScript does
(same escapes, lowercase \\u00xx). Floats whose shortest form needs an exponent, and anything unexpected,
go to the reference `rfc8785` implementation, so the fast path never has to be right about them.
"""

import json
import math
from typing import Any

import rfc8785

_INT_LIMIT = 2**53 - 1
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False)


class _Slow(Exception):
    """This value needs the reference implementation."""


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _prepare(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise _Slow
        # ASCII keys sort the same by code point as by UTF-16 code unit; only others need the slower key.
        keys = sorted(value) if all(map(str.isascii, value)) else sorted(value, key=_utf16)
        return {k: _prepare(value[k]) for k in keys}
    if kind is list:
        return [_prepare(v) for v in value]
    if kind is int:
        if -_INT_LIMIT <= value <= _INT_LIMIT:
            return value
        raise _Slow
    if kind is float:
        if not math.isfinite(value):
            raise _Slow
        if value.is_integer():
            if abs(value) <= _INT_LIMIT:
                return int(value)
            raise _Slow
        if "e" in repr(value):
            raise _Slow
        return value
    raise _Slow


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value; raises `rfc8785.CanonicalizationError` as the reference does."""
    try:
        return _ENCODER.encode(_prepare(value)).encode("utf-8")
    except (_Slow, UnicodeEncodeError):
        return rfc8785.dumps(value)
