"""Merkle tree compatible with OpenZeppelin's StandardMerkleTree for leaf encoding ``["bytes32"]``.

Invariants (the rules of @openzeppelin/merkle-tree 1.x, default options):
- a leaf is ``keccak256(keccak256(digest))``: double hashing keeps a leaf from passing for an inner node;
- an inner node is ``keccak256(min(a, b) ++ max(a, b))``, so proofs carry no left/right flags;
- leaf hashes are sorted ascending and the tree is one array of ``2N-1`` hashes: root at 0, node ``j`` has
  children ``2j+1`` and ``2j+2``, sorted leaf ``k`` sits at ``2N-2-k``;
- a proof is the sibling hashes from the leaf up to, not including, the root.
A proof from here therefore verifies with OpenZeppelin's ``MerkleProof`` in Solidity and in JS.
Everything is pure: bytes in, bytes out. From `PARALLEL_MIN` leaves on, leaves are hashed and sorted on every
core (worker processes get and return one bytes blob per chunk); smaller trees never start a process. Both
paths give the same bytes (a test compares them with a plain reference build).
"""

import gc
import operator
import os
import struct
import sys
from array import array
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import TYPE_CHECKING, Literal

from sha3 import keccak_256

if TYPE_CHECKING:
    from concurrent.futures import Executor
    from contextlib import AbstractContextManager

SCHEME: Literal["oz-standard-v1"] = "oz-standard-v1"


def leaf_hash(digest: bytes) -> bytes:
    leaf: bytes = keccak_256(keccak_256(digest).digest()).digest()
    return leaf


def node_hash(a: bytes, b: bytes) -> bytes:
    node: bytes = keccak_256(a + b if a < b else b + a).digest()
    return node


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from `leaf`."""
    computed = leaf
    for sibling in proof:
        computed = node_hash(computed, sibling)
    return computed


def verify_proof(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return process_proof(leaf, proof) == root


@dataclass(frozen=True)
class MultiProof:
    leaves: tuple[bytes, ...]
    """Digests (not leaf hashes) in the order the proof consumes them."""
    proof: tuple[bytes, ...]
    flags: tuple[bool, ...]


def process_multiproof(multi: MultiProof) -> bytes:
    """Fold a multiproof as ``MerkleProof.multiProofVerify`` does: a queue of hashes, one flag a step."""
    if len(multi.leaves) + len(multi.proof) != len(multi.flags) + 1:
        raise ValueError("multiproof: leaves + proof must be one more than flags")
    queue = [leaf_hash(d) for d in multi.leaves]
    proof = list(multi.proof)
    head = 0
    for flag in multi.flags:
        a = queue[head]
        head += 1
        if flag:
            b = queue[head]
            head += 1
        else:
            b = proof.pop(0)
        queue.append(node_hash(a, b))
    if not multi.flags:
        return queue[0] if queue else proof[0]
    return queue[-1]


PARALLEL_MIN = 1 << 15
"""From this many leaves on, the work below is spread over every core: under it, starting workers costs more."""
CHUNKS_PER_CORE = 4


@contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of tuples and lists would trigger full collections that find nothing to free: pause them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sorted_records(job: tuple[bytes, int]) -> bytes:
    """A worker's job: concatenated 32-byte digests in; out, each one's leaf hash followed by its input index
    (4 bytes, big-endian), sorted descending, concatenated. Bytes, not lists of small objects, cross the process
    boundary, and the parent only merges sorted runs."""
    blob, start = job
    k = keccak_256
    indices = struct.pack(f">{len(blob) // 32}I", *range(start, start + len(blob) // 32))
    records = [k(k(blob[o : o + 32]).digest()).digest() + indices[o // 8 : o // 8 + 4] for o in range(0, len(blob), 32)]
    records.sort(reverse=True)
    return b"".join(records)


def _parents(children: Sequence[bytes]) -> list[bytes]:
    """The parent of each consecutive pair of `children`."""
    k = keccak_256
    pairs = iter(children)
    return [k(a + b).digest() if a < b else k(b + a).digest() for a, b in zip(pairs, pairs, strict=True)]


def _levels(n: int) -> list[tuple[int, int]]:
    """The inner nodes of an `n`-leaf tree as ranges ``[lo, hi)`` from the bottom up, each as large as it can be
    while every child of the range (``[2lo+1, 2hi+1)``) lies below it, so is known before the range is hashed."""
    levels = []
    hi = n - 1
    while hi > 0:
        lo = hi // 2
        levels.append((lo, hi))
        hi = lo
    return levels


def _sorted_leaves_serial(digests: Sequence[bytes]) -> tuple[list[bytes], list[int]]:
    k = keccak_256
    leaves = [k(k(d).digest()).digest() for d in digests]
    order = sorted(range(len(leaves)), key=leaves.__getitem__, reverse=True)
    tail = [leaves[i] for i in order]
    _refuse_duplicates(tail)
    return tail, order


def _pool() -> "AbstractContextManager[Executor]":
    from anchoring.workers import process_pool  # only a large tree starts processes

    return process_pool()


def _positions(order: Sequence[int]) -> "array[int]":
    """The inverse of `order` (input index by slot from ``n - 1``): each input index's slot, 4 bytes each."""
    n = len(order)
    positions = array("I", bytes(4 * n))
    deque(map(positions.__setitem__, order, range(n - 1, 2 * n - 1)), maxlen=0)  # the loop, run in C
    return positions


def _sorted_leaves_parallel(digests: Sequence[bytes], pool: "Executor") -> "tuple[list[bytes], array[int]]":
    """Leaves hashed and sorted on every core in input-order chunks; this process merges the sorted runs.
    Returns the tail of the node array and, slot by slot from ``n - 1``, the input index the leaf came from."""
    n = len(digests)
    from anchoring.workers import cores

    step = -(-n // (cores() * CHUNKS_PER_CORE))
    jobs = [(b"".join(digests[a : a + step]), a) for a in range(0, n, step)]
    records: list[bytes] = []
    for blob in pool.map(_sorted_records, jobs):
        records += [blob[o : o + 36] for o in range(0, len(blob), 36)]
    records.sort(reverse=True)  # a merge of the runs: Timsort finds them
    tail = [r[:32] for r in records]
    _refuse_duplicates(tail)
    order = array("I", b"".join([r[32:] for r in records]))
    if sys.byteorder == "little":
        order.byteswap()
    return tail, order


def _refuse_duplicates(descending: list[bytes]) -> None:
    if any(map(operator.eq, descending, islice(descending, 1, None))):
        duplicate = next(a for a, b in pairwise(descending) if a == b)
        raise ValueError(f"duplicate leaf {duplicate.hex()}: every digest must be unique")


class MerkleTree:
    """A built tree: the node array (one bytes object, 32 bytes a node) plus where each input digest landed.

    Input order is kept for the caller (`proof(i)` is the proof of ``digests[i]``) although the tree itself
    sorts leaves, exactly as StandardMerkleTree does. Large trees hash and sort their leaves on every core;
    the result is the same array of bytes whatever the path. The nodes live in one buffer, not two million
    small objects: a million leaves take 64 MB, and worker processes that inherit the tree and read proofs
    from it copy nothing (reading a slice touches no page of the buffer's refcount but its header's).
    """

    __slots__ = ("_buf", "_order", "_positions")

    def __init__(self, nodes: Sequence[bytes], order: Sequence[int]) -> None:
        """`order`: slot by slot from ``n - 1`` (leaf hashes descending), the input index of the leaf there."""
        self._buf = b"".join(nodes)
        self._order = order
        self._positions = _positions(order)

    @property
    def nodes(self) -> list[bytes]:
        """The node array as a list (a new one each time: for small trees and tests)."""
        buf = self._buf
        return [buf[o : o + 32] for o in range(0, len(buf), 32)]

    def _node(self, j: int) -> bytes:
        return self._buf[32 * j : 32 * j + 32]

    @classmethod
    def build(cls, digests: Sequence[bytes]) -> "MerkleTree":
        n = len(digests)
        if n == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        parallel = n >= PARALLEL_MIN and (os.cpu_count() or 1) > 1 and set(map(len, digests)) == {32}
        with _no_gc(), _pool() if parallel else nullcontext() as pool:
            tail: list[bytes]
            order: Sequence[int]
            if pool is not None:
                tail, order = _sorted_leaves_parallel(digests, pool)
            else:
                tail, order = _sorted_leaves_serial(digests)
            # Sorted leaf k sits at 2N-2-k: the array's tail is the leaves in descending order.
            nodes: list[bytes] = [b""] * (n - 1)
            nodes += tail
            del tail
        # Inner nodes in this process: sending a level to the workers and its parents back costs more than
        # hashing it here (measured: 1.21 s against 1.05 s for a million leaves).
        with _no_gc():
            for lo, hi in _levels(n):
                nodes[lo:hi] = _parents(nodes[2 * lo + 1 : 2 * hi + 1])
            return cls(nodes, order)

    def __len__(self) -> int:
        return len(self._positions)

    @property
    def root(self) -> bytes:
        return self._buf[:32]

    def tree_index(self, i: int) -> int:
        return self._positions[i]

    def by_leaf(self) -> list[int]:
        """Input indices in ascending order of their leaf hashes (the order of OpenZeppelin's dump, of a batch
        manifest's digests): slots from the last to ``n - 1``."""
        return list(reversed(self._order))

    def leaf(self, i: int) -> bytes:
        return self._node(self._positions[i])

    def proof(self, i: int) -> list[bytes]:
        buf = self._buf
        h = self._positions[i] + 1  # 1-based: the sibling of node h is h ^ 1, its parent h >> 1
        out = []
        while h > 1:
            s = 32 * ((h ^ 1) - 1)
            out.append(buf[s : s + 32])
            h >>= 1
        return out

    def proofs(self) -> list[tuple[bytes, ...]]:
        """Every proof, in input order.

        Built top-down, one level range at a time: a node's proof is its sibling followed by its parent's
        proof, one tuple concatenation inside a list comprehension, no index arithmetic per node in Python.
        Proofs share their hashes (the tuples hold the same bytes objects, one per node).
        """
        nodes = self.nodes
        by_node: list[tuple[bytes, ...]] = [()] * len(nodes)
        with _no_gc():
            for lo, hi in reversed(_levels(len(self._positions))):
                above = by_node[lo:hi]
                # A left child (2p+1) has the right one (2p+2) as sibling, and the other way round.
                lefts, rights = nodes[2 * lo + 1 : 2 * hi + 1 : 2], nodes[2 * lo + 2 : 2 * hi + 2 : 2]
                by_node[2 * lo + 1 : 2 * hi + 1 : 2] = [(s,) + p for s, p in zip(rights, above, strict=True)]  # noqa: RUF005
                by_node[2 * lo + 2 : 2 * hi + 2 : 2] = [(s,) + p for s, p in zip(lefts, above, strict=True)]  # noqa: RUF005
            return list(map(by_node.__getitem__, self._positions))

    def multiproof(self, indices: Sequence[int], digests: Sequence[bytes]) -> MultiProof:
        """OpenZeppelin's ``getMultiProof`` for the input digests at `indices`."""
        slots = sorted((self._positions[i] for i in indices), reverse=True)
        if len(set(slots)) != len(slots):
            raise ValueError("cannot prove a duplicated index")
        digest_at = {self._positions[i]: digests[i] for i in indices}
        stack = list(slots)
        proof: list[bytes] = []
        flags: list[bool] = []
        while stack and stack[0] > 0:
            j = stack.pop(0)
            s = j - 1 if j % 2 == 0 else j + 1
            if stack and stack[0] == s:
                flags.append(True)
                stack.pop(0)
            else:
                flags.append(False)
                proof.append(self._node(s))
            stack.append((j - 1) // 2)
        if not slots:
            proof.append(self.root)
        return MultiProof(tuple(digest_at[s] for s in slots), tuple(proof), tuple(flags))
