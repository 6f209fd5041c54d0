"""The verifier's trust list: which registries (chain id + address) it accepts as issuers, and by what name.

Invariants: a receipt names its registry, but only this list, which the verifier owns, can make it trusted;
lookups compare checksummed addresses, so case never matters.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anchoring.errors import InvalidInput
from anchoring.hashing import checksum_address, is_address
from anchoring.jsonio import parse_json, read_limited
from anchoring.tomlio import parse_toml

MAX_TRUST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class TrustedRegistry:
    chain_id: int
    address: str
    name: str


@dataclass(frozen=True)
class TrustList:
    entries: tuple[TrustedRegistry, ...] = ()

    def find(self, chain_id: int, address: str) -> TrustedRegistry | None:
        wanted = checksum_address(address)
        return next((e for e in self.entries if e.chain_id == chain_id and e.address == wanted), None)

    def plus(self, *more: TrustedRegistry) -> "TrustList":
        return TrustList(self.entries + more)


def trusted(chain_id: int, address: str, name: str) -> TrustedRegistry:
    if not is_address(address):
        raise InvalidInput(f"trust list: {address!r} is not an address")
    return TrustedRegistry(chain_id, checksum_address(address), name)


def load_trust_list(path: Path) -> TrustList:
    """A TOML or JSON file with a list `registry` of tables {name, chain_id, address}."""
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
        ok = isinstance(entry, dict) and set(entry) == {"name", "chain_id", "address"}
        if not ok or not isinstance(entry["chain_id"], int) or not isinstance(entry["name"], str):
            raise InvalidInput(
                f"trust list {path}: registry {i + 1} must have exactly name (text), chain_id (integer), address; "
                f"got {json.dumps(entry)[:120]}"
            )
        out.append(trusted(entry["chain_id"], str(entry["address"]), entry["name"]))
    return TrustList(tuple(out))
