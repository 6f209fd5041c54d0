"""Receipts anchored on two chains (two real Anvil nodes, chain ids 31337 and 31338): each anchor verified on
its own chain's node(s) or checkpoints, the verdicts combined by the rule of `verifier/anchors.py`, `--require`,
a node killed for good, a revocation on one chain, forged and untrusted anchors, lying nodes, the issuer's
self-check on both chains, and the audit of each chain's registry."""

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anchoring.errors import VerificationFailed
from anchoring.hashing import short
from anchoring.progress import Silent
from anchoring.sender import TxSender
from credanchor import wiring
from credanchor.web.app import create_app
from credanchor.web.settings import WebSettings
from tests.conftest import SECOND_CHAIN_ID, CliResult, Node, make_workspace, start_node, stop_node
from tests.integration.multichain import TwoChains, issue, two_chains, v3_manifest
from tests.integration.rpcproxy import rpc_proxy

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
A, B = 31337, SECOND_CHAIN_ID
DEFAULT = "required: all checked, at least 1"


@pytest.fixture
def world(cli: Cli, node: Node, second_node: Node, tmp_path: Path) -> TwoChains:
    return two_chains(cli, make_workspace(tmp_path / "ws", node), second_node.chain(), tmp_path)


@pytest.fixture
def own_second(tmp_path: Path) -> Iterator[Node]:
    """A chain 31338 node of this test's own, so that the test may kill it."""
    started = start_node("anvil", log=tmp_path / "anvil2.log", chain_id=B)
    yield started
    if started.process.poll() is None:
        stop_node(started)


def reports(result: CliResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.out.splitlines() if line.strip()]


def verify(cli: Cli, *args: Any) -> tuple[int, list[dict[str, Any]]]:
    result = cli("verify", "--json", *args)
    return result.code, reports(result)


def nodes(world: TwoChains) -> tuple[str, ...]:
    return ("--rpc-url", world.ws.config.chain.rpc_url, "--rpc-url", world.chain.url)


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_both_anchors_hold_and_each_is_listed(cli: Cli, world: TwoChains) -> None:
    code, (report,) = verify(cli, *nodes(world), "--trust", world.trust, world.receipts[0])
    assert code == 0, report
    assert report["verdict"] == "valid"
    assert report["reason"] == f"every check passed; 2 of 2 anchors hold ({DEFAULT})"
    home = json.loads(world.receipts[0].read_text())["anchor"]
    listed = [{k: v for k, v in a.items() if k != "steps"} for a in report["anchors"]]
    assert listed == [
        {
            "chainId": A,
            "registry": world.ws.config.chain.registry,
            "blockNumber": home["blockNumber"],
            "trustedAs": "Test University",
            "standing": "holds",
            "verdict": "valid",
            "reason": "every check passed",
        },
        {
            "chainId": B,
            "registry": world.registry.address,
            "blockNumber": world.anchor["blockNumber"],
            "trustedAs": "Test University",
            "standing": "holds",
            "verdict": "valid",
            "reason": "every check passed",
        },
    ]
    second = {s["name"]: s for s in report["anchors"][1]["steps"]}
    assert second["chain"]["detail"] == f"node is chain {B}"
    assert second["evidence"]["detail"].endswith("proves the anchor (block hash confirmed by the node)")
    assert second["issuer"]["detail"] == f"registry is bound to the credential's issuer {world.ws.config.issuer.id!r}"
    assert [s["name"] for s in report["steps"]][-1] == "anchors"
    assert report["steps"][0]["detail"] == "receipt matches the version 3 schema"

    code, found = verify(cli, *nodes(world), "--trust", world.trust, "--require", "2", *world.receipts)
    assert code == 0
    assert {r["reason"] for r in found} == {"every check passed; 2 of 2 anchors hold (required 2)"}

    text = cli("verify", *nodes(world), "--trust", world.trust, world.receipts[0])
    assert text.code == 0
    lines = text.out.splitlines()
    assert lines[0] == f"VALID {world.receipts[0]}: every check passed; 2 of 2 anchors hold ({DEFAULT})"
    assert f"  pass anchors    2 of 2 anchors hold ({DEFAULT})" in lines
    assert (
        f"  anchor 2 on chain {B}, block {world.anchor['blockNumber']}, registry {world.registry.address} "
        "(trusted as 'Test University'): holds: every check passed"
    ) in lines


def test_a_chain_killed_for_good_leaves_the_other_anchor_to_decide(
    cli: Cli, node: Node, own_second: Node, tmp_path: Path
) -> None:
    world = two_chains(cli, make_workspace(tmp_path / "ws", node), own_second.chain(), tmp_path)
    stop_node(own_second)
    dead = f"node at {own_second.url} did not answer (eth_chainId): connection refused or lost: not used"
    why = f"no node given is of chain {B} (they are chain {A}); {dead}"

    code, (report,) = verify(cli, *nodes(world), "--trust", world.trust, world.receipts[0])
    assert code == 0, report
    assert report["verdict"] == "valid"
    assert report["reason"] == f"every check passed; 1 of 2 anchors hold ({DEFAULT}); not checked: chain {B}: {why}"
    assert report["notes"][-2:] == [
        f"the anchor on chain {B} (registry {world.registry.address}) was not checked: {why}",
        dead,
    ]
    assert [a["standing"] for a in report["anchors"]] == ["holds", "not-checked"]
    text = cli("verify", *nodes(world), "--trust", world.trust, world.receipts[0])
    assert (
        f"  anchor 2 on chain {B}, block {world.anchor['blockNumber']}, registry {world.registry.address} (trusted "
        f"as 'Test University'): not checked: {why}"
    ) in text.out.splitlines()

    code, (report,) = verify(cli, *nodes(world), "--trust", world.trust, "--require", "2", world.receipts[0])
    assert (code, report["verdict"]) == (3, "chain-unavailable")
    assert report["reason"] == f"1 of 2 anchors hold (required 2); not checked: chain {B}: {why}"

    # The workspace's own node alone (its default) checks only its chain: the same verdicts.
    code, (report,) = verify(cli, "-w", world.ws.root, "--trust", world.trust, world.receipts[0])
    assert (code, report["verdict"]) == (0, "valid")
    assert report["anchors"][1]["reason"] == (
        f"receipt is for chain {B}, the node is chain {A}: point --rpc-url at a node of chain {B}"
    )
    assert verify(cli, "-w", world.ws.root, "--trust", world.trust, "--require", "2", world.receipts[0])[0] == 3


def test_revoked_on_the_second_chain_only_is_revoked(cli: Cli, world: TwoChains) -> None:
    doc = json.loads(world.receipts[0].read_text())
    sender = TxSender(world.chain, world.account)
    call = world.registry.contract.functions.revokeCredential(
        bytes.fromhex(doc["merkle"]["root"][2:]), bytes.fromhex(doc["merkle"]["leaf"][2:]), "issued in error"
    )
    mined = sender.wait_mined(sender.send(call).tx_hash, timeout=30)
    code, (revoked, other) = verify(cli, *nodes(world), "--trust", world.trust, *world.receipts[:2])
    assert code == 1
    assert revoked["verdict"] == "revoked"
    assert revoked["reason"] == (
        f"anchor on chain {B} (registry {world.registry.address}): credential revoked in block "
        f"{mined.block_number}: issued in error"
    )
    assert [a["verdict"] for a in revoked["anchors"]] == ["valid", "revoked"]
    assert other["verdict"] == "valid"


def test_a_forged_anchor_on_a_trusted_registry_makes_the_receipt_invalid(
    cli: Cli, world: TwoChains, tmp_path: Path
) -> None:
    doc = json.loads(world.receipts[0].read_text())
    real = world.anchor["blockNumber"]
    moved = {**doc, "additionalAnchors": [{**world.anchor, "blockNumber": real + 1}]}
    forged = write(tmp_path / "moved.json", moved)
    code, (report,) = verify(cli, *nodes(world), "--trust", world.trust, forged)
    assert (code, report["verdict"]) == (1, "invalid")
    assert report["reason"] == (
        f"anchor on chain {B} (registry {world.registry.address}): root was anchored in block {real}, receipt says "
        f"block {real + 1}"
    )
    evidence = {s["name"]: s for s in report["anchors"][1]["steps"]}["evidence"]
    assert evidence["ok"] is False
    assert evidence["detail"].startswith(f"evidence shows the root anchored in block {real} at ")
    assert [a["standing"] for a in report["anchors"]] == ["holds", "fails"]

    # Offline, the anchor's own evidence gives it away.
    checkpoints = tmp_path / "cp.toml"
    assert cli("checkpoint", world.receipts[0], "-o", checkpoints, *nodes(world)).code == 0
    code, (report,) = verify(cli, "--offline", "--checkpoints", checkpoints, "--trust", world.trust, forged)
    assert (code, report["verdict"]) == (1, "invalid")
    assert report["reason"].startswith(
        f"anchor on chain {B} (registry {world.registry.address}): evidence shows the root anchored in block {real} at "
    )
    assert report["reason"].endswith(f"; receipt says block {real + 1} at {world.anchor['timestamp']}")


def test_an_anchor_on_an_untrusted_registry_is_listed_and_not_counted(cli: Cli, world: TwoChains) -> None:
    # The workspace trusts its own registry (chain 31337) only.
    code, (report,) = verify(cli, *nodes(world), "-w", world.ws.root, world.receipts[0])
    assert (code, report["verdict"]) == (0, "valid")
    untrusted = f"chain {B} registry {world.registry.address}"
    assert report["reason"] == (
        f"every check passed; 1 of 2 anchors hold ({DEFAULT}); not on your trust list, not counted: {untrusted}"
    )
    second = report["anchors"][1]
    assert (second["standing"], second["trustedAs"], second["verdict"]) == ("not-trusted", None, "untrusted-issuer")

    code, (report,) = verify(cli, *nodes(world), "-w", world.ws.root, "--require", "2", world.receipts[0])
    assert (code, report["verdict"]) == (1, "untrusted-issuer")
    assert report["reason"] == (
        f"2 anchors required, 1 of the receipt's 2 are on registries you trust; not on your trust list, not "
        f"counted: {untrusted}"
    )
    code, (report,) = verify(cli, *nodes(world), "--trust", world.trust, "--require", "3", world.receipts[0])
    assert (code, report["verdict"], report["reason"]) == (
        1,
        "untrusted-issuer",
        "3 anchors required, the receipt has 2",
    )


def evidence_block(receipt: Path, chain_id: int) -> int:
    found = [e for e in json.loads(receipt.read_text())["evidence"] if e["chainId"] == chain_id]
    return int(found[0]["header"]["number"], 16)


def test_offline_from_one_checkpoint_file_covering_both_chains_or_one(
    cli: Cli, world: TwoChains, tmp_path: Path
) -> None:
    both = tmp_path / "both.toml"
    written = cli("checkpoint", *world.receipts, "-o", both, *nodes(world))
    assert written.code == 0, written.err
    block_a, block_b = evidence_block(world.receipts[0], A), evidence_block(world.receipts[0], B)
    assert f"chain {A} block {block_a}: 0x" in written.out
    assert f"chain {B} block {block_b}: 0x" in written.out

    code, found = verify(
        cli, "--offline", "--checkpoints", both, "--trust", world.trust, "--require", "2", *world.receipts
    )
    assert code == 0, found
    steps = {s["name"]: s["detail"] for s in found[0]["anchors"][1]["steps"]}
    assert steps["evidence"].endswith(f"(block hash confirmed by checkpoint {B}/{block_b})")
    assert f"chain {B}: revocation is known as of block {block_b}" in " ".join(found[0]["notes"])

    one = tmp_path / "one.toml"
    written = cli("checkpoint", *world.receipts, "-o", one, "--rpc-url", world.ws.config.chain.rpc_url)
    assert written.code == 3
    assert f"not recorded: chain {B} block {block_b}: no node given is of chain {B} (they are chain {A})" in written.err

    code, (report,) = verify(cli, "--offline", "--checkpoints", one, "--trust", world.trust, world.receipts[0])
    assert (code, report["verdict"]) == (0, "valid")
    code, (report,) = verify(
        cli, "--offline", "--checkpoints", one, "--trust", world.trust, "--require", "2", world.receipts[0]
    )
    assert (code, report["verdict"]) == (3, "chain-unavailable")
    evidence_hash = short(json.loads(world.receipts[0].read_text())["evidence"][1]["header"]["hash"])
    assert report["reason"] == (
        f"1 of 2 anchors hold (required 2); not checked: chain {B}: block {block_b} ({evidence_hash}) not checked: "
        f"no checkpoint for chain {B} block {block_b} (--checkpoints)"
    )


def test_a_lying_node_of_one_chain_is_outvoted_or_leaves_that_chain_unchecked(cli: Cli, world: TwoChains) -> None:
    a, b = world.ws.config.chain.rpc_url, world.chain.url
    trust = ("--trust", world.trust)
    with rpc_proxy(b) as honest, rpc_proxy(b, lie="hash") as liar, rpc_proxy(b) as also_honest:
        # Default quorum: all of chain 31338's nodes must agree, and the liar does not.
        code, (report,) = verify(cli, "--rpc-url", a, "--rpc-url", honest, "--rpc-url", liar, *trust, world.receipts[0])
        assert (code, report["verdict"]) == (0, "valid")
        assert report["anchors"][1]["standing"] == "not-checked"
        assert "nodes disagree on block" in report["anchors"][1]["reason"]
        assert "1 of 2 give the most common hash, 2 required (--quorum)" in report["anchors"][1]["reason"]
        code, (report,) = verify(
            cli, "--rpc-url", a, "--rpc-url", honest, "--rpc-url", liar, *trust, "--require", "2", world.receipts[0]
        )
        assert (code, report["verdict"]) == (3, "chain-unavailable")

        # --quorum 2 on each chain: two of three outvote the liar on 31338; 31337 has two honest nodes.
        with rpc_proxy(a) as a1, rpc_proxy(a) as a2:
            args = ("--rpc-url", a1, "--rpc-url", honest, "--rpc-url", liar, "--rpc-url", a2, "--rpc-url", also_honest)
            code, (report,) = verify(cli, *args, "--quorum", "2", *trust, "--require", "2", world.receipts[0])
        assert (code, report["verdict"]) == (0, "valid"), report
        steps = {s["name"]: s["detail"] for s in report["anchors"][1]["steps"]}
        assert steps["evidence"].endswith("(block hash confirmed by 2 of 3 nodes, 1 disagreeing)")
        # --quorum 2 with one node of 31337: that chain is not checked rather than trusted to one node.
        code, (report,) = verify(
            cli,
            "--rpc-url",
            a,
            "--rpc-url",
            honest,
            "--rpc-url",
            also_honest,
            "--quorum",
            "2",
            *trust,
            world.receipts[0],
        )
        assert (code, report["verdict"]) == (0, "valid")
        assert report["anchors"][0]["reason"] == f"--quorum 2, but 1 node of chain {A} answer"

    with rpc_proxy(b, lie="proof") as state_liar, rpc_proxy(b) as honest:
        liars = ("--rpc-url", a, "--rpc-url", state_liar, "--rpc-url", honest, *trust, "--require", "2")
        code, (report,) = verify(cli, *liars, world.receipts[0])
        assert (code, report["verdict"]) == (0, "valid"), report
        assert any(n.startswith(f"chain {B}: state of block ") for n in report["notes"]), report["notes"]
        assert any(n.endswith(f"proven from {honest}'s answers") for n in report["notes"]), report["notes"]


@pytest.mark.parametrize("value", ["0", "-2"])
def test_require_below_one_is_a_usage_error(cli: Cli, tmp_path: Path, value: str) -> None:
    receipt = write(tmp_path / "r.json", {})
    result = cli("verify", "--require", value, receipt)
    assert (result.code, result.err) == (2, f"error: --require {value}: at least 1 anchor must hold (give 1 or more)\n")


def test_the_self_check_verifies_every_anchor_on_its_chain(cli: Cli, world: TwoChains, tmp_path: Path) -> None:
    home = (wiring.issuer_chain(world.ws, None), world.ws.config.chain.registry)
    root = json.loads(world.receipts[0].read_text())["merkle"]["root"]
    check = wiring.self_check(world.ws, Silent())

    def both(paths: list[Path], root: str) -> None:
        check([str(p) for p in paths], root, [home, (world.chain, world.registry.address)], None)

    both(world.receipts, root)

    doc = json.loads(world.receipts[0].read_text())
    moved = {**doc, "additionalAnchors": [{**world.anchor, "blockNumber": world.anchor["blockNumber"] + 1}]}
    bad = write(tmp_path / "moved.json", moved)
    with pytest.raises(VerificationFailed) as failed:
        both([*world.receipts, bad], root)
    real = world.anchor["blockNumber"]
    assert str(failed.value) == (
        f"self-check failed for 1 of 4 receipts; first: {bad}: invalid: anchor on chain {B} (registry "
        f"{world.registry.address}): root was anchored in block {real}, receipt says block {real + 1}"
    )
    # A batch the self-check knows on both chains must carry both anchors.
    single = write(
        tmp_path / "single.json",
        {k: v for k, v in doc.items() if k != "additionalAnchors"}
        | {
            "version": 2,
            "evidence": [e for e in doc["evidence"] if e["chainId"] == A],
        },
    )
    with pytest.raises(VerificationFailed, match=r"untrusted-issuer: 2 anchors required, the receipt has 1$"):
        both([single], root)
    # The workspace's one chain alone (as before several chains): the second anchor is not its business.
    check([str(p) for p in world.receipts], root, [home], None)


def test_each_chains_registry_audits_clean_with_version_3_manifests(cli: Cli, world: TwoChains, tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    v3_manifest(world, folder)
    # A later batch anchored on the workspace's chain only: its manifest sits in the same folder.
    before = set(world.ws.manifests_dir.glob("*.json"))
    issue(cli, world.ws, 2, tmp_path / "later", "later.example.org")
    (later,) = set(world.ws.manifests_dir.glob("*.json")) - before
    shutil.copy(later, folder / later.name)

    second = cli(
        "audit", "--registry", world.registry.address, "--rpc-url", world.chain.url, "--manifests", folder, "--json"
    )
    assert second.code == 0, second.out
    audited = json.loads(second.out)
    assert (audited["manifests"], audited["problems"]) == (1, [])
    assert audited["notices"][-1] == (
        f"manifest {folder / later.name}: anchored in chain {A} registry {world.ws.config.chain.registry}, not in "
        "this registry; not checked here"
    )
    home = cli("audit", "--manifests", folder, "-w", world.ws.root, "--json")
    assert home.code == 0, home.out
    assert json.loads(home.out)["manifests"] == 2

    # The version 3 manifest names the second chain's anchor wrongly: that registry's audit says so.
    v3 = folder / next(p.name for p in before)
    document = json.loads(v3.read_text())
    document["additionalAnchors"][0]["blockNumber"] += 1
    v3.write_text(json.dumps(document))
    wrong = cli("audit", "--registry", world.registry.address, "--rpc-url", world.chain.url, "--manifests", folder)
    assert wrong.code == 1
    assert f"manifest names tx {short(world.anchor['txHash'])} in block {world.anchor['blockNumber'] + 1}" in " ".join(
        wrong.out.split()
    )


def test_the_web_verifier_checks_the_anchors_it_has_a_node_for(world: TwoChains) -> None:
    settings = WebSettings(workspace=str(world.ws.root), trust_file=str(world.trust))
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/api/v1/verify", content=world.receipts[0].read_bytes(), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 200
        report = answer.json()
        assert report["verdict"] == "valid"
        assert [a["standing"] for a in report["anchors"]] == ["holds", "not-checked"]
        page = client.post("/verify", files={"file": ("receipt.json", world.receipts[0].read_bytes())})
    assert page.status_code == 200
    assert "<h3>Anchors</h3>" in page.text
    assert f"Chain {B}, block {world.anchor['blockNumber']}" in page.text
    assert "Not checked" in page.text


def test_refresh_brings_each_anchors_evidence_up_to_date_on_its_own_chain(
    cli: Cli, world: TwoChains, tmp_path: Path
) -> None:
    receipt = world.receipts[0]
    issued = json.loads(receipt.read_text())
    doc = issued["merkle"]
    sender = TxSender(world.chain, world.account)
    call = world.registry.contract.functions.revokeCredential(
        bytes.fromhex(doc["root"][2:]), bytes.fromhex(doc["leaf"][2:]), "issued in error"
    )
    mined = sender.wait_mined(sender.send(call).tx_hash, timeout=30)

    only_home = cli("refresh", receipt, "--rpc-url", world.ws.config.chain.rpc_url)
    assert only_home.code == 0, only_home.err
    assert f"  chain {B}: not refreshed (no node given is of chain {B} (they are chain {A}))" in only_home.out
    assert [e["chainId"] for e in json.loads(receipt.read_text())["evidence"]] == [B, A, A]

    done = cli("refresh", receipt, *nodes(world))
    assert done.code == 0, done.err
    assert f"{receipt}: evidence of block " in done.out
    assert f"; it was revoked in block {mined.block_number} (" in done.out
    refreshed = json.loads(receipt.read_text())
    assert refreshed["version"] == 3
    assert refreshed["additionalAnchors"] == issued["additionalAnchors"]
    assert [e["chainId"] for e in refreshed["evidence"]] == [A, A, B, B]
    assert refreshed["evidence"][0] == issued["evidence"][0]
    assert refreshed["evidence"][2] == issued["evidence"][1]

    checkpoints = tmp_path / "cp.toml"
    assert cli("checkpoint", receipt, "-o", checkpoints, *nodes(world)).code == 0
    code, (report,) = verify(cli, "--offline", "--checkpoints", checkpoints, "--trust", world.trust, receipt)
    assert (code, report["verdict"]) == (1, "revoked")
    assert report["reason"].startswith(f"anchor on chain {B} (registry {world.registry.address}): credential revoked")
