"""CredentialRegistry on a real node: gas, rules, revocation, roles, and the on-chain Merkle view."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from anchoring.chain import ANCHOR_ROLE, REVOKE_ROLE, Chain, Registry
from anchoring.errors import TransactionFailed
from anchoring.hashing import to_hex
from anchoring.merkle import MerkleTree
from anchoring.sender import TxSender
from contracts import load_artifact
from tests.conftest import funded

pytestmark = pytest.mark.chain
ROOT = Path(__file__).parent.parent.parent
GAS_LIMIT_PER_ANCHOR = 50_000


def send(registry: Registry, account: LocalAccount, call_name: str, *args: object) -> int:
    sender = TxSender(registry.chain, account)
    signed = sender.send(getattr(registry.contract.functions, call_name)(*args))
    return sender.wait_mined(signed.tx_hash, timeout=30).gas_used


def test_anchor_costs_under_50k_gas_for_any_batch_size(registry: Registry, account: LocalAccount) -> None:
    # Worst-case calldata: every byte of the root and the count non-zero.
    costs: list[int] = []
    for count in (1, 1_000_000, 2**64 - 1):
        root = bytes([0xFF - len(costs)] * 32)
        costs.append(send(registry, account, "anchor", root, count))
    print(f"gas per anchor: {costs}")
    assert max(costs) <= GAS_LIMIT_PER_ANCHOR
    anchor = registry.anchor_of(to_hex(bytes([0xFF] * 32)))
    assert anchor is not None
    assert anchor.leaf_count == 1


def test_anchor_records_block_time_count_and_event(registry: Registry, account: LocalAccount) -> None:
    root = os.urandom(32)
    send(registry, account, "anchor", root, 17)
    anchor = registry.anchor_of(to_hex(root))
    assert anchor is not None
    block = registry.chain.block(anchor.block_number)
    assert (anchor.timestamp, anchor.leaf_count, anchor.batch_revoked) == (block["timestamp"], 17, False)
    (event,) = registry.anchored_events(to_hex(root), anchor.block_number, anchor.block_number)
    assert event.args == {"root": to_hex(root), "leafCount": 17, "sender": account.address}


@pytest.mark.parametrize(
    ("root", "count", "reason"),
    [
        (bytes(32), 5, "registry rejected the call: ZeroRoot()"),
        (b"\x01" * 32, 0, "registry rejected the call: EmptyBatch()"),
    ],
    ids=["zero root", "empty batch"],
)
def test_anchor_rejects_bad_input(
    registry: Registry, account: LocalAccount, root: bytes, count: int, reason: str
) -> None:
    with pytest.raises(TransactionFailed) as caught:
        send(registry, account, "anchor", root, count)
    assert str(caught.value) == reason


def test_a_root_is_anchored_once(registry: Registry, account: LocalAccount) -> None:
    root = os.urandom(32)
    send(registry, account, "anchor", root, 3)
    anchor = registry.anchor_of(to_hex(root))
    assert anchor is not None
    with pytest.raises(TransactionFailed) as caught:
        send(registry, account, "anchor", root, 3)
    assert (
        str(caught.value)
        == f"registry rejected the call: AlreadyAnchored(root={to_hex(root)}, blockNumber={anchor.block_number})"
    )


def test_revocations(registry: Registry, account: LocalAccount) -> None:
    digests = [os.urandom(32) for _ in range(5)]
    tree = MerkleTree.build(digests)
    root = to_hex(tree.root)
    with pytest.raises(TransactionFailed, match=r"NotAnchored\(root=0x"):
        send(registry, account, "revokeCredential", tree.root, tree.leaf(0), "typo")
    send(registry, account, "anchor", tree.root, 5)
    with pytest.raises(TransactionFailed, match=r"EmptyReason\(\)"):
        send(registry, account, "revokeCredential", tree.root, tree.leaf(0), "")
    send(registry, account, "revokeCredential", tree.root, tree.leaf(0), "issued in error")
    assert registry.is_revoked(root, to_hex(tree.leaf(0)))
    assert not registry.is_revoked(root, to_hex(tree.leaf(1)))
    with pytest.raises(TransactionFailed, match=r"AlreadyRevoked\(root=0x"):
        send(registry, account, "revokeCredential", tree.root, tree.leaf(0), "again")
    head = registry.chain.block_number()
    revoked = registry.revoked_leaves(root, 0, head)
    assert list(revoked) == [to_hex(tree.leaf(0))]
    assert revoked[to_hex(tree.leaf(0))].args["reason"] == "issued in error"

    send(registry, account, "revokeBatch", tree.root, "exam voided")
    assert all(registry.is_revoked(root, to_hex(tree.leaf(i))) for i in range(5))
    anchor = registry.anchor_of(root)
    assert anchor is not None
    assert anchor.batch_revoked
    with pytest.raises(TransactionFailed, match=r"AlreadyRevoked\(root=0x"):
        send(registry, account, "revokeBatch", tree.root, "twice")


def test_on_chain_merkle_view_accepts_our_proofs(registry: Registry, account: LocalAccount) -> None:
    for n in (1, 2, 3, 17, 100):
        digests = [os.urandom(32) for _ in range(n)]
        tree = MerkleTree.build(digests)
        root = to_hex(tree.root)
        send(registry, account, "anchor", tree.root, n)
        for i in range(n):
            proof = [to_hex(p) for p in tree.proof(i)]
            assert registry.is_valid_on_chain(root, to_hex(digests[i]), proof)
            fn = registry.contract.functions.verifyInclusion(
                tree.root, digests[i], [bytes.fromhex(p[2:]) for p in proof]
            )
            assert fn.call()
        if n > 1:
            wrong = [to_hex(p) for p in tree.proof(1)]
            assert not registry.is_valid_on_chain(root, to_hex(digests[0]), wrong)
        assert registry.contract.functions.leafHash(digests[0]).call() == tree.leaf(0)


def test_roles_are_enforced(chain: Chain, registry: Registry, account: LocalAccount) -> None:
    stranger = funded(chain)
    revoker = funded(chain)
    root = os.urandom(32)
    with pytest.raises(TransactionFailed) as caught:
        send(registry, stranger, "anchor", root, 1)
    assert (
        str(caught.value)
        == f"registry rejected the call: AccessControlUnauthorizedAccount(account={stranger.address}, neededRole=anchor)"
    )
    send(registry, account, "grantRole", bytes.fromhex(REVOKE_ROLE[2:]), revoker.address)
    send(registry, account, "anchor", root, 1)
    with pytest.raises(
        TransactionFailed, match=rf"AccessControlUnauthorizedAccount\(account={revoker.address}, neededRole=anchor\)"
    ):
        send(registry, revoker, "anchor", os.urandom(32), 1)
    send(registry, revoker, "revokeBatch", root, "revoked by the revoker")
    assert registry.has_role(REVOKE_ROLE, revoker.address)
    assert not registry.has_role(ANCHOR_ROLE, revoker.address)
    with pytest.raises(TransactionFailed, match=r"neededRole=revoke"):
        send(registry, stranger, "revokeBatch", os.urandom(32), "no")


def test_deployment_block_is_recorded(chain: Chain, account: LocalAccount) -> None:
    sender = TxSender(chain, account)
    mined = sender.deploy_registry(admin_delay=60, issuer_id="https://registrar.test.edu")
    assert mined.contract_address
    assert chain.registry(mined.contract_address).deployment_block() == mined.block_number


def test_committed_artifact_is_reproducible() -> None:
    """Recompile with py-solc-x through solc-js: the committed bytecode must come out byte for byte."""
    result = subprocess.run(
        [sys.executable, "-m", "contracts.compile", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "artifact is up to date" in result.stdout
    artifact = load_artifact()
    assert artifact["compiler"]["version"].startswith("0.8.37")
    assert artifact["bytecode"].startswith("0x6")
