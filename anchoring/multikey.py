"""Multibase base58btc and Ed25519 Multikey encodings (W3C Controller Documents / Data Integrity).

Invariants: pure and total: every decoder either returns exactly the bytes encoded or raises `ValueError`
with a short reason; an Ed25519 Multikey is ``"z" + base58btc(0xed 0x01 || 32-byte public key)``, so it
always starts with ``z6Mk``.
"""

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_KEY_BYTES = 32
MAX_MULTIBASE = 256


def b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(ALPHABET[rest])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        value = _INDEX.get(char)
        if value is None:
            raise ValueError(f"{char!r} is not a base58btc character")
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc: the prefix ``z``."""
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("z"):
        raise ValueError("is not multibase base58btc (must start with 'z')")
    if len(text) > MAX_MULTIBASE:
        raise ValueError(f"is longer than {MAX_MULTIBASE} characters")
    return b58decode(text[1:])


def multikey_from_public(public_key: bytes) -> str:
    if len(public_key) != ED25519_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key has {ED25519_KEY_BYTES} bytes, not {len(public_key)}")
    return multibase_encode(ED25519_PUB_PREFIX + public_key)


def public_from_multikey(multikey: str) -> bytes:
    """The 32-byte Ed25519 public key of a ``z6Mk…`` Multikey."""
    raw = multibase_decode(multikey)
    if raw[:2] != ED25519_PUB_PREFIX:
        raise ValueError("is not an Ed25519 Multikey (multicodec prefix 0xed01)")
    if len(raw) != 2 + ED25519_KEY_BYTES:
        raise ValueError(f"holds {len(raw) - 2} key bytes, an Ed25519 key has {ED25519_KEY_BYTES}")
    return raw[2:]
