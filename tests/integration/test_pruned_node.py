"""A node that no longer serves old state (Anvil restarted from its state file, as a pruned node does) breaks
neither issuing nor verifying: evidence comes from a newer block, and the user is told so."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anchoring.chain import Chain
from anchoring.evidencecollect import collect
from anchoring.localnode import LocalNode, free_port
from anchoring.receipt import Receipt
from issuer.evidence import signing_keys_of
from tests.conftest import CliResult, issue_killed_at, people, write_csv
from tests.integration.storerows import credential_rows

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


@pytest.fixture
def local_ws(cli: Cli, tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "ws"
    assert cli("init", ws, "--scrypt-n", "4096", "--port", str(free_port())).code == 0
    up = cli("chain", "up", "-w", ws)
    assert up.code == 0, up.err
    yield ws
    LocalNode(ws / "chain").stop()


def restart(cli: Cli, ws: Path) -> Chain:
    """Let the chain move on a block, then restart the node from its state file: it keeps every block but
    serves state only from the block it was stopped at."""
    info = LocalNode(ws / "chain").info()
    assert info is not None
    Chain(info.url).w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert cli("chain", "down", "-w", ws).code == 0
    assert cli("chain", "up", "-w", ws).code == 0
    info = LocalNode(ws / "chain").info()
    assert info is not None
    return Chain(info.url)


def test_evidence_comes_from_a_newer_block_when_the_node_forgot_the_old_state(cli: Cli, local_ws: Path) -> None:
    from issuer.workspace import open_workspace

    ws = open_workspace(local_ws)
    csv = write_csv(local_ws / "records.csv", people(3))
    # Killed once the anchor is mined, before it is recorded or any receipt is written.
    issue_killed_at(ws, csv, "mined")
    chain = restart(cli, local_ws)
    rows = json.loads(cli("batches", "--json", "-w", local_ws).out)
    anchor = chain.registry(ws.config.chain.registry).anchor_of(rows[0]["root"])
    assert anchor is not None
    anchored_in = anchor.block_number
    answer = chain.w3.provider.make_request(
        "eth_getProof",  # type: ignore[arg-type]
        [ws.config.chain.registry, [], hex(anchored_in)],
    )
    assert "block height is" in answer["error"]["message"]  # the restarted node forgot the anchor block's state

    # Asked for the anchor's own block, collection falls back to the head and says why.
    from issuer.store import Store

    store = Store(ws.database_url)
    credentials = credential_rows(store, rows[0]["id"])
    leaves = [leaf for _, _, leaf, _ in credentials]
    gathered = collect(
        chain, ws.config.chain.registry, rows[0]["root"], leaves, signing_keys_of(credentials[0][3]), anchored_in
    )
    assert gathered.block_number() == chain.block_number()
    # Leaves whose slots' proofs are equal share one tuple of nodes: with 200 more leaves than the registry's
    # storage trie has nodes, many proofs are equal, and each distinct one is a single object.
    many = leaves + [f"0x{i:064x}" for i in range(1, 201)]
    paths = list(
        collect(chain, ws.config.chain.registry, rows[0]["root"], many, [], chain.block_number()).by_leaf.values()
    )
    assert len({id(path) for path in paths}) == len(set(paths)) < len(paths) // 4
    assert gathered.fallback_note is not None
    assert gathered.fallback_note.startswith(f"the node serves no state for block {anchored_in} any more (")
    assert gathered.fallback_note.endswith(f"evidence is from block {chain.block_number()}")

    # Issuing finishes on the restarted node, and its receipts verify with it and offline.
    resumed = cli("resume", "-w", local_ws)
    assert resumed.code == 0, resumed.err
    receipts = sorted(Path(rows[0]["outDir"]).glob("*-*-*-*-*.json"))
    assert len(receipts) == 3
    receipt = Receipt.from_json(receipts[0].read_bytes())
    assert receipt.version == 2
    verified = cli("verify", *receipts, "-w", local_ws)
    assert verified.code == 0, verified.out
    checkpoints = local_ws / "checkpoints.toml"
    assert cli("checkpoint", receipts[0], "-o", checkpoints, "-w", local_ws).code == 0
    offline = cli("verify", *receipts, "--offline", "--checkpoints", checkpoints, "-w", local_ws)
    assert offline.code == 0, offline.out
