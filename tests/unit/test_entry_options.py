"""The lean `verify` (credanchor.entry) knows the Typer command's options exactly: names, the parameter each
sets, which take a path and which must be at least one. A new or renamed option fails here, not in use."""

from pathlib import Path
from typing import Any

import typer

from credanchor import entry
from credanchor.cli import app


def verify_params() -> dict[str, Any]:
    """The verify command's options as Typer builds them (its own copy of click: read by attribute)."""
    command = typer.main.get_command(app).commands["verify"]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params if p.param_type_name == "option"}


def test_every_option_of_verify_is_known_to_the_lean_reader_and_only_those() -> None:
    value_options: dict[str, str] = {}
    flags: dict[str, tuple[str, bool]] = {}
    paths, at_least_one = set(), set()
    for name, param in verify_params().items():
        if name == "help":
            continue
        if param.is_flag:
            flags.update(dict.fromkeys(param.opts, (name, True)))
            flags.update(dict.fromkeys(param.secondary_opts, (name, False)))
            continue
        value_options.update(dict.fromkeys(param.opts, name))
        if param.type_descriptor.annotation is Path:
            paths.add(name)
        if param.min == 1:
            at_least_one.add(name)
    assert value_options == entry.VALUE_OPTIONS
    assert flags == entry.FLAGS
    assert paths == entry.PATHS
    assert at_least_one == entry.AT_LEAST_ONE
