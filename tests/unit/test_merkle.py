"""The Merkle tree against OpenZeppelin's own vectors (@openzeppelin/merkle-tree 1.0.8), plus properties, on
both paths (C and pure Python), and every fast build (C with threads; pure Python with processes for large
trees) against a plain reference build."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sha3 import keccak_256

from anchoring import merkle
from anchoring.merkle import MerkleTree, MultiProof, leaf_hash, process_multiproof, process_proof, verify_proof

VECTORS = json.loads((Path(__file__).parent.parent / "assets" / "oz_standard_merkle.json").read_text())
CASES = VECTORS["cases"]


def unhex(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def hexed(values: list[bytes] | tuple[bytes, ...]) -> list[str]:
    return ["0x" + v.hex() for v in values]


@pytest.fixture(params=["native", "pure"])
def either_path(request: pytest.FixtureRequest) -> Iterator[None]:
    """The test runs twice: with the tree built in C (`anchoring._keccak`) and as a machine without it builds it."""
    if request.param == "pure":
        with merkle.pure_python():
            yield
    else:
        assert merkle.native_built(), "anchoring._keccak is not built: `make setup` builds it with the C compiler"
        yield


def test_the_c_part_is_built() -> None:
    """`make setup` builds `anchoring._keccak` (setup.py): without it the tree would quietly take the slow path."""
    assert merkle.native_built()


@pytest.mark.usefixtures("either_path")
@pytest.mark.parametrize("case", CASES, ids=[f"n={c['n']}" for c in CASES])
def test_root_proofs_and_tree_match_openzeppelin(case: dict[str, Any]) -> None:
    digests = [unhex(d) for d in case["digests"]]
    tree = MerkleTree.build(digests)
    assert "0x" + tree.root.hex() == case["root"]
    if "tree" in case:
        assert hexed(tree.nodes) == case["tree"]
    all_proofs = tree.proofs()
    for expected in case["proofs"]:
        i = expected["index"]
        assert "0x" + tree.leaf(i).hex() == expected["leaf_hash"]
        assert "0x" + leaf_hash(digests[i]).hex() == expected["leaf_hash"]
        assert tree.tree_index(i) == expected["tree_index"]
        assert hexed(tree.proof(i)) == expected["proof"]
        assert tree.proof_json(i) == ",".join(f'"{h}"' for h in expected["proof"])  # as a receipt holds it
        assert hexed(all_proofs[i]) == expected["proof"]
        assert verify_proof(tree.leaf(i), tree.proof(i), tree.root)


def test_vectors_cover_every_listed_case() -> None:
    assert [c["n"] for c in CASES] == [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 100, 1000]
    assert sum(len(c["proofs"]) for c in CASES) == sum(min(c["n"], 100) for c in CASES[:-1]) + 28


@pytest.mark.usefixtures("either_path")
def test_multiproof_matches_openzeppelin() -> None:
    vector = VECTORS["multiproof"]
    case = next(c for c in CASES if c["n"] == vector["n"])
    digests = [unhex(d) for d in case["digests"]]
    multi = MerkleTree.build(digests).multiproof(vector["indices"], digests)
    assert hexed(multi.leaves) == vector["leaves"]
    assert hexed(multi.proof) == vector["proof"]
    assert list(multi.flags) == vector["proofFlags"]
    assert "0x" + process_multiproof(multi).hex() == vector["root"]


def test_multiproof_given_as_published_verifies() -> None:
    vector = VECTORS["multiproof"]
    multi = MultiProof(
        tuple(unhex(x) for x in vector["leaves"]), tuple(unhex(x) for x in vector["proof"]), tuple(vector["proofFlags"])
    )
    assert "0x" + process_multiproof(multi).hex() == vector["root"]


@pytest.mark.usefixtures("either_path")
def test_single_leaf_tree_has_empty_proof_and_root_is_the_leaf() -> None:
    case = CASES[0]
    tree = MerkleTree.build([unhex(case["digests"][0])])
    assert tree.proof(0) == []
    assert tree.root == tree.leaf(0)


@pytest.mark.usefixtures("either_path")
def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree.build([])


@pytest.mark.usefixtures("either_path")
def test_duplicate_digest_is_refused() -> None:
    digest = b"\x01" * 32
    with pytest.raises(ValueError, match=f"^duplicate leaf {leaf_hash(digest).hex()}: every digest must be unique$"):
        MerkleTree.build([digest, b"\x02" * 32, digest])


def test_duplicate_multiproof_index_is_refused() -> None:
    digests = [bytes([i]) * 32 for i in range(1, 6)]
    with pytest.raises(ValueError, match="duplicated index"):
        MerkleTree.build(digests).multiproof([1, 1], digests)


@pytest.mark.usefixtures("either_path")
@settings(max_examples=60, deadline=None)
@given(st.sets(st.binary(min_size=32, max_size=32), min_size=1, max_size=300))
def test_every_proof_verifies_and_input_order_does_not_matter(digest_set: set[bytes]) -> None:
    digests = list(digest_set)
    tree = MerkleTree.build(digests)
    assert MerkleTree.build(list(reversed(digests))).root == tree.root
    for i, proof in enumerate(tree.proofs()):
        assert process_proof(leaf_hash(digests[i]), proof) == tree.root
        assert list(proof) == tree.proof(i)


@pytest.mark.usefixtures("either_path")
@settings(max_examples=40, deadline=None)
@given(st.sets(st.binary(min_size=32, max_size=32), min_size=2, max_size=64), st.data())
def test_tampered_proof_or_leaf_fails(digest_set: set[bytes], data: st.DataObject) -> None:
    digests = list(digest_set)
    tree = MerkleTree.build(digests)
    i = data.draw(st.integers(0, len(digests) - 1))
    proof = tree.proof(i)
    j = data.draw(st.integers(0, len(proof) - 1))
    flipped = bytearray(proof[j])
    flipped[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
    assert not verify_proof(tree.leaf(i), [*proof[:j], bytes(flipped), *proof[j + 1 :]], tree.root)
    assert not verify_proof(leaf_hash(b"\x00" * 31 + b"\x07"), proof, tree.root)


def reference_tree(digests: list[bytes]) -> tuple[list[bytes], list[int]]:
    """StandardMerkleTree as its definition reads, with nothing made fast: the array and each input's slot."""
    leaves = [leaf_hash(d) for d in digests]
    ordered = sorted(leaves)
    size = 2 * len(leaves) - 1
    nodes = [b""] * size
    for k, leaf in enumerate(ordered):
        nodes[size - 1 - k] = leaf
    for j in range(len(leaves) - 2, -1, -1):
        a, b = nodes[2 * j + 1], nodes[2 * j + 2]
        nodes[j] = keccak_256(min(a, b) + max(a, b)).digest()
    slot = {leaf: size - 1 - k for k, leaf in enumerate(ordered)}
    return nodes, [slot[leaf] for leaf in leaves]


def assert_same_as_reference(digests: list[bytes]) -> None:
    tree = MerkleTree.build(digests)
    nodes, slots = reference_tree(digests)
    assert tree.nodes == nodes
    assert [tree.tree_index(i) for i in range(len(digests))] == slots
    assert tree.by_leaf() == sorted(range(len(digests)), key=lambda i: leaf_hash(digests[i]))
    proofs = tree.proofs()
    for i in range(len(digests)):
        assert list(proofs[i]) == tree.proof(i)
        assert process_proof(tree.leaf(i), proofs[i]) == nodes[0]


@pytest.fixture
def parallel_from_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The pure path (no C part), where small trees take the multi-process path too, so random sizes exercise it
    cheaply."""
    monkeypatch.setattr(merkle, "PARALLEL_MIN", 2)
    with merkle.pure_python():
        yield


@pytest.fixture
def threads_from_two(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C path, where small trees are hashed by threads over subtrees too."""
    assert merkle.native_built()
    monkeypatch.setattr(merkle, "NATIVE_THREADS_MIN", 2)


@pytest.mark.usefixtures("either_path")
@settings(max_examples=40, deadline=None)
@given(st.sets(st.binary(min_size=32, max_size=32), min_size=1, max_size=200))
def test_small_build_matches_the_reference(digest_set: set[bytes]) -> None:
    assert_same_as_reference(list(digest_set))


PARALLEL_PATHS = ["parallel_from_two", "threads_from_two"]
"""Processes (pure Python) and threads (C), each taken by small trees too."""


@pytest.mark.parametrize("path", PARALLEL_PATHS)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 100, 257, 1001])
def test_parallel_build_matches_the_reference(path: str, n: int, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(path)
    assert_same_as_reference([keccak_256(i.to_bytes(4, "big")).digest() for i in range(n)])


@pytest.mark.parametrize("path", PARALLEL_PATHS)
def test_random_sizes_on_the_parallel_paths_match_the_reference(path: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(path)

    @settings(max_examples=20, deadline=None)
    @given(st.sets(st.binary(min_size=32, max_size=32), min_size=1, max_size=150))
    def check(digest_set: set[bytes]) -> None:
        assert_same_as_reference(list(digest_set))

    check()


@pytest.mark.usefixtures("either_path")
@pytest.mark.parametrize("offset", [-1, 0, 1])
@pytest.mark.parametrize("threshold", ["PARALLEL_MIN", "NATIVE_THREADS_MIN"])
def test_sizes_around_the_parallel_thresholds_match_the_reference(threshold: str, offset: int) -> None:
    n = getattr(merkle, threshold) + offset
    assert_same_as_reference([keccak_256(i.to_bytes(4, "big") + b"t").digest() for i in range(n)])


@pytest.mark.usefixtures("either_path")
def test_digests_of_other_lengths_build_the_same_tree_on_both_paths() -> None:
    """Digests not of 32 bytes (a caller's own leaves) take the in-process build; their proofs come from C."""
    digests = [bytes([i]) * (1 + i % 40) for i in range(1, 90)]
    assert_same_as_reference(digests)


@pytest.mark.parametrize("path", PARALLEL_PATHS)
def test_duplicate_digest_is_refused_on_every_path(path: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(path)
    digest = b"\x05" * 32
    with pytest.raises(ValueError, match=f"^duplicate leaf {leaf_hash(digest).hex()}: every digest must be unique$"):
        MerkleTree.build([b"\x01" * 32, digest, b"\x02" * 32, digest])


def test_without_the_c_part_the_tree_takes_the_pure_path() -> None:
    """A machine where setup.py found no C compiler: `anchoring._keccak` cannot be imported, and the same tree
    comes out (checked in a fresh interpreter, where the module is blocked before anything imports it)."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['anchoring._keccak'] = None\n"
        "from anchoring import merkle\n"
        "tree = merkle.MerkleTree.build([bytes([i]) * 32 for i in range(1, 40)])\n"
        "print(merkle.native_built(), tree.root.hex(), len(tree.proofs()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    expected = MerkleTree.build([bytes([i]) * 32 for i in range(1, 40)])
    assert done.stdout.split() == ["False", expected.root.hex(), "39"]


@pytest.mark.usefixtures("either_path")
@pytest.mark.parametrize("n", [0, 1, 2, 77])
def test_leaf_hashes_of_concatenated_digests(n: int) -> None:
    digests = [keccak_256(i.to_bytes(4, "big")).digest() for i in range(n)]
    assert merkle.leaf_hashes(b"".join(digests)) == b"".join(map(leaf_hash, digests))


@pytest.mark.usefixtures("either_path")
def test_leaf_hashes_refuse_a_ragged_concatenation() -> None:
    with pytest.raises(ValueError, match="^leaf hashes: digests of 32 bytes each, not 65 bytes in all$"):
        merkle.leaf_hashes(bytes(65))


@pytest.mark.parametrize(
    ("nodes", "slot"),
    [(bytes(96), -1), (bytes(96), 3), (bytes(95), 0), (b"", 0)],
    ids=["below", "past", "ragged", "none"],
)
def test_the_c_proof_text_refuses_a_slot_outside_the_nodes(nodes: bytes, slot: int) -> None:
    from anchoring import _keccak

    with pytest.raises(ValueError, match="^proof_json: a slot of the node array$"):
        _keccak.proof_json(nodes, slot)


@pytest.mark.usefixtures("either_path")
@given(st.sets(st.binary(min_size=32, max_size=32), min_size=1, max_size=300))
@settings(max_examples=30, deadline=None)
def test_every_proof_text_is_the_proof_in_hex(digest_set: set[bytes]) -> None:
    tree = MerkleTree.build(list(digest_set))
    for i in range(len(tree)):
        assert json.loads(f"[{tree.proof_json(i)}]") == hexed(tree.proof(i))
