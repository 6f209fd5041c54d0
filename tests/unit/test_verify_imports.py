"""`credanchor verify` loads only what it needs: answering one receipt must not pay for web3, eth-account or
py_ecc (most of a second of imports) when no node is asked, nor for the issuer's key handling ever; run as a
user runs it (`python -m credanchor verify ...`, the console script's entry) it loads neither Typer nor any
other command, nothing of the issuer side unless a workspace is named, and no eth-utils (rlp, py-trie).

Checked in a fresh interpreter (a test process has imported everything already): the CLI module, then an
offline verification of a committed version 2 receipt, then the modules that were loaded."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from credanchor import wiring
from issuer import workspace

ROOT = Path(__file__).parent.parent.parent
ASSETS = Path(__file__).parent.parent / "assets" / "evidence" / "v2"
HEAVY = ("web3", "eth_account", "py_ecc", "eth_keyfile")
ISSUER_KEYS = ("issuer.keys", "issuer.signing", "issuer.workspace")
NETWORK_CLIENTS = ("requests", "urllib3", "aiohttp", "asyncio")
"""pyld builds a document loader over one of these as it is imported (and loads asyncio for its aiohttp
loader); credanchor never lets it fetch, so it loads none of them."""

PROBE = """
import json, sys
import credanchor.cli
loaded_by_import = sorted(sys.modules)
sys.argv = ["credanchor", *sys.argv[2:]]
try:
    credanchor.cli.main()
except SystemExit as done:
    code = done.code
with open(OUT, "w") as out:
    json.dump({"exit": code, "after_import": loaded_by_import, "after_verify": sorted(sys.modules)}, out)
"""


ENTRY_PROBE = """
import json, runpy, sys
sys.argv = ["credanchor", *sys.argv[2:]]
try:
    runpy.run_module("credanchor", run_name="__main__")
except SystemExit as done:
    code = done.code
from pydantic import BaseModel
built = sorted(m.__name__ for m in BaseModel.__subclasses__() + [
    s for m in BaseModel.__subclasses__() for s in m.__subclasses__()] if m.__pydantic_complete__)
with open(OUT, "w") as out:
    json.dump({"exit": code, "after_verify": sorted(sys.modules), "models_built": built}, out)
"""
NOT_FOR_VERIFY = ("typer", "click", "issuer", "rlp", "trie", "eth_utils", "eth_typing", "toolz", "cytoolz", "rich")
"""Packages a plain `verify` never loads (the issuer side only for a workspace's config, with -w; rich only
for a terminal: these runs write to a pipe)."""
NOT_FOR_A_RECEIPT = ("credanchor.cli", "anchoring.baking", "anchoring.pdfcarrier", "anchoring.svgsafe")
"""Modules a receipt JSON does not need: the other commands, and the readers of badges and certificates."""


def loaded(tmp_path: Path, *args: str, entry: bool = False) -> dict[str, object]:
    """The modules a fresh interpreter loaded: for `credanchor.cli` and then `args` through its `main`, or
    (`entry`) for `args` run as `python -m credanchor` (the console script's way in)."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDANCHOR_")}
    script = f"OUT = {str(out)!r}\n{ENTRY_PROBE if entry else PROBE}"
    subprocess.run(
        [sys.executable, "-c", script, "credanchor", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )
    result: dict[str, object] = json.loads(out.read_text())
    return result


def heavy_in(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m.split(".")[0] in HEAVY or m in ISSUER_KEYS]


def not_for_verify(modules: object, *, workspace: bool = False) -> list[str]:
    """Loaded modules that a plain `verify` must not load (with a workspace: its config, and nothing more)."""
    assert isinstance(modules, list)
    allowed = {"issuer", "issuer.config", "issuer.workspace"} if workspace else set()
    return [
        m
        for m in modules
        if (m.split(".")[0] in NOT_FOR_VERIFY or m.startswith(NOT_FOR_A_RECEIPT) or m.startswith("credanchor.cli_"))
        and m not in allowed
    ]


OFFLINE = [
    "verify",
    str(ASSETS / "receipt-0.json"),
    "--offline",
    "--checkpoints",
    str(ASSETS / "checkpoints.toml"),
    "--trust",
    str(ASSETS / "trust.toml"),
]


def test_verify_run_as_a_user_runs_it_loads_only_the_verifier(tmp_path: Path) -> None:
    result = loaded(tmp_path, *OFFLINE, entry=True)
    assert result["exit"] == 0  # the receipt verified: the check covers a whole verification
    modules = result["after_verify"]
    assert not_for_verify(modules) == []
    assert heavy_in(modules) == []
    assert isinstance(modules, list)
    assert {"credanchor.entry", "credanchor.verifycmd", "verifier.evidencecheck", "anchoring.rdfc"} <= set(modules)
    # A well-formed receipt is read by the verifier's fast path: no pydantic validator is built (nor its plugins
    # looked for), though the models are there for any receipt it is not sure of.
    assert result["models_built"] == []
    assert "pydantic.plugin._loader" not in modules
    # pyld's HTML reader and file loader's URL helper are loaded only if used; offline, no HTTP client at all.
    assert [m for m in ("lxml.html", "lxml.etree", "urllib.request", "http.client") if m in modules] == []


@pytest.mark.parametrize(
    "extra",
    [["--details"], ["--json"], ["--brief", "--require-signature", "--min-confirmations=1"], ["--", "x.json"]],
)
def test_options_of_a_plain_verify_keep_it_lean(tmp_path: Path, extra: list[str]) -> None:
    result = loaded(tmp_path, *OFFLINE, *extra, entry=True)
    assert result["exit"] in (0, 2)  # x.json does not exist: malformed, exit 2
    assert not_for_verify(result["after_verify"]) == []


@pytest.mark.parametrize("args", [["verify", "--help"], ["verify"], ["verify", "r.json", "--quorum", "0"]])
def test_help_and_usage_errors_of_verify_come_from_the_typer_app(tmp_path: Path, args: list[str]) -> None:
    result = loaded(tmp_path, *args, entry=True)
    assert result["exit"] == (0 if "--help" in args else 2)
    assert isinstance(result["after_verify"], list)
    assert "typer" in result["after_verify"]


def test_offline_verify_imports_no_web3_eth_account_or_py_ecc(tmp_path: Path) -> None:
    result = loaded(tmp_path, *OFFLINE)
    assert result["exit"] == 0  # the receipt verified: the check below covers a whole verification
    assert heavy_in(result["after_import"]) == []
    assert heavy_in(result["after_verify"]) == []
    assert isinstance(result["after_verify"], list)
    assert "verifier.evidencecheck" in result["after_verify"]
    assert "anchoring.rdfc" in result["after_verify"]  # an eddsa-rdfc-2022 proof: pyld was needed, and loaded
    assert [m for m in result["after_verify"] if m.split(".")[0] in NETWORK_CLIENTS] == []


@pytest.mark.parametrize("args", [["--help"], ["verify", "--help"]])
def test_help_imports_no_web3(tmp_path: Path, args: list[str]) -> None:
    result = loaded(tmp_path, *args)
    assert result["exit"] == 0
    assert heavy_in(result["after_verify"]) == []


def test_wiring_names_the_workspace_variable_as_the_issuer_side_does() -> None:
    assert wiring.ENV_WORKSPACE == workspace.ENV_WORKSPACE


def test_a_command_runs_from_a_one_command_app_and_help_from_the_whole_app() -> None:
    from credanchor.cli import app, only_command

    one = only_command(["verify", "receipt.json", "--json"])
    assert [c.callback.__name__ for c in one.registered_commands if c.callback] == ["verify"]
    assert only_command(["batches"]).registered_commands[0].name == "batches"
    assert only_command(["--help", "verify"]) is app
    assert only_command([]) is app
    assert only_command(["chain", "up"]) is app  # a group: its subcommands are looked up by typer as before
    assert only_command(["no-such-command"]) is app
