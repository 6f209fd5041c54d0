"""The `credanchor` entry point: a plain `verify` command line is answered without building the Typer app.

Typer (with its click core) and the modules of every other command cost a `verify` of one receipt about a
tenth of a second before its first step. `verify_call` reads a `verify` command line only when it is plainly
well formed: every option known and written in full, each value of the expected form (a path that Typer
would accept as it is, a whole number in range), nothing asking for help or completion. Then it gives
exactly the values Typer would pass, and `credanchor.verifycmd.run_verify` does the work, with Typer's exit
codes and the CLI's error lines. Anything else (help, a typo, `--quorum 0`, an unknown option, a file that
exists but cannot be read) goes to the Typer app, which answers it as always; so usage, help and error
messages have one source.
"""

import errno
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

VALUE_OPTIONS = {
    "--rpc-url": "rpc_url",
    "--quorum": "quorum",
    "--checkpoints": "checkpoints",
    "--trust": "trust",
    "--min-confirmations": "min_confirmations",
    "--require": "require",
    "--workspace": "workspace",
    "-w": "workspace",
}
FLAGS = {
    "--offline": ("offline", True),
    "--json": ("json_out", True),
    "--details": ("details", True),
    "--brief": ("details", False),
    "--require-signature": ("require_signature", True),
}
PATHS = frozenset({"checkpoints", "trust", "workspace"})
AT_LEAST_ONE = frozenset({"quorum", "min_confirmations"})
ENV_RPC_URL = "CREDANCHOR_RPC_URL"
ENV_WORKSPACE = "CREDANCHOR_WORKSPACE"
_WHOLE = re.compile(r"0|[1-9][0-9]{0,17}")


def main() -> None:
    """`credanchor ARGS...`: the lean `verify`, else the whole Typer app."""
    run_lean(sys.argv[1:])
    from credanchor.cli import run_app

    run_app()


def run_lean(args: list[str], environ: Mapping[str, str] = os.environ) -> None:
    """Answer a plain `verify` command line and exit; return (having done nothing) for any other."""
    call = verify_call(args, environ)
    if call is None:
        return
    from anchoring.errors import CredanchorError
    from credanchor import render
    from credanchor.verifycmd import run_verify

    try:
        try:  # what Typer does around a command
            code = run_verify(**call)
        except EOFError:
            _aborted()
        except KeyboardInterrupt:
            sys.exit(130)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            _pipe_closed()
    except CredanchorError as exc:  # what `credanchor.cli.run_app` does around Typer
        render.print_error(str(exc))
        sys.exit(exc.exit_code)
    sys.exit(code)


def verify_call(args: list[str], environ: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    """The keyword arguments Typer would give `run_verify` for `args`, or None unless `args` is a plain `verify`
    command line that Typer would run as such."""
    if args[:1] != ["verify"] or any(name.endswith("_COMPLETE") for name in environ):
        return None
    call: dict[str, Any] = {"receipts": []}
    rest = args[1:]
    at = 0
    while at < len(rest):
        arg = rest[at]
        at += 1
        if arg == "--":
            for value in rest[at:]:
                if not _add_path(call["receipts"], value):
                    return None
            break
        if not arg.startswith("-"):
            if not _add_path(call["receipts"], arg):
                return None
            continue
        if arg in FLAGS:
            name, flag = FLAGS[arg]
            call[name] = flag
            continue
        option, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if option not in VALUE_OPTIONS:
            return None
        if not equals:
            if at >= len(rest) or rest[at].startswith("-"):
                return None  # no value, or one that looks like an option: Typer says what it makes of it
            value = rest[at]
            at += 1
        if not _set(call, VALUE_OPTIONS[option], value):
            return None
    if not call["receipts"] or ("rpc_url" not in call and environ.get(ENV_RPC_URL)):
        return None  # a missing argument; or nodes from the environment, which Typer splits
    named = environ.get(ENV_WORKSPACE)
    if "workspace" not in call and named and not _set(call, "workspace", named):
        return None  # Typer checks the workspace from the environment as it checks -w
    return call


def _set(call: dict[str, Any], name: str, value: str) -> bool:
    if name == "rpc_url":
        call.setdefault(name, []).append(value)
        return True
    if name in PATHS:
        paths: list[Path] = []
        if not _add_path(paths, value):
            return False
        call[name] = paths[0]
        return True
    if not _WHOLE.fullmatch(value) or (name in AT_LEAST_ONE and value == "0"):
        return False
    call[name] = int(value)
    return True


def _add_path(paths: list[Path], value: str) -> bool:
    """Typer's `Path` of `value`: refused (left to Typer) when empty, when it holds a NUL, or when it names a file
    that exists but cannot be read (Typer refuses that one itself)."""
    if not value or "\x00" in value:
        return False
    try:
        os.stat(value)
    except OSError:
        paths.append(Path(value))
        return True
    if not os.access(value, os.R_OK):
        return False
    paths.append(Path(value))
    return True


def _aborted() -> NoReturn:
    """Typer's answer to end of input inside a command."""
    from typer import _click
    from typer.core import DEFAULT_MARKUP_MODE, HAS_RICH

    _click.echo(file=sys.stderr)
    if HAS_RICH and DEFAULT_MARKUP_MODE is not None:
        from typer import rich_utils

        rich_utils.rich_abort_error()
    else:
        _click.echo("Aborted!", file=sys.stderr)
    sys.exit(1)


def _pipe_closed() -> NoReturn:
    """Typer's answer to a reader that went away: no more output, exit 1."""
    from typer._click.utils import PacifyFlushWrapper

    sys.stdout = PacifyFlushWrapper(sys.stdout)
    sys.stderr = PacifyFlushWrapper(sys.stderr)
    sys.exit(1)
