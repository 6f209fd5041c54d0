"""`anchoring.rlpcodec` against the `rlp` package (pyrlp) and the trie walk against py-trie, on random data:
the same value where pyrlp accepts, a `DecodingError` exactly where it refuses."""

from typing import Any

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st
from sha3 import keccak_256
from trie.hexary import HexaryTrie

from anchoring import mpt, rlpcodec
from anchoring.mpt import NodePool, ProofInvalid

items: st.SearchStrategy[Any] = st.recursive(
    st.binary(max_size=80) | st.integers(0, 2**256),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=30,
)


def pyrlp_decoded(data: bytes) -> tuple[bool, object]:
    try:
        return True, rlp.decode(data)
    except rlp.exceptions.DecodingError:
        return False, None


def ours_decoded(data: bytes) -> tuple[bool, object]:
    try:
        return True, rlpcodec.decode(data)
    except rlpcodec.DecodingError:
        return False, None


@given(items)
def test_encode_is_pyrlp_encode(value: Any) -> None:
    assert rlpcodec.encode(value) == rlp.encode(value)


@given(items)
def test_decode_reads_back_what_was_encoded(value: Any) -> None:
    data = rlp.encode(value)
    assert ours_decoded(data) == pyrlp_decoded(data)


@given(st.binary(max_size=120))
@settings(max_examples=2000)
def test_decode_accepts_and_refuses_random_bytes_as_pyrlp_does(data: bytes) -> None:
    assert ours_decoded(data) == pyrlp_decoded(data)


@given(items, st.data())
@settings(max_examples=1000)
def test_decode_of_damaged_encodings_is_pyrlp_decode(value: Any, data: st.DataObject) -> None:
    """Near misses: an encoding with one byte changed, cut short, or lengthened."""
    encoded = bytearray(rlp.encode(value))
    how = data.draw(st.sampled_from(["change", "cut", "add"]))
    if how == "change":
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] = data.draw(st.integers(0, 255))
    elif how == "cut":
        del encoded[data.draw(st.integers(0, len(encoded) - 1)) :]
    else:
        encoded += data.draw(st.binary(min_size=1, max_size=3))
    assert ours_decoded(bytes(encoded)) == pyrlp_decoded(bytes(encoded))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "too short"),
        (b"\x81\x05", "single byte"),
        (b"\xb8\x05hello", "under 56"),
        (b"\xb9\x00\x38" + b"x" * 56, "zero byte"),
        (b"\x83ab", "past the data"),
        (b"\xc2\x83abc", "past the data"),
        (b"\x80\x80", "1 superfluous"),
    ],
)
def test_decode_says_why_it_refuses(data: bytes, problem: str) -> None:
    with pytest.raises(rlpcodec.DecodingError, match=problem):
        rlpcodec.decode(data)


def test_encode_refuses_what_rlp_cannot_hold() -> None:
    with pytest.raises(ValueError, match="negative"):
        rlpcodec.encode(-1)
    with pytest.raises(TypeError, match="str"):
        rlpcodec.encode("text")


@given(
    st.dictionaries(st.binary(min_size=32, max_size=32), st.binary(min_size=1, max_size=40), min_size=1, max_size=40),
    st.binary(min_size=32, max_size=32),
)
@settings(max_examples=200, deadline=None)
def test_proof_walk_is_py_trie_get(entries: dict[bytes, bytes], probe: bytes) -> None:
    """A trie of random words; the proof of a key in it, and of one that may not be: the walk finds what py-trie
    finds (the value, or b"" for an absent key)."""
    trie = HexaryTrie({})
    for key, value in entries.items():
        trie[keccak_256(key).digest()] = rlp.encode(value)
    for key in (next(iter(entries)), probe):
        nodes = [rlp.encode(node) for node in trie.get_proof(keccak_256(key).digest())]  # type: ignore[no-untyped-call]
        hashed = ["0x" + n.hex() for n in nodes if len(n) >= 32 or n == nodes[0]]
        expected = trie.get(keccak_256(key).digest())
        try:
            found = NodePool(hashed, "proof").get(trie.root_hash, key, "proof")
        except ProofInvalid:
            found = None  # an inline node was left out above: a proof without it does not hold
        assert found in (expected, None)
        if all(len(n) >= 32 for n in nodes):
            assert found == expected


def test_the_empty_trie_root_is_rlp_of_nothing() -> None:
    assert keccak_256(rlp.encode(b"")).digest() == mpt.EMPTY_ROOT
