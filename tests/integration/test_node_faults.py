"""Node faults and transaction trouble on real Anvil nodes: stuck transactions, a node that goes away (and
comes back), reorganisations, and two issuers sharing one key."""

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anchoring.chain import Chain
from issuer.store import State, Store
from issuer.workspace import Workspace
from tests.conftest import Node, issue_killed_at, make_workspace, people, start_node, stop_node, write_csv
from tests.integration.invariants import check_finished

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.fixture
def own_node(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """Start Anvil nodes of the test's own (flags, state file, fixed port); all stopped at the end."""
    started: list[Node] = []

    def start(*extra: str, port: int | None = None) -> Node:
        node = start_node("anvil", *extra, log=tmp_path / "anvil.log", port=port)
        started.append(node)
        return node

    yield start
    for node in started:
        if node.process.poll() is None:
            stop_node(node)


def issue(ws: Workspace, csv: Path) -> subprocess.Popen[bytes]:
    """`credanchor issue CSV` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "credanchor", "issue", str(csv), "--achievement", "example", "-w", str(ws.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def cli(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credanchor", *args, "-w", str(ws.root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def attempts(ws: Workspace) -> list[tuple[str, int, int]]:
    store = Store(ws.database_url)
    try:
        return [(a.tx_hash, a.nonce, int(a.max_fee)) for b in store.batches() for a in store.attempts(b.id or 0)]
    finally:
        store.close()


def finish(process: subprocess.Popen[bytes], timeout: float = 120) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, (out + err).decode(errors="replace")


def all_receipts_valid(ws: Workspace) -> None:
    files = sorted(ws.receipts_dir.rglob("*-*-*-*-*.json"))
    result = cli(ws, "verify", "--json", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {json.loads(line)["verdict"] for line in result.stdout.splitlines()} == {"valid"}


def test_stuck_transaction_is_replaced_with_bumped_fees_at_the_same_nonce(
    tmp_path: Path, own_node: Callable[..., Node]
) -> None:
    node = own_node()
    ws = make_workspace(tmp_path / "ws", node).set("chain", "replace_after", 2.0)
    node.rpc("evm_setAutomine", False)
    process = issue(ws, write_csv(tmp_path / "records.csv", people(20)))
    wait_until(lambda: len(attempts(ws)) >= 2, 60, "a replacement transaction")
    # An attempt is recorded before it is sent: mine only once the node holds the replacement, or the block
    # could take the first transaction (seen once in a fresh clone's run).
    sent = attempts(ws)[-1][0]
    wait_until(lambda: node.rpc("eth_getTransactionByHash", sent) is not None, 60, "the replacement sent")
    node.rpc("evm_mine")
    code, text = finish(process)
    assert code == 0, text
    tried = attempts(ws)
    first, replacement = tried[0], tried[-1]
    assert replacement[1] == first[1], "a replacement must reuse the nonce"
    assert replacement[2] >= first[2] * 125 // 100
    chain = node.chain()
    (batch,) = Store(ws.database_url).batches()
    assert batch.tx_hash in [t[0] for t in tried[1:]]
    assert chain.w3.eth.get_transaction_receipt(batch.tx_hash)["status"] == 1  # type: ignore[arg-type]
    assert check_finished(ws, chain, 1, 20) == []
    node.rpc("evm_setAutomine", True)
    all_receipts_valid(ws)


def lose_node_while_pending(
    tmp_path: Path, own_node: Callable[..., Node], node_deadline: float
) -> tuple[Node, Path, Workspace, subprocess.Popen[bytes]]:
    """Start `issue` against a node that does not mine, then stop the node once the transaction is sent."""
    state = tmp_path / "state.json"
    node = own_node("--state", str(state))
    ws = make_workspace(tmp_path / "ws", node).set("chain", "node_deadline", node_deadline)
    node.rpc("evm_setAutomine", False)
    process = issue(ws, write_csv(tmp_path / "records.csv", people(20)))
    wait_until(lambda: len(attempts(ws)) >= 1, 60, "the anchoring transaction")
    stop_node(node)  # clean stop: Anvil saves its state, but the pending transaction is gone with the pool
    return node, state, ws, process


def test_node_lost_while_waiting_comes_back_before_the_deadline(tmp_path: Path, own_node: Callable[..., Node]) -> None:
    node, state, ws, process = lose_node_while_pending(tmp_path, own_node, 60.0)
    time.sleep(3)
    own_node("--state", str(state), port=node.port)
    code, text = finish(process)
    assert code == 0, text
    assert check_finished(ws, node.chain(), 1, 20) == []
    all_receipts_valid(ws)


def test_node_lost_past_the_deadline_leaves_a_resumable_batch(tmp_path: Path, own_node: Callable[..., Node]) -> None:
    node, state, ws, process = lose_node_while_pending(tmp_path, own_node, 2.0)
    code, text = finish(process)
    assert code == 3, text
    assert "gave up after 2 s. Batch 1 is saved as submitted: run `credanchor resume` when the node is back" in text
    (batch,) = Store(ws.database_url).batches()
    assert batch.state == State.SUBMITTED
    assert list(ws.receipts_dir.rglob("*.json")) == []

    own_node("--state", str(state), port=node.port)
    resumed = cli(ws, "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed and finished batch 1" in resumed.stdout
    assert check_finished(ws, node.chain(), 1, 20) == []
    all_receipts_valid(ws)


def test_restarted_node_keeps_the_mined_anchor_and_resume_finds_it(
    tmp_path: Path, own_node: Callable[..., Node]
) -> None:
    state = tmp_path / "state.json"
    node = own_node("--state", str(state))
    ws = make_workspace(tmp_path / "ws", node)
    issue_killed_at(ws, write_csv(tmp_path / "r.csv", people(20)), "sent")
    (batch,) = Store(ws.database_url).batches()
    sent_tx = batch.tx_hash
    stop_node(node)
    own_node("--state", str(state), port=node.port)
    resumed = cli(ws, "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (batch,) = Store(ws.database_url).batches()
    assert batch.tx_hash == sent_tx
    assert len(attempts(ws)) == 1
    assert check_finished(ws, node.chain(), 1, 20) == []


def test_reorganised_anchor_is_found_again_and_receipts_name_the_final_block(
    tmp_path: Path, own_node: Callable[..., Node]
) -> None:
    node = own_node()
    ws = make_workspace(tmp_path / "ws", node).set("chain", "confirmations", 3)
    chain = node.chain()
    registry = chain.registry(ws.config.chain.registry)
    snapshot = node.rpc("evm_snapshot")
    start = chain.block_number()
    process = issue(ws, write_csv(tmp_path / "records.csv", people(20)))

    def anchored() -> list[object]:
        return [e for e in registry.events(start, chain.block_number()) if e.name == "Anchored"]

    wait_until(lambda: bool(anchored()), 60, "the first anchor")
    (first,) = anchored()
    assert node.rpc("evm_revert", snapshot) is True  # the anchoring block is gone
    assert anchored() == []
    stop = threading.Event()

    def miner() -> None:
        while not stop.is_set():
            node.rpc("evm_mine")
            time.sleep(0.3)

    thread = threading.Thread(target=miner, daemon=True)
    thread.start()
    try:
        code, text = finish(process)
    finally:
        stop.set()
        thread.join()
    assert code == 0, text
    (batch,) = Store(ws.database_url).batches()
    (final,) = anchored()
    assert (batch.block_number, batch.block_hash) == (final.block_number, final.block_hash)  # type: ignore[attr-defined]
    assert final.block_hash != first.block_hash  # type: ignore[attr-defined]
    assert chain.block_number() - batch.block_number + 1 >= 3  # type: ignore[operator]
    assert check_finished(ws, chain, 1, 20) == []
    all_receipts_valid(ws)


def test_two_issuers_with_one_key_at_once(tmp_path: Path, node: Node, chain: Chain) -> None:
    ws = make_workspace(tmp_path / "ws", node)
    first = issue(ws, write_csv(tmp_path / "a.csv", people(300, "a.example.org")))
    second = issue(ws, write_csv(tmp_path / "b.csv", people(300, "b.example.org")))
    for process in (first, second):
        code, text = finish(process)
        assert code == 0, text
    nonces = sorted(n for _, n, _ in attempts(ws))
    assert len(set(nonces)) == len(nonces) == 2
    assert check_finished(ws, chain, 2, 600) == []


def test_reorg_deeper_than_the_confirmations_is_caught_before_delivery(
    tmp_path: Path, own_node: Callable[..., Node]
) -> None:
    node = own_node()
    ws = make_workspace(tmp_path / "ws", node)
    snapshot = node.rpc("evm_snapshot")
    issue_killed_at(ws, write_csv(tmp_path / "records.csv", people(20)), "receipts-written")
    (before,) = Store(ws.database_url).batches()
    assert before.state == State.CONFIRMED
    assert node.rpc("evm_revert", snapshot) is True  # the confirmed anchor is gone
    node.rpc("evm_mine")
    node.rpc("evm_mine")
    resumed = cli(ws, "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (after,) = Store(ws.database_url).batches()
    assert (after.block_number, after.block_hash) != (before.block_number, before.block_hash)
    assert check_finished(ws, node.chain(), 1, 20) == []
    all_receipts_valid(ws)
