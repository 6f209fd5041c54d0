"""The `--bake` option `issue` and `resume` share, and what it means with the workspace's config."""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from issuer.workspace import Workspace


class BakeFormat(StrEnum):
    PNG = "png"
    SVG = "svg"
    NONE = "none"


BakeOpt = Annotated[
    BakeFormat | None,
    typer.Option(
        "--bake",
        help="Also bake each receipt into a badge image beside it: png, svg or none (default: [earner] bake).",
    ),
]


def bake_format(workspace: "Workspace", option: BakeFormat | None) -> str | None:
    """The badge format for a batch: the option given, else the config's `[earner] bake`."""
    if option is None:
        return workspace.config.earner.bake
    return None if option == BakeFormat.NONE else str(option)
