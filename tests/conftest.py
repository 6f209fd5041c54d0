"""Fixtures: a real node per session (Anvil, or Hardhat with CREDANCHOR_TEST_NODE=hardhat), funded keys,
deployed registries and ready workspaces, and an in-process runner for the CLI."""

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount

from anchoring.chain import Chain, Registry
from anchoring.localnode import REPO, find_anvil, free_port, wait_for_rpc
from anchoring.sender import TxSender
from issuer.chainops import fund_locally
from issuer.workspace import Workspace, init_workspace

ASSETS = Path(__file__).parent / "assets"
TEST_SCRYPT_N = 2**12
NODE_KIND = os.environ.get("CREDANCHOR_TEST_NODE", "anvil")


@dataclass
class Node:
    kind: str
    url: str
    process: subprocess.Popen[bytes]

    def chain(self) -> Chain:
        return Chain(self.url)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def rpc(self, method: str, *params: Any) -> Any:
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        reply = requests.post(self.url, json=payload, timeout=10)
        body = reply.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]


SECOND_CHAIN_ID = 31338


def start_node(kind: str, *extra: str, log: Path | None = None, port: int | None = None, chain_id: int = 31337) -> Node:
    """A real node on a free port of 127.0.0.1 (or the port given, to restart one); Anvil takes any chain id,
    the Hardhat node is 31337."""
    port = port or free_port()
    if kind == "anvil":
        args = [str(find_anvil()), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id), *extra]
        cwd = None
    elif kind == "hardhat":
        args = ["npx", "hardhat", "node", "--hostname", "127.0.0.1", "--port", str(port), *extra]
        cwd = REPO / "hardhat-local"
    else:
        raise ValueError(f"CREDANCHOR_TEST_NODE={kind!r}: expected anvil or hardhat")
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    out = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(url, 90, process)
    except Exception:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return Node(kind, url, process)


def stop_node(node: Node) -> None:
    """Stop the node and everything it started: `npx hardhat node` runs the node as a child process, so the
    whole process group (the node was started in a session of its own) is signalled, not just `npx`."""
    try:
        os.killpg(node.process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        node.process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.process.pid, signal.SIGKILL)  # children that outlived their parent


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    started = start_node(NODE_KIND, log=tmp_path_factory.mktemp("node") / "node.log")
    yield started
    stop_node(started)


@pytest.fixture(scope="session")
def second_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """Another chain (Anvil, chain id 31338) beside `node`, for anchors on several chains. Tests that stop a
    node start their own instead."""
    started = start_node("anvil", log=tmp_path_factory.mktemp("node2") / "node.log", chain_id=SECOND_CHAIN_ID)
    yield started
    stop_node(started)


@pytest.fixture(scope="session")
def chain(node: Node) -> Chain:
    return node.chain()


def funded(chain: Chain) -> LocalAccount:
    account: LocalAccount = Account.create()
    fund_locally(chain, account.address)
    return account


@pytest.fixture
def account(chain: Chain) -> LocalAccount:
    return funded(chain)


TEST_ISSUER_ID = "https://registrar.test.edu"
TEST_SIGNING_SEED = bytes(range(32))


def deploy(
    chain: Chain,
    account: LocalAccount,
    admin_delay: int = 3600,
    *,
    issuer_id: str = TEST_ISSUER_ID,
    signing_keys: tuple[bytes, ...] | None = None,
) -> Registry:
    if signing_keys is None:
        seed_key = Ed25519PrivateKey.from_private_bytes(TEST_SIGNING_SEED)
        signing_keys = (seed_key.public_key().public_bytes_raw(),)
    mined = TxSender(chain, account).deploy_registry(
        admin_delay=admin_delay, issuer_id=issuer_id, signing_keys=signing_keys
    )
    assert mined.contract_address
    return chain.registry(mined.contract_address)


@pytest.fixture
def registry(chain: Chain, account: LocalAccount) -> Registry:
    return deploy(chain, account)


def make_workspace(
    root: Path, node: Node, *, deploy_registry: bool = True, issuer_id: str = TEST_ISSUER_ID
) -> Workspace:
    """A workspace on the test node with its registry deployed (bound to `issuer_id`) and its key funded."""
    ws = init_workspace(root, issuer_id=issuer_id, issuer_name="Test University", scrypt_n=TEST_SCRYPT_N)
    ws = ws.set("chain", "rpc_url", node.url)
    if deploy_registry:
        chain = node.chain()
        from credanchor.wiring import account as load_account
        from issuer.chainops import deploy as deploy_for
        from issuer.keys import keystore_address

        fund_locally(chain, keystore_address(ws.keystore_path))
        ws, _ = deploy_for(ws, chain, load_account(ws))
    return ws


def add_chain(ws: Workspace, node: Node) -> Workspace:
    """Anchor `ws`'s batches on `node`'s chain too: a [[chain]] entry, the key funded, a registry deployed."""
    from credanchor.wiring import account as load_account
    from issuer.chainops import add_chain as add_entry
    from issuer.chainops import deploy as deploy_for
    from issuer.keys import keystore_address

    chain = node.chain()
    ws = add_entry(ws, chain.chain_id, node.url, None, None)
    fund_locally(chain, keystore_address(ws.keystore_path))
    index, _ = ws.config.chain_by_id(chain.chain_id)
    ws, _ = deploy_for(ws, chain, load_account(ws), index)
    return ws


@pytest.fixture
def workspace(tmp_path: Path, node: Node) -> Workspace:
    return make_workspace(tmp_path / "ws", node)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `credanchor ARGS...` in this process, as a user would, returning exit code, stdout and stderr."""
    from credanchor.cli import main

    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr("sys.argv", ["credanchor", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    import csv

    header = header or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def people(n: int, domain: str = "example.org") -> list[dict[str, str]]:
    return [{"email": f"person{i}@{domain}", "name": f"Person {i}"} for i in range(n)]


def issue_killed_at(ws: Workspace, csv: Path, fault: str, **env: str) -> str:
    """Run `credanchor issue CSV` in a process that SIGKILLs itself at the named fault point; its output."""
    import signal
    import sys

    killed = subprocess.run(
        [sys.executable, "-m", "credanchor", "issue", str(csv), "--achievement", "example", "-w", str(ws.root)],
        env={**os.environ, **env, "CREDANCHOR_FAULT": fault},
        capture_output=True,
        check=False,
        timeout=300,
    )
    text = (killed.stdout + killed.stderr).decode(errors="replace")
    assert killed.returncode == -signal.SIGKILL, text
    return text
