"""The issuer key (encrypted keystore, never shown) and the registry's roles, through the CLI, with every
unauthorised call refused by the contract and reported with its decoded reason."""

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account

from anchoring.chain import DEFAULT_ADMIN_ROLE, Chain
from anchoring.errors import TransactionFailed
from anchoring.multibase import multibase_encode
from anchoring.sender import TxSender
from issuer.chainops import fund_locally
from issuer.keys import keystore_address, load_account
from issuer.store import Store
from issuer.workspace import Workspace
from tests.conftest import CliResult, Node, issue_killed_at, make_workspace, people, start_node, stop_node, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
KNOWN_SEED = "9b1e6d3c0f4a2b7e8d5c6a1f0e3b4d2c7a9f8e1d6c5b4a3f2e1d0c9b8a7f6e5d"
KNOWN_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def private_node(tmp_path: Path) -> Iterator[Node]:
    """A node of this test's own: these tests move the clock forward."""
    node = start_node("anvil", log=tmp_path / "anvil.log")
    yield node
    stop_node(node)


def test_keystore_is_encrypted_v3_scrypt_with_mode_0600(workspace: Workspace) -> None:
    data = json.loads(workspace.keystore_path.read_text())
    assert data["version"] == 3
    assert data["crypto"]["kdf"] == "scrypt"
    assert stat.S_IMODE(workspace.keystore_path.stat().st_mode) == 0o600
    assert workspace.passphrase_path is not None
    assert stat.S_IMODE(workspace.passphrase_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((workspace.root / "keys").stat().st_mode) == 0o700


def test_keystore_problems_are_clear(workspace: Workspace, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = write_csv(workspace.root / "r.csv", people(2))
    monkeypatch.setenv("CREDANCHOR_KEY_PASSPHRASE", "wrong")
    result = cli("issue", csv, "--achievement", "example", "-w", workspace.root)
    assert result.code == 2
    assert result.err.strip() == f"error: wrong passphrase for {workspace.keystore_path}"
    monkeypatch.delenv("CREDANCHOR_KEY_PASSPHRASE")
    workspace.keystore_path.chmod(0o644)
    result = cli("issue", csv, "--achievement", "example", "-w", workspace.root)
    assert result.code == 2
    assert result.err.strip() == (
        f"error: {workspace.keystore_path} is readable by others (mode 0644); run: chmod 600 {workspace.keystore_path}"
    )
    assert list(Store(workspace.database_url).batches()) == []


def test_key_import_and_new(workspace: Workspace, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = workspace.root / "secret.hex"
    key_file.write_text("0x" + KNOWN_KEY + "\n")
    monkeypatch.setenv("CREDANCHOR_KEY_PASSPHRASE", PASSPHRASE)
    target = workspace.root / "keys" / "imported.json"
    result = cli("key", "import", "--key-file", key_file, "--out", target, "-w", workspace.root)
    assert result.code == 0, result.err
    expected = Account.from_key(bytes.fromhex(KNOWN_KEY)).address
    assert result.out.strip() == f"imported key {expected} into {target} (mode 0600)"
    assert keystore_address(target) == expected
    assert load_account(target, PASSPHRASE).address == expected
    again = cli("key", "import", "--key-file", key_file, "--out", target, "-w", workspace.root)
    assert again.code == 2
    assert again.err.strip() == f"error: {target} exists already; refusing to overwrite a key"
    key_file.write_text("not a key")
    bad = cli(
        "key", "import", "--key-file", key_file, "--out", workspace.root / "keys" / "bad.json", "-w", workspace.root
    )
    assert bad.err.strip() == "error: a private key must be 64 hex digits (32 bytes), optionally after 0x"
    made = cli("key", "new", "--out", workspace.root / "keys" / "second.json", "-w", workspace.root)
    assert made.code == 0
    assert made.out.startswith("new key 0x")
    shown = cli("key", "address", "--keystore", workspace.root / "keys" / "second.json", "-w", workspace.root)
    assert shown.out.strip() == made.out.split()[2]


def test_private_key_never_appears_in_output_logs_or_files(
    tmp_path: Path, node: Node, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path / "ws", node, deploy_registry=False)
    ws.keystore_path.unlink()
    key_file = tmp_path / "secret.hex"
    key_file.write_text(KNOWN_KEY)
    monkeypatch.setenv("CREDANCHOR_KEY_PASSPHRASE", PASSPHRASE)
    outputs = [cli("key", "import", "--key-file", key_file, "-w", ws.root)]
    key_file.unlink()
    # The Ed25519 signing key too: imported from a known seed, then used to sign every credential.
    ws.signing_key_path.unlink()
    seed_file = tmp_path / "seed.hex"
    seed_file.write_text(KNOWN_SEED)
    outputs.append(cli("key", "import", "--signing", "--key-file", seed_file, "-w", ws.root))
    seed_file.unlink()
    outputs.append(cli("key", "show", "-w", ws.root))
    fund_locally(node.chain(), keystore_address(ws.keystore_path))
    outputs.append(cli("deploy", "-w", ws.root))
    csv = write_csv(ws.root / "records.csv", people(5))
    outputs.append(cli("issue", csv, "--achievement", "example", "-w", ws.root))
    receipts = sorted(ws.receipts_dir.rglob("*-*-*-*-*.json"))
    outputs += [
        cli("verify", *receipts, "-w", ws.root),
        cli("revoke", receipts[0].stem, "--reason", "test", "-w", ws.root),
        cli("revoke", receipts[0].stem, "--reason", "twice", "-w", ws.root),
        cli("audit", "--json", "-w", ws.root),
        cli("doctor", "-w", ws.root),
        cli("role", "show", "-w", ws.root),
        cli("role", "grant", "admin", "0x" + "11" * 20, "-w", ws.root),
        cli("batches", "--json", "-w", ws.root),
    ]
    monkeypatch.setenv("CREDANCHOR_KEY_PASSPHRASE", "wrong")
    outputs.append(cli("issue", csv, "--achievement", "example", "-w", ws.root))
    # a process that dies in the middle of anchoring: its output too
    crashed = issue_killed_at(
        ws, write_csv(ws.root / "more.csv", people(3, "x.org")), "signed", CREDANCHOR_KEY_PASSPHRASE=PASSPHRASE
    )
    texts = [o.out + o.err for o in outputs] + [crashed]
    assert outputs[1].code == 0, outputs[1].err
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p not in (ws.keystore_path, ws.signing_key_path)]
    for secret in (KNOWN_KEY, KNOWN_SEED):
        forms = [secret, secret.upper(), "0x" + secret, multibase_encode(bytes.fromhex(secret))]
        leaks = [f"output {i}" for i, text in enumerate(texts) for form in forms if form in text]
        for path in files:
            data = path.read_bytes()
            leaks += [str(path) for form in forms if form.encode() in data or bytes.fromhex(secret) in data]
        assert leaks == []
    assert len(files) > 10  # database, WAL, receipts, manifests, config, logs were all searched


def send(chain: Chain, registry_address: str, key: object, name: str, *args: object) -> str:
    sender = TxSender(chain, key)  # type: ignore[arg-type]
    registry = chain.registry(registry_address)
    signed = sender.send(getattr(registry.contract.functions, name)(*args))
    return sender.wait_mined(signed.tx_hash, timeout=30).tx_hash


def test_roles_and_admin_handover_through_the_cli(
    tmp_path: Path, private_node: Node, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path / "ws", private_node)
    chain = private_node.chain()
    admin = keystore_address(ws.keystore_path)
    monkeypatch.setenv("CREDANCHOR_KEY_PASSPHRASE", PASSPHRASE)
    keys = ws.root / "keys"
    for name in ("revoker", "successor"):
        assert cli("key", "new", "--out", keys / f"{name}.json", "-w", ws.root).code == 0
    monkeypatch.delenv("CREDANCHOR_KEY_PASSPHRASE")
    revoker, successor = (keystore_address(keys / f"{n}.json") for n in ("revoker", "successor"))
    for address in (revoker, successor):
        fund_locally(chain, address)
    passfile = tmp_path / "pass.txt"
    passfile.write_text(PASSPHRASE)

    # The admin grants the revoke role only; issue one batch with the admin key.
    assert cli("role", "grant", "revoke", revoker, "-w", ws.root).code == 0
    records = write_csv(ws.root / "records.csv", people(4))
    assert cli("issue", records, "--achievement", "example", "-w", ws.root).code == 0
    receipts = sorted(ws.receipts_dir.rglob("*-*-*-*-*.json"))

    # Switch the workspace to the revoke-only key: it can revoke, it cannot anchor.
    as_revoker = ws.set("key", "keystore", "keys/revoker.json").set("key", "passphrase_file", str(passfile))
    refused = cli(
        "issue", write_csv(ws.root / "more.csv", people(2, "x.org")), "--achievement", "example", "-w", ws.root
    )
    assert refused.code == 1
    assert (
        refused.err.strip()
        == f"error: issuer key {revoker} does not hold the anchor role in registry {ws.config.chain.registry}"
    )
    assert len(list(Store(ws.database_url).batches())) == 1
    assert cli("revoke", receipts[0].stem, "--reason", "by the revoker", "-w", ws.root).code == 0

    # The admin takes the revoke role away again: now it can do neither.
    as_admin = as_revoker.set("key", "keystore", "keys/issuer.json").set("key", "passphrase_file", "keys/issuer.pass")
    assert cli("role", "revoke", "revoke", revoker, "-w", ws.root).code == 0
    as_admin.set("key", "keystore", "keys/revoker.json").set("key", "passphrase_file", str(passfile))
    denied = cli("revoke", receipts[1].stem, "--reason", "no longer allowed", "-w", ws.root)
    assert denied.code == 1
    assert (
        denied.err.strip()
        == f"error: registry rejected the call: AccessControlUnauthorizedAccount(account={revoker}, neededRole=revoke)"
    )
    as_admin = as_admin.set("key", "keystore", "keys/issuer.json").set("key", "passphrase_file", "keys/issuer.pass")

    # Admin handover: two steps, and the second only after the delay.
    assert cli("role", "grant", "admin", successor, "-w", ws.root).err.strip() == (
        "error: the admin role changes hands only by `credanchor admin transfer` (two steps, delayed)"
    )
    assert cli("admin", "transfer", successor, "-w", ws.root).code == 0
    early = cli("admin", "accept", "--keystore", keys / "successor.json", "--passphrase-file", passfile, "-w", ws.root)
    assert early.code == 1
    assert early.err.startswith("error: registry rejected the call: AccessControlEnforcedDefaultAdminDelay(schedule=")
    status = json.loads(cli("role", "show", "--json", "-w", ws.root).out)
    assert status["pendingAdmin"] == successor
    private_node.rpc("evm_increaseTime", ws.config.chain.admin_delay + 1)
    private_node.rpc("evm_mine")
    accepted = cli(
        "admin", "accept", "--keystore", keys / "successor.json", "--passphrase-file", passfile, "-w", ws.root
    )
    assert accepted.code == 0, accepted.err
    status = json.loads(cli("role", "show", "--json", "-w", ws.root).out)
    assert status["admin"] == successor
    old = cli("role", "grant", "anchor", revoker, "-w", ws.root)
    assert (
        old.err.strip()
        == f"error: registry rejected the call: AccessControlUnauthorizedAccount(account={admin}, neededRole=admin)"
    )
    new = cli(
        "role",
        "grant",
        "anchor",
        successor,
        "--keystore",
        keys / "successor.json",
        "--passphrase-file",
        passfile,
        "-w",
        ws.root,
    )
    assert new.code == 0, new.err

    # The audit shows every role change after deployment as a notice, and stays clean.
    audit = json.loads(cli("audit", "--json", "-w", ws.root).out)
    assert audit["clean"]
    assert len(audit["notices"]) >= 4
    assert audit["roles"]["admin"] == [successor]


def test_unauthorised_calls_are_refused_by_the_contract(chain: Chain, account: object) -> None:
    from tests.conftest import deploy, funded

    registry = deploy(chain, account)  # type: ignore[arg-type]
    stranger = funded(chain)
    root = os.urandom(32)
    send(chain, registry.address, account, "anchor", root, 1)
    calls = [
        ("anchor", (os.urandom(32), 1), "neededRole=anchor"),
        ("revokeCredential", (root, os.urandom(32), "x"), "neededRole=revoke"),
        ("revokeBatch", (root, "x"), "neededRole=revoke"),
        ("grantRole", (bytes(32), stranger.address), "AccessControlEnforcedDefaultAdminRules()"),
        ("grantRole", (os.urandom(32), stranger.address), "neededRole=admin"),
        ("revokeRole", (os.urandom(32), account.address), "neededRole=admin"),  # type: ignore[attr-defined]
        ("beginDefaultAdminTransfer", (stranger.address,), "neededRole=admin"),
        ("changeDefaultAdminDelay", (0,), "neededRole=admin"),
        ("acceptDefaultAdminTransfer", (), "AccessControlInvalidDefaultAdmin(defaultAdmin="),
    ]
    for name, args, reason in calls:
        with pytest.raises(TransactionFailed) as caught:
            send(chain, registry.address, stranger, name, *args)
        assert reason in str(caught.value), name
    with pytest.raises(TransactionFailed, match=r"AccessControlEnforcedDefaultAdminRules\(\)"):
        send(chain, registry.address, account, "grantRole", bytes.fromhex(DEFAULT_ADMIN_ROLE[2:]), stranger.address)
