"""The plain JSON-RPC reader (`anchoring.rpcreader`) against the web3 reader (`anchoring.chain`), side by side
on one real node: every value and every error (with its message) must be the same, whichever reader asks.

Contracts that are not registries are made with the node's own setCode (runtime bytecode written by hand),
so each bad answer a contract can give (revert, custom error, short data, bad padding, malformed events) is
real EVM output."""

import json
import os
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from anchoring.chain import ANCHOR_ROLE, KEY_ADMIN_ROLE, REVOKE_ROLE, Chain, Registry
from anchoring.errors import CredanchorError
from anchoring.hashing import keccak256, to_hex
from anchoring.localnode import free_port
from anchoring.merkle import MerkleTree
from anchoring.rpcreader import RpcChain, event_topic
from anchoring.sender import TxSender
from tests.conftest import Node, deploy, funded
from tests.httpserve import serving
from tests.integration.rpcproxy import rpc_proxy

pytestmark = pytest.mark.chain


def send(registry: Registry, account: LocalAccount, call_name: str, *args: object) -> int:
    sender = TxSender(registry.chain, account)
    signed = sender.send(getattr(registry.contract.functions, call_name)(*args))
    return sender.wait_mined(signed.tx_hash, timeout=30).block_number


def outcome(ask: Callable[[], Any]) -> Any:
    """What a read gives: its value, or its error's type, message and `answered`."""
    try:
        return ("value", ask())
    except CredanchorError as exc:
        return ("error", type(exc).__name__, str(exc), getattr(exc, "answered", None))


def both(web3_chain: Chain, url: str, read: Callable[[Chain], Any]) -> Any:
    """`read` through both readers; they must agree. Returns the (shared) outcome."""
    expected = outcome(lambda: read(web3_chain))
    got = outcome(lambda: read(RpcChain(url)))
    assert got == expected
    return got


@pytest.fixture(scope="module")
def history(node: Node) -> dict[str, Any]:
    """A registry with anchors, revocations of batches and credentials, role changes and key events."""
    chain = node.chain()
    admin = funded(chain)
    registry = deploy(chain, admin)
    other = funded(chain)
    tree = MerkleTree.build([keccak256(bytes([i])) for i in range(4)])
    root = to_hex(tree.root)
    leaf = to_hex(tree.leaf(1))
    send(registry, admin, "anchor", tree.root, 4)
    send(registry, admin, "revokeCredential", tree.root, tree.leaf(1), "wrong grade, ünïcode reason")
    revoked_root = os.urandom(32)
    send(registry, admin, "anchor", revoked_root, 9)
    send(registry, admin, "revokeBatch", revoked_root, "whole batch withdrawn")
    send(registry, admin, "grantRole", bytes.fromhex(REVOKE_ROLE[2:]), other.address)
    send(registry, admin, "revokeRole", bytes.fromhex(REVOKE_ROLE[2:]), other.address)
    key = os.urandom(32)
    send(registry, admin, "addSigningKey", key)
    send(registry, admin, "revokeSigningKey", key, "laptop stolen")
    return {
        "registry": registry.address,
        "root": root,
        "leaf": leaf,
        "tree": tree,
        "revoked_root": to_hex(revoked_root),
        "key": to_hex(key),
        "admin": admin.address,
        "other": other.address,
        "head": chain.block_number(),
    }


def test_every_registry_read_gives_the_same_values(node: Node, history: dict[str, Any]) -> None:
    chain, address, head = node.chain(), history["registry"], history["head"]
    root, leaf, key = history["root"], history["leaf"], history["key"]
    tree: MerkleTree = history["tree"]
    proof = [to_hex(p) for p in tree.proof(0)]
    reads: list[Callable[[Chain], Any]] = [
        lambda c: c.chain_id,
        lambda c: c.block(head)["hash"],
        lambda c: (lambda b: (b["number"], b["timestamp"], bytes(b["parentHash"])))(c.block(head)),
        lambda c: c.has_code(address),
        lambda c: c.has_code(history["admin"]),
        lambda c: c.registry(address).anchor_of(root),
        lambda c: c.registry(address).anchor_of(history["revoked_root"], head),
        lambda c: c.registry(address).anchor_of(to_hex(os.urandom(32))),
        lambda c: c.registry(address).revocation_block(root, leaf),
        lambda c: c.registry(address).is_revoked(root, leaf),
        lambda c: c.registry(address).is_revoked(root, to_hex(tree.leaf(0))),
        lambda c: c.registry(address).is_valid_on_chain(root, to_hex(keccak256(bytes([0]))), proof),
        lambda c: c.registry(address).has_role(ANCHOR_ROLE, history["admin"]),
        lambda c: c.registry(address).has_role(KEY_ADMIN_ROLE, history["other"], head),
        lambda c: c.registry(address).issuer_id(),
        lambda c: c.registry(address).signing_key(key),
        lambda c: c.registry(address).deployment_block(),
        lambda c: list(c.registry(address).events(0, head)),
        lambda c: list(c.registry(address).events(0, head, chunk=3)),
        lambda c: c.registry(address).anchored_events(root, 0, head),
        lambda c: c.registry(address).batch_revocations(history["revoked_root"], 0, head),
        lambda c: c.registry(address).revoked_leaves(root, 0, head),
        lambda c: c.registry(address).key_revocation(key, c.registry(address).signing_key(key).revoked_block),
    ]
    for read in reads:
        assert both(chain, node.url, read)[0] == "value"
    events = both(chain, node.url, lambda c: list(c.registry(address).events(0, head)))[1]
    names = [e.name for e in events]
    for name in ("Anchored", "CredentialRevoked", "BatchRevoked", "RoleGranted", "RoleRevoked", "SigningKeyRevoked"):
        assert name in names
    # The argument order too (what JSON output shows), not only the values.
    web3_events = list(chain.registry(address).events(0, head))
    assert [list(e.args) for e in web3_events] == [list(e.args) for e in events]
    revoked = RpcChain(node.url).registry(address).revoked_leaves(root, 0, head)
    assert revoked[leaf].args["reason"] == "wrong grade, ünïcode reason"


def set_code(node: Node, code: str) -> str:
    address = to_hex(os.urandom(20))
    node.rpc(f"{node.kind}_setCode", address, code)
    return address


PUSH0_0 = "6000"
RETURN_WORD = "60005260206000f3"  # MSTORE the top of the stack at 0, return 32 bytes


@pytest.mark.parametrize(
    ("runtime", "case"),
    [
        ("60006000fd", "revert without data"),
        ("63deadbeef60e01b60005260046000fd", "revert with a custom error"),
        ("60016000f3", "one byte of answer"),
        ("7f" + "ff" * 32 + RETURN_WORD, "a word of 0xff (bad padding for uint48 and bool)"),
        ("00", "stops: empty answer"),
    ],
)
def test_a_contract_that_is_not_a_registry_is_refused_alike(node: Node, runtime: str, case: str) -> None:
    address = set_code(node, "0x" + runtime)
    root = to_hex(os.urandom(32))
    for read in (
        lambda c: c.registry(address).anchor_of(root),
        lambda c: c.registry(address).is_revoked(root, root),
        lambda c: c.registry(address).has_role(ANCHOR_ROLE, address),
        lambda c: c.registry(address).issuer_id(),
        lambda c: c.registry(address).signing_key(root),
        lambda c: c.registry(address).deployment_block(),
    ):
        both(node.chain(), node.url, read)


def test_a_registry_call_on_an_account_without_code_is_refused_alike(node: Node) -> None:
    address = to_hex(os.urandom(20))
    result = both(node.chain(), node.url, lambda c: c.registry(address).anchor_of(to_hex(bytes(32))))
    assert result[1] == "NotARegistry"


def emitter(node: Node, topics: list[str], data: str) -> tuple[str, int]:
    """A contract that emits one log with `topics` and `data` (at most 32 bytes) when called; called once, in
    the block returned."""
    code = ""
    for topic in reversed(topics):
        code += "7f" + topic[2:]
    body = bytes.fromhex(data[2:]) if data != "0x" else b""
    code += "7f" + body.ljust(32, b"\0").hex() + "600052"  # MSTORE the data word at 0
    code += f"60{len(body):02x}6000" + f"{0xA0 + len(topics):02x}" + "00"
    address = set_code(node, "0x" + code)
    (sender,) = node.rpc("eth_accounts")[:1]
    tx = node.rpc("eth_sendTransaction", {"from": sender, "to": address, "gas": hex(100_000)})
    mined = TxSender(node.chain(), funded(node.chain())).wait_mined(tx, timeout=30)
    assert mined.block_number > 0
    return address, mined.block_number


@pytest.mark.parametrize(
    ("topics", "data", "expected", "case"),
    [
        (["Anchored"], "0x", "error", "too few topics"),
        (["Anchored", "0x" + "11" * 32, "0x" + "ff" * 32], "0x" + "00" * 31 + "05", "error", "bad address padding"),
        (["Anchored", "0x" + "11" * 32, "0x" + "00" * 12 + "22" * 20], "0x05", "error", "short data"),
        (["Anchored", "0x" + "11" * 32, "0x" + "00" * 12 + "22" * 20], "0x" + "00" * 31 + "07", "value", "good"),
        (["0x" + "33" * 32], "0x", "value", "an event the registry does not have"),
    ],
)
def test_malformed_events_are_refused_alike(node: Node, topics: list[str], data: str, expected: str, case: str) -> None:
    named = [event_topic(t) if not t.startswith("0x") else t for t in topics]
    address, block = emitter(node, named, data)
    result = both(node.chain(), node.url, lambda c: list(c.registry(address).events(block, block)))
    assert result[0] == expected


def test_a_node_on_another_chain_is_told_apart_alike(second_node: Node) -> None:
    result = both(second_node.chain(), second_node.url, lambda c: c.expect_chain_id(31337))
    assert result == (
        "error",
        "ChainMismatch",
        f"node at {second_node.url} is chain 31338, expected chain 31337",
        None,
    )


def test_a_node_that_is_down_gives_the_same_message() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = both(Chain(url), url, lambda c: c.block_number())
    assert result == (
        "error",
        "ChainUnavailable",
        f"node at {url} did not answer (eth_blockNumber): connection refused or lost",
        False,
    )


def test_an_rpc_error_is_a_refusal_with_the_nodes_words(node: Node) -> None:
    with rpc_proxy(node.url) as url:
        result = both(Chain(url), url, lambda c: c.block(10**9))
    assert result[0] == "error"
    assert result[1] == "ChainUnavailable"
    assert result[3] is True


def garbage_node(status: int, body: bytes, delay: float = 0.0) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if delay:
                import time

                time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return serving(Handler)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, b"<html>hello</html>", "gave a bad answer (eth_chainId): "),
        (200, json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0xzz"}).encode(), "gave a bad answer (eth_chainId)"),
        (
            200,
            json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "slow down"}}).encode(),
            "refused eth_chainId: slow down",
        ),
    ],
    ids=["html", "not hex", "rpc error"],
)
def test_a_node_that_answers_garbage_is_unavailable(status: int, body: bytes, message: str) -> None:
    with garbage_node(status, body) as url:
        web3_side = outcome(lambda: Chain(url).chain_id)
        ours = outcome(lambda: RpcChain(url).chain_id)
    assert ours[1] == web3_side[1] == "ChainUnavailable"
    assert ours[2].startswith(f"node at {url} ")
    assert message in ours[2]
    assert message in web3_side[2]
    assert ours[3] == web3_side[3]


@pytest.mark.parametrize(("status", "reason"), [(429, "Too Many Requests"), (502, "Bad Gateway")])
def test_rate_limits_and_server_errors_name_the_status_not_the_url(status: int, reason: str) -> None:
    with garbage_node(status, b"{}") as url:
        keyed = f"{url}/v3/secret-api-key"
        result = outcome(lambda: RpcChain(keyed).block_number())
        web3_side = outcome(lambda: Chain(keyed).block_number())  # the issuer's client says the same
    expected = ("error", "ChainUnavailable", f"node at {url} failed (eth_blockNumber): HTTP {status} {reason}", False)
    assert result == expected
    assert web3_side == expected


def test_a_node_that_does_not_answer_in_time_times_out() -> None:
    with garbage_node(200, b"{}", delay=1.5) as url:
        result = outcome(lambda: RpcChain(url, timeout=0.3).block_number())
    assert result == ("error", "ChainUnavailable", f"node at {url} did not answer (eth_blockNumber): timed out", False)
