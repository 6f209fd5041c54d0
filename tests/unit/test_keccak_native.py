"""`anchoring._keccak`, the C part of the Merkle tree: Keccak-256 against pysha3 (and published digests), and
each entry point's refusals of bad input, exactly. The tree it builds is compared with a plain reference build,
on both paths, in tests/unit/test_merkle.py."""

import gc
import os
import platform
import subprocess
import sys
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sha3 import keccak_256
from typing_extensions import Buffer

from anchoring import merkle
from anchoring.merkle import MerkleTree, leaf_hash

if not merkle.native_built():  # test_merkle.py::test_the_c_part_is_built fails then; these cannot run
    pytest.skip("anchoring._keccak is not built", allow_module_level=True)

from anchoring import _keccak


def test_keccak256_of_published_inputs() -> None:
    assert _keccak.keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert _keccak.keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


@pytest.mark.parametrize("length", [*range(300), 407, 408, 409, 4095, 4096, 100_000])
@pytest.mark.parametrize("keccak256", [_keccak.keccak256, _keccak.keccak256_portable], ids=["chosen", "portable"])
def test_keccak256_equals_pysha3_at_every_length_around_the_block(
    length: int, keccak256: Callable[[Buffer], bytes]
) -> None:
    """One block is 136 bytes: lengths up to 300 cover one, two and three blocks and the padding byte landing in
    the block's last byte (135); 4,096 bytes and more let go of the GIL. Both permutations: the one chosen for
    this CPU, and the portable one (the same where the CPU lacks BMI)."""
    data = os.urandom(length)
    assert keccak256(data) == keccak_256(data).digest()
    assert keccak256(bytearray(data)) == keccak_256(data).digest()
    assert keccak256(memoryview(data)) == keccak_256(data).digest()


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def test_the_bmi_permutation_is_chosen_exactly_where_the_cpu_has_bmi1_and_bmi2() -> None:
    has_bmi = platform.machine() == "x86_64" and {"bmi1", "bmi2"} <= _cpu_flags()
    chosen: str = _keccak.PERMUTATION
    assert chosen == ("bmi" if has_bmi else "portable")


def test_keccak256_on_many_threads_at_once() -> None:
    blobs = [os.urandom(5000 + i) for i in range(64)]
    with ThreadPoolExecutor(4) as threads:
        assert list(threads.map(_keccak.keccak256, blobs)) == [keccak_256(b).digest() for b in blobs]


def test_keccak256_refuses_text() -> None:
    with pytest.raises(TypeError, match="^a bytes-like object is required, not 'str'$"):
        _keccak.keccak256("abc")  # type: ignore[arg-type]


def test_leaves_are_double_hashed_in_the_given_range_only() -> None:
    digests = [os.urandom(32) for _ in range(10)]
    out = bytearray(32 * 10)
    _keccak.leaves(b"".join(digests), out, 3, 7)
    expected = [leaf_hash(d) if 3 <= i < 7 else bytes(32) for i, d in enumerate(digests)]
    assert bytes(out) == b"".join(expected)


@pytest.mark.parametrize(
    ("digests", "out", "lo", "hi", "message"),
    [
        (bytes(33), bytearray(33), 0, 1, "^leaves: 32-byte digests in, as many 32-byte leaves out$"),
        (bytes(64), bytearray(32), 0, 1, "^leaves: 32-byte digests in, as many 32-byte leaves out$"),
        (bytes(64), bytearray(64), 0, 3, r"^range \[0, 3\) is not within 2 items$"),
        (bytes(64), bytearray(64), -1, 1, r"^range \[-1, 1\) is not within 2 items$"),
        (bytes(64), bytearray(64), 2, 1, r"^range \[2, 1\) is not within 2 items$"),
    ],
)
def test_leaves_refuse_bad_sizes_and_ranges(digests: bytes, out: bytearray, lo: int, hi: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _keccak.leaves(digests, out, lo, hi)
    assert not any(out)


def test_leaves_refuse_an_output_they_cannot_write() -> None:
    with pytest.raises(TypeError, match="read-write bytes-like object"):
        _keccak.leaves(bytes(32), bytes(32), 0, 1)


def test_order_sorts_descending_even_when_every_leaf_shares_its_first_bytes() -> None:
    """Leaves are counted into buckets by their first two bytes: one bucket holding them all still sorts."""
    leaves = [b"\xab\xcd" + os.urandom(30) for _ in range(500)] + [b"\x00\x01" + os.urandom(30), b"\xff" * 32]
    order = array("I", _keccak.order(b"".join(leaves)))
    assert [leaves[i] for i in order] == sorted(leaves, reverse=True)


def test_order_refuses_a_ragged_buffer() -> None:
    with pytest.raises(ValueError, match=r"^order: 32-byte leaves, fewer than 2\*\*32$"):
        _keccak.order(bytes(40))


def test_place_refuses_mismatched_sizes_and_an_order_naming_no_leaf() -> None:
    leaves = b"".join(os.urandom(32) for _ in range(3))
    nodes, positions = bytearray(32 * 5), bytearray(12)
    with pytest.raises(ValueError, match="^place: n leaves, n orders, n positions and 2n - 1 nodes$"):
        _keccak.place(leaves, array("I", [0, 1]), nodes, positions)
    with pytest.raises(ValueError, match="^place: n leaves, n orders, n positions and 2n - 1 nodes$"):
        _keccak.place(leaves, array("I", [0, 1, 2]), bytearray(32 * 4), positions)
    with pytest.raises(ValueError, match="^place: n leaves, n orders, n positions and 2n - 1 nodes$"):
        _keccak.place(b"", b"", bytearray(), bytearray())
    with pytest.raises(ValueError, match="^place: the order must name each index below 3 once$"):
        _keccak.place(leaves, array("I", [0, 3, 1]), nodes, positions)
    with pytest.raises(ValueError, match="^place: the order must name each index below 3 once$"):
        _keccak.place(leaves, array("I", [0, 1, 0]), nodes, positions)


def test_parents_refuse_a_range_whose_children_lie_outside_the_array() -> None:
    nodes = bytearray(32 * 5)
    with pytest.raises(ValueError, match=r"^range \[5, 7\) is not within 5 items$"):
        _keccak.parents(nodes, 2, 3)
    with pytest.raises(ValueError, match="^parents: a node array of 32-byte nodes$"):
        _keccak.parents(bytearray(33), 0, 0)
    _keccak.parents(nodes, 0, 2)  # nodes 0 and 1, from 1..4: within the array


def test_proofs_refuse_mismatched_sizes_and_a_bad_order() -> None:
    tree = MerkleTree.build([os.urandom(32) for _ in range(4)])
    nodes = b"".join(tree.nodes)
    with pytest.raises(ValueError, match="^proofs: 2n - 1 nodes and n orders$"):
        _keccak.proofs(nodes, array("I", [0, 1, 2]))
    with pytest.raises(ValueError, match="^proofs: the order must name each index below 4 once$"):
        _keccak.proofs(nodes, array("I", [0, 1, 1, 2]))
    with pytest.raises(ValueError, match="^proofs: the order must name each index below 4 once$"):
        _keccak.proofs(nodes, array("I", [0, 1, 4, 2]))


def test_proofs_share_one_object_a_node_and_hold_no_stray_reference() -> None:
    """Four leaves: node 1 is in the two proofs of the leaves under node 2 and vice versa, and nothing else holds
    it once the call returns. The tuples hold bytes only, so the collector need not track them."""
    digests = [os.urandom(32) for _ in range(4)]
    tree = MerkleTree.build(digests)
    proofs = tree.proofs()
    tops = {id(p[-1]) for p in proofs}
    assert len(tops) == 2
    counts = [(sys.getrefcount(proof[0]), sys.getrefcount(proof[-1])) for proof in proofs]
    assert counts == [(2, 3)] * 4  # one proof or two, and getrefcount's own argument
    assert not any(map(gc.is_tracked, proofs))
    gc.collect()
    assert [list(p) for p in proofs] == [tree.proof(i) for i in range(4)]


# Found by review: each of these crashed the interpreter before the C code read every index and bucket once,
# into memory of its own. Each runs in a fresh interpreter, so a crash fails the test instead of the suite.


def run_alone(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout.strip()


def test_place_with_an_order_inside_the_node_array_writes_nowhere_else() -> None:
    """The order overlaps the slot the first leaf is copied to: the leaf's bytes must not become an index."""
    script = """
import struct
from anchoring import _keccak
buf = bytearray(96)
view = memoryview(buf)
order = view[32:40]
order[:] = struct.pack("II", 0, 1)
positions = bytearray(8)
print(_keccak.place(struct.pack("I", 0x40000000) + bytes(60), order, view, positions), positions.hex())
"""
    assert run_alone(script) == "-1 0100000002000000"


def test_proofs_whose_order_a_finaliser_rewrites_meanwhile_stay_within_the_tree() -> None:
    """A collection during the call runs a __del__ that points every index far outside the list."""
    script = """
import array, gc, struct
from anchoring import _keccak
n = 64
order = bytearray(array.array("I", range(n)).tobytes())
calls = 0
class Cycle:
    def __del__(self):
        global calls
        calls += 1
        if calls >= 3:
            order[:] = struct.pack("I", 0x08000000) * n
        else:
            again = Cycle(); again.me = again
first = Cycle(); first.me = first
del first
gc.set_threshold(1, 1000000, 1000000)
proofs = _keccak.proofs(bytes(32 * (2 * n - 1)), order)
gc.set_threshold(700, 10, 10)
print(len(proofs), calls >= 3)
"""
    assert run_alone(script) == "64 True"


def test_order_of_leaves_another_thread_rewrites_meanwhile_stays_within_its_buffer() -> None:
    """Every leaf moves between the first and the last of 65,536 buckets while the GIL is let go."""
    script = """
import os, threading
from anchoring import _keccak
n = 20_000
high = b"".join(b"\\xff\\xff" + os.urandom(30) for _ in range(n))
low = b"".join(b"\\x00\\x00" + os.urandom(30) for _ in range(n))
leaves = bytearray(high)
stop = False
def flip():
    while not stop:
        leaves[:] = low
        leaves[:] = high
flipper = threading.Thread(target=flip)
flipper.start()
try:
    every = all(sorted(memoryview(_keccak.order(leaves)).cast("I")) == list(range(n)) for _ in range(60))
finally:
    stop = True
    flipper.join()
print(every)
"""
    assert run_alone(script) == "True"


def test_the_project_hashes_with_the_c_function_when_it_is_built() -> None:
    """`anchoring.hashing.keccak256`, which every digest, leaf and node goes through, is the C function here."""
    from anchoring import hashing

    assert hashing.keccak256 is _keccak.keccak256
    for data in (b"", b"abc", os.urandom(64), os.urandom(2300)):
        assert hashing.keccak256(data) == hashing.pysha3_keccak256(data) == keccak_256(data).digest()
