"""How several nodes' answers are counted: a hash is agreed only by enough votes and no rival with as many;
one node under two spellings of its URL is one vote."""

import pytest

from anchoring.chain import Chain
from anchoring.errors import InvalidInput
from credanchor.wiring import normal_url, verification_session
from verifier.quorum import Quorum
from verifier.trust import TrustList

A, B = "0x" + "aa" * 32, "0x" + "bb" * 32


def nodes(n: int, quorum: int) -> Quorum:
    return Quorum([Chain(f"http://127.0.0.1:{9000 + i}") for i in range(n)], quorum)


def test_two_hashes_that_each_reach_the_quorum_agree_on_nothing() -> None:
    agreed, how = nodes(4, 2)._decide([A, A, B, B], "block 7")
    assert agreed is None
    assert how == "nodes disagree on block 7: 2 different hashes each have 2 or more"


def test_a_quorum_with_dissent_is_named() -> None:
    assert nodes(3, 2)._decide([A, None, A], "block 7") == (A, "2 of 3 nodes")
    assert nodes(3, 2)._decide([A, B, A], "block 7") == (A, "2 of 3 nodes, 1 disagreeing")


def test_too_few_votes_agree_on_nothing() -> None:
    agreed, how = nodes(3, 3)._decide([A, A, None], "block 7")
    assert agreed is None
    assert how == "nodes disagree on block 7: 2 of 3 give the most common hash, 3 required (--quorum)"
    assert nodes(2, 2)._decide([None, None], "block 7") == (None, "no node answered for block 7")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://node:8545", "http://node:8545/"),
        ("HTTP://Node:8545", "http://node:8545"),
        ("https://rpc.example.org", "https://rpc.example.org:443/"),
    ],
)
def test_one_node_spelt_two_ways_is_one_vote(first: str, second: str) -> None:
    assert normal_url(first) == normal_url(second)
    with pytest.raises(InvalidInput, match="^the same --rpc-url is given twice: a node cannot outvote itself$"):
        verification_session([first, second], TrustList())


def test_different_paths_are_different_nodes() -> None:
    assert normal_url("https://rpc.example.org/key-a") != normal_url("https://rpc.example.org/key-b")
