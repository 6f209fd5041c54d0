"""Checkpoints: block hashes the verifier trusts, for verifying receipts' evidence with no node at all.

Invariants: like the trust list, this is the verifier's own file, never taken from a receipt. A TOML or JSON
document with a list `checkpoint` of tables {chain_id, number, hash}; two entries for one block must agree
(a file that says two things about one block is refused, not resolved by order).
"""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anchoring.errors import InvalidInput
from anchoring.jsonio import parse_json, read_limited
from anchoring.tomlio import parse_toml

MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
ENTRY_KEYS = frozenset({"chain_id", "number", "hash"})
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_checkpoints(data: bytes, source: str, *, as_json: bool) -> dict[tuple[int, int], str]:
    document: Any = parse_json(data, source) if as_json else parse_toml(data, source)
    entries = document.get("checkpoint") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InvalidInput(f"{source}: needs a list 'checkpoint' of {{chain_id, number, hash}}")
    out: dict[tuple[int, int], str] = {}
    for i, entry in enumerate(entries):
        if (
            not isinstance(entry, dict)
            or set(entry) != ENTRY_KEYS
            or not _integer(entry["chain_id"])
            or entry["chain_id"] == 0
            or not _integer(entry["number"])
            or not isinstance(entry["hash"], str)
            or not _HASH.fullmatch(entry["hash"])
        ):
            raise InvalidInput(
                f"{source}: checkpoint {i + 1} must have chain_id (integer > 0), number (integer >= 0) and hash "
                f"(0x and 64 hex digits); got {json.dumps(entry, default=str)[:160]}"
            )
        key = (entry["chain_id"], entry["number"])
        value = entry["hash"].lower()
        if out.get(key, value) != value:
            raise InvalidInput(
                f"{source}: checkpoints {i + 1} and an earlier one give chain {key[0]} block {key[1]} two hashes"
            )
        out[key] = value
    return out


def load_checkpoints(path: Path) -> dict[tuple[int, int], str]:
    try:
        data = read_limited(path, MAX_CHECKPOINT_BYTES)
    except InvalidInput as exc:
        raise InvalidInput(f"checkpoints {exc}") from None
    return parse_checkpoints(data, f"checkpoints {path}", as_json=path.suffix == ".json")


def render_checkpoints(entries: dict[tuple[int, int], str]) -> str:
    """The TOML form, one table per block, in chain and block order."""
    lines = ["# Block hashes this verifier trusts (credanchor verify --offline --checkpoints FILE).", ""]
    for (chain_id, number), block_hash in sorted(entries.items()):
        lines += ["[[checkpoint]]", f"chain_id = {chain_id}", f"number = {number}", f'hash = "{block_hash}"', ""]
    return "\n".join(lines)


def checkpoints_for(
    blocks: dict[int, set[int]], hash_of: Callable[[int, int], tuple[str | None, str]]
) -> tuple[dict[tuple[int, int], str], list[str]]:
    """Checkpoints for the evidence blocks wanted (chain id -> block numbers), from `hash_of(chain, number)`
    (the hash its nodes agree on, and how); with a line for each block that got none."""
    found: dict[tuple[int, int], str] = {}
    missing: list[str] = []
    for chain_id, numbers in sorted(blocks.items()):
        for number in sorted(numbers):
            block_hash, how = hash_of(chain_id, number)
            if block_hash is None:
                missing.append(f"chain {chain_id} block {number}: {how}")
            else:
                found[(chain_id, number)] = block_hash
    return found, missing
