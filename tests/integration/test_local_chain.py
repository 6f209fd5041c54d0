"""`credanchor chain up/down/status`: a real Anvil node whose anchors survive a restart."""

import json
import socket
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anchoring.localnode import LocalNode, free_port
from tests.conftest import CliResult, people, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]


@pytest.fixture
def local_ws(cli: Cli, tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "ws"
    assert cli("init", ws, "--scrypt-n", "4096", "--port", str(free_port())).code == 0
    yield ws
    LocalNode(ws / "chain").stop()


def config(ws: Path) -> dict[str, dict[str, object]]:
    return tomllib.loads((ws / "credanchor.toml").read_text())


def test_anchors_survive_chain_down_and_up(cli: Cli, local_ws: Path) -> None:
    up = cli("chain", "up", "-w", local_ws)
    assert up.code == 0, up.err
    registry = str(config(local_ws)["chain"]["registry"])
    assert f"registry {registry} deployed" in up.out
    status = cli("chain", "status", "--json", "-w", local_ws)
    assert status.code == 0
    assert json.loads(status.out)["running"] is True

    csv = write_csv(local_ws / "records.csv", people(5))
    issued = cli("issue", csv, "--achievement", "example", "--out", local_ws / "out", "-w", local_ws)
    assert issued.code == 0, issued.err
    receipts = sorted((local_ws / "out").glob("*.json"))

    down = cli("chain", "down", "-w", local_ws)
    assert down.out.strip() == "local chain stopped; state saved"
    assert cli("chain", "status", "-w", local_ws).code == 1
    assert cli("verify", *receipts, "-w", local_ws).code == 3

    again = cli("chain", "up", "-w", local_ws)
    assert again.code == 0, again.err
    assert f"registry {registry} found" in again.out
    verified = cli("verify", *receipts, "--json", "-w", local_ws)
    assert verified.code == 0, verified.out
    audit = cli("audit", "--manifests", local_ws / "manifests", "-w", local_ws)
    assert audit.code == 0, audit.out


def test_up_twice_is_harmless_and_a_busy_port_is_refused(cli: Cli, local_ws: Path) -> None:
    first = cli("chain", "up", "-w", local_ws)
    assert first.code == 0
    second = cli("chain", "up", "-w", local_ws)
    assert second.code == 0
    assert "found" in second.out
    assert cli("chain", "down", "-w", local_ws).code == 0
    assert cli("chain", "down", "-w", local_ws).out.strip() == "local chain was not running"

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("chain", "up", "--port", str(port), "-w", local_ws)
    assert result.code == 1
    assert result.err.strip() == f"error: port {port} on 127.0.0.1 is in use; pick another with --port"


def test_stale_pid_file_is_ignored(cli: Cli, local_ws: Path) -> None:
    (local_ws / "chain").mkdir(exist_ok=True)
    (local_ws / "chain" / "node.json").write_text(
        json.dumps({"pid": 2**22 - 7, "port": 1, "url": "x", "state_file": "x", "log_file": "x", "started_at": 0})
    )
    assert cli("chain", "status", "-w", local_ws).code == 1
    assert not (local_ws / "chain" / "node.json").exists()
