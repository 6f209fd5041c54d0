"""Anchors on several chains, issuing side: two real Anvil chains; one goes away for good, or for a while.

Every anchor goes through its own crash-safe states: a chain that is down delays only its own anchor, a
crash while anchoring on the second chain never anchors twice, and `resume` later adds the anchor (and any
revocation made meanwhile) everywhere it belongs.
"""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anchoring.localnode import free_port
from anchoring.receipt import Manifest, Receipt
from issuer.workspace import Workspace
from tests.conftest import (
    CliResult,
    Node,
    add_chain,
    issue_killed_at,
    make_workspace,
    people,
    start_node,
    stop_node,
    write_csv,
)

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
OWN_CHAIN_ID = 31339


@pytest.fixture
def own_node(tmp_path: Path) -> Iterator[Node]:
    """A second chain of this test's own, which the test may stop for good."""
    started = start_node("anvil", log=tmp_path / "own.log", chain_id=OWN_CHAIN_ID)
    yield started
    stop_node(started)


@pytest.fixture
def two_chains(tmp_path: Path, node: Node, own_node: Node) -> Workspace:
    return add_chain(make_workspace(tmp_path / "ws", node), own_node)


def receipts_of(folder: Path) -> list[Receipt]:
    return [Receipt.from_json(p.read_bytes(), source=str(p)) for p in sorted(folder.glob("*.json"))]


def issue(cli: Cli, ws: Workspace, n: int = 4, name: str = "records.csv", out: str = "out") -> CliResult:
    csv = write_csv(ws.root / name, people(n, domain=name.removesuffix(".csv") + ".example.org"))
    return cli("issue", csv, "--achievement", "example", "--out", ws.root / out, "-w", ws.root)


def unreachable(ws: Workspace, chain_id: int) -> Workspace:
    """Point the chain's entry at a port where nothing listens (its node, and its state, stay as they are)."""
    index, _ = ws.config.chain_by_id(chain_id)
    return ws.set("chain", "rpc_url", f"http://127.0.0.1:{free_port()}", index)


def test_each_batch_is_anchored_once_on_every_chain_and_every_receipt_lists_both(
    cli: Cli, two_chains: Workspace, node: Node, own_node: Node
) -> None:
    ws = two_chains
    issued = issue(cli, ws)
    assert issued.code == 0, issued.err
    assert f"anchored on chain {OWN_CHAIN_ID} in block" in issued.out
    receipts = receipts_of(ws.root / "out")
    assert len(receipts) == 4
    root = receipts[0].merkle.root
    for receipt in receipts:
        assert receipt.version == 3
        assert [a.chain_id for a in receipt.anchors()] == [31337, OWN_CHAIN_ID]
        assert sorted(e.chain_id for e in receipt.evidence or ()) == [31337, OWN_CHAIN_ID]
    for chain, config in ((node.chain(), ws.config.chain), (own_node.chain(), ws.config.additional_chains[0])):
        registry = chain.registry(config.registry)
        anchor = registry.anchor_of(root)
        assert anchor is not None
        assert len(registry.anchored_events(root, 0, chain.block_number())) == 1
    home, other = receipts[0].anchors()
    on_other = own_node.chain().registry(ws.config.additional_chains[0].registry).anchor_of(root)
    assert on_other is not None
    assert other.block_number == on_other.block_number
    manifest = Manifest.from_json(next((ws.root / "manifests").glob("*.json")).read_bytes())
    assert manifest.version == 3
    assert [a.chain_id for a in manifest.anchors()] == [31337, OWN_CHAIN_ID]
    listed = cli("batches", "-w", ws.root)
    assert f"block {home.block_number}; chain {OWN_CHAIN_ID} block {other.block_number}" in listed.out
    assert cli("resume", "-w", ws.root).out.strip() == "no unfinished batch"


def test_a_chain_gone_for_good_delays_only_its_own_anchor(cli: Cli, two_chains: Workspace, own_node: Node) -> None:
    ws = two_chains
    stop_node(own_node)  # for good: the node and its whole chain are gone
    issued = issue(cli, ws)
    assert issued.code == 0, issued.err
    assert f"pending: anchor on chain {OWN_CHAIN_ID}: node at {own_node.url} did not answer" in issued.err
    assert "`credanchor resume` adds it" in issued.err
    receipts = receipts_of(ws.root / "out")
    assert {r.version for r in receipts} == {2}
    assert {r.anchor.chain_id for r in receipts} == {31337}
    assert f"chain {OWN_CHAIN_ID} prepared" in cli("batches", "-w", ws.root).out

    # Later batches are issued as well, and `resume` leaves the anchor pending without failing the rest.
    again = issue(cli, ws, 3, name="more.csv", out="more")
    assert again.code == 0, again.err
    resumed = cli("resume", "-w", ws.root)
    assert resumed.code == 0, resumed.err
    assert resumed.err.count(f"pending: anchor on chain {OWN_CHAIN_ID}") == 2

    # Revoking reaches the home chain; the chain that is gone was never anchored on, so nothing is missing.
    revoked = cli("revoke", receipts[0].view().id, "--reason", "issued in error", "-w", ws.root)
    assert revoked.code == 0, revoked.err
    assert revoked.out.startswith(f"revoked {receipts[0].view().id} in block")


def test_an_anchor_that_comes_late_is_added_to_the_receipts_with_the_revocations_made_meanwhile(
    cli: Cli, two_chains: Workspace, own_node: Node
) -> None:
    ws = two_chains
    reachable_url = ws.config.additional_chains[0].rpc_url
    ws = unreachable(ws, OWN_CHAIN_ID)
    assert issue(cli, ws).code == 0
    first = receipts_of(ws.root / "out")
    assert {r.version for r in first} == {2}
    revoked_id = first[0].view().id
    assert cli("revoke", revoked_id, "--reason", "issued in error", "-w", ws.root).code == 0

    ws = ws.set("chain", "rpc_url", reachable_url, 1)  # the node answers again
    resumed = cli("resume", "-w", ws.root)
    assert resumed.code == 0, resumed.err
    assert f"anchored on chain {OWN_CHAIN_ID}" in resumed.out
    after = receipts_of(ws.root / "out")
    assert {r.version for r in after} == {3}
    assert [r.view().id for r in after] == [r.view().id for r in first]
    registry = own_node.chain().registry(ws.config.additional_chains[0].registry)
    leaf = next(r.merkle.leaf for r in after if r.view().id == revoked_id)
    assert registry.is_revoked(after[0].merkle.root, leaf)
    assert sum(registry.is_revoked(r.merkle.root, r.merkle.leaf) for r in after) == 1
    assert cli("resume", "-w", ws.root).out.strip() == "no unfinished batch"


def test_revoking_reaches_every_chain_and_a_chain_that_is_down_is_caught_up_by_running_it_again(
    cli: Cli, two_chains: Workspace, node: Node, own_node: Node
) -> None:
    ws = two_chains
    assert issue(cli, ws).code == 0
    receipts = receipts_of(ws.root / "out")
    target, other = receipts[0], receipts[1]
    both = cli("revoke", target.view().id, "--reason", "issued in error", "-w", ws.root)
    assert both.code == 0, both.err
    assert both.out.count(f"revoked {target.view().id} on chain") == 2
    reachable_url = ws.config.additional_chains[0].rpc_url
    ws = unreachable(ws, OWN_CHAIN_ID)
    partly = cli("revoke", other.view().id, "--reason", "issued in error", "-w", ws.root)
    assert partly.code == 3
    assert f"not revoked on chain {OWN_CHAIN_ID} yet: node at http://127.0.0.1:" in partly.err
    assert "run the same command again when those chains answer: it revokes only where missing" in partly.err
    ws = ws.set("chain", "rpc_url", reachable_url, 1)
    caught_up = cli("revoke", other.view().id, "--reason", "issued in error", "-w", ws.root)
    assert caught_up.code == 0, caught_up.err
    assert "chain 31337: credential" in caught_up.out
    assert f"revoked {other.view().id} on chain {OWN_CHAIN_ID}" in caught_up.out
    again = cli("revoke", other.view().id, "--reason", "issued in error", "-w", ws.root)
    assert again.code == 2
    assert f"error: credential {other.view().id} is already revoked (on its own or with its batch)" in again.err
    for chain, config in ((node.chain(), ws.config.chain), (own_node.chain(), ws.config.additional_chains[0])):
        registry = chain.registry(config.registry)
        assert registry.is_revoked(other.merkle.root, other.merkle.leaf)


@pytest.mark.parametrize("point", ["signed", "sent", "mined"])
def test_a_crash_while_anchoring_on_the_second_chain_never_anchors_twice(
    point: str, cli: Cli, two_chains: Workspace, own_node: Node
) -> None:
    ws = two_chains
    csv = write_csv(ws.root / "records.csv", people(3))
    issue_killed_at(ws, csv, f"{point}@{OWN_CHAIN_ID}")
    finished = cli("issue", csv, "--achievement", "example", "-w", ws.root)
    assert finished.code == 0, finished.err
    assert "resumed and finished batch 1" in finished.out
    folder = Path(json.loads(cli("batches", "--json", "-w", ws.root).out)[0]["outDir"])
    receipts = receipts_of(folder)
    assert {r.version for r in receipts} == {3}
    registry = own_node.chain().registry(ws.config.additional_chains[0].registry)
    root = receipts[0].merkle.root
    assert len(registry.anchored_events(root, 0, own_node.chain().block_number())) == 1


def test_chain_entries_are_checked(cli: Cli, two_chains: Workspace, own_node: Node) -> None:
    ws = two_chains
    same = cli("chain", "add", "--chain-id", str(OWN_CHAIN_ID), "--rpc-url", "http://127.0.0.1:9", "-w", ws.root)
    assert same.code == 2
    assert same.err.strip() == (
        f"error: {ws.config_path}: adding a chain would make it invalid: document: chain: two [[chain]] entries "
        f"for chain id {OWN_CHAIN_ID}; one registry per chain"
    )
    both = cli("chain", "add", "--chain-id", "5", "--rpc-url", "http://127.0.0.1:9", "--port", "9", "-w", ws.root)
    assert both.err.strip() == "error: --rpc-url names a node elsewhere, --port a local one: give one of them"
    unknown = cli("deploy", "--chain-id", "5", "-w", ws.root)
    assert unknown.err.strip() == f"error: chain 5 is not configured (configured: 31337, {OWN_CHAIN_ID})"
    again = cli("deploy", "--chain-id", str(OWN_CHAIN_ID), "-w", ws.root)
    assert again.err.strip().startswith(f"error: a registry is configured already on chain {OWN_CHAIN_ID} (0x")


def test_signing_keys_and_roles_are_managed_on_every_chain(cli: Cli, two_chains: Workspace, own_node: Node) -> None:
    from anchoring.hashing import to_hex
    from anchoring.multibase import decode_multikey
    from issuer.signing import signing_multikey

    ws = two_chains
    multikey = signing_multikey(ws.signing_key_path)
    shown = cli("role", "show", "--chain-id", str(OWN_CHAIN_ID), "--json", "-w", ws.root)
    assert shown.code == 0, shown.err
    retired = cli("key", "retire", multikey, "--reason", "rotated", "-w", ws.root)
    assert retired.code == 0, retired.err
    assert [line.split(" in block")[0] for line in retired.out.splitlines()] == [
        f"signing key {multikey} revoked on chain 31337",
        f"signing key {multikey} revoked on chain {OWN_CHAIN_ID}",
    ]
    registry = own_node.chain().registry(ws.config.additional_chains[0].registry)
    assert registry.signing_key(to_hex(decode_multikey(multikey))).revoked_block != 0
    refused = cli("key", "retire", multikey, "--reason", "again", "--chain-id", "5", "-w", ws.root)
    assert refused.err.strip() == f"error: chain 5 is not configured (configured: 31337, {OWN_CHAIN_ID})"


def test_a_chain_without_a_registry_yet_is_named_and_skipped(cli: Cli, tmp_path: Path, node: Node) -> None:
    from issuer.chainops import add_chain as add_entry

    ws = add_entry(make_workspace(tmp_path / "ws", node), 5, "http://127.0.0.1:9", None, None)
    issued = issue(cli, ws)
    assert issued.code == 0, issued.err
    assert issued.err.strip() == (
        "pending: chain 5 has no registry yet, so this batch is not anchored there; deploy one for the next "
        "batches (`credanchor deploy --chain-id 5`, or `chain up` for a local chain)"
    )
    assert {r.version for r in receipts_of(ws.root / "out")} == {2}


def test_checkpoints_are_recorded_for_every_chain_from_nodes_of_each(
    cli: Cli, two_chains: Workspace, node: Node, own_node: Node
) -> None:
    ws = two_chains
    assert issue(cli, ws).code == 0
    receipt = sorted((ws.root / "out").glob("*-*-*-*-*.json"))[0]
    anchors = Receipt.from_json(receipt.read_bytes()).anchors()
    out = ws.root / "checkpoints.toml"
    both = cli("checkpoint", receipt, "-o", out, "--rpc-url", node.url, "--rpc-url", own_node.url)
    assert both.code == 0, both.err
    assert both.out.splitlines()[:2] == [
        f"chain {a.chain_id} block {a.block_number}: {a_hash}"
        for a, a_hash in zip(
            anchors,
            [
                node.rpc("eth_getBlockByNumber", hex(anchors[0].block_number), False)["hash"],
                own_node.rpc("eth_getBlockByNumber", hex(anchors[1].block_number), False)["hash"],
            ],
            strict=True,
        )
    ]
    one = cli("checkpoint", receipt, "-o", ws.root / "one.toml", "--rpc-url", node.url)
    assert one.code == 3
    assert one.err.strip() == (
        f"not recorded: chain {OWN_CHAIN_ID} block {anchors[1].block_number}: no node given is of chain "
        f"{OWN_CHAIN_ID} (they are chain 31337)"
    )
    strict = cli(
        "checkpoint",
        receipt,
        "-o",
        ws.root / "q.toml",
        "--rpc-url",
        node.url,
        "--rpc-url",
        own_node.url,
        "--quorum",
        "2",
    )
    assert strict.code == 3
    assert "--quorum 2, but 1 node of chain 31337 answer" in strict.err


def test_refresh_brings_each_chain_s_evidence_up_to_date_where_a_node_answers(
    cli: Cli, two_chains: Workspace, node: Node, own_node: Node
) -> None:
    ws = two_chains
    assert issue(cli, ws).code == 0
    receipt = sorted((ws.root / "out").glob("*-*-*-*-*.json"))[0]
    issued = json.loads(receipt.read_text())
    assert cli("revoke", issued["credential"]["id"], "--reason", "issued in error", "-w", ws.root).code == 0
    home_only = cli("refresh", receipt, "--rpc-url", node.url)
    assert home_only.code == 0, home_only.err
    assert f"chain {OWN_CHAIN_ID}: not refreshed (no node given is of chain {OWN_CHAIN_ID}" in home_only.out
    after = json.loads(receipt.read_text())
    assert after["version"] == 3
    assert after["additionalAnchors"] == issued["additionalAnchors"]
    assert sorted(e["chainId"] for e in after["evidence"]) == [31337, 31337, OWN_CHAIN_ID]
    both = cli("refresh", receipt, "--rpc-url", node.url, "--rpc-url", own_node.url)
    assert both.code == 0, both.err
    assert both.out.count("revoked in block ") == 2, both.out
    final = json.loads(receipt.read_text())
    assert sorted(e["chainId"] for e in final["evidence"]) == [31337, 31337, OWN_CHAIN_ID, OWN_CHAIN_ID]
    assert all(e in final["evidence"] for e in issued["evidence"])  # the evidence it was issued with stays
    Receipt.from_json(receipt.read_bytes())


def test_a_home_chain_gone_for_good_delays_only_its_own_anchor(
    cli: Cli, tmp_path: Path, own_node: Node, second_node: Node
) -> None:
    """The home chain (the first [[chain]]) dies: receipts go out with the other chain's anchor."""
    from credanchor.wiring import account as load_account
    from issuer.chainops import deploy as deploy_for
    from issuer.chainops import fund_locally
    from issuer.keys import keystore_address
    from issuer.workspace import init_workspace
    from tests.conftest import TEST_ISSUER_ID, TEST_SCRYPT_N

    ws = init_workspace(
        tmp_path / "ws", issuer_id=TEST_ISSUER_ID, issuer_name="Test University", scrypt_n=TEST_SCRYPT_N
    )
    ws = ws.set("chain", "rpc_url", own_node.url).set("chain", "chain_id", OWN_CHAIN_ID)
    fund_locally(own_node.chain(), keystore_address(ws.keystore_path))
    ws, _ = deploy_for(ws, own_node.chain(), load_account(ws))
    ws = add_chain(ws, second_node)
    stop_node(own_node)  # for good

    issued = issue(cli, ws)
    assert issued.code == 0, issued.err
    assert f"anchored on chain {second_node.chain().chain_id} in block" in issued.out
    assert f"pending: anchor on chain {OWN_CHAIN_ID}: node at {own_node.url} did not answer" in issued.err
    receipts = receipts_of(ws.root / "out")
    assert {r.version for r in receipts} == {2}
    assert {r.anchor.chain_id for r in receipts} == {second_node.chain().chain_id}
    listed = json.loads(cli("batches", "--json", "-w", ws.root).out)[0]
    assert (listed["state"], listed["blockNumber"]) == ("delivered", None)
    resumed = cli("resume", "-w", ws.root)
    assert resumed.code == 0, resumed.err
    assert f"pending: anchor on chain {OWN_CHAIN_ID}" in resumed.err
    # Revocation reaches the chain that holds the anchor.
    revoked = cli("revoke", receipts[0].view().id, "--reason", "issued in error", "-w", ws.root)
    assert revoked.code == 0, revoked.err
    registry = second_node.chain().registry(ws.config.additional_chains[0].registry)
    assert registry.is_revoked(receipts[0].merkle.root, receipts[0].merkle.leaf)
