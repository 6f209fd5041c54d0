"""Block headers, EIP-1186 state proofs and the registry's storage layout, against the node's own answers.

The node serves a header and `eth_getProof`; the pure modules must rebuild the block hash, walk the proofs to
the registry's words, and read those words exactly as the contract's own views do."""

import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account.signers.local import LocalAccount

from anchoring.blockheader import parse_header
from anchoring.chain import Chain, Registry
from anchoring.hashing import to_hex
from anchoring.mpt import ProofInvalid, prove_account, prove_storage
from anchoring.sender import TxSender
from anchoring.storagelayout import committed_layout
from tests.conftest import TEST_SIGNING_SEED, deploy

pytestmark = pytest.mark.chain


def rpc(chain: Chain, method: str, *params: Any) -> Any:
    answer = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


def send(registry: Registry, account: LocalAccount, name: str, *args: object) -> int:
    sender = TxSender(registry.chain, account)
    signed = sender.send(getattr(registry.contract.functions, name)(*args))
    return sender.wait_mined(signed.tx_hash, timeout=30).block_number


def word_at(chain: Chain, address: str, slot: bytes, block: int) -> tuple[int, int]:
    """The slot's word read twice: through a proven path from the block hash, and as the node states it."""
    header = parse_header(rpc(chain, "eth_getBlockByNumber", hex(block), False))
    proof = rpc(chain, "eth_getProof", address, [to_hex(slot)], hex(block))
    account = prove_account(header.state_root, bytes.fromhex(address[2:]), proof["accountProof"])
    assert account is not None
    (storage,) = proof["storageProof"]
    stated = int(rpc(chain, "eth_getStorageAt", address, to_hex(slot), hex(block)), 16)
    return prove_storage(account.storage_root, slot, storage["proof"]), stated


def proven_or_none(storage_root: bytes, slot: bytes, nodes: list[str]) -> int | None:
    try:
        return prove_storage(storage_root, slot, nodes)
    except ProofInvalid:
        return None


def account_or_refusal(state_root: bytes, address: bytes, nodes: list[str]) -> str | None:
    """None when the nodes prove the account absent; why they were refused; they must not prove an account."""
    try:
        found = prove_account(state_root, address, nodes)
    except ProofInvalid as exc:
        return str(exc)
    return None if found is None else f"proves an account: {found}"


def test_every_header_of_the_node_hashes_to_its_block_hash(chain: Chain, registry: Registry) -> None:
    head = chain.block_number()
    for number in range(max(1, head - 5), head + 1):
        block = rpc(chain, "eth_getBlockByNumber", hex(number), False)
        assert to_hex(parse_header(block).hash) == block["hash"]


def test_proven_words_read_as_the_contract_views_do(registry: Registry, account: LocalAccount) -> None:
    layout = committed_layout()
    chain, address = registry.chain, registry.address
    root, leaf = os.urandom(32), os.urandom(32)
    send(registry, account, "anchor", root, 42)
    block = send(registry, account, "revokeCredential", root, leaf, "withdrawn")

    proven, stated = word_at(chain, address, layout.anchors.slot(root), block)
    assert proven == stated
    anchor = registry.anchor_of(to_hex(root), block)
    assert anchor is not None
    assert layout.anchors.decode(proven) == {
        "blockNumber": anchor.block_number,
        "timestamp": anchor.timestamp,
        "revokedBlock": 0,
        "revokedTimestamp": 0,
        "leafCount": 42,
    }
    proven, stated = word_at(chain, address, layout.revoked_leaves.slot(root, leaf), block)
    assert proven == stated
    assert layout.revoked_leaves.decode(proven) == {
        "blockNumber": block,
        "timestamp": chain.block(block)["timestamp"],
    }
    key = Ed25519PrivateKey.from_private_bytes(TEST_SIGNING_SEED).public_key().public_bytes_raw()
    proven, stated = word_at(chain, address, layout.signing_keys.slot(key), block)
    status = registry.signing_key(to_hex(key), block)
    assert layout.signing_keys.decode(proven) == {"addedBlock": status.added_block, "revokedBlock": 0}
    assert proven == stated


def test_an_unset_slot_is_proven_zero(registry: Registry) -> None:
    block = registry.chain.block_number()
    assert word_at(registry.chain, registry.address, committed_layout().anchors.slot(os.urandom(32)), block) == (0, 0)


def test_a_proof_for_another_key_account_or_root_is_refused(
    chain: Chain, registry: Registry, account: LocalAccount
) -> None:
    layout = committed_layout()
    root = os.urandom(32)
    block = send(registry, account, "anchor", root, 3)
    slot = layout.anchors.slot(root)
    header = parse_header(rpc(chain, "eth_getBlockByNumber", hex(block), False))
    proof = rpc(chain, "eth_getProof", registry.address, [to_hex(slot)], hex(block))
    me = bytes.fromhex(registry.address[2:])
    found = prove_account(header.state_root, me, proof["accountProof"])
    assert found is not None
    other = deploy(chain, account)
    # Another account (deployed after that block): the nodes either fail to reach it or prove it absent there
    # (when its path ends in an empty branch slot they hold, which depends on the addresses); never `found`.
    elsewhere = account_or_refusal(header.state_root, bytes.fromhex(other.address[2:]), proof["accountProof"])
    assert elsewhere is None or "does not lead from root" in elsewhere
    older = parse_header(rpc(chain, "eth_getBlockByNumber", hex(block - 1), False))
    with pytest.raises(ProofInvalid, match="does not lead from root"):
        prove_account(older.state_root, me, proof["accountProof"])
    nodes = proof["storageProof"][0]["proof"]
    # Another key: these nodes either fail to reach it or prove it empty; they never give it the anchor's word.
    assert proven_or_none(found.storage_root, layout.anchors.slot(os.urandom(32)), nodes) in (0, None)
    tampered = [*nodes[:-1], nodes[-1][:-2] + ("00" if nodes[-1][-2:] != "00" else "01")]
    with pytest.raises(ProofInvalid, match="does not lead from root"):
        prove_storage(found.storage_root, slot, tampered)
