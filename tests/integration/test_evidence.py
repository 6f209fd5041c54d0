"""Receipts that outlive the node: version 2 evidence, checkpoints, offline verification, and several nodes
that must agree (one of them lying, through a proxy in front of a real Anvil node)."""

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anchoring.hashing import short
from issuer.workspace import Workspace
from tests.conftest import CliResult, Node, make_workspace, people, start_node, stop_node, write_csv
from tests.integration.rpcproxy import FAKE_HASH, rpc_proxy
from tests.integration.storerows import credential_rows

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


@pytest.fixture
def own_node(tmp_path: Path) -> Iterator[Node]:
    """A node of this test's own, so that the test may stop it."""
    started = start_node("anvil", log=tmp_path / "anvil.log")
    yield started
    if started.process.poll() is None:
        stop_node(started)


def issue(cli: Cli, ws: Workspace, n: int = 4) -> list[Path]:
    csv = write_csv(ws.root / "records.csv", people(n))
    out = ws.root / "out"
    result = cli("issue", csv, "--achievement", "example", "--out", out, "-w", ws.root)
    assert result.code == 0, result.err
    return sorted(out.glob("*-*-*-*-*.json"))


def trust_file(ws: Workspace, tmp_path: Path) -> Path:
    path = tmp_path / "trust.toml"
    path.write_text(
        f'[[registry]]\nname = "Test University"\nchain_id = 31337\naddress = "{ws.config.chain.registry}"\n'
        f'issuer_id = "{ws.config.issuer.id}"\n'
    )
    return path


def reports(result: CliResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.out.splitlines() if line.strip()]


def evidence_block(receipt: Path) -> int:
    return int(json.loads(receipt.read_text())["evidence"][0]["header"]["number"], 16)


def test_a_receipt_verifies_offline_after_its_node_is_gone(cli: Cli, own_node: Node, tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", own_node)
    files = issue(cli, ws)
    doc = json.loads(files[0].read_text())
    assert doc["version"] == 2
    block = evidence_block(files[0])
    assert block >= doc["anchor"]["blockNumber"]
    checkpoints = tmp_path / "checkpoints.toml"
    written = cli("checkpoint", *files, "-o", checkpoints, "--rpc-url", own_node.url)
    assert written.code == 0, written.err
    assert f"chain 31337 block {block}: 0x" in written.out
    stop_node(own_node)

    trust = trust_file(ws, tmp_path)
    result = cli("verify", "--json", "--offline", "--checkpoints", checkpoints, "--trust", trust, *files)
    assert result.code == 0, result.out + result.err
    (first, *_) = found = reports(result)
    assert {r["verdict"] for r in found} == {"valid"}
    steps = {s["name"]: s for s in first["steps"]}
    assert steps["evidence"]["detail"].startswith(f"state of block {block} (")
    assert steps["evidence"]["detail"].endswith(f"proves the anchor (block hash confirmed by checkpoint 31337/{block})")
    assert steps["anchor"]["detail"].startswith(f"anchored in block {doc['anchor']['blockNumber']} (")
    assert "the transaction is not part of the evidence" in steps["anchor"]["detail"]
    assert steps["issuer"]["ok"] is True
    assert steps["signature"]["ok"] is True
    assert any(f"revocation is known as of block {block}" in note for note in first["notes"])

    text = cli("verify", "--offline", "--checkpoints", checkpoints, "--trust", trust, files[0])
    assert text.code == 0
    assert "cannot be known without a node" in text.out


def test_offline_without_a_checkpoint_for_the_block_is_unavailable_and_a_wrong_one_invalid(
    cli: Cli, workspace: Workspace, tmp_path: Path
) -> None:
    files = issue(cli, workspace, 2)
    block = evidence_block(files[0])
    other = tmp_path / "other.toml"
    other.write_text(f'[[checkpoint]]\nchain_id = 31337\nnumber = {block + 1000}\nhash = "{FAKE_HASH}"\n')
    result = cli("verify", "--json", "--offline", "--checkpoints", other, files[0])
    assert result.code == 3
    (report,) = reports(result)
    assert report["verdict"] == "chain-unavailable"
    assert report["reason"].endswith(f"not checked: no checkpoint for chain 31337 block {block} (--checkpoints)")

    wrong = tmp_path / "wrong.toml"
    wrong.write_text(f'[[checkpoint]]\nchain_id = 31337\nnumber = {block}\nhash = "{FAKE_HASH}"\n')
    result = cli("verify", "--json", "--offline", "--checkpoints", wrong, files[0])
    assert result.code == 1
    (report,) = reports(result)
    assert report["verdict"] == "invalid"
    assert report["reason"].endswith(f", but checkpoint 31337/{block} gives hash {short(FAKE_HASH)}")


def forged(doc: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(doc)
    change(copied["evidence"][0])
    return copied


def flip_last_node(evidence: dict[str, Any]) -> None:
    node = evidence["nodes"][-1]
    evidence["nodes"][-1] = node[:-2] + ("00" if node[-2:] != "00" else "01")


def test_forged_evidence_is_rejected_online_and_offline(cli: Cli, workspace: Workspace, tmp_path: Path) -> None:
    files = issue(cli, workspace, 2)
    doc = json.loads(files[0].read_text())
    block = evidence_block(files[0])
    checkpoints = tmp_path / "cp.toml"
    assert cli("checkpoint", files[0], "-o", checkpoints, "-w", workspace.root).code == 0
    cases = {
        "node": (forged(doc, flip_last_node), "does not lead from root"),
        "header": (
            forged(doc, lambda e: e["header"].update(timestamp=hex(int(e["header"]["timestamp"], 16) + 1))),
            "evidence header: block header hashes to 0x",
        ),
        "unknown field": (
            forged(doc, lambda e: e["header"].update(verkleRoot="0x" + "00" * 32)),
            "evidence header: block header has fields this verifier does not know: verkleRoot",
        ),
        "other registry": (
            forged(doc, lambda e: e.update(registry="0x" + "11" * 20)),
            "no evidence for the anchor's registry",
        ),
        "dropped nodes": (forged(doc, lambda e: e.update(nodes=e["nodes"][:2])), "does not lead from root"),
    }
    for name, (document, reason) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_text(json.dumps(document))
        for mode in (("-w", workspace.root), ("--offline", "--checkpoints", checkpoints)):
            result = cli("verify", "--json", *mode, path)
            (report,) = reports(result)
            assert (report["verdict"], result.code) == ("invalid", 1), (name, mode, report)
            assert reason in report["reason"], (name, mode, report["reason"])
    assert block > 0


def test_several_nodes_outvote_one_that_lies_about_hashes(cli: Cli, workspace: Workspace, tmp_path: Path) -> None:
    files = issue(cli, workspace, 2)
    trust = trust_file(workspace, tmp_path)
    url = workspace.config.chain.rpc_url
    with rpc_proxy(url) as honest, rpc_proxy(url) as also_honest, rpc_proxy(url, lie="hash") as liar:
        three = ("--rpc-url", honest, "--rpc-url", liar, "--rpc-url", also_honest)
        result = cli("verify", "--json", *three, "--quorum", "2", "--trust", trust, files[0])
        assert result.code == 0, result.out + result.err
        (report,) = reports(result)
        steps = {s["name"]: s["detail"] for s in report["steps"]}
        assert steps["evidence"].endswith("(block hash confirmed by 2 of 3 nodes, 1 disagreeing)")

        two = ("--rpc-url", honest, "--rpc-url", liar)
        result = cli("verify", "--json", *two, "--quorum", "2", "--trust", trust, files[0])
        assert result.code == 3
        (report,) = reports(result)
        assert report["verdict"] == "chain-unavailable"
        assert "nodes disagree on block" in report["reason"]
        assert "1 of 2 give the most common hash, 2 required (--quorum)" in report["reason"]


def test_a_node_that_lies_about_state_is_caught_by_the_proof(cli: Cli, workspace: Workspace, tmp_path: Path) -> None:
    files = issue(cli, workspace, 2)
    trust = trust_file(workspace, tmp_path)
    url = workspace.config.chain.rpc_url
    with rpc_proxy(url, lie="proof") as liar, rpc_proxy(url) as honest:
        result = cli("verify", "--json", "--rpc-url", liar, "--rpc-url", honest, "--trust", trust, files[0])
        assert result.code == 0, result.out + result.err
        (report,) = reports(result)
        assert report["verdict"] == "valid"
        assert any(note.endswith(f"proven from {honest}'s answers") for note in report["notes"]), report["notes"]

    with rpc_proxy(url, lie="proof") as liar, rpc_proxy(url, lie="proof") as other_liar:
        result = cli("verify", "--json", "--rpc-url", liar, "--rpc-url", other_liar, "--trust", trust, files[0])
        (report,) = reports(result)
        # The hashes agree, so the evidence stands; no fresher state could be proven, and the report says so.
        assert report["verdict"] == "valid"
        assert any(
            note.startswith("no fresher state could be proven: no node gave state proofs") for note in report["notes"]
        )


def test_a_revocation_after_issuing_is_seen_by_agreeing_nodes_but_not_offline(
    cli: Cli, workspace: Workspace, tmp_path: Path
) -> None:
    files = issue(cli, workspace, 2)
    trust = trust_file(workspace, tmp_path)
    checkpoints = tmp_path / "cp.toml"
    assert cli("checkpoint", files[0], "-o", checkpoints, "-w", workspace.root).code == 0
    credential_id = json.loads(files[0].read_text())["credential"]["id"]
    revoked = cli("revoke", credential_id, "--reason", "issued in error", "-w", workspace.root)
    assert revoked.code == 0, revoked.err
    url = workspace.config.chain.rpc_url
    with rpc_proxy(url) as one, rpc_proxy(url) as two:
        result = cli("verify", "--json", "--rpc-url", one, "--rpc-url", two, "--trust", trust, files[0])
    (report,) = reports(result)
    assert report["verdict"] == "revoked"
    assert report["reason"].startswith("credential revoked in block ")

    offline = cli("verify", "--json", "--offline", "--checkpoints", checkpoints, "--trust", trust, files[0])
    (report,) = reports(offline)
    assert report["verdict"] == "valid"
    assert any("cannot be known without a node" in note for note in report["notes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--offline",), "--offline needs --checkpoints FILE: the block hashes you trust"),
        (("--offline", "--checkpoints", "cp.toml", "--rpc-url", "http://127.0.0.1:1"), "--offline asks no node"),
        (("--checkpoints", "cp.toml"), "--checkpoints is for --offline verification"),
        (("--rpc-url", "http://127.0.0.1:1", "--quorum", "2"), "--quorum needs at least two --rpc-url"),
        (
            ("--rpc-url", "http://127.0.0.1:1", "--rpc-url", "http://127.0.0.1:1"),
            "the same --rpc-url is given twice: a node cannot outvote itself",
        ),
        (
            ("--rpc-url", "http://127.0.0.1:1", "--rpc-url", "http://127.0.0.1:2", "--quorum", "3"),
            "--quorum 3 needs 1 to 2 (the --rpc-url count)",
        ),
    ],
)
def test_verify_options_that_do_not_fit_together(cli: Cli, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "cp.toml").write_text("checkpoint = []\n")
    receipt = tmp_path / "r.json"
    receipt.write_text("{}")
    result = cli("verify", *[str(tmp_path / a) if a == "cp.toml" else a for a in args], receipt)
    assert result.code == 2
    assert message in result.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[checkpoint]]\nchain_id = 1\nnumber = 5\n", "checkpoint 1 must have chain_id (integer > 0), number"),
        ('[[checkpoint]]\nchain_id = 1\nnumber = -1\nhash = "0x' + "00" * 32 + '"\n', "checkpoint 1 must have"),
        ('[[checkpoint]]\nchain_id = 1\nnumber = 5\nhash = "0x12"\n', "checkpoint 1 must have"),
        ("checkpoint = 5\n", "needs a list 'checkpoint' of {chain_id, number, hash}"),
        (
            '[[checkpoint]]\nchain_id = 1\nnumber = 5\nhash = "0x' + "00" * 32 + '"\n'
            '[[checkpoint]]\nchain_id = 1\nnumber = 5\nhash = "0x' + "11" * 32 + '"\n',
            "checkpoints 2 and an earlier one give chain 1 block 5 two hashes",
        ),
    ],
)
def test_bad_checkpoint_files_are_refused_with_the_reason(cli: Cli, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cp.toml"
    path.write_text(content)
    receipt = tmp_path / "r.json"
    receipt.write_text("{}")
    result = cli("verify", "--offline", "--checkpoints", path, receipt)
    assert result.code == 2
    assert message in result.err


def test_refresh_adds_newer_evidence_so_offline_verification_sees_a_later_revocation(
    cli: Cli, workspace: Workspace, tmp_path: Path
) -> None:
    files = issue(cli, workspace, 2)
    trust = trust_file(workspace, tmp_path)
    issued_with = json.loads(files[0].read_text())["evidence"][0]
    credential_id = json.loads(files[0].read_text())["credential"]["id"]
    assert cli("revoke", credential_id, "--reason", "issued in error", "-w", workspace.root).code == 0
    url = workspace.config.chain.rpc_url
    with rpc_proxy(url) as one, rpc_proxy(url, lie="proof") as liar, rpc_proxy(url) as two:
        done = cli("refresh", files[0], files[1], "--rpc-url", liar, "--rpc-url", one, "--rpc-url", two)
    assert done.code == 0, done.err
    assert f"{files[0]}: evidence of block " in done.out
    assert "; it was revoked in block " in done.out
    refreshed = json.loads(files[0].read_text())
    assert "additionalAnchors" not in refreshed  # a version 2 receipt stays one, with no empty member
    assert refreshed["evidence"][0] == issued_with
    assert len(refreshed["evidence"]) == 2
    newer = int(refreshed["evidence"][1]["header"]["number"], 16)

    checkpoints = tmp_path / "cp.toml"
    assert cli("checkpoint", files[0], "-o", checkpoints, "-w", workspace.root).code == 0
    result = cli("verify", "--json", "--offline", "--checkpoints", checkpoints, "--trust", trust, *files)
    first, second = reports(result)
    assert first["verdict"] == "revoked"
    assert first["reason"].startswith("credential revoked in block ")
    assert any(f"revocation is known as of block {newer}" in note for note in first["notes"])
    assert second["verdict"] == "valid"

    again = cli("refresh", files[0], "-w", workspace.root)
    assert again.code == 0, again.err
    assert len(json.loads(files[0].read_text())["evidence"]) == 2  # the newer entry is replaced, not stacked


def test_refresh_refuses_a_receipt_that_does_not_check_out(cli: Cli, workspace: Workspace, tmp_path: Path) -> None:
    files = issue(cli, workspace, 2)
    doc = json.loads(files[0].read_text())
    doc["credential"]["name"] = "Something else"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    result = cli("refresh", tampered, "-w", workspace.root)
    assert result.code == 2
    assert "the receipt does not check out on its own (digest: credential hashes to" in result.err
    assert json.loads(tampered.read_text()) == doc


def test_state_proofs_that_do_not_prove_themselves_are_asked_again_then_refused(cli: Cli, workspace: Workspace) -> None:
    from anchoring.chain import Chain
    from anchoring.errors import ChainUnavailable
    from issuer.evidence import COLLECT_TRIES, gather
    from issuer.store import Store

    issue(cli, workspace, 2)
    (batch,) = Store(workspace.database_url).batches()
    rows = credential_rows(Store(workspace.database_url), batch.id or 0)
    url = workspace.config.chain.rpc_url
    with rpc_proxy(url, lie="proof", times=1) as once:
        chain = Chain(once)
        gathered = gather(
            chain, chain.registry(batch.registry_address), batch.root, [r[2] for r in rows], rows[0][3], lambda _: None
        )
    assert gathered is not None  # the second answer proved itself (collect checks it before handing it out)
    with rpc_proxy(url, lie="proof") as always:
        chain = Chain(always)
        with pytest.raises(ChainUnavailable) as refused:
            gather(
                chain,
                chain.registry(batch.registry_address),
                batch.root,
                [r[2] for r in rows],
                rows[0][3],
                lambda _: None,
            )
    assert str(refused.value).startswith(
        f"node at {always} gave state proofs for registry {batch.registry_address} that do not prove themselves, "
        f"{COLLECT_TRIES} times (last: "
    )
    assert str(refused.value).endswith("nothing was written: run `credanchor resume`, or use another node")


def test_proofs_from_different_states_of_the_registry_are_asked_again(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen under four issuing processes on one Anvil node: a leaf's proof from another storage root than the
    # shared part's, so that receipt's evidence did not prove its leaf.
    from anchoring import evidencecollect
    from anchoring.chain import Chain
    from anchoring.errors import ChainUnavailable
    from anchoring.evidence import prove_state
    from anchoring.hashing import to_hex
    from anchoring.multibase import decode_multikey
    from anchoring.receipt import Evidence
    from issuer.store import Store

    issue(cli, workspace, 3)
    store = Store(workspace.database_url)
    (batch,) = store.batches()
    rows = credential_rows(store, batch.id or 0)
    leaves = [row[2] for row in rows]
    method = json.loads(rows[0][3])["proof"][0]["verificationMethod"]
    keys = [to_hex(decode_multikey(method.partition("#")[2]))]
    chain = Chain(workspace.config.chain.rpc_url or "")
    real = evidencecollect._proof
    moved = {"times": 1}

    def answer(chain: Chain, registry: str, slots: Any, block: int) -> dict[str, Any]:
        found = real(chain, registry, slots, block)
        if len(slots) == len(leaves) and moved["times"] > 0:  # the leaves' chunk
            moved["times"] -= 1
            found = {**found, "storageHash": "0x" + "ee" * 32}
        return found

    monkeypatch.setattr(evidencecollect, "_proof", answer)
    monkeypatch.setattr(evidencecollect._Nodes, "proof", lambda self, root, key: None)  # every leaf asked
    gathered = evidencecollect.collect(chain, batch.registry_address, batch.root, leaves, keys, batch.block_number or 0)
    assert gathered.fallback_note is not None
    assert "disagreed on the registry's state" in gathered.fallback_note
    for leaf in leaves:
        prove_state(Evidence.model_validate(gathered.for_leaf(leaf)), root=batch.root, leaf=leaf, public_keys=keys)
    moved["times"] = 99
    with pytest.raises(ChainUnavailable) as refused:
        evidencecollect.collect(chain, batch.registry_address, batch.root, leaves, keys, batch.block_number or 0)
    assert str(refused.value).endswith(
        f"gave proofs from different states of the registry {evidencecollect.ATTEMPTS} times"
    )


def test_leaf_proofs_walked_over_the_nodes_given_are_the_nodes_own_answers(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each leaf's revocation proof is walked over the storage-trie nodes the node has already given, and asked
    only where one is missing: the proofs are the ones `eth_getProof` gives, in a trie with revoked leaves."""
    import secrets

    from anchoring import evidencecollect
    from anchoring.chain import Chain
    from anchoring.evidencecollect import _Nodes, _proof, collect
    from anchoring.hashing import keccak256, to_hex
    from anchoring.multibase import decode_multikey
    from issuer.store import Store

    for i, count in enumerate((5, 40)):
        csv = write_csv(workspace.root / f"records-{i}.csv", people(count, f"b{i}.example.org"))
        assert cli("issue", csv, "--achievement", "example", "-w", workspace.root).code == 0
    store = Store(workspace.database_url)
    batches = store.batches()
    first = credential_rows(store, batches[0].id or 0)
    chain = Chain(workspace.config.chain.rpc_url or "")
    keys = [to_hex(decode_multikey(json.loads(first[0][3])["proof"][0]["verificationMethod"].partition("#")[2]))]
    asked: list[int] = []
    real = evidencecollect._proof

    def counted(chain: Chain, registry: str, slots: Any, block: int) -> dict[str, Any]:
        asked.append(len(slots))
        return real(chain, registry, slots, block)

    monkeypatch.setattr(evidencecollect, "_proof", counted)
    monkeypatch.setattr(evidencecollect, "LEAF_CHUNK", 5)
    leaves = [row[2] for row in credential_rows(store, batches[1].id or 0)]
    collect(chain, batches[1].registry_address, batches[1].root, leaves, keys, chain.block_number())
    # The storage trie of a registry with no leaf revoked is a few dozen nodes: once some leaves have been
    # asked, the other leaves' paths are walked over the nodes given (at a million leaves, after the first
    # chunk of 1,000 nearly always).
    assert asked.count(5) < 8
    for row in first[:3]:  # revoked leaves make the storage trie deeper than the anchors alone
        assert cli("revoke", row[0], "--reason", "issued in error", "-w", workspace.root).code == 0
    registry = batches[0].registry_address
    block = chain.block_number()
    slots = [secrets.token_bytes(32) for _ in range(150)]
    answer = _proof(chain, registry, slots, block)
    known = _Nodes([node for entry in answer["storageProof"] for node in entry["proof"]])
    trie_root = bytes.fromhex(answer["storageHash"][2:])
    for slot, entry in zip(slots, answer["storageProof"], strict=True):
        assert known.proof(trie_root, keccak256(slot)) == tuple(entry["proof"])
    assert _Nodes().proof(trie_root, keccak256(slots[0])) is None  # a missing node: asked of the node
    walking, plain_asks = 0, 0
    for batch in batches:
        leaves = [row[2] for row in credential_rows(store, batch.id or 0)]
        asked.clear()
        walked = collect(chain, registry, batch.root, leaves, keys, block)
        walking += asked.count(5)
        asked.clear()
        with monkeypatch.context() as every_leaf_asked:
            every_leaf_asked.setattr(_Nodes, "proof", lambda self, root, key: None)
            plain = collect(chain, registry, batch.root, leaves, keys, block)
        plain_asks += asked.count(5)
        assert (walked.by_leaf, walked.shared, walked.header) == (plain.by_leaf, plain.shared, plain.header)
    assert plain_asks == 1 + 8  # every chunk of five leaves
    assert walking < plain_asks
