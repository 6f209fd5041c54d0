"""Where the registry keeps an anchor, a leaf's revocation and a signing key in storage, and how to read them.

Invariants: pure. Slots come from the compiler's `storageLayout` (committed in the contract artifact), not
from hand-written constants: a mapping `m` at base slot `p` keeps key `k` at keccak256(k ++ uint256(p)), a
nested mapping applies the rule twice, and a struct's members are packed from the low-order bytes of its
word at the offsets solc reports. A layout this module does not expect (a renamed variable, a struct that
no longer fits one word, a member of another type) is refused, so a contract change cannot silently shift
what a proof is read as.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from anchoring.hashing import keccak256
from contracts import load_artifact

ANCHORS: Final = "_anchors"
REVOKED_LEAVES: Final = "_revokedLeaves"
SIGNING_KEYS: Final = "_signingKeys"
ISSUER_ID: Final = "issuerId"
MAX_STRING_BYTES: Final = 4096
_UINT_BYTES: Final = {f"t_uint{bits}": bits // 8 for bits in range(8, 257, 8)}


class LayoutMismatch(ValueError):
    """The compiled layout is not the one this module reads."""


@dataclass(frozen=True)
class Member:
    name: str
    offset: int
    size: int

    def read(self, word: int) -> int:
        return (word >> (8 * self.offset)) & ((1 << (8 * self.size)) - 1)


@dataclass(frozen=True)
class MappingSlots:
    """One mapping of the registry: its base slot and the one-word struct its values are."""

    base: int
    depth: int
    members: tuple[Member, ...]

    def slot(self, *keys: bytes) -> bytes:
        """The storage slot of `mapping[keys[0]][keys[1]]…` (each key 32 bytes)."""
        if len(keys) != self.depth:
            raise ValueError(f"this mapping takes {self.depth} keys of 32 bytes")
        return self._fold(self.base.to_bytes(32, "big"), keys)

    def slots_under(self, *outer: bytes) -> Callable[[bytes], bytes]:
        """`key -> slot(*outer, key)`, the outer keys folded in once: the slots of many leaves of one root."""
        if len(outer) != self.depth - 1:
            raise ValueError(f"this mapping takes {self.depth} keys of 32 bytes")
        under = self._fold(self.base.to_bytes(32, "big"), outer)

        def slot(key: bytes) -> bytes:
            if len(key) != 32:
                raise ValueError(f"this mapping takes {self.depth} keys of 32 bytes")
            return keccak256(key + under)

        return slot

    def _fold(self, slot: bytes, keys: Sequence[bytes]) -> bytes:
        for key in keys:
            if len(key) != 32:
                raise ValueError(f"this mapping takes {self.depth} keys of 32 bytes")
            slot = keccak256(key + slot)
        return slot

    def decode(self, word: int) -> dict[str, int]:
        return {m.name: m.read(word) for m in self.members}


def _struct(types: Mapping[str, Any], name: str, expected: tuple[str, ...]) -> tuple[Member, ...]:
    struct = types.get(name, {})
    if struct.get("encoding") != "inplace" or struct.get("numberOfBytes") != "32":
        raise LayoutMismatch(f"{name} is not a one-word struct")
    members = []
    for m in struct.get("members", []):
        size = _UINT_BYTES.get(m["type"])
        if size is None or m["slot"] != "0":
            raise LayoutMismatch(f"{name}.{m['label']} is {m['type']} in slot {m['slot']}, not a packed uint")
        members.append(Member(m["label"], int(m["offset"]), size))
    if tuple(m.name for m in members) != expected:
        raise LayoutMismatch(f"{name} has members {[m.name for m in members]}, expected {list(expected)}")
    return tuple(members)


def _mapping(layout: Mapping[str, Any], label: str, depth: int, members: tuple[str, ...]) -> MappingSlots:
    types = layout["types"]
    entries = [e for e in layout["storage"] if e["label"] == label]
    if len(entries) != 1 or entries[0]["offset"] != 0:
        raise LayoutMismatch(f"the registry has no storage variable {label} at offset 0")
    type_name = entries[0]["type"]
    for _ in range(depth):
        entry = types.get(type_name, {})
        if entry.get("encoding") != "mapping" or entry.get("key") != "t_bytes32":
            raise LayoutMismatch(f"{label} is not a mapping from bytes32 {depth} deep")
        type_name = entry["value"]
    return MappingSlots(int(entries[0]["slot"]), depth, _struct(types, type_name, members))


@dataclass(frozen=True)
class StringSlots:
    """A `string` in storage: its head slot holds a short string itself (length * 2 in the lowest byte), or
    length * 2 + 1 when the bytes lie in consecutive slots from keccak256(head slot)."""

    base: int

    @property
    def head(self) -> bytes:
        return self.base.to_bytes(32, "big")

    def data_slots(self, head_word: int) -> list[bytes]:
        """The slots holding the bytes, given the head slot's word (none for a short string)."""
        if head_word & 1 == 0:
            return []
        length = (head_word - 1) // 2
        if length > MAX_STRING_BYTES:
            raise ValueError(f"string of {length} bytes is longer than {MAX_STRING_BYTES}")
        first = int.from_bytes(keccak256(self.head), "big")
        return [((first + i) % 2**256).to_bytes(32, "big") for i in range((length + 31) // 32)]

    def decode(self, head_word: int, data_words: list[int]) -> bytes:
        if head_word & 1 == 0:
            length = (head_word & 0xFF) // 2
            if length > 31:
                raise ValueError(f"short string head says {length} bytes, more than 31")
            return head_word.to_bytes(32, "big")[:length]
        length = (head_word - 1) // 2
        if len(data_words) != (length + 31) // 32:
            raise ValueError(f"string of {length} bytes needs {(length + 31) // 32} words, got {len(data_words)}")
        return b"".join(w.to_bytes(32, "big") for w in data_words)[:length]


def _string(layout: Mapping[str, Any], label: str) -> StringSlots:
    entries = [e for e in layout["storage"] if e["label"] == label]
    if len(entries) != 1 or entries[0]["offset"] != 0 or entries[0]["type"] != "t_string_storage":
        raise LayoutMismatch(f"the registry has no string {label} at offset 0")
    return StringSlots(int(entries[0]["slot"]))


@dataclass(frozen=True)
class RegistryLayout:
    anchors: MappingSlots
    revoked_leaves: MappingSlots
    signing_keys: MappingSlots
    issuer_id: StringSlots


def registry_layout(layout: Mapping[str, Any]) -> RegistryLayout:
    return RegistryLayout(
        anchors=_mapping(
            layout, ANCHORS, 1, ("blockNumber", "timestamp", "revokedBlock", "revokedTimestamp", "leafCount")
        ),
        revoked_leaves=_mapping(layout, REVOKED_LEAVES, 2, ("blockNumber", "timestamp")),
        signing_keys=_mapping(layout, SIGNING_KEYS, 1, ("addedBlock", "revokedBlock")),
        issuer_id=_string(layout, ISSUER_ID),
    )


@cache
def committed_layout() -> RegistryLayout:
    """The layout of the registry this build deploys (from the committed artifact)."""
    return registry_layout(load_artifact()["storageLayout"])
