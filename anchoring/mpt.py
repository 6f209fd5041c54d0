"""EIP-1186 proofs (`eth_getProof`) checked against a state root: an account, then one storage slot of it.

Invariants: pure (hex strings in, values out). The walk through the Merkle-Patricia trie is the `trie`
package's (py-trie, which Ethereum's Python clients used); this module bounds the input, decodes the RLP and
reads what the proven leaf says. A proof that does not lead from the root to the key, for whatever reason
(another key, another account, another root, a node changed, a node missing), raises `ProofInvalid`; an
absent key is proven too (an account that does not exist, a slot that holds zero).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import rlp
from sha3 import keccak_256
from trie.exceptions import (
    BadTrieProof,
    InvalidNibbles,
    InvalidNode,
    MissingTraversalNode,
    MissingTrieNode,
    TraversedPartialPath,
)
from trie.exceptions import ValidationError as TrieValidationError
from trie.hexary import HexaryTrie

from anchoring.errors import InvalidInput

MAX_NODES: Final = 64  # a path through a 256-bit key's trie is at most 64 nibbles deep, plus one leaf
MAX_NODE_BYTES: Final = 4096  # a branch node with 16 hash children and a value is about 600 bytes
EMPTY_ROOT: Final = keccak_256(rlp.encode(b"")).digest()
EMPTY_CODE: Final = keccak_256(b"").digest()
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


class ProofInvalid(InvalidInput):
    """A Merkle-Patricia proof that does not prove what it is offered for."""


@dataclass(frozen=True)
class Account:
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


def _decoded(proof: Sequence[object], what: str) -> list[Any]:
    if not isinstance(proof, Sequence) or isinstance(proof, str | bytes):
        raise ProofInvalid(f"{what} is not a list of trie nodes")
    if not 0 < len(proof) <= MAX_NODES:
        raise ProofInvalid(f"{what} has {len(proof)} nodes, not 1 to {MAX_NODES}")
    nodes = []
    for i, node in enumerate(proof):
        if not isinstance(node, str) or not _HEX.fullmatch(node) or len(node) > 2 + 2 * MAX_NODE_BYTES:
            raise ProofInvalid(f"{what}: node {i} is not 0x-hex of at most {MAX_NODE_BYTES} bytes")
        try:
            nodes.append(rlp.decode(bytes.fromhex(node[2:])))
        except rlp.exceptions.DecodingError:
            raise ProofInvalid(f"{what}: node {i} is not RLP") from None
    return nodes


def _walk(root: bytes, key: bytes, proof: Sequence[object], what: str) -> bytes:
    nodes = _decoded(proof, what)
    try:
        value = HexaryTrie.get_from_proof(root, keccak_256(key).digest(), nodes)  # type: ignore[no-untyped-call]
    except (
        BadTrieProof,
        InvalidNibbles,
        InvalidNode,
        MissingTraversalNode,
        MissingTrieNode,
        TraversedPartialPath,
        TrieValidationError,
        rlp.exceptions.RLPException,
        ValueError,
        TypeError,
        IndexError,
    ):
        raise ProofInvalid(f"{what} does not lead from root 0x{root.hex()} to its key") from None
    if not isinstance(value, bytes):
        raise ProofInvalid(f"{what} does not lead from root 0x{root.hex()} to its key")
    return value


def prove_account(state_root: bytes, address: bytes, proof: Sequence[object]) -> Account | None:
    """The account at `address` in the state under `state_root`, or None where the proof shows none."""
    value = _walk(state_root, address, proof, f"account proof of 0x{address.hex()}")
    if value == b"":
        return None
    try:
        fields = rlp.decode(value)
    except rlp.exceptions.DecodingError:
        raise ProofInvalid(f"account 0x{address.hex()}: the proven value is not an RLP account") from None
    if (
        not isinstance(fields, list)
        or len(fields) != 4
        or not all(isinstance(f, bytes) for f in fields)
        or len(fields[2]) != 32
        or len(fields[3]) != 32
    ):
        raise ProofInvalid(f"account 0x{address.hex()}: the proven value is not [nonce, balance, storage, code]")
    nonce, balance, storage_root, code_hash = fields
    return Account(int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), storage_root, code_hash)


def prove_storage(storage_root: bytes, slot: bytes, proof: Sequence[object]) -> int:
    """The word in storage `slot` (32 bytes) of an account whose storage root is `storage_root`."""
    if len(slot) != 32:
        raise ProofInvalid(f"a storage slot is 32 bytes, not {len(slot)}")
    if storage_root == EMPTY_ROOT and len(proof) == 0:
        return 0
    value = _walk(storage_root, slot, proof, f"storage proof of slot 0x{slot.hex()}")
    if value == b"":
        return 0
    try:
        word = rlp.decode(value)
    except rlp.exceptions.DecodingError:
        raise ProofInvalid(f"slot 0x{slot.hex()}: the proven value is not RLP") from None
    if not isinstance(word, bytes) or len(word) > 32 or word[:1] == b"\x00":
        raise ProofInvalid(f"slot 0x{slot.hex()}: the proven value is not a minimal 32-byte word")
    return int.from_bytes(word, "big")
