"""`credanchor verify` against a real node loads no web3, eth-abi, eth-account or py_ecc: it reads the
registry through the plain JSON-RPC reader (`anchoring.rpcreader`), in a fresh interpreter as a user runs it."""

from collections.abc import Callable
from pathlib import Path

import pytest

from issuer.workspace import Workspace
from tests.conftest import CliResult, people, write_csv
from tests.integration.rpcproxy import rpc_proxy
from tests.unit.test_verify_imports import heavy_in, loaded, not_for_verify

pytestmark = pytest.mark.chain


def issued_receipt(cli: Callable[..., CliResult], workspace: Workspace) -> Path:
    """One receipt of a two-credential batch issued in `workspace`."""
    csv = write_csv(workspace.root / "records.csv", people(2))
    out = workspace.root / "out"
    assert cli("issue", csv, "--achievement", "example", "--out", out, "-w", workspace.root).code == 0
    return sorted(out.glob("*.json"))[0]


WEB3_SIDE = ("web3", "eth_abi", "eth_account", "py_ecc", "eth_keyfile", "requests", "urllib3", "aiohttp", "asyncio")


def test_online_verify_imports_no_web3_or_eth_abi(
    tmp_path: Path, cli: Callable[..., CliResult], workspace: Workspace
) -> None:
    receipt = issued_receipt(cli, workspace)
    config = workspace.config
    trust = tmp_path / "trust.toml"
    trust.write_text(
        f'[[registry]]\nname = "Test"\nchain_id = {config.chain.chain_id}\naddress = "{config.chain.registry}"\n'
        f'issuer_id = "{config.issuer.id}"\n'
    )
    result = loaded(tmp_path, "verify", str(receipt), "--rpc-url", config.chain.rpc_url, "--trust", str(trust))
    assert result["exit"] == 0  # verified against the node: the check below covers a whole online run
    modules = result["after_verify"]
    assert isinstance(modules, list)
    assert "anchoring.rpcreader" in modules
    assert heavy_in(modules) == []
    assert [m for m in modules if m.split(".")[0] in WEB3_SIDE] == []


def test_online_verify_as_a_user_runs_it_loads_no_typer_and_of_the_workspace_only_its_config(
    tmp_path: Path, cli: Callable[..., CliResult], workspace: Workspace
) -> None:
    receipt = str(issued_receipt(cli, workspace))
    result = loaded(tmp_path, "verify", receipt, "-w", str(workspace.root), entry=True)
    assert result["exit"] == 0
    modules = result["after_verify"]
    assert isinstance(modules, list)
    assert not_for_verify(modules, workspace=True) == []
    assert [m for m in modules if m.split(".")[0] in WEB3_SIDE] == []


def test_a_quorum_of_nodes_proving_evidence_loads_no_web3_either(
    tmp_path: Path, cli: Callable[..., CliResult], workspace: Workspace
) -> None:
    """Two nodes must agree, so the state is proven from fresh eth_getProof answers: raw calls go through the
    same plain reader."""
    receipt = issued_receipt(cli, workspace)
    url = workspace.config.chain.rpc_url
    with rpc_proxy(url) as second:
        result = loaded(tmp_path, "verify", str(receipt), "--rpc-url", url, "--rpc-url", second, "--quorum", "2",
                        "-w", str(workspace.root))  # fmt: skip
    assert result["exit"] == 0
    modules = result["after_verify"]
    assert isinstance(modules, list)
    assert "anchoring.evidencecollect" in modules
    assert [m for m in modules if m.split(".")[0] in WEB3_SIDE] == []
