"""Ethereum block headers from a node's JSON, encoded as the chain hashes them: keccak(rlp(header)) = hash.

Invariants: pure. The header's fields are encoded in the order of the hard forks that added them (London's
base fee, Shanghai's withdrawals root, Cancun's blob fields and beacon root, Prague's requests hash); the
fields present must be a prefix of that order, and a field this module does not know is refused rather than
guessed at (a future fork changes the hash, and a wrong guess would make a false header look true). Keys a
node adds that are not header fields (its hash, size, transactions, ...) are known and left out.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

from sha3 import keccak_256

from anchoring import rlpcodec
from anchoring.errors import InvalidInput

Kind = Literal["hash", "address", "bloom", "nonce", "int", "bytes"]

BASE_FIELDS: Final[tuple[tuple[str, Kind], ...]] = (
    ("parentHash", "hash"),
    ("sha3Uncles", "hash"),
    ("miner", "address"),
    ("stateRoot", "hash"),
    ("transactionsRoot", "hash"),
    ("receiptsRoot", "hash"),
    ("logsBloom", "bloom"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "hash"),
    ("nonce", "nonce"),
)
FORK_FIELDS: Final[tuple[tuple[str, Kind], ...]] = (
    ("baseFeePerGas", "int"),  # London (EIP-1559)
    ("withdrawalsRoot", "hash"),  # Shanghai (EIP-4895)
    ("blobGasUsed", "int"),  # Cancun (EIP-4844)
    ("excessBlobGas", "int"),  # Cancun (EIP-4844)
    ("parentBeaconBlockRoot", "hash"),  # Cancun (EIP-4788)
    ("requestsHash", "hash"),  # Prague (EIP-7685)
)
NOT_HEADER: Final = frozenset(
    {"hash", "size", "totalDifficulty", "transactions", "uncles", "withdrawals", "author", "sealFields"}
)
_LENGTHS: Final[dict[Kind, int]] = {"hash": 32, "address": 20, "bloom": 256, "nonce": 8}
_HEX = re.compile(r"0x[0-9a-fA-F]*")
MAX_EXTRA_DATA = 1024


@dataclass(frozen=True)
class Header:
    """The header fields that proofs rest on, with the hash they were checked to give."""

    number: int
    timestamp: int
    state_root: bytes
    hash: bytes
    fields: tuple[tuple[str, str], ...]
    """Every header field as the node gave it (hex strings), in encoding order."""


def _value(name: str, kind: Kind, raw: object) -> bytes | int:
    if not isinstance(raw, str) or not _HEX.fullmatch(raw):
        raise InvalidInput(f"block header field {name} is not a 0x-hex string: {str(raw)[:80]!r}")
    body = raw[2:]
    if kind == "int":
        if len(body) > 64:
            raise InvalidInput(f"block header field {name} is more than 256 bits")
        return int(body or "0", 16)
    if len(body) % 2:
        raise InvalidInput(f"block header field {name} has an odd number of hex digits")
    data = bytes.fromhex(body)
    expected = _LENGTHS.get(kind)
    if expected is not None and len(data) != expected:
        raise InvalidInput(f"block header field {name} is {len(data)} bytes, not {expected}")
    if kind == "bytes" and len(data) > MAX_EXTRA_DATA:
        raise InvalidInput(f"block header field {name} is {len(data)} bytes, more than {MAX_EXTRA_DATA}")
    return data


def header_fields(block: Mapping[str, Any]) -> tuple[tuple[str, Kind], ...]:
    """The fields `block` has, in encoding order; raises on a missing base field, a gap, or an unknown key."""
    known = {name for name, _ in BASE_FIELDS + FORK_FIELDS}
    unknown = sorted(k for k in block if k not in known and k not in NOT_HEADER)
    if unknown:
        raise InvalidInput(f"block header has fields this verifier does not know: {', '.join(unknown)}")
    missing = [name for name, _ in BASE_FIELDS if name not in block]
    if missing:
        raise InvalidInput(f"block header lacks {', '.join(missing)}")
    present = [field for field in FORK_FIELDS if field[0] in block]
    if present != list(FORK_FIELDS[: len(present)]):
        gap = next(name for (name, _), want in zip(present, FORK_FIELDS, strict=False) if name != want[0])
        raise InvalidInput(f"block header has {gap} without the fields of the forks before it")
    return BASE_FIELDS + tuple(present)


def encode_header(block: Mapping[str, Any]) -> bytes:
    """rlp(header) of a block as a node's JSON gives it."""
    return rlpcodec.encode([_value(name, kind, block[name]) for name, kind in header_fields(block)])


def parse_header(block: Mapping[str, Any]) -> Header:
    """The header, its hash computed from its fields (a `hash` key in `block` must agree with it)."""
    if all(isinstance(v, str) for v in block.values()):
        return _parse_text(tuple(sorted(block.items())))
    return _parse(block)


@lru_cache(maxsize=256)
def _parse_text(items: tuple[tuple[str, str], ...]) -> Header:
    # The receipts of one batch carry one header: it is encoded and hashed once.
    return _parse(dict(items))


def _parse(block: Mapping[str, Any]) -> Header:
    fields = header_fields(block)
    digest = keccak_256(encode_header(block)).digest()
    claimed = block.get("hash")
    if claimed is not None and (not isinstance(claimed, str) or claimed.lower() != "0x" + digest.hex()):
        raise InvalidInput(f"block header hashes to 0x{digest.hex()}, not to its stated hash {str(claimed)[:80]}")
    return Header(
        number=int(block["number"], 16),
        timestamp=int(block["timestamp"], 16),
        state_root=bytes.fromhex(block["stateRoot"][2:]),
        hash=digest,
        fields=tuple((name, str(block[name])) for name, _ in fields),
    )
