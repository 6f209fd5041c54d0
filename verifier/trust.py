"""The verifier's trust list: which registries (chain id + address) it accepts as issuers, and by what name.

Invariants: a receipt names its registry, but only this list, which the verifier owns, can make it trusted;
lookups compare checksummed addresses, so case never matters.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from anchoring.errors import InvalidInput
from anchoring.hashing import checksum_address, is_address
from anchoring.jsonio import parse_json, read_limited
from anchoring.tomlio import parse_toml

MAX_TRUST_BYTES = 4 * 1024 * 1024
ENTRY_KEYS = frozenset({"name", "chain_id", "address", "issuer_id"})


@dataclass(frozen=True)
class TrustedRegistry:
    chain_id: int
    address: str
    name: str
    issuer_id: str | None = None
    """The issuer id the registry must be bound to, when the verifier says which."""


@dataclass(frozen=True)
class TrustList:
    entries: tuple[TrustedRegistry, ...] = ()

    def find(self, chain_id: int, address: str) -> TrustedRegistry | None:
        wanted = _checksummed(address)
        return next((e for e in self.entries if e.chain_id == chain_id and e.address == wanted), None)

    def plus(self, *more: TrustedRegistry) -> "TrustList":
        return TrustList(self.entries + more)


@lru_cache(maxsize=1024)
def _checksummed(address: str) -> str:
    return checksum_address(address)


def trusted(chain_id: int, address: str, name: str, issuer_id: str | None = None) -> TrustedRegistry:
    if not is_address(address):
        raise InvalidInput(f"trust list: {address!r} is not an address")
    return TrustedRegistry(chain_id, checksum_address(address), name, issuer_id)


def load_trust_list(path: Path) -> TrustList:
    """A TOML or JSON file with a list `registry` of tables {name, chain_id, address[, issuer_id]}."""
    try:  # a FIFO or a device (/dev/zero) is refused, not read
        data = read_limited(path, MAX_TRUST_BYTES)
    except InvalidInput as exc:
        raise InvalidInput(f"trust list {exc}") from None
    document: Any
    if path.suffix == ".json":
        document = parse_json(data, f"trust list {path}")
    else:
        document = parse_toml(data, f"trust list {path}")
    entries = document.get("registry") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InvalidInput(f"trust list {path}: needs a list 'registry' of {{name, chain_id, address}}")
    out = []
    for i, entry in enumerate(entries):
        ok = isinstance(entry, dict) and {"name", "chain_id", "address"} <= set(entry) <= ENTRY_KEYS
        if (
            not ok
            or not isinstance(entry["chain_id"], int)
            or isinstance(entry["chain_id"], bool)
            or not isinstance(entry["name"], str)
            or not isinstance(entry.get("issuer_id", ""), str)
        ):
            raise InvalidInput(
                f"trust list {path}: registry {i + 1} must have name (text), chain_id (integer), address, and "
                f"optionally issuer_id (text); got {json.dumps(entry, default=str)[:120]}"
            )
        out.append(trusted(entry["chain_id"], str(entry["address"]), entry["name"], entry.get("issuer_id")))
    return TrustList(tuple(out))
