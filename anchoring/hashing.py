"""keccak256 and the lowercase 0x-hex form every hash takes on the wire.

keccak256 is the project's C function (`anchoring._keccak`) when it is built: one call, no hash object, about
twice as fast as safe-pysha3 for a 32- or 64-byte input (measured: 0.6-0.75 us against 1.1-1.6 us), and about
1.6x for a 2,200-byte credential where the CPU has BMI (`make bench --only merkle`). Without it,
safe-pysha3 directly: about 1 us a call against 11 us through eth-hash's default backend. Hex is always
lowercase (OpenZeppelin's JS `verify` rejects upper case).
"""

import re
from collections.abc import Callable
from functools import lru_cache

from sha3 import keccak_256

try:
    from anchoring._keccak import keccak256 as _c_keccak256
except ImportError:  # built without a C compiler
    _c_keccak256 = None  # type: ignore[assignment]

HASH32_PATTERN = r"^0x[0-9a-f]{64}$"
_HASH32 = re.compile(HASH32_PATTERN)


def pysha3_keccak256(data: bytes) -> bytes:
    digest: bytes = keccak_256(data).digest()
    return digest


keccak256: Callable[[bytes], bytes] = _c_keccak256 if _c_keccak256 is not None else pysha3_keccak256
"""The 32-byte Keccak-256 digest of `data` (Ethereum's keccak256, not SHA3-256)."""


def to_hex(data: bytes) -> str:
    return "0x" + data.hex()


def is_hash32(text: str) -> bool:
    return _HASH32.fullmatch(text) is not None


def short(hex_hash: str) -> str:
    """0x3f12…a1b2, for messages."""
    return f"{hex_hash[:6]}…{hex_hash[-4:]}" if len(hex_hash) > 12 else hex_hash


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@lru_cache(maxsize=4096)
def checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a 20-byte hex address (keccak via safe-pysha3: 80x cheaper than eth-utils)."""
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"not a 20-byte address as 0x-hex: {address!r}")
    body = address[2:].lower()
    digest = keccak_256(body.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(body, digest[:40], strict=True))


def is_address(address: str) -> bool:
    """A 20-byte hex address, either all one case or with a correct EIP-55 checksum."""
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        return False
    body = address[2:]
    return body in (body.lower(), body.upper()) or checksum_address(address) == address
