"""`credanchor init` as a new registrar meets it."""

from collections.abc import Callable
from pathlib import Path

from anchoring.localnode import free_port
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_init_names_the_section_to_edit(cli: Cli, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    result = cli("init", ws, "--scrypt-n", "4096", "--port", str(free_port()))
    assert result.code == 0
    assert f"set your issuer's real id and name in {ws.resolve()}/credanchor.toml ([issuer]) before issuing" in (
        result.out
    )
