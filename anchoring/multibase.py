"""base58btc, its multibase form (`z…`), and Ed25519 keys as Multikey (`z6Mk…`), pure and exact.

Invariants: `b58decode(b58encode(b)) == b` for all bytes, leading zero bytes as leading '1's; decoding accepts
nothing but the base58btc alphabet. A Multikey is `z` + base58btc(0xed 0x01 || 32-byte Ed25519 public key);
a secret-key Multikey (as in the W3C test vectors) is `z` + base58btc(0x80 0x26 || 32-byte seed). Malformed
keys raise `InvalidInput` naming what is wrong; a malformed multibase value raises `ValueError`, which
callers turn into their own error. Both directions run in C (`anchoring._base58`) when it is built, for
inputs up to 1,024 bytes or 1,400 characters (a signature is 64 bytes): about 1 us to encode a signature
and 0.55 us to decode it, against 11-15 us here.
"""

from functools import lru_cache

from anchoring.errors import InvalidInput

try:
    from anchoring import _base58
except ImportError:  # built without a C compiler
    _base58 = None  # type: ignore[assignment]

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGITS = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else 255 for c in range(256))
"""Each ASCII character's base58 digit (255: not in the alphabet), for `bytes.translate`."""
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]  # two digits at a time: 58**2 = 3364
_CHUNK = 58**10  # ten digits per big-integer division
ED25519_PUBLIC_HEADER = b"\xed\x01"
ED25519_SECRET_HEADER = b"\x80\x26"
KEY_LENGTH = 32
MAX_MULTIBASE = 128
"""Longest multibase text decoded: a Multikey has 48 characters, an Ed25519 signature about 88. Decoding is
quadratic in the length, so a hostile 200,000-character value would otherwise cost seconds of CPU."""


def b58encode(data: bytes) -> str:
    if _base58 is not None and len(data) <= C_MAX_BYTES:
        return _base58.encode(data)
    return pure_b58encode(data)


def b58decode(text: str) -> bytes:
    if _base58 is not None:
        decoded = _base58.decode(text)  # None for a text over 1,400 characters or with any other character
        if decoded is not None:
            return decoded
    return pure_b58decode(text)


C_MAX_BYTES = 1024
"""The longest input `anchoring._base58` encodes; longer ones (none in this project) take the pure path."""


def native_built() -> bool:
    """Whether `anchoring._base58` was built (setup.py, with a C compiler)."""
    return _base58 is not None


def pure_b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    # Few big-integer divisions (one per ten digits), then machine-size ones: 3x faster than digit by digit.
    chunks = []
    while number:
        number, chunk = divmod(number, _CHUNK)
        chunks.append(chunk)
    parts = []
    for chunk in reversed(chunks):
        d4, rest = divmod(chunk, 3364**4)
        d3, rest = divmod(rest, 3364**3)
        d2, rest = divmod(rest, 3364**2)
        d1, d0 = divmod(rest, 3364)
        parts.append(_PAIRS[d4] + _PAIRS[d3] + _PAIRS[d2] + _PAIRS[d1] + _PAIRS[d0])
    return "1" * zeros + "".join(parts).lstrip("1")


def pure_b58decode(text: str) -> bytes:
    if not text.isascii():
        bad = next(char for char in text if not char.isascii())
        raise ValueError(f"{bad!r} is not a base58btc character")
    digits = text.encode("ascii").translate(_DIGITS)
    if 255 in digits:
        raise ValueError(f"{text[digits.index(255)]!r} is not a base58btc character")
    number = 0
    for value in digits:
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc: 'z' then base58btc."""
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    """The bytes of a multibase base58btc value; `ValueError` saying what is wrong otherwise."""
    if not text.startswith("z"):
        raise ValueError(f"must be multibase base58btc, starting with 'z', not {text[:1]!r}")
    if len(text) > MAX_MULTIBASE:
        raise ValueError(f"is {len(text):,} characters long; at most {MAX_MULTIBASE} are decoded")
    return b58decode(text[1:])


def encode_multikey(public_key: bytes) -> str:
    if len(public_key) != KEY_LENGTH:
        raise InvalidInput(f"an Ed25519 public key has {KEY_LENGTH} bytes, not {len(public_key)}")
    return multibase_encode(ED25519_PUBLIC_HEADER + public_key)


@lru_cache(maxsize=1024)
def decode_multikey(text: str) -> bytes:
    """The 32-byte Ed25519 public key in a Multikey (`z6Mk…`); remembered, as a batch's proofs name one key."""
    return _decode_key(text, ED25519_PUBLIC_HEADER, "public")


def decode_secret_multikey(text: str) -> bytes:
    """The 32-byte Ed25519 seed in a secret-key Multikey (`z3u2…`, multicodec ed25519-priv)."""
    return _decode_key(text, ED25519_SECRET_HEADER, "secret")


def _decode_key(text: str, header: bytes, kind: str) -> bytes:
    shown = text if len(text) <= 20 else f"{text[:12]}…{text[-4:]}"
    try:
        raw = multibase_decode(text)
    except ValueError as exc:
        raise InvalidInput(f"Multikey {shown!r}: {exc}") from None
    if raw[:2] != header:
        raise InvalidInput(
            f"Multikey {shown!r} is not an Ed25519 {kind} key: its multicodec header is 0x{raw[:2].hex()}, "
            f"expected 0x{header.hex()}"
        )
    if len(raw) - 2 != KEY_LENGTH:
        raise InvalidInput(f"Multikey {shown!r} holds {len(raw) - 2} key bytes; an Ed25519 {kind} key has {KEY_LENGTH}")
    return raw[2:]
