"""Our signed credentials, judged by the standard VC stack wallets and verifiers use: Digital Bazaar's
@digitalbazaar/vc with Data Integrity eddsa-rdfc-2022 and eddsa-jcs-2022 (pinned in hardhat-local), resolving
the issuer's keys only from the controller document `credanchor profile export` writes, and the JSON-LD
contexts only from anchoring/contexts (hardhat-local/vc-verify.mjs has an offline document loader)."""

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from issuer.workspace import Workspace
from tests.conftest import CliResult, Node, make_workspace, people, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]

REPO = Path(__file__).parent.parent.parent
SCRIPT = REPO / "hardhat-local" / "vc-verify.mjs"
CONTEXTS = REPO / "anchoring" / "contexts"
DID_WEB_ISSUER = "did:web:registrar.test.edu"


def standard_verifier(credential: Path, controller: Path) -> dict[str, Any]:
    """Digital Bazaar's verdict on `credential` (a receipt or a credential) against `controller`."""
    result = subprocess.run(
        ["node", str(SCRIPT), str(credential), str(controller), str(CONTEXTS)],
        cwd=SCRIPT.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    (line,) = result.stdout.splitlines()
    verdict: dict[str, Any] = json.loads(line)
    assert result.returncode == (0 if verdict["verified"] else 1), result.stderr
    return verdict


def issued(cli: Cli, ws: Workspace, out: Path) -> tuple[dict[str, Any], Path]:
    """Issue a small batch from `ws`, export its public documents to `out`; one credential, its controller doc."""
    csv = write_csv(ws.root / "records.csv", people(2))
    result = cli("issue", csv, "--achievement", "example", "--out", out / "receipts", "-w", ws.root)
    assert result.code == 0, result.err
    receipt = json.loads(sorted((out / "receipts").glob("*.json"))[0].read_text())
    result = cli("profile", "export", "--out", out / "public", "-w", ws.root)
    assert result.code == 0, result.err
    name = "did.json" if ws.config.issuer.id.startswith("did:web:") else "controller.json"
    controller = out / "public" / name
    assert json.loads(controller.read_text())["id"] == ws.config.issuer.id
    credential: dict[str, Any] = receipt["credential"]
    return credential, controller


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def did_web_workspace(tmp_path: Path, node: Node) -> Workspace:
    return make_workspace(tmp_path / "ws", node, issuer_id=DID_WEB_ISSUER)


@pytest.mark.parametrize("cryptosuite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def test_did_web_issuer_credentials_verify_with_digital_bazaar(
    cli: Cli, did_web_workspace: Workspace, tmp_path: Path, cryptosuite: str
) -> None:
    ws = did_web_workspace
    if cryptosuite != "eddsa-rdfc-2022":
        ws = ws.set("signing", "cryptosuite", cryptosuite)
    credential, controller = issued(cli, ws, tmp_path)
    (proof,) = credential["proof"]
    assert proof["cryptosuite"] == cryptosuite
    assert credential["issuer"]["id"] == DID_WEB_ISSUER
    verdict = standard_verifier(write(tmp_path / "credential.json", credential), controller)
    assert verdict == {"verified": True, "error": None}


@pytest.mark.parametrize("cryptosuite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def test_https_issuer_credentials_verify_with_digital_bazaar(
    cli: Cli, workspace: Workspace, tmp_path: Path, cryptosuite: str
) -> None:
    ws = workspace
    if cryptosuite != "eddsa-rdfc-2022":
        ws = ws.set("signing", "cryptosuite", cryptosuite)
    assert ws.config.issuer.id.startswith("https://")
    credential, controller = issued(cli, ws, tmp_path)
    assert controller.name == "controller.json"
    verdict = standard_verifier(write(tmp_path / "credential.json", credential), controller)
    assert verdict == {"verified": True, "error": None}


def test_a_whole_receipt_is_read_for_its_credential(cli: Cli, did_web_workspace: Workspace, tmp_path: Path) -> None:
    _, controller = issued(cli, did_web_workspace, tmp_path)
    receipt = next((tmp_path / "receipts").glob("*.json"))
    assert standard_verifier(receipt, controller)["verified"] is True


@pytest.mark.parametrize("cryptosuite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
@pytest.mark.parametrize(
    "tamper",
    ["changed name", "changed subject", "altered proofValue", "key not an assertionMethod"],
)
def test_digital_bazaar_rejects_tampered_credentials(
    cli: Cli, did_web_workspace: Workspace, tmp_path: Path, cryptosuite: str, tamper: str
) -> None:
    ws = did_web_workspace
    if cryptosuite != "eddsa-rdfc-2022":
        ws = ws.set("signing", "cryptosuite", cryptosuite)
    credential, controller = issued(cli, ws, tmp_path)
    assert standard_verifier(write(tmp_path / "original.json", credential), controller)["verified"] is True
    proof = credential["proof"][0]
    if tamper == "changed name":
        credential["name"] = "Changed " + credential["name"]
    elif tamper == "changed subject":
        credential["credentialSubject"]["name"] = "Somebody Else"
    elif tamper == "altered proofValue":
        value = proof["proofValue"]
        proof["proofValue"] = value[:-3] + ("abc" if value[-3:] != "abc" else "abd")
    else:
        # the issuer's controller document no longer lists the key under assertionMethod
        doc = json.loads(controller.read_text())
        doc["assertionMethod"] = []
        controller = write(tmp_path / "no-assertion.json", doc)
    verdict = standard_verifier(write(tmp_path / "tampered.json", credential), controller)
    assert verdict["verified"] is False, verdict
    if tamper == "key not an assertionMethod":
        assert 'not authorized by controller for proof purpose "assertionMethod"' in verdict["error"]
    else:
        assert "Invalid signature." in verdict["error"]


def test_the_loader_serves_no_network(cli: Cli, did_web_workspace: Workspace, tmp_path: Path) -> None:
    credential, controller = issued(cli, did_web_workspace, tmp_path)
    credential["@context"] = [*credential["@context"], "https://example.org/not-bundled/v1"]
    verdict = standard_verifier(write(tmp_path / "credential.json", credential), controller)
    assert verdict["verified"] is False
    assert "https://example.org/not-bundled/v1 is not served" in verdict["error"]
