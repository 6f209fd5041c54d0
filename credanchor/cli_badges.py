"""`credanchor bake` and `extract`: badge images that carry a credential and its receipt (Open Badges baking).

The commands register on the main app when `credanchor.cli` imports this module (`issue --bake` and `resume
--bake` are in `credanchor.bakeopt`). As everywhere in the CLI: parse options, call one service, render.
Neither command ever overwrites a file unless told to (`--force`).
"""

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anchoring.errors import InvalidInput, InvalidReceipt
from credanchor import render
from credanchor.cli import app

if TYPE_CHECKING:
    from issuer.workspace import Workspace


class ImageFormat(StrEnum):
    PNG = "png"
    SVG = "svg"


ForceOpt = Annotated[bool, typer.Option("--force", help="Replace files that exist already.")]


def _refuse_existing(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        raise InvalidInput(f"{', '.join(existing)} exists already; pass --force to replace it")


def _workspace(option: Path | None) -> "Workspace | None":
    """The workspace named, or the current folder if it is one: it only picks the picture to bake."""
    from issuer.config import CONFIG_NAME
    from issuer.workspace import ENV_WORKSPACE, open_workspace

    named = option or (Path(os.environ[ENV_WORKSPACE]) if os.environ.get(ENV_WORKSPACE) else None)
    if named is not None:
        return open_workspace(named)
    return open_workspace(Path.cwd()) if (Path.cwd() / CONFIG_NAME).is_file() else None


@app.command()
def bake(
    receipt: Annotated[Path, typer.Argument(help="The receipt (.json) to bake.")],
    image: Annotated[
        Path | None,
        typer.Option(help="PNG or SVG picture to bake into (default: the achievement's, or a default badge)."),
    ] = None,
    image_format: Annotated[ImageFormat | None, typer.Option("--format", help="png or svg.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Badge file to write (default: beside the receipt).")
    ] = None,
    force: ForceOpt = False,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", envvar="CREDANCHOR_WORKSPACE", help="Workspace whose templates to use."),
    ] = None,
) -> None:
    """Bake a receipt into a badge image (Open Badges 3.0 baking, plus the receipt for `credanchor verify`)."""
    from anchoring.jsonio import read_limited
    from anchoring.receipt import MAX_RECEIPT_BYTES
    from issuer.baked import MAX_PICTURE_BYTES, badge_path, bake_file, checked_picture, picture_kind, receipt_picture

    kind = str(image_format) if image_format is not None else None
    if image is not None:
        picture = read_limited(image, MAX_PICTURE_BYTES)
        kind = kind or picture_kind(picture, str(image))
        picture = checked_picture(picture, str(image), kind)
    else:
        data = read_limited(receipt, MAX_RECEIPT_BYTES, InvalidReceipt)
        picture, kind = receipt_picture(_workspace(workspace), data, str(receipt), kind)
    target = out or badge_path(receipt, kind)
    _refuse_existing([target], force)
    target.parent.mkdir(parents=True, exist_ok=True)
    bake_file(picture, receipt, kind, target)
    render.out.print(f"baked {render.safe(receipt)} into {render.safe(target)} ({kind.upper()}, read back and checked)")


@app.command()
def extract(
    file: Annotated[Path, typer.Argument(help="A baked badge (.png or .svg), or a .jsonl or .zip of receipts.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder to write to (default: the badge's; a container's name, beside it)."),
    ] = None,
    ids: Annotated[
        list[str], typer.Option("--id", help="Only this credential's receipt, from a .jsonl or .zip (repeatable).")
    ] = [],  # noqa: B006
    force: ForceOpt = False,
) -> None:
    """Write a baked badge's receipt (STEM.receipt.json) and bare OB 3.0 credential (STEM.credential.json), or
    every receipt of a .jsonl or .zip (as `issue --receipts dir` names them; --id picks some)."""
    from anchoring.carriers import SNIFF_BYTES, extracted, max_bytes
    from anchoring.files import atomic_write
    from anchoring.jsonio import read_head, read_limited
    from anchoring.receiptfiles import container_kind

    kind = container_kind(file)
    if kind is not None:
        from anchoring.receiptextract import default_folder, extract_receipts

        folder = out or default_folder(file)
        written = extract_receipts(file, kind, folder, ids, force=force)
        render.out.print(f"wrote {len(written)} receipt(s) from {render.safe(file)} to {render.safe(folder)}")
        return
    if ids:
        raise InvalidInput(f"--id picks receipts from a .jsonl or .zip of receipts; {file} is not one")
    head, _ = read_head(file, SNIFF_BYTES, InvalidReceipt)
    files = extracted(read_limited(file, max_bytes(head), InvalidReceipt), str(file))
    folder = out or file.parent
    targets = {folder / f"{file.stem}{suffix}": data for suffix, data in files.items()}
    _refuse_existing(list(targets), force)
    for path, data in targets.items():
        atomic_write(path, data)
        render.out.print(f"wrote {render.safe(path)}")
    if ".receipt.json" not in files:
        render.out.print(
            f"note: {render.safe(file)} carries no credanchor receipt; `credanchor verify` cannot check its anchor"
        )
