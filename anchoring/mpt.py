"""EIP-1186 proofs (`eth_getProof`) checked against a state root: an account, then one storage slot of it.

Invariants: pure (hex strings in, values out). The walk through the Merkle-Patricia trie is this module's for
tries whose nodes are referenced by hash (what `eth_getProof` gives for the registry's account and words), and
the `trie` package's (py-trie, which Ethereum's Python clients used) for any other shape, loaded only then;
this module bounds the input, decodes the RLP (`anchoring.rlpcodec`) and reads what the proven leaf says.
A proof that does not lead from the root to the key, for whatever reason (another key, another account,
another root, a node changed, a node missing), raises `ProofInvalid`; an absent key is proven too (an
account that does not exist, a slot that holds zero).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sha3 import keccak_256

from anchoring import rlpcodec
from anchoring.errors import InvalidInput

if TYPE_CHECKING:
    from trie.hexary import HexaryTrie

MAX_NODES: Final = 64  # a path through a 256-bit key's trie is at most 64 nibbles deep, plus one leaf
MAX_NODE_BYTES: Final = 4096  # a branch node with 16 hash children and a value is about 600 bytes
EMPTY_ROOT: Final = keccak_256(rlpcodec.encode(b"")).digest()
EMPTY_CODE: Final = keccak_256(b"").digest()
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
# Whatever a walk over hostile nodes raises (rlpcodec.DecodingError is a ValueError): the proof does not hold.
_WALK_ERRORS = (ValueError, TypeError, IndexError, KeyError)
CACHE_LIMIT: Final = 50_000
# Receipts of one batch share their header and most of their nodes, so a walk is remembered: the value
# found under (root, key) and the nodes the walk read. A later pool that holds every one of those nodes (by
# hash, so with the same content) would walk the same path to the same value, so it gets the value without
# the walk; a pool missing one walks itself, and fails as it would have. Node hashes are remembered by the
# node's text. Both caches are bounded and cleared when full.
_proven: dict[tuple[bytes, bytes], tuple[bytes, frozenset[bytes]]] = {}
_hashed: dict[str, bytes] = {}


_decoded: dict[bytes, Any] = {}


class _WalkFailed(Exception):
    """py-trie's walk (or its RLP) refused the nodes."""


@cache
def _trie_walker() -> "tuple[type[HexaryTrie], tuple[type[Exception], ...]]":
    """py-trie's trie class, with each node's RLP decoded once, and what its walk raises over hostile nodes
    (loaded on the first shape the plain walk leaves to it)."""
    import rlp
    from trie import exceptions as trie_errors
    from trie.hexary import HexaryTrie

    class _Trie(HexaryTrie):
        """A node is looked up in the walk's own pool (so a missing one is still missing), and its decoding,
        a function of its bytes, is remembered by its hash (the pool keys every node by the keccak256 of its
        bytes)."""

        def get_node(self, node_hash: bytes) -> Any:
            if len(node_hash) < 32 or node_hash == EMPTY_ROOT:
                return super().get_node(node_hash)  # type: ignore[no-untyped-call]
            self.db[node_hash]
            found = _decoded.get(node_hash)
            if found is None:
                found = super().get_node(node_hash)  # type: ignore[no-untyped-call]
                _remember(_decoded, node_hash, found)
            return found

    errors = (
        trie_errors.BadTrieProof,
        trie_errors.InvalidNibbles,
        trie_errors.InvalidNode,
        trie_errors.MissingTraversalNode,
        trie_errors.MissingTrieNode,
        trie_errors.TraversedPartialPath,
        trie_errors.ValidationError,
        rlp.exceptions.RLPException,
    )
    return _Trie, errors


def _trie_get(db: "_Reading", root: bytes, key_hash: bytes) -> object:
    """`HexaryTrie(db, root).get(key_hash)` by py-trie; `_WalkFailed` where its walk refuses the nodes."""
    walker, errors = _trie_walker()
    try:
        found: object = walker(db, root).get(key_hash)
    except errors:
        raise _WalkFailed from None
    return found


class _Unsure(Exception):
    """A shape the plain walk leaves to py-trie (which then answers or fails as it always did)."""


V = TypeVar("V")
_parsed: dict[bytes, tuple[int, tuple[int, ...], Any]] = {}
_BRANCH, _LEAF, _EXTENSION = 0, 1, 2


_HEX_DIGITS: Final = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))


def _nibbles(data: bytes) -> tuple[int, ...]:
    return tuple(data.hex().encode().translate(_HEX_DIGITS))


def _parse(node_hash: bytes, raw: bytes) -> tuple[int, tuple[int, ...], Any]:
    """A node as (kind, path nibbles, children or value), remembered by its hash (the pool's key for it)."""
    found = _parsed.get(node_hash)
    if found is not None:
        return found
    node = rlpcodec.decode(raw)
    if not isinstance(node, list):
        raise _Unsure
    if len(node) == 17:
        found = (_BRANCH, (), node)
    elif len(node) == 2 and isinstance(node[0], bytes) and node[0]:
        flag = node[0][0] >> 4
        if flag > 3:
            raise _Unsure
        nibbles = _nibbles(node[0])
        path = nibbles[1:] if flag & 1 else nibbles[2:]
        found = (_LEAF if flag >= 2 else _EXTENSION, path, node[1])
    else:
        raise _Unsure
    _remember(_parsed, node_hash, found)
    return found


def _plain_walk(db: Mapping[bytes, bytes], root: bytes, key_hash: bytes) -> bytes:
    """What py-trie's `HexaryTrie(db, root).get` returns for a 32-byte key hash, for tries made only of nodes
    referenced by hash; `_Unsure` for anything else (inline nodes, a missing node, odd paths)."""
    return _walk(db, root, key_hash)[0]


def proof_path_decided(nodes: Mapping[bytes, bytes], root: bytes, key_hash: bytes) -> tuple[list[bytes] | None, int]:
    """The hashes of the nodes a proof of the 32-byte `key_hash` holds, root first, as `eth_getProof` gives
    them: every node the walk reads, to where the key's path ends (its leaf, the leaf or extension it parts
    from, or an empty branch slot). None when `nodes` lack one, or the trie has a shape the plain walk
    leaves to py-trie (inline nodes, odd paths), or is empty: then ask the node. And how many of the key's
    first nibbles decided the path: every key that starts with them has the same one (64 when it took the
    whole key, or failed)."""
    try:
        _, read, decided = _walk(nodes, root, key_hash)
    except (_Unsure, rlpcodec.DecodingError):
        return None, 64
    return (read or None), decided if read else 64


def _walk(db: Mapping[bytes, bytes], root: bytes, key_hash: bytes) -> tuple[bytes, list[bytes], int]:
    """`_plain_walk`'s value, the hashes of the nodes it read (root first), and how many of the key's first
    nibbles decided which nodes it read and that it did not fail (the rest may decide the value)."""
    rest = _nibbles(key_hash)
    pointer = root
    read: list[bytes] = []
    while True:
        if pointer == b"" or pointer == EMPTY_ROOT:
            return b"", read, 64 - len(rest)
        if not isinstance(pointer, bytes) or len(pointer) != 32 or pointer not in db:
            raise _Unsure
        read.append(pointer)
        kind, path, item = _parse(pointer, db[pointer])
        if kind == _BRANCH:
            if not rest:
                raise _Unsure
            pointer, rest = item[rest[0]], rest[1:]
        elif kind == _LEAF:
            if not isinstance(item, bytes):  # matched, `_Unsure`; not, b"": the whole key decides which
                if rest == path:
                    raise _Unsure
                return b"", read, 64
            # The same nodes were read whatever the rest of the key: it decides only the value.
            return (item if rest == path else b""), read, 64 - len(rest)
        else:
            if rest[: len(path)] == path and len(rest) > len(path):
                pointer, rest = item, rest[len(path) :]
            elif len(rest) <= len(path) or not path:
                raise _Unsure
            else:
                return b"", read, 64 - len(rest) + len(path)


class _Reading(dict[bytes, bytes]):
    """The pool's nodes, noting which ones a walk reads."""

    def __init__(self, nodes: dict[bytes, bytes]) -> None:
        super().__init__(nodes)
        self.read: set[bytes] = set()

    def __getitem__(self, key: bytes) -> bytes:
        self.read.add(key)
        return super().__getitem__(key)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value


class ProofInvalid(InvalidInput):
    """A Merkle-Patricia proof that does not prove what it is offered for."""


@dataclass(frozen=True)
class Account:
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


class NodePool:
    """Trie nodes by their hash, from one or more proofs (a receipt's evidence keeps each node once)."""

    def __init__(self, nodes: Sequence[object], what: str, *, limit: int = MAX_NODES) -> None:
        if not isinstance(nodes, Sequence) or isinstance(nodes, str | bytes):
            raise ProofInvalid(f"{what} is not a list of trie nodes")
        if not 0 < len(nodes) <= limit:
            raise ProofInvalid(f"{what} has {len(nodes)} nodes, not 1 to {limit}")
        self.what = what
        self.db: dict[bytes, bytes] = {}
        for i, node in enumerate(nodes):
            if not isinstance(node, str):
                raise ProofInvalid(f"{what}: node {i} is not 0x-hex of at most {MAX_NODE_BYTES} bytes")
            known = _hashed.get(node)
            if known is not None:
                self.db[known] = bytes.fromhex(node[2:])
                continue
            if not _HEX.fullmatch(node) or len(node) > 2 + 2 * MAX_NODE_BYTES:
                raise ProofInvalid(f"{what}: node {i} is not 0x-hex of at most {MAX_NODE_BYTES} bytes")
            raw = bytes.fromhex(node[2:])
            try:
                rlpcodec.decode(raw)
            except rlpcodec.DecodingError:
                raise ProofInvalid(f"{what}: node {i} is not RLP") from None
            digest = keccak_256(raw).digest()
            _remember(_hashed, node, digest)
            self.db[digest] = raw

    def get(self, root: bytes, key: bytes, what: str) -> bytes:
        """The value under keccak256(key) in the trie with `root` (b"" where the nodes prove there is none)."""
        if root == EMPTY_ROOT:
            return b""
        known = _proven.get((root, key))
        if known is not None and known[1] <= self.db.keys():
            return known[0]
        reading = _Reading(self.db)
        key_hash = keccak_256(key).digest()
        value: object
        try:
            try:
                value = _plain_walk(reading, root, key_hash)
            except _Unsure:
                reading.read.clear()
                value = _trie_get(reading, root, key_hash)
        except (*_WALK_ERRORS, _WalkFailed):
            raise ProofInvalid(f"{what} does not lead from root 0x{root.hex()} to its key") from None
        if not isinstance(value, bytes):
            raise ProofInvalid(f"{what} does not lead from root 0x{root.hex()} to its key")
        _remember(_proven, (root, key), (value, frozenset(reading.read)))
        return value

    def account(self, state_root: bytes, address: bytes) -> "Account | None":
        """The account at `address` under `state_root`, or None where the nodes show there is none."""
        value = self.get(state_root, address, f"account proof of 0x{address.hex()}")
        if value == b"":
            return None
        try:
            fields = rlpcodec.decode(value)
        except rlpcodec.DecodingError:
            raise ProofInvalid(f"account 0x{address.hex()}: the proven value is not an RLP account") from None
        if (
            not isinstance(fields, list)
            or len(fields) != 4
            or not all(isinstance(f, bytes) for f in fields)
            or len(fields[2]) != 32
            or len(fields[3]) != 32
        ):
            raise ProofInvalid(f"account 0x{address.hex()}: the proven value is not [nonce, balance, storage, code]")
        nonce, balance, storage_root, code_hash = (f for f in fields if isinstance(f, bytes))
        return Account(int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), storage_root, code_hash)

    def storage(self, storage_root: bytes, slot: bytes) -> int:
        """The word in storage `slot` (32 bytes) of an account whose storage root is `storage_root`."""
        if len(slot) != 32:
            raise ProofInvalid(f"a storage slot is 32 bytes, not {len(slot)}")
        return _word(self.get(storage_root, slot, f"storage proof of slot 0x{slot.hex()}"), slot)


def _word(value: bytes, slot: bytes) -> int:
    """A storage trie's value as the word it holds (b"": none, 0)."""
    if value == b"":
        return 0
    try:
        word = rlpcodec.decode(value)
    except rlpcodec.DecodingError:
        raise ProofInvalid(f"slot 0x{slot.hex()}: the proven value is not RLP") from None
    if not isinstance(word, bytes) or len(word) > 32 or word[:1] == b"\x00":
        raise ProofInvalid(f"slot 0x{slot.hex()}: the proven value is not a minimal 32-byte word")
    return int.from_bytes(word, "big")


def deciding_prefix(key_hash: bytes, decided: int) -> bytes | None:
    """The first byte or two of `key_hash` that hold its first `decided` nibbles (those that decided a walk of
    it): what the walk is remembered by, for every key that starts the same; None where that takes more."""
    return key_hash[: max(1, (decided + 1) // 2)] if decided <= 4 else None


def remembered(memory: Mapping[bytes, V], key_hash: bytes) -> V | None:
    """What `memory` holds for the `deciding_prefix` of `key_hash`, or None."""
    found = memory.get(key_hash[:1])
    return found if found is not None else memory.get(key_hash[:2])


class StorageWalks:
    """`pool.storage(storage_root, slot)` answering without an error, for many slots of one account (a batch's
    leaves' revocation words, each walked over the same nodes): remembered by the first byte or two of a
    slot's key hash where those decide it. A registry's storage trie of few revocations is a handful of
    nodes, where a key's first nibble or two lead it to an empty branch slot or to a leaf."""

    def __init__(self, pool: NodePool, storage_root: bytes) -> None:
        self.pool = pool
        self.storage_root = storage_root
        self.whole: dict[bytes, bool] = {}
        """Prefixes of key hashes whose every slot the pool's nodes answer for (`deciding_prefix`)."""

    def __call__(self, slot: bytes) -> bool:
        key_hash = keccak_256(slot).digest()
        if len(slot) == 32 and remembered(self.whole, key_hash):
            return True
        try:
            self.pool.storage(self.storage_root, slot)
        except ProofInvalid:
            return False
        decided = _whole_decided(self.pool.db, self.storage_root, key_hash)
        prefix = None if decided is None else deciding_prefix(key_hash, decided)
        if prefix is not None:
            self.whole[prefix] = True
        return True


def _whole_decided(db: Mapping[bytes, bytes], root: bytes, key_hash: bytes) -> int | None:
    """How many of the key's first nibbles decide that the storage walk answers: every key that starts with
    them is walked over the same nodes, to an empty branch slot, away from an extension, or to a leaf whose
    value is a word (which the key then holds, or not: either way an answer). None where the walk is not
    plain, or ends at a leaf whose value is not a word."""
    try:
        _, read, decided = _walk(db, root, key_hash)
    except (_Unsure, rlpcodec.DecodingError):
        return None
    if not read:
        return None
    kind, _, item = _parse(read[-1], db[read[-1]])
    if kind == _LEAF:
        try:
            _word(item, key_hash)
        except ProofInvalid:
            return None
    return decided


def prove_account(state_root: bytes, address: bytes, proof: Sequence[object]) -> Account | None:
    """The account at `address` in the state under `state_root`, from one `accountProof`."""
    return NodePool(proof, f"account proof of 0x{address.hex()}").account(state_root, address)


def prove_storage(storage_root: bytes, slot: bytes, proof: Sequence[object]) -> int:
    """The word in storage `slot` of an account whose storage root is `storage_root`, from one proof."""
    if len(slot) != 32:
        raise ProofInvalid(f"a storage slot is 32 bytes, not {len(slot)}")
    if storage_root == EMPTY_ROOT and len(proof) == 0:
        return 0
    return NodePool(proof, f"storage proof of slot 0x{slot.hex()}").storage(storage_root, slot)
