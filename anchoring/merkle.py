"""Merkle tree compatible with OpenZeppelin's StandardMerkleTree for leaf encoding ``["bytes32"]``.

Invariants (the rules of @openzeppelin/merkle-tree 1.x, default options):
- a leaf is ``keccak256(keccak256(digest))``: double hashing keeps a leaf from passing for an inner node;
- an inner node is ``keccak256(min(a, b) ++ max(a, b))``, so proofs carry no left/right flags;
- leaf hashes are sorted ascending and the tree is one array of ``2N-1`` hashes: root at 0, node ``j`` has
  children ``2j+1`` and ``2j+2``, sorted leaf ``k`` sits at ``2N-2-k``;
- a proof is the sibling hashes from the leaf up to, not including, the root.
A proof from here therefore verifies with OpenZeppelin's ``MerkleProof`` in Solidity and in JS.
Everything is pure: bytes in, bytes out.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sha3 import keccak_256

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


class MerkleTree:
    """A built tree: the flat node array plus where each input digest landed.

    Input order is kept for the caller (`proof(i)` is the proof of ``digests[i]``) although the tree itself
    sorts leaves, exactly as StandardMerkleTree does.
    """

    __slots__ = ("_positions", "nodes")

    def __init__(self, nodes: list[bytes], positions: list[int]) -> None:
        self.nodes = nodes
        self._positions = positions

    @classmethod
    def build(cls, digests: Sequence[bytes]) -> "MerkleTree":
        n = len(digests)
        if n == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        k = keccak_256
        leaves = [k(k(d).digest()).digest() for d in digests]
        order = sorted(range(n), key=leaves.__getitem__)
        size = 2 * n - 1
        nodes: list[bytes] = [b""] * size
        positions = [0] * n
        for rank, index in enumerate(order):
            slot = size - 1 - rank
            nodes[slot] = leaves[index]
            positions[index] = slot
        for rank in range(1, n):
            if nodes[size - rank] == nodes[size - 1 - rank]:
                raise ValueError(f"duplicate leaf {nodes[size - rank].hex()}: every digest must be unique")
        for j in range(n - 2, -1, -1):
            a = nodes[2 * j + 1]
            b = nodes[2 * j + 2]
            nodes[j] = k(a + b).digest() if a < b else k(b + a).digest()
        return cls(nodes, positions)

    def __len__(self) -> int:
        return len(self._positions)

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def tree_index(self, i: int) -> int:
        return self._positions[i]

    def leaf(self, i: int) -> bytes:
        return self.nodes[self._positions[i]]

    def proof(self, i: int) -> list[bytes]:
        nodes = self.nodes
        j = self._positions[i]
        out = []
        while j > 0:
            out.append(nodes[j - 1] if j % 2 == 0 else nodes[j + 1])
            j = (j - 1) // 2
        return out

    def proofs(self) -> list[tuple[bytes, ...]]:
        """Every proof, in input order.

        Built top-down (a node's proof is its sibling followed by its parent's proof) so the work per proof
        is one tuple concatenation in C rather than a Python loop per level; 1M leaves in about a second.
        """
        nodes = self.nodes
        size = len(nodes)
        by_node: list[tuple[bytes, ...]] = [()] * size
        for j in range(1, size):
            sibling = nodes[j - 1] if j % 2 == 0 else nodes[j + 1]
            by_node[j] = (sibling, *by_node[(j - 1) >> 1])
        return [by_node[p] for p in self._positions]

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
                proof.append(self.nodes[s])
            stack.append((j - 1) // 2)
        if not slots:
            proof.append(self.nodes[0])
        return MultiProof(tuple(digest_at[s] for s in slots), tuple(proof), tuple(flags))
