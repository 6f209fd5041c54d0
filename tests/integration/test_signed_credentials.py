"""Signed credentials on a real node: what the signature and issuer steps accept, and every way an attacker
could try to get past them (each fails with its reason)."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account.signers.local import LocalAccount

from anchoring.chain import Chain, Registry
from anchoring.credential import credential_digest
from anchoring.dataintegrity import Signer
from anchoring.hashing import to_hex
from anchoring.merkle import MerkleTree
from anchoring.multibase import encode_multikey
from anchoring.receipt import receipt_document, unix_to_utc
from anchoring.sender import TxSender
from issuer.roles import Roles
from issuer.workspace import Workspace
from tests.conftest import ASSETS, CliResult, Node, deploy, funded, people, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


def issue(cli: Cli, ws: Workspace, n: int = 3) -> list[Path]:
    csv = write_csv(ws.root / "records.csv", people(n))
    out = ws.root / "out"
    result = cli("issue", csv, "--achievement", "example", "--out", out, "-w", ws.root)
    assert result.code == 0, result.err
    return sorted(out.glob("*.json"))


def verify(cli: Cli, path: Path, *args: str | Path) -> dict[str, Any]:
    result = cli("verify", "--json", path, *args)
    (report,) = [json.loads(line) for line in result.out.splitlines() if line.strip()]
    assert isinstance(report, dict)
    report["exit"] = result.code
    report["byStep"] = {s["name"]: s for s in report["steps"]}
    return report


def anchor_alone(registry: Registry, account: LocalAccount, credential: dict[str, Any]) -> dict[str, Any]:
    """Anchor a one-credential batch of `credential` in `registry` with `account`; its receipt."""
    digest = credential_digest(credential)
    tree = MerkleTree.build([digest])
    sender = TxSender(registry.chain, account)
    mined = sender.wait_mined(sender.send(registry.contract.functions.anchor(tree.root, 1)).tx_hash, timeout=30)
    block = registry.chain.block(mined.block_number)
    anchor = {
        "chainId": registry.chain.chain_id,
        "registry": registry.address,
        "txHash": mined.tx_hash,
        "blockNumber": mined.block_number,
        "timestamp": unix_to_utc(int(block["timestamp"])),
    }
    return receipt_document(credential, to_hex(digest), to_hex(tree.leaf(0)), [], to_hex(tree.root), anchor)


def resigned(credential: dict[str, Any], key: Ed25519PrivateKey, issuer_id: str) -> dict[str, Any]:
    doc = {k: v for k, v in credential.items() if k != "proof"}
    method = f"{issuer_id}#{encode_multikey(key.public_key().public_bytes_raw())}"
    doc["proof"] = [Signer(key.private_bytes_raw(), "eddsa-rdfc-2022", method, "2026-11-29T00:00:00Z").sign(doc)]
    return doc


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def signed(cli: Cli, workspace: Workspace) -> tuple[Workspace, list[Path]]:
    return workspace, issue(cli, workspace)


def test_issued_credentials_are_signed_and_verify(cli: Cli, signed: tuple[Workspace, list[Path]]) -> None:
    ws, files = signed
    credential = json.loads(files[0].read_text())["credential"]
    (proof,) = credential["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["verificationMethod"].startswith(ws.config.issuer.id + "#z6Mk")
    assert proof["proofValue"].startswith("z")
    report = verify(cli, files[0], "-w", ws.root, "--require-signature")
    assert report["verdict"] == "valid", report
    assert report["signed"] is True
    assert report["byStep"]["signature"]["detail"].startswith("eddsa-rdfc-2022 signature verifies; key z6Mk")
    assert (
        report["byStep"]["issuer"]["detail"] == f"registry is bound to the credential's issuer {ws.config.issuer.id!r}"
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda c, o: c["proof"][0].update(proofValue=c["proof"][0]["proofValue"][:-3] + "abc"),
            "the document or its proof is not what was signed, or another key signed it",
        ),
        (
            lambda c, o: c.update(proof=o["proof"]),
            "the document or its proof is not what was signed, or another key signed it",
        ),
        (
            lambda c, o: c["proof"][0].update(proofValue="zzzz"),
            "proofValue decodes to 3 bytes; an Ed25519 signature has 64",
        ),
        (
            lambda c, o: c["proof"][0].update(proofValue="not-multibase"),
            "proofValue is malformed: must be multibase base58btc, starting with 'z', not 'n'",
        ),
        (
            lambda c, o: c.update(proof=[{"type": "DataIntegrityProof"}]),
            "verificationMethod is missing or not a string",
        ),
        (
            lambda c, o: c["proof"][0].update(cryptosuite="ecdsa-rdfc-2019"),
            "proof cryptosuite is 'ecdsa-rdfc-2019'; supported: eddsa-rdfc-2022, eddsa-jcs-2022",
        ),
        (lambda c, o: c["proof"][0].update(created="2020-01-01T00:00:00Z"), "signature does not verify"),
        (
            lambda c, o: c["proof"][0].update(
                verificationMethod="did:web:evil.example#" + c["proof"][0]["verificationMethod"].split("#")[1]
            ),
            "verificationMethod is controlled by 'did:web:evil.example', not by the issuer",
        ),
    ],
    ids=[
        "forged proofValue",
        "proof of another credential",
        "garbage proofValue",
        "not multibase",
        "empty proof",
        "other cryptosuite",
        "changed created",
        "other controller",
    ],
)
def test_forged_or_foreign_proofs_are_invalid(
    cli: Cli, signed: tuple[Workspace, list[Path]], tmp_path: Path, mutate: Any, reason: str
) -> None:
    ws, files = signed
    receipt = json.loads(files[0].read_text())
    other = json.loads(files[1].read_text())["credential"]
    mutate(receipt["credential"], other)
    # The digest covers the credential without its proof: the anchor still holds, only the signature fails.
    report = verify(cli, write(tmp_path / "forged.json", receipt), "-w", ws.root)
    assert report["verdict"] == "invalid"
    assert report["byStep"]["digest"]["ok"] is True
    assert report["byStep"]["signature"]["ok"] is False
    assert reason in report["byStep"]["signature"]["detail"]
    assert report["byStep"]["chain"]["ok"] is None  # fails before any node is asked
    assert report["byStep"]["trust"] == {
        "name": "trust",
        "ok": True,
        "detail": "registry is trusted as 'Test University' (its issuer binding was not read)",
    }


def test_a_key_the_registry_never_listed_is_invalid(
    cli: Cli, signed: tuple[Workspace, list[Path]], tmp_path: Path
) -> None:
    ws, files = signed
    receipt = json.loads(files[0].read_text())
    receipt["credential"] = resigned(receipt["credential"], Ed25519PrivateKey.generate(), ws.config.issuer.id)
    report = verify(cli, write(tmp_path / "unlisted.json", receipt), "-w", ws.root)
    assert report["verdict"] == "invalid"
    assert report["reason"].startswith("signing key z6Mk")
    assert report["reason"].endswith("is not listed in the registry")


def test_key_revocation_cuts_off_later_anchors_only(
    cli: Cli, signed: tuple[Workspace, list[Path]], chain: Chain, tmp_path: Path
) -> None:
    from credanchor.wiring import account, signing_key

    ws, files = signed
    registry = chain.registry(ws.config.chain.registry)
    roles = Roles(chain, registry, TxSender(chain, account(ws)), 30)
    key = signing_key(ws)
    multikey = encode_multikey(key.public_key().public_bytes_raw())
    roles.revoke_key(multikey, "signing laptop stolen")
    # Anchored before the revocation: still valid.
    assert verify(cli, files[0], "-w", ws.root)["verdict"] == "valid"
    # A credential signed with the revoked key and anchored after it: invalid, with the reason.
    credential = resigned(json.loads(files[1].read_text())["credential"], key, ws.config.issuer.id)
    credential["id"] = "urn:uuid:00000000-0000-4000-8000-000000000001"
    credential = resigned(credential, key, ws.config.issuer.id)
    late = anchor_alone(registry, account(ws), credential)
    report = verify(cli, write(tmp_path / "late.json", late), "-w", ws.root)
    assert report["verdict"] == "invalid"
    assert "was revoked in block" in report["reason"]
    assert "(signing laptop stolen), before the anchor in block" in report["reason"]
    # And the issuer refuses to sign with it.
    csv = write_csv(ws.root / "more.csv", people(2, "more.org"))
    result = cli("issue", csv, "--achievement", "example", "-w", ws.root)
    assert result.code == 2
    assert f"signing key {multikey} was revoked in block" in result.err


def test_a_trusted_registry_cannot_vouch_for_another_issuer(
    cli: Cli, signed: tuple[Workspace, list[Path]], chain: Chain, tmp_path: Path, node: Node
) -> None:
    """Registry B, trusted, re-anchors issuer A's root (and so would 'un-revoke' what A revoked): invalid."""
    ws, files = signed
    cli(
        "revoke",
        json.loads(files[0].read_text())["credential"]["id"].removeprefix("urn:uuid:"),
        "--reason",
        "Issued in error",
        "-w",
        ws.root,
    )
    other_account = funded(chain)
    other = deploy(chain, other_account, issuer_id="did:web:other-college.example.org")
    receipt = json.loads(files[0].read_text())
    copied = anchor_alone(other, other_account, receipt["credential"])
    trust = tmp_path / "trust.toml"
    trust.write_text(
        f'[[registry]]\nname = "Other College"\nchain_id = {chain.chain_id}\naddress = "{other.address}"\n'
    )
    report = verify(cli, write(tmp_path / "copied.json", copied), "--trust", trust, "--rpc-url", node.url)
    assert report["verdict"] == "invalid"
    assert report["byStep"]["issuer"]["detail"] == (
        f"credential names issuer {ws.config.issuer.id!r}, registry is bound to 'did:web:other-college.example.org'"
    )
    assert report["reason"] == report["byStep"]["issuer"]["detail"]  # the wrong issuer is the reason given
    assert report["byStep"]["signature"]["ok"] is False  # and B never listed A's key


def test_trust_list_can_pin_the_issuer_id(
    cli: Cli, signed: tuple[Workspace, list[Path]], tmp_path: Path, node: Node
) -> None:
    ws, files = signed
    trust = tmp_path / "trust.toml"
    entry = f'[[registry]]\nname = "Test U"\nchain_id = 31337\naddress = "{ws.config.chain.registry}"\n'
    trust.write_text(entry + 'issuer_id = "did:web:someone-else.example"\n')
    report = verify(cli, files[0], "--trust", trust, "--rpc-url", node.url)
    assert report["verdict"] == "untrusted-issuer"
    assert report["reason"] == (
        f"trust list expects registry {ws.config.chain.registry} to be bound to issuer 'did:web:someone-else.example'; "
        f"it is bound to {ws.config.issuer.id!r}"
    )
    trust.write_text(entry + f'issuer_id = "{ws.config.issuer.id}"\n')
    report = verify(cli, files[0], "--trust", trust, "--rpc-url", node.url)
    assert report["verdict"] == "valid"
    assert report["trustedAs"] == "Test U"


def test_an_unsigned_credential_in_a_bound_registry_is_invalid(
    cli: Cli, signed: tuple[Workspace, list[Path]], chain: Chain, tmp_path: Path
) -> None:
    """Whoever holds the anchor role (or a stolen anchoring key) cannot issue unsigned content for the issuer."""
    from credanchor.wiring import account

    ws, files = signed
    credential = {k: v for k, v in json.loads(files[0].read_text())["credential"].items() if k != "proof"}
    credential["id"] = "urn:uuid:00000000-0000-4000-8000-000000000002"
    credential["name"] = "Forged: PhD"
    registry = chain.registry(ws.config.chain.registry)
    path = write(tmp_path / "unsigned.json", anchor_alone(registry, account(ws), credential))
    report = verify(cli, path, "-w", ws.root)
    assert report["verdict"] == "invalid"
    assert report["signed"] is False
    assert report["reason"] == (
        f"credential is not signed, but registry {registry.address} is bound to issuer "
        f"{ws.config.issuer.id!r}, whose credentials are all signed"
    )


def test_an_expired_proof_is_invalid(cli: Cli, signed: tuple[Workspace, list[Path]], tmp_path: Path) -> None:
    from credanchor.wiring import signing_key

    ws, files = signed
    receipt = json.loads(files[0].read_text())
    key = signing_key(ws)
    doc = {k: v for k, v in receipt["credential"].items() if k != "proof"}
    method = receipt["credential"]["proof"][0]["verificationMethod"]
    signer = Signer(
        key.private_bytes_raw(), "eddsa-rdfc-2022", method, "2026-01-01T00:00:00Z", expires="2026-01-20T00:00:00Z"
    )
    receipt["credential"]["proof"] = [signer.sign(doc)]
    report = verify(cli, write(tmp_path / "expired-proof.json", receipt), "-w", ws.root)
    assert report["verdict"] == "invalid"
    assert report["reason"] == "proof expired at 2026-01-20T00:00:00Z"


def test_lost_anchor_role_and_min_confirmations_are_reported(
    cli: Cli, signed: tuple[Workspace, list[Path]], chain: Chain, node: Node
) -> None:
    from credanchor.wiring import account

    ws, files = signed
    issuer_key = account(ws)
    Roles(chain, chain.registry(ws.config.chain.registry), TxSender(chain, issuer_key), 30).revoke(
        "anchor", issuer_key.address
    )
    report = verify(cli, files[0], "-w", ws.root)
    assert report["verdict"] == "valid"
    assert report["notes"] == [f"the anchoring account {issuer_key.address} no longer holds the anchor role"]
    assert "note the anchoring account" in cli("verify", files[0], "-w", ws.root).out
    strict = verify(cli, files[0], "-w", ws.root, "--min-confirmations", "50")
    assert strict["verdict"] == "invalid"
    assert "confirmations; 50 required (--min-confirmations)" in strict["reason"]


def test_receipts_of_a_registry_from_before_issuer_binding_still_verify(
    cli: Cli, chain: Chain, account: LocalAccount, tmp_path: Path, node: Node
) -> None:
    artifact = json.loads((ASSETS / "legacy" / "CredentialRegistry-v1.json").read_text())
    sender = TxSender(chain, account)
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    mined = sender.wait_mined(sender.send(factory.constructor(60, *[account.address] * 3)).tx_hash, timeout=30)
    assert mined.contract_address
    legacy = chain.registry(mined.contract_address)
    credential = json.loads((ASSETS / "receipts" / "valid.json").read_text())["credential"]
    receipt = anchor_alone(legacy, account, copy.deepcopy(credential))
    trust = tmp_path / "trust.toml"
    trust.write_text(f'[[registry]]\nname = "Old"\nchain_id = 31337\naddress = "{legacy.address}"\n')
    path = write(tmp_path / "old.json", receipt)
    report = verify(cli, path, "--trust", trust, "--rpc-url", node.url)
    assert report["verdict"] in ("valid", "expired"), report
    assert (
        report["byStep"]["issuer"]["detail"] == "registry binds no issuer (deployed before issuer binding); not checked"
    )
    assert report["byStep"]["signature"] == {
        "name": "signature",
        "ok": None,
        "detail": "credential is not signed (no proof)",
    }
    assert report["signed"] is False
    human = cli("verify", path, "--trust", trust, "--rpc-url", node.url)
    assert "skip signature  credential is not signed (no proof)" in human.out
    required = verify(cli, path, "--trust", trust, "--rpc-url", node.url, "--require-signature")
    assert required["verdict"] == "invalid"
    assert required["reason"] == "credential is not signed (no proof), and --require-signature was given"


def test_one_receipt_costs_a_bounded_number_of_node_requests(
    cli: Cli, signed: tuple[Workspace, list[Path]], node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verifier import service

    ws, files = signed
    from anchoring.rpcreader import JsonRpc

    asked: list[str] = []
    original = JsonRpc.request

    def counting(self: JsonRpc, what: str, method: str, params: list[Any]) -> Any:
        asked.append(what)
        return original(self, what, method, params)

    # `verify` reads the node through the plain JSON-RPC reader: every request goes through JsonRpc.request.
    monkeypatch.setattr(JsonRpc, "request", counting)
    assert verify(cli, files[0], "-w", ws.root)["verdict"] == "valid"
    short_span = list(asked)
    # However long the span since the anchor, revocations are never scanned in more than MAX_SCAN_CALLS
    # requests: past that each credential is looked up by itself (here: every span counts as long).
    node.rpc("evm_mine")
    node.rpc("evm_mine")
    monkeypatch.setattr(service, "LOG_CHUNK", 1)
    asked.clear()
    report = verify(cli, files[1], "-w", ws.root)
    assert report["verdict"] == "valid"
    assert "revocationOf" in asked
    assert asked.count("eth_getLogs") <= service.MAX_SCAN_CALLS
    assert len(short_span) <= 12
    assert len(asked) <= 12, asked
    # A receipt that fails on its own costs none.
    receipt = json.loads(files[2].read_text())
    receipt["credential"]["name"] = "Changed"
    asked.clear()
    assert verify(cli, write(ws.root / "changed.json", receipt), "-w", ws.root)["verdict"] == "invalid"
    assert asked == []


def test_jcs_by_config_and_the_exported_keys_resolve_as_standard_verifiers_need(
    cli: Cli, workspace: Workspace, tmp_path: Path
) -> None:
    from anchoring.dataintegrity import verify_proof
    from anchoring.jsonld import expand
    from anchoring.multibase import decode_multikey

    ws = workspace.set("signing", "cryptosuite", "eddsa-jcs-2022")
    files = issue(cli, ws)
    credential = json.loads(files[0].read_text())["credential"]
    (proof,) = credential["proof"]
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["@context"] == credential["@context"]
    assert verify(cli, files[0], "-w", ws.root, "--require-signature")["verdict"] == "valid"

    result = cli("profile", "export", "--out", tmp_path / "public", "-w", ws.root)
    assert result.code == 0, result.err
    assert f"(serve it at {ws.config.issuer.id})" in result.out
    controller = json.loads((tmp_path / "public" / "controller.json").read_text())
    profile = json.loads((tmp_path / "public" / "profile.json").read_text())
    assert profile["id"] == credential["issuer"]["id"]
    assert profile["type"] == ["Profile"]
    # What Digital Bazaar's vc library checks: the issuer is the controller of the proof's verification
    # method, which its controller document lists under assertionMethod, with the key that verifies.
    method = proof["verificationMethod"]
    assert controller["id"] == credential["issuer"]["id"]
    assert method in controller["assertionMethod"]
    (entry,) = [m for m in controller["verificationMethod"] if m["id"] == method]
    assert (entry["type"], entry["controller"]) == ("Multikey", credential["issuer"]["id"])
    verify_proof(credential, proof, decode_multikey(entry["publicKeyMultibase"]))
    assert expand(controller)  # every term defined by the bundled DID and Multikey contexts
