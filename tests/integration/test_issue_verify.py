"""The whole path on a real node, through the CLI as a registrar, a verifier and an auditor use it."""

import copy
import json
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from anchoring.chain import Chain
from anchoring.dataintegrity import OwnSignatures
from anchoring.hashing import to_hex
from anchoring.merkle import MerkleTree
from anchoring.sender import TxSender
from issuer.receipts import ChunkCheck
from issuer.store import State, Store
from issuer.workspace import Workspace
from tests.conftest import CliResult, Node, deploy, funded, issue_killed_at, people, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


def issue(
    cli: Cli, ws: Workspace, rows: list[dict[str, str]], *extra: str, name: str = "records.csv"
) -> tuple[CliResult, Path]:
    csv = write_csv(ws.root / name, rows)
    out = ws.root / f"out-{name}"
    result = cli("issue", csv, "--achievement", "example", "--out", out, "-w", ws.root, *extra)
    return result, out


def receipts(out: Path) -> list[Path]:
    return sorted(out.glob("*.json"))


def verify_json(cli: Cli, *args: str | Path) -> tuple[int, list[dict[str, Any]]]:
    result = cli("verify", "--json", *args)
    return result.code, [json.loads(line) for line in result.out.splitlines() if line.strip()]


@pytest.fixture
def issued(cli: Cli, workspace: Workspace) -> tuple[Workspace, Path]:
    rows = [
        {
            **p,
            "credits_earned": "2",
            "result": "A",
            "evidence_url": f"https://ex.org/{i}",
            "evidence_narrative": "Project",
        }
        for i, p in enumerate(people(25))
    ]
    result, out = issue(cli, workspace, rows)
    assert result.code == 0, result.err
    return workspace, out


def test_issue_writes_one_verified_receipt_per_record_and_a_manifest(
    cli: Cli, issued: tuple[Workspace, Path], chain: Chain
) -> None:
    ws, out = issued
    files = receipts(out)
    assert len(files) == 25
    store = Store(ws.database_url)
    (batch,) = store.batches()
    assert batch.state == State.DELIVERED
    assert batch.count == 25
    manifests = list((out / "manifest").glob("*.json")) + list(ws.manifests_dir.glob("*.json"))
    assert len(manifests) == 2
    manifest = json.loads(manifests[0].read_text())
    assert manifest["root"] == batch.root
    assert "person0@example.org" not in manifests[0].read_text()
    assert to_hex(MerkleTree.build([bytes.fromhex(d[2:]) for d in manifest["digests"]]).root) == batch.root

    code, reports = verify_json(cli, *files, "-w", ws.root)
    assert code == 0
    assert [r["verdict"] for r in reports] == ["valid"] * 25
    registry = chain.registry(ws.config.chain.registry)
    for path in files[:5]:
        receipt = json.loads(path.read_text())
        assert registry.is_valid_on_chain(receipt["merkle"]["root"], receipt["digest"], receipt["merkle"]["proof"])


def test_running_the_same_issue_again_anchors_nothing_new(
    cli: Cli, issued: tuple[Workspace, Path], chain: Chain
) -> None:
    ws, out = issued
    registry = chain.registry(ws.config.chain.registry)
    before = list(registry.events(0, chain.block_number()))
    result = cli("issue", ws.root / "records.csv", "--achievement", "example", "--out", out, "-w", ws.root)
    assert result.code == 0
    assert "was issued already" in result.out
    assert list(registry.events(0, chain.block_number())) == before


def test_reissuing_to_current_holders_needs_a_flag(cli: Cli, issued: tuple[Workspace, Path]) -> None:
    ws, _ = issued
    result, _ = issue(cli, ws, [people(30)[3], people(30)[27]], name="again.csv")
    assert result.code == 2
    assert "1 recipient(s) already hold this achievement, nothing was issued (pass --allow-reissue" in result.err
    assert "row 2: person3@example.org already holds urn:uuid:" in result.err
    result, out = issue(cli, ws, [people(30)[3], people(30)[27]], "--allow-reissue", name="again.csv")
    assert result.code == 0, result.err
    assert len(receipts(out)) == 2


def test_verifier_without_the_workspace_needs_a_trust_list(
    cli: Cli, issued: tuple[Workspace, Path], node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, out = issued
    monkeypatch.chdir(tmp_path)
    one = receipts(out)[0]
    elsewhere = tmp_path / "verifier"
    elsewhere.mkdir()
    shutil.copy(one, elsewhere / "receipt.json")
    code, (report,) = verify_json(cli, elsewhere / "receipt.json", "--rpc-url", node.url)
    assert code == 1
    assert report["verdict"] == "untrusted-issuer"
    trust = tmp_path / "trust.toml"
    trust.write_text(
        f'[[registry]]\nname = "Test University"\nchain_id = 31337\naddress = "{ws.config.chain.registry.lower()}"\n'
    )
    code, (report,) = verify_json(cli, elsewhere / "receipt.json", "--rpc-url", node.url, "--trust", trust)
    assert code == 0
    assert report["trustedAs"] == "Test University"
    assert report["anchoredBy"] is not None


def test_a_workspace_in_the_current_folder_adds_no_trust_and_picks_no_node(
    cli: Cli, issued: tuple[Workspace, Path], node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder a verifier runs in may hold anyone's credanchor.toml (an applicant's download, say): were it
    # read, it would name the registry to trust and the node to ask.
    ws, out = issued
    one = receipts(out)[0]
    for name in ("CREDANCHOR_WORKSPACE", "CREDANCHOR_RPC_URL", "CREDANCHOR_TRUST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ws.root)
    code, (report,) = verify_json(cli, one)
    assert (code, report["verdict"], report["reason"]) == (3, "chain-unavailable", "no node configured (--rpc-url)")
    code, (report,) = verify_json(cli, one, "--rpc-url", node.url)
    assert (code, report["verdict"], report["trustedAs"]) == (1, "untrusted-issuer", None)
    audit = cli("audit")
    assert (audit.code, audit.err) == (2, "error: name the registry with --registry ADDRESS (or --workspace DIR)\n")
    audit = cli("audit", "--registry", ws.config.chain.registry)
    assert (audit.code, audit.err) == (2, "error: name the node with --rpc-url URL (or CREDANCHOR_RPC_URL)\n")

    # Named, by option or environment, the workspace trusts its own registry and names its node.
    code, (report,) = verify_json(cli, one, "-w", ws.root)
    assert (code, report["trustedAs"]) == (0, "Test University")
    monkeypatch.setenv("CREDANCHOR_WORKSPACE", str(ws.root))
    code, (report,) = verify_json(cli, one)
    assert (code, report["trustedAs"]) == (0, "Test University")
    assert cli("audit").code == 0
    monkeypatch.delenv("CREDANCHOR_WORKSPACE")
    # A registrar's commands still act on the workspace they run in.
    batches = cli("batches", "--json")
    assert batches.code == 0
    assert [b["state"] for b in json.loads(batches.out)] == ["delivered"]


def set_path(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


def flip(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def test_every_kind_of_tampering_is_rejected_on_chain(cli: Cli, issued: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, out = issued
    doc = json.loads(receipts(out)[0].read_text())
    subject = ("credential", "credentialSubject")
    cases = {
        "recipient hash": set_path(doc, (*subject, "identifier", 0, "identityHash"), "sha256$" + "0" * 64),
        "achievement name": set_path(doc, (*subject, "achievement", "name"), "Doctor of Medicine"),
        "credits": set_path(doc, (*subject, "creditsEarned"), 40),
        "grade": set_path(doc, (*subject, "result", 0, "value"), "A+"),
        "issuer name": set_path(doc, ("credential", "issuer", "name"), "Harvard"),
        "validUntil": set_path(doc, ("credential", "validUntil"), "2099-01-01T00:00:00Z"),
        "credential id": set_path(doc, ("credential", "id"), "urn:uuid:00000000-0000-4000-8000-000000000000"),
        "added member": set_path(doc, ("credential", "honors"), "summa cum laude"),
        "digest": set_path(doc, ("digest",), flip(doc["digest"])),
        "leaf": set_path(doc, ("merkle", "leaf"), flip(doc["merkle"]["leaf"])),
        "proof entry": set_path(doc, ("merkle", "proof", 0), flip(doc["merkle"]["proof"][0])),
        "proof dropped": set_path(doc, ("merkle", "proof"), doc["merkle"]["proof"][1:]),
        "root": set_path(doc, ("merkle", "root"), flip(doc["merkle"]["root"])),
        "chain id": set_path(doc, ("anchor", "chainId"), 1),
        "registry": set_path(doc, ("anchor", "registry"), "0x" + "11" * 20),
        "tx hash": set_path(doc, ("anchor", "txHash"), flip(doc["anchor"]["txHash"])),
        "block": set_path(doc, ("anchor", "blockNumber"), doc["anchor"]["blockNumber"] + 1),
        "timestamp": set_path(doc, ("anchor", "timestamp"), "2020-01-01T00:00:00Z"),
    }
    paths = []
    for name, changed in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_text(json.dumps(changed))
        paths.append(path)
    code, reports = verify_json(cli, *paths, "-w", ws.root)
    assert code == 1
    verdicts = {Path(r["source"]).stem.replace("_", " "): (r["verdict"], r["reason"]) for r in reports}
    assert all(v == "invalid" for v, _ in verdicts.values()), verdicts
    assert verdicts["chain id"][1] == "receipt is for chain 1, the node is chain 31337"
    assert verdicts["registry"][1] == "no contract at 0x1111111111111111111111111111111111111111 on chain 31337"
    assert verdicts["block"][1].startswith("root was anchored in block ")
    assert verdicts["tx hash"][1].startswith("root was anchored by tx ")


def test_root_anchored_in_a_look_alike_registry(
    cli: Cli, issued: tuple[Workspace, Path], chain: Chain, tmp_path: Path
) -> None:
    ws, out = issued
    doc = json.loads(receipts(out)[0].read_text())
    impostor = funded(chain)
    # The strongest look-alike: bound to the same issuer id and listing the issuer's (public) signing key.
    from anchoring.multibase import decode_multikey
    from issuer.signing import signing_multikey

    own_key = decode_multikey(signing_multikey(ws.signing_key_path))
    fake = deploy(chain, impostor, issuer_id=ws.config.issuer.id, signing_keys=(own_key,))
    sender = TxSender(chain, impostor)
    mined = sender.wait_mined(
        sender.send(fake.contract.functions.anchor(bytes.fromhex(doc["merkle"]["root"][2:]), 25)).tx_hash, timeout=30
    )
    block = chain.block(mined.block_number)
    from datetime import UTC, datetime

    moved = copy.deepcopy(doc)
    # The impostor's receipt cannot carry evidence of the issuer's registry: it comes as version 1.
    moved["version"] = 1
    del moved["evidence"]
    moved["anchor"].update(
        registry=fake.address,
        txHash=mined.tx_hash,
        blockNumber=mined.block_number,
        timestamp=datetime.fromtimestamp(block["timestamp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    path = tmp_path / "lookalike.json"
    path.write_text(json.dumps(moved))
    code, (report,) = verify_json(cli, path, "-w", ws.root)
    assert code == 1
    assert report["verdict"] == "untrusted-issuer"
    assert (
        report["reason"]
        == f"registry {fake.address} on chain 31337 is not on the trust list (add it with --trust FILE)"
    )

    elsewhere = set_path(doc, ("anchor", "registry"), fake.address)
    path.write_text(json.dumps(set_path(doc, ("merkle", "root"), doc["merkle"]["root"])))
    other_root = tmp_path / "unanchored.json"
    unanchored_registry = deploy(chain, impostor)
    other_root.write_text(json.dumps(set_path(elsewhere, ("anchor", "registry"), unanchored_registry.address)))
    code, (report,) = verify_json(cli, other_root, "-w", ws.root)
    assert report["verdict"] == "invalid"
    assert (
        report["reason"]
        == f"root {doc['merkle']['root'][:6]}…{doc['merkle']['root'][-4:]} is not anchored in registry {unanchored_registry.address}"
    )


def test_revoke_one_credential_then_the_batch(cli: Cli, issued: tuple[Workspace, Path]) -> None:
    ws, out = issued
    files = receipts(out)
    result = cli("revoke", files[0].stem, "--reason", "Issued in error", "-w", ws.root)
    assert result.code == 0, result.err
    assert result.out.startswith(f"revoked urn:uuid:{files[0].stem} in block ")
    code, reports = verify_json(cli, files[0], files[1], "-w", ws.root)
    assert code == 1
    assert [r["verdict"] for r in reports] == ["revoked", "valid"]
    assert reports[0]["reason"].endswith(": Issued in error")
    again = cli("revoke", files[0].stem, "--reason", "again", "-w", ws.root)
    assert again.code == 2
    assert (
        again.err.strip()
        == f"error: credential urn:uuid:{files[0].stem} is already revoked (on its own or with its batch)"
    )

    root = json.loads(files[0].read_text())["merkle"]["root"]
    result = cli("revoke", "--batch", root, "--reason", "Exam voided", "-w", ws.root)
    assert result.code == 0, result.err
    code, reports = verify_json(cli, *files, "-w", ws.root)
    assert code == 1
    assert {r["verdict"] for r in reports} == {"revoked"}
    assert reports[1]["reason"].endswith(": Exam voided")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope",), "error: no credential urn:uuid:nope in this workspace"),
        (("--batch", "0x" + "ab" * 32), f"error: root 0x{'ab' * 32} is not anchored in registry "),
        (("--batch", "0x1234"), "error: batch root '0x1234' must be 32 bytes as 0x-hex (66 characters)"),
        (("x", "--batch", "0x" + "ab" * 32), "error: name either a CREDENTIAL_ID or --batch ROOT"),
    ],
    ids=["unknown credential", "unanchored root", "bad root", "both"],
)
def test_revoke_bad_input(cli: Cli, workspace: Workspace, args: tuple[str, ...], message: str) -> None:
    result = cli("revoke", *args, "--reason", "r", "-w", workspace.root)
    assert result.code == 2
    assert result.err.startswith(message)


def test_revoke_needs_a_reason(cli: Cli, workspace: Workspace) -> None:
    result = cli("revoke", "x", "-w", workspace.root)
    assert result.code == 2
    assert result.err.strip() == "error: a revocation needs a reason (--reason TEXT); it is public, so no personal data"


def test_back_dated_record_issues_and_verifies_as_expired(cli: Cli, workspace: Workspace) -> None:
    result, out = issue(cli, workspace, [{"email": "old@example.org", "name": "Old", "issue_date": "2019-05-01"}])
    assert result.code == 0, result.err
    code, (report,) = verify_json(cli, receipts(out)[0], "-w", workspace.root)
    assert code == 1
    assert report["verdict"] == "expired"
    assert report["reason"] == "expired at 2022-05-01T00:00:00Z"


def test_audit_checks_manifests_against_anchors(cli: Cli, issued: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, _ = issued
    result = cli("audit", "--manifests", ws.manifests_dir, "--json", "-w", ws.root)
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    assert report["clean"]
    assert report["anchors"] == 1
    assert report["manifests"] == 1
    assert [e["kind"] for e in report["entries"]] == [
        "role-granted",  # the admin, by OpenZeppelin's constructor
        "issuer-bound",
        *["role-granted"] * 3,
        "signing-key-added",
        "anchor",
    ]

    empty = tmp_path / "none"
    empty.mkdir()
    result = cli("audit", "--manifests", empty, "--json", "-w", ws.root)
    assert result.code == 1
    assert json.loads(result.out)["problems"][0].endswith("anchor with no manifest")

    tampered = tmp_path / "tampered"
    tampered.mkdir()
    manifest_path = next(ws.manifests_dir.glob("*.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["digests"][0] = flip(manifest["digests"][0])
    (tampered / manifest_path.name).write_text(json.dumps(manifest))
    orphan = {**manifest, "root": "0x" + "cd" * 32}
    (tampered / "orphan.json").write_text(json.dumps(orphan))
    result = cli("audit", "--manifests", tampered, "-w", ws.root)
    assert result.code == 1
    text = " ".join(result.out.split())
    assert "manifest digests give root" in text
    assert f"root 0x{'cd' * 32} has no anchor in this registry" in text


def test_audit_runs_without_any_workspace(
    cli: Cli, issued: tuple[Workspace, Path], node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, out = issued
    monkeypatch.chdir(tmp_path)
    result = cli("audit", "--registry", ws.config.chain.registry, "--rpc-url", node.url, "--manifests", out)
    assert result.code == 0, result.out + result.err
    assert "audit clean" in result.out
    assert "1 manifests checked" in " ".join(result.out.split())


def test_a_batch_that_never_reached_the_chain_can_be_discarded(cli: Cli, workspace: Workspace) -> None:
    rows = people(3)
    csv = write_csv(workspace.root / "records.csv", rows)
    for fault in ("prepared", "signed"):
        issue_killed_at(workspace, csv, fault)
        if fault == "prepared":
            rows[0]["name"] = "Person Zero, corrected"
            csv = write_csv(workspace.root / "records.csv", rows)
            refused = cli("issue", csv, "--achievement", "example", "-w", workspace.root)
            assert refused.code == 2
            assert "(unfinished batches count too: 1; finish with `credanchor resume`, or drop one" in refused.err
            assert (
                cli("discard", "1", "-w", workspace.root).out.strip()
                == "discarded batch 1 (3 credentials, never anchored)"
            )
    sent = cli("discard", "2", "-w", workspace.root)
    assert sent.code == 1
    assert sent.err.startswith(
        "error: batch 2 is submitted: a transaction was signed for it, so it may reach the chain"
    )
    assert cli("resume", "-w", workspace.root).code == 0


# Contracts that are not registries, as raw init code: one reverts on every call, one answers 42 to any call.
REVERTING = "0x6005600c60003960056000f360006000fd"
ANSWERS_42 = "0x600a600c600039600a6000f3602a60005260206000f3"


def test_receipts_naming_contracts_that_are_not_registries(
    cli: Cli, issued: tuple[Workspace, Path], chain: Chain, tmp_path: Path
) -> None:
    ws, out = issued
    doc = json.loads(receipts(out)[0].read_text())
    sender = TxSender(chain, funded(chain))
    impostors = {}
    for name, init_code in (("reverting", REVERTING), ("answers_42", ANSWERS_42)):
        factory = chain.w3.eth.contract(abi=[], bytecode=init_code)
        mined = sender.wait_mined(sender.send(factory.constructor()).tx_hash, timeout=30)
        assert mined.contract_address
        impostors[name] = mined.contract_address
        (tmp_path / f"{name}.json").write_text(
            json.dumps(set_path(doc, ("anchor", "registry"), mined.contract_address))
        )
    code, reports = verify_json(
        cli, tmp_path / "reverting.json", receipts(out)[0], tmp_path / "answers_42.json", "-w", ws.root
    )
    assert code == 1
    assert [r["verdict"] for r in reports] == ["invalid", "valid", "invalid"]
    assert (
        reports[0]["reason"]
        == f"contract at {impostors['reverting']} does not answer anchorOf as a CredentialRegistry (ContractLogicError)"
    )
    assert reports[2]["reason"].startswith(
        f"contract at {impostors['answers_42']} does not answer anchorOf as a CredentialRegistry ("
    )
    audit = cli("audit", "--registry", impostors["reverting"], "-w", ws.root)
    assert audit.code == 1
    assert (
        audit.err.strip()
        == f"error: contract at {impostors['reverting']} does not answer deploymentBlock as a CredentialRegistry (ContractLogicError)"
    )


def test_timings_say_where_the_time_went(cli: Callable[..., CliResult], workspace: Workspace) -> None:
    csv = write_csv(workspace.root / "timed.csv", people(12, "timed.example.org"))
    result = cli("issue", csv, "--achievement", "example", "--timings", "-w", workspace.root)
    assert result.code == 0, result.err
    table = result.err[result.err.index("where the time went") :]
    stages = [
        "reading and checking records",
        "building and signing (eddsa-rdfc-2022)",
        "building the Merkle tree",
        "saving the batch",
        "anchoring the root",
        "collecting the anchor's chain evidence",
        "writing receipts, each checked against the chain",
        "reading receipts back from their locations",
        "total",
    ]
    positions = [table.index(stage) for stage in stages]
    assert positions == sorted(positions)  # in the order they ran
    assert re.search(r"peak memory: [\d,]+ MiB in this process, [\d,]+ MiB in its largest worker", table)
    assert "where the time went" not in cli("issue", csv, "--achievement", "example", "-w", workspace.root).err


def test_issuing_lets_go_of_the_records_once_the_batch_is_prepared(workspace: Workspace) -> None:
    from anchoring.progress import Silent
    from credanchor import wiring
    from issuer.batch import plan_batch

    csv = write_csv(workspace.root / "records.csv", people(5))
    plan = plan_batch(workspace, csv, "example", {})
    assert len(plan.records) == 5
    issuer = wiring.batch_issuer(workspace, Store(workspace.database_url), None, Silent())
    outcome = issuer.issue(plan, workspace.root / "out")
    assert outcome.receipts == 5
    assert plan.records == []  # in the store now; a million of them would be about 300 MB held for nothing


def test_delivery_in_the_issuing_process_takes_the_hashes_it_stored_without_reading_them_back(
    workspace: Workspace,
) -> None:
    from anchoring.progress import Silent
    from credanchor import wiring
    from issuer.batch import plan_batch

    plan = plan_batch(workspace, write_csv(workspace.root / "records.csv", people(2345)), "example", {})
    store = Store(workspace.database_url)
    issuer = wiring.batch_issuer(workspace, store, None, Silent())
    batch = issuer._prepare(plan, workspace.root / "out")  # three chunks of the signing workers
    stored = store.leaves(batch.id or 0)
    assert len(stored) == 2345
    reads: list[int] = []

    def leaves(batch_id: int) -> list[tuple[str, str]]:
        reads.append(batch_id)
        return stored

    store.leaves = leaves  # type: ignore[method-assign]
    assert issuer._stored(batch) == stored  # the same pairs, in the same order, none read from the store
    assert reads == []
    assert issuer._stored(batch) == stored  # taken once: a second delivery (resume) reads the store
    assert reads == [batch.id]


def test_the_self_check_is_given_the_key_that_signed_the_batch(workspace: Workspace) -> None:
    from anchoring.multibase import decode_multikey
    from anchoring.progress import Silent
    from credanchor import wiring
    from issuer.batch import plan_batch
    from issuer.signing import signing_multikey

    plan = plan_batch(workspace, write_csv(workspace.root / "records.csv", people(3)), "example", {})
    issuer = wiring.batch_issuer(workspace, Store(workspace.database_url), None, Silent())
    check, given = issuer.self_check, []

    class Spy:
        def __call__(
            self, locations: Sequence[str], root: str, chains: Sequence[Any], signatures: OwnSignatures | None
        ) -> None:
            given.append(("read back", signatures))
            check(locations, root, chains, signatures)

        def checking(
            self, root: str, chains: Sequence[Any], signatures: OwnSignatures | None, blocks: Mapping[int, int]
        ) -> AbstractContextManager[ChunkCheck]:
            given.append(("as written", signatures))
            return check.checking(root, chains, signatures, blocks)

    issuer.self_check = Spy()
    assert issuer.issue(plan, workspace.root / "out").receipts == 3
    # Checked as the workers write them, then read back: each knows what this process signed (`OwnSignatures`).
    assert [when for when, _ in given] == ["as written", "read back"]
    own = given[0][1]
    assert given[1][1] is own
    assert isinstance(own, OwnSignatures)
    assert own.public_key == decode_multikey(signing_multikey(workspace.signing_key_path))
    assert own.known == 3  # the tags of the three signatures the batch's workers made


@pytest.mark.parametrize("form", ["jsonl", "dir"])
def test_a_receipt_failing_as_its_worker_checks_it_leaves_the_batch_undelivered(
    workspace: Workspace, form: str
) -> None:
    """Receipts checked by the workers that write them, against a root no receipt names: the run fails, naming
    the first receipt by where it was written; nothing is delivered, and `resume` with the right root does."""
    from anchoring.errors import VerificationFailed
    from anchoring.progress import Silent
    from credanchor import wiring
    from issuer.batch import plan_batch

    plan = plan_batch(workspace, write_csv(workspace.root / "records.csv", people(25)), "example", {})
    store = Store(workspace.database_url)
    issuer = wiring.batch_issuer(workspace, store, None, Silent(), receipts=form)
    check = issuer.self_check
    other_root = "0x" + "ab" * 32

    class Misled:
        def __call__(
            self, locations: Sequence[str], root: str, chains: Sequence[Any], signatures: OwnSignatures | None
        ) -> None:
            check(locations, root, chains, signatures)

        def checking(
            self, root: str, chains: Sequence[Any], signatures: OwnSignatures | None, blocks: Mapping[int, int]
        ) -> AbstractContextManager[ChunkCheck]:
            return check.checking(other_root, chains, signatures, blocks)

    issuer.self_check = Misled()
    with pytest.raises(VerificationFailed) as failed:
        issuer.issue(plan, workspace.root / "out")
    (batch,) = store.batches()
    first = store.credential_chunks(batch.id or 0).__next__()[0][0]
    (where,) = [c.receipt_path for c in store.credentials(batch.id or 0) if c.id == first]
    assert str(failed.value) == (
        f"self-check failed for 25 of 25 receipts; first: {where}: invalid: root {batch.root[:6]}…{batch.root[-4:]} "
        f"is not anchored in registry {batch.registry_address}"
    )
    assert batch.state == State.CONFIRMED
    assert [p.name for p in (workspace.root / "out").iterdir() if "delivery" in p.name] == []  # nor a half one
    resumed = wiring.batch_issuer(workspace, store, None, Silent(), receipts=form).resume(batch)
    assert resumed.receipts == 25
    assert store.batch(batch.id or 0).state == State.DELIVERED
