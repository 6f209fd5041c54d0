"""Baked badges for earners: each receipt of a batch baked into the achievement's picture, beside the receipt.

Invariants:
- The picture is the template's `image_file` (a PNG or SVG inside the achievements folder, checked like any
  image from outside: size cap, a PNG is a complete PNG that decodes within the pixel cap, an SVG passes
  `anchoring.svgsafe`: no DTD, entities, scripts, foreign objects, event handlers or outside references; a
  bad file is refused with the reason, never cleaned up silently), or else the default badge drawn from the
  achievement's and issuer's names (`issuer.badgeimage`).
- `<receipt stem>.png|.svg` is written beside its receipt (beside the container, named after the credential,
  for receipts in a JSON Lines file or a zip) only after `anchoring.baking.bake` read it back
  and found the receipt and its credential; baking is deterministic, so a re-run (a resumed batch) writes
  only the images that are missing or differ, and an interrupted run leaves no half-written file.
"""

import io
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from PIL import Image

from anchoring import baking, pngchunks, svgsafe
from anchoring.errors import InvalidInput
from anchoring.faults import fault
from anchoring.files import atomic_write
from anchoring.jsonio import read_limited
from anchoring.progress import Progress
from anchoring.receipt import Receipt
from anchoring.receiptfiles import beside, read_receipt_at
from anchoring.workers import parallel_map
from issuer.badgeimage import default_png, default_svg
from issuer.templates import Template, available, load_template
from issuer.workspace import Workspace

KINDS = ("png", "svg")
MAX_PICTURE_BYTES = 8 * 1024 * 1024
"""A template's picture (or `bake --image`) may be at most this large, leaving room under the baked image's
cap (`baking.MAX_IMAGE_BYTES`) for the credential and the receipt."""
BAKE_CHUNK = 250


def picture_kind(data: bytes, source: str) -> str:
    kind = baking.image_kind(data)
    if kind is None:
        raise InvalidInput(f"{source}: not a PNG or SVG image")
    return kind


def checked_picture(data: bytes, source: str, kind: str | None = None) -> bytes:
    """`data` if it is a picture fit to bake (of `kind`, when given); the reason otherwise."""
    if len(data) > MAX_PICTURE_BYTES:
        raise InvalidInput(f"{source}: {len(data):,} bytes is over the limit of {MAX_PICTURE_BYTES:,} bytes")
    actual = picture_kind(data, source)
    if kind is not None and actual != kind:
        raise InvalidInput(f"{source}: is {actual.upper()}, but a {kind.upper()} badge was asked for")
    if actual == "svg":
        svgsafe.parse_svg(data, source, InvalidInput)
        svgsafe.layout(data, set(), source, InvalidInput)
        return data
    chunks = pngchunks.read_chunks(data, source, InvalidInput)
    width, height = pngchunks.dimensions(chunks, source, InvalidInput)
    if not (0 < width <= baking.MAX_SIDE and 0 < height <= baking.MAX_SIDE) or width * height > baking.MAX_PIXELS:
        raise InvalidInput(
            f"{source}: PNG is {width} x {height} pixels; at most {baking.MAX_SIDE} a side and "
            f"{baking.MAX_PIXELS:,} pixels"
        )
    # Decoded once, within the pixel cap checked above, so a picture that would show broken is refused now
    # rather than baked for every earner.
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{source}: PNG does not decode: {exc}") from None
    return data


def template_picture(workspace: Workspace, template: Template, kind: str) -> bytes:
    """The picture to bake for an achievement: its template's `image_file`, or the default badge."""
    if template.image_file is None:
        issuer = workspace.config.issuer.name
        return default_png(template.name, issuer) if kind == "png" else default_svg(template.name, issuer)
    folder = workspace.achievements_dir
    path = folder / template.image_file
    if not path.resolve().is_relative_to(folder.resolve()):
        raise InvalidInput(f"{path}: image_file of achievement {template.key!r} leads outside {folder}")
    claimed = path.suffix.lower().lstrip(".")
    if claimed != kind:
        raise InvalidInput(
            f"achievement {template.key!r} has a {claimed.upper()} image_file ({template.image_file}); bake {claimed} "
            f"badges for it, or remove image_file to bake the default {kind.upper()} badge"
        )
    return checked_picture(read_limited(path, MAX_PICTURE_BYTES), str(path), kind)


def badge_path(receipt: Path, kind: str) -> Path:
    return receipt.with_suffix(f".{kind}")


def bake_file(picture: bytes, receipt: Path, kind: str, out: Path | None = None, *, durable: bool = True) -> bool:
    """Bake one receipt file into `picture`, written to `out` (default: beside the receipt); False when an
    identical image was there already."""
    return bake_at(picture, str(receipt), kind, out or badge_path(receipt, kind), durable=durable)


def bake_at(picture: bytes, location: str, kind: str, target: Path, *, durable: bool = True) -> bool:
    """Bake the receipt at `location` (a file, a JSON Lines line or a zip member) into `picture`, written to
    `target`; False when an identical image was there already."""
    data = read_receipt_at(location)
    baked = baking.bake(picture, data, source=location, image_source=f"the {kind.upper()} picture")
    try:
        if target.is_file() and target.stat().st_size == len(baked) and target.read_bytes() == baked:
            return False
    except OSError:
        pass  # unreadable: written anew below
    atomic_write(target, baked, durable=durable)
    return True


def _bake_chunk(picture: bytes, kind: str, jobs: list[tuple[str, Path]]) -> int:
    return sum(bake_at(picture, location, kind, target, durable=False) for location, target in jobs)


def bake_receipts(
    picture: bytes, receipts: Sequence[Path], kind: str, advance: Callable[[int], None] | None = None
) -> int:
    """Bake every receipt file beside itself, on every core; how many images were (re)written."""
    return bake_locations(picture, [(str(r), badge_path(r, kind)) for r in receipts], kind, advance)


def bake_locations(
    picture: bytes, receipts: Sequence[tuple[str, Path]], kind: str, advance: Callable[[int], None] | None = None
) -> int:
    """Bake each (receipt location, image path), on every core; how many images were (re)written."""
    jobs = [list(receipts[i : i + BAKE_CHUNK]) for i in range(0, len(receipts), BAKE_CHUNK)]
    written = 0
    for position, count in enumerate(parallel_map(partial(_bake_chunk, picture, kind), jobs)):
        written += count
        if advance:
            advance(len(jobs[position]))
        fault("baking")
    os.sync()  # one flush for every image above, before the batch is recorded as delivered
    return written


def bake_batch(
    workspace: Workspace, achievement: str, receipts: Mapping[str, str], kind: str, progress: Progress
) -> int:
    """A delivered batch's badges (credential id -> receipt location): its achievement's picture, each receipt
    baked in beside it (beside its container, named after the credential, for receipts in a JSON Lines file
    or a zip)."""
    picture = template_picture(workspace, load_template(workspace.achievements_dir, achievement), kind)
    progress.stage(f"baking {kind.upper()} badges", len(receipts))
    jobs = [(location, beside(location, cid, f".{kind}")) for cid, location in receipts.items()]
    return bake_locations(picture, jobs, kind, progress.advance)


def receipt_picture(workspace: Workspace | None, receipt: bytes, source: str, kind: str | None) -> tuple[bytes, str]:
    """The picture (and format) to bake one receipt into, for `credanchor bake` without `--image`.

    The receipt's own workspace (its registry and chain are the workspace's) gives its achievement's template
    picture; any other receipt gets the default badge drawn from the names its credential holds.
    """
    parsed = Receipt.from_json(receipt, source=source)
    template = _template_of(workspace, parsed) if workspace is not None else None
    if workspace is not None and template is not None:
        if kind is None and template.image_file is not None:
            kind = template.image_file.lower().rsplit(".", 1)[-1]
        kind = kind or workspace.config.earner.bake or "png"
        return template_picture(workspace, template, kind), kind
    kind = kind or (workspace.config.earner.bake if workspace is not None else None) or "png"
    view = parsed.view()
    achievement = view.credential_subject.achievement.name
    issuer = view.issuer.name or view.issuer.id
    return (default_png(achievement, issuer) if kind == "png" else default_svg(achievement, issuer)), kind


def _template_of(workspace: Workspace, receipt: Receipt) -> Template | None:
    """The workspace's template the receipt's credential was issued from, if the receipt is this workspace's."""
    chain = workspace.config.chain
    if receipt.anchor.chain_id != chain.chain_id or receipt.anchor.registry.lower() != chain.registry.lower():
        return None
    wanted = receipt.view().credential_subject.achievement.id
    for key in available(workspace.achievements_dir):
        try:
            template = load_template(workspace.achievements_dir, key)
        except InvalidInput:
            continue  # a broken template of another achievement is not this receipt's business
        if template.achievement_id(workspace.config.issuer.id) == wanted:
            return template
    return None
