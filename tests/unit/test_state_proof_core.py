"""Headers, Merkle-Patricia proofs and the storage layout, on a header and proof recorded from Anvil.

Every way to bend them (a field changed, a field unknown, a fork's field skipped, a node flipped, a proof
for another account, random bytes) must end in the project's own error with its message, never a crash."""

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sha3 import keccak_256

from anchoring.blockheader import FORK_FIELDS, encode_header, parse_header
from anchoring.errors import InvalidInput
from anchoring.mpt import ProofInvalid, prove_account, prove_storage
from anchoring.storagelayout import LayoutMismatch, committed_layout, registry_layout
from contracts import load_artifact

RECORDED = json.loads((Path(__file__).parent.parent / "assets" / "evidence" / "anvil-block1.json").read_text())
BLOCK: dict[str, Any] = RECORDED["block"]
PROOF: dict[str, Any] = RECORDED["proof"]
ADDRESS = bytes.fromhex(PROOF["address"][2:])


def test_recorded_header_hashes_to_its_block_hash_and_proves_the_account() -> None:
    header = parse_header(BLOCK)
    assert "0x" + header.hash.hex() == BLOCK["hash"]
    account = prove_account(header.state_root, ADDRESS, PROOF["accountProof"])
    assert account is not None
    assert (account.nonce, account.balance) == (int(PROOF["nonce"], 16), int(PROOF["balance"], 16))
    assert "0x" + account.storage_root.hex() == PROOF["storageHash"]


def test_a_changed_field_no_longer_gives_the_stated_hash() -> None:
    with pytest.raises(InvalidInput, match=r"block header hashes to 0x[0-9a-f]{64}, not to its stated hash 0x"):
        parse_header({**BLOCK, "timestamp": hex(int(BLOCK["timestamp"], 16) + 1)})


def test_an_unknown_field_is_refused_rather_than_guessed() -> None:
    with pytest.raises(InvalidInput, match="^block header has fields this verifier does not know: slotNumber$"):
        parse_header({**BLOCK, "slotNumber": "0x1"})


def test_a_later_forks_field_without_the_earlier_ones_is_refused() -> None:
    block = {k: v for k, v in BLOCK.items() if k != "withdrawalsRoot"}
    with pytest.raises(InvalidInput, match="^block header has blobGasUsed without the fields of the forks before it$"):
        parse_header(block)


def test_headers_of_older_forks_encode_their_own_fields() -> None:
    for keep in range(len(FORK_FIELDS) + 1):
        block = {k: v for k, v in BLOCK.items() if k not in {name for name, _ in FORK_FIELDS[keep:]} | {"hash"}}
        assert parse_header(block).hash != parse_header({**block, "extraData": "0x01"}).hash
        assert encode_header(block)[0] >= 0xF8  # an RLP list longer than 55 bytes


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stateRoot", "0x00", "block header field stateRoot is 1 bytes, not 32"),
        ("number", 5, "block header field number is not a 0x-hex string: '5'"),
        ("logsBloom", "0x" + "00" * 255, "block header field logsBloom is 255 bytes, not 256"),
        ("extraData", "0xabc", "block header field extraData has an odd number of hex digits"),
        ("extraData", "0x" + "00" * 1025, "block header field extraData is 1025 bytes, more than 1024"),
        ("gasLimit", "0x1" + "0" * 64, "block header field gasLimit is more than 256 bits"),
        ("miner", "0xzz", "block header field miner is not a 0x-hex string: '0xzz'"),
    ],
)
def test_malformed_fields_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$"):
        parse_header({**BLOCK, field: value})


def test_a_missing_base_field_is_named() -> None:
    with pytest.raises(InvalidInput, match="^block header lacks stateRoot, mixHash$"):
        parse_header({k: v for k, v in BLOCK.items() if k not in ("stateRoot", "mixHash")})


def test_an_account_proof_for_another_address_or_root_is_refused() -> None:
    root = parse_header(BLOCK).state_root
    # 0x11…11's path leaves the proven nodes at an empty branch: the nodes prove it has no account.
    assert prove_account(root, bytes([0x11] * 20), PROOF["accountProof"]) is None
    # 0x70997970…'s path runs into a node the proof does not hold: nothing is proven.
    other = bytes.fromhex("70997970c51812dc3a010c7d01b50e0d17dc79c8")
    with pytest.raises(ProofInvalid, match=f"^account proof of 0x{other.hex()} does not lead from root 0x{root.hex()}"):
        prove_account(root, other, PROOF["accountProof"])
    with pytest.raises(ProofInvalid, match="does not lead from root 0x" + "ab" * 32):
        prove_account(bytes([0xAB] * 32), ADDRESS, PROOF["accountProof"])


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        ([], "has 0 nodes, not 1 to 64"),
        (["0x80"] * 65, "has 65 nodes, not 1 to 64"),
        (["0xzz"], "node 0 is not 0x-hex of at most 4096 bytes"),
        (["0x" + "00" * 4097], "node 0 is not 0x-hex of at most 4096 bytes"),
        (["0xf8"], "node 0 is not RLP"),
        ("0x80", "is not a list of trie nodes"),
    ],
)
def test_malformed_proofs_are_refused(proof: Any, message: str) -> None:
    with pytest.raises(ProofInvalid, match=re.escape(message)):
        prove_account(parse_header(BLOCK).state_root, ADDRESS, proof)


def test_a_storage_slot_must_be_32_bytes() -> None:
    with pytest.raises(ProofInvalid, match="^a storage slot is 32 bytes, not 31$"):
        prove_storage(bytes(32), bytes(31), ["0x80"])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(PROOF["accountProof"]) - 1), st.integers(0, 10_000), st.integers(1, 255))
def test_flipping_any_byte_of_any_node_breaks_the_proof(node: int, position: int, flip: int) -> None:
    nodes = list(PROOF["accountProof"])
    raw = bytearray(bytes.fromhex(nodes[node][2:]))
    raw[position % len(raw)] ^= flip
    nodes[node] = "0x" + raw.hex()
    with pytest.raises(ProofInvalid):
        prove_account(parse_header(BLOCK).state_root, ADDRESS, nodes)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=600).map(lambda b: "0x" + b.hex()), min_size=1, max_size=6),
    st.binary(min_size=32, max_size=32),
)
def test_random_nodes_only_ever_raise_the_projects_error(nodes: list[str], root: bytes) -> None:
    with contextlib.suppress(ProofInvalid):
        prove_storage(root, bytes(32), nodes)


def test_the_committed_layout_puts_the_registry_where_the_source_says() -> None:
    layout = committed_layout()
    assert (layout.anchors.base, layout.revoked_leaves.base, layout.signing_keys.base) == (4, 5, 6)
    word = 7 | (8 << 48) | (9 << 96) | (10 << 144) | (11 << 192)
    assert layout.anchors.decode(word) == {
        "blockNumber": 7,
        "timestamp": 8,
        "revokedBlock": 9,
        "revokedTimestamp": 10,
        "leafCount": 11,
    }


def keccak(data: bytes) -> bytes:
    digest: bytes = keccak_256(data).digest()  # pysha3's, not the project's C function
    return digest


def test_the_slots_of_many_leaves_of_one_root_are_the_slots_one_by_one() -> None:
    """`slots_under(root)` folds the root in once; each slot is still keccak256(leaf ++ keccak256(root ++ p))."""
    revoked = committed_layout().revoked_leaves
    root = bytes.fromhex("ab" * 32)
    slot = revoked.slots_under(root)
    inner = keccak(root + (5).to_bytes(32, "big"))
    for leaf in (bytes(32), bytes([1]) * 32, bytes(range(32))):
        assert slot(leaf) == revoked.slot(root, leaf) == keccak(leaf + inner)
    with pytest.raises(ValueError, match="^this mapping takes 2 keys of 32 bytes$"):
        slot(bytes(31))
    with pytest.raises(ValueError, match="^this mapping takes 2 keys of 32 bytes$"):
        revoked.slots_under(root, root)
    with pytest.raises(ValueError, match="^this mapping takes 2 keys of 32 bytes$"):
        revoked.slots_under(bytes(33))
    with pytest.raises(ValueError, match="^this mapping takes 2 keys of 32 bytes$"):
        revoked.slot(root, bytes(31))


def test_a_layout_that_moved_is_refused() -> None:
    layout = json.loads(json.dumps(load_artifact()["storageLayout"]))
    for entry in layout["storage"]:
        if entry["label"] == "_anchors":
            entry["label"] = "_anchorsV2"
    with pytest.raises(LayoutMismatch, match="^the registry has no storage variable _anchors at offset 0$"):
        registry_layout(layout)
    layout = json.loads(json.dumps(load_artifact()["storageLayout"]))
    anchor_type = next(k for k in layout["types"] if k.startswith("t_struct(Anchor)"))
    layout["types"][anchor_type]["members"][4]["type"] = "t_bytes32"
    with pytest.raises(LayoutMismatch, match=r"\.leafCount is t_bytes32 in slot 0, not a packed uint$"):
        registry_layout(layout)
