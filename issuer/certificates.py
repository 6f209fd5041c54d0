"""Writing certificate PDFs beside receipts: `issue --pdf`, `[earner] pdf = true` and `credanchor certificate`.

Invariants: a certificate is written only after it passed its own check (the receipt read back out of the
PDF equals the receipt file byte for byte), and atomically, so a crash leaves whole PDFs or none; running
again makes only the missing ones. The badge drawn is the template's PNG `image_file`, else the default badge
(an SVG template image is not rasterised into the PDF: the default badge is drawn instead).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from anchoring.errors import CredanchorError, InvalidInput
from anchoring.faults import fault
from anchoring.files import atomic_write
from anchoring.jsonio import read_limited
from anchoring.pdfcarrier import PDF_MAGIC, extract_receipt
from anchoring.receipt import MAX_RECEIPT_BYTES, Receipt
from anchoring.receiptfiles import beside, read_receipt_at
from anchoring.workers import parallel_map
from issuer.badgeimage import default_png
from issuer.certificate import render_certificate
from issuer.sharing import verification_url
from issuer.store import Batch, Store
from issuer.templates import available, load_template
from issuer.workspace import Workspace

MAX_BADGE_BYTES = 5 * 1024 * 1024
MAX_BADGE_PIXELS = 4096 * 4096
CHUNK = 50


@dataclass(frozen=True)
class Look:
    """What every certificate of one run shares: the badge picture and where credentials are verified."""

    badge_png: bytes | None  # None: the default badge of each credential's achievement and issuer
    base_url: str | None


def pdf_path(receipt: Path) -> Path:
    return receipt.with_suffix(".pdf")


def template_badge(workspace: Workspace, achievement_key: str) -> bytes | None:
    """The template's PNG badge, checked to be a picture of sane size; None for no image or an SVG one."""
    template = load_template(workspace.achievements_dir, achievement_key)
    if template.image_file is None or template.image_file.lower().endswith(".svg"):
        return None
    path = workspace.achievements_dir / template.image_file
    data = read_limited(path, MAX_BADGE_BYTES)
    try:
        with Image.open(path) as image:
            if image.format != "PNG" or image.width * image.height > MAX_BADGE_PIXELS:
                raise InvalidInput(f"{path}: badge must be a PNG of at most 4096x4096 pixels")
            image.verify()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise InvalidInput(f"{path}: not a readable PNG image") from None
    return data


def look_of(workspace: Workspace | None, achievement_key: str | None) -> Look:
    base = workspace.config.share.base_url if workspace else None
    badge = template_badge(workspace, achievement_key) if workspace and achievement_key else None
    return Look(badge, str(base) if base else None)


@lru_cache(maxsize=64)
def _default_badge(achievement: str, issuer: str) -> bytes:
    return default_png(achievement, issuer)  # one per achievement, drawn once for a whole batch


def certificate_bytes(receipt: bytes, look: Look) -> bytes:
    """The certificate of one receipt, checked: the receipt it carries is exactly `receipt`."""
    credential = Receipt.from_json(receipt).credential
    badge = look.badge_png
    if badge is None:
        issuer = credential.get("issuer")
        issuer_name = str(issuer.get("name", "")) if isinstance(issuer, dict) else str(issuer)
        achievement = credential.get("credentialSubject", {}).get("achievement", {})
        badge = _default_badge(str(achievement.get("name", credential.get("name", ""))), issuer_name)
    url = verification_url(look.base_url, str(credential["id"])) if look.base_url else None
    pdf = render_certificate(receipt, badge_png=badge, verification_url=url)
    if extract_receipt(pdf) != receipt:
        raise CredanchorError(f"certificate of {credential['id']}: the attached receipt does not read back intact")
    return pdf


def write_certificate(receipt: str, out: Path, look: Look) -> Path:
    """The certificate of the receipt at location `receipt` (a file, a JSON Lines line or a zip member)."""
    data = read_receipt_at(receipt)
    atomic_write(out, certificate_bytes(data, look), durable=False)
    return out


def _chunk(look: Look, jobs: list[tuple[str, Path]]) -> list[str]:
    return [str(write_certificate(receipt, out, look)) for receipt, out in jobs]


def write_certificates(
    jobs: Sequence[tuple[str, Path]],
    look: Look,
    *,
    advance: Callable[[int], None] | None = None,
    replace: bool = False,
) -> list[Path]:
    """Write the certificate of each (receipt location, pdf) pair (only those with no PDF yet unless `replace`), on
    every core; the PDFs written."""
    missing = [(receipt, out) for receipt, out in jobs if replace or not out.exists()]
    chunks = [missing[i : i + CHUNK] for i in range(0, len(missing), CHUNK)]
    made: list[Path] = []
    for written in parallel_map(partial(_chunk, look), chunks):
        made += [Path(p) for p in written]
        if advance:
            advance(len(written))
        if len(made) >= len(missing) // 2:
            fault("certificates-half")
    return made


def template_for(workspace: Workspace, achievement_id: str) -> str | None:
    """The key of the workspace template whose achievement id is `achievement_id` (None if no readable one)."""
    for key in available(workspace.achievements_dir):
        try:
            template = load_template(workspace.achievements_dir, key)
        except InvalidInput:
            continue
        if template.achievement_id(workspace.config.issuer.id) == achievement_id:
            return key
    return None


def certificates_for_receipts(
    receipts: Sequence[Path],
    out_dir: Path | None,
    workspace: Workspace | None,
    *,
    advance: Callable[[int], None] | None = None,
    force: bool = False,
) -> list[Path]:
    """`credanchor certificate`: a PDF per receipt, in `out_dir` or beside it (an existing one only replaced
    with `force`). With a workspace, a receipt of one of its templates gets the template's badge and the
    share URL. A receipt whose credential does not hash to its digest gets no certificate."""
    groups: dict[str | None, list[tuple[str, Path]]] = {}
    targets: dict[Path, Path] = {}
    for receipt in receipts:
        data = read_limited(receipt, MAX_RECEIPT_BYTES)
        if data.startswith(PDF_MAGIC):
            raise InvalidInput(f"{receipt}: is a PDF, not a receipt; a certificate is made from the receipt (.json)")
        parsed = Receipt.from_json(data, source=str(receipt))
        if parsed.computed_digest() != parsed.digest:
            raise InvalidInput(
                f"{receipt}: the credential does not hash to the receipt's digest; a receipt that does not verify "
                "gets no certificate"
            )
        achievement = parsed.view()
        key = template_for(workspace, achievement.credential_subject.achievement.id) if workspace else None
        out = (out_dir / receipt.with_suffix(".pdf").name) if out_dir else pdf_path(receipt)
        if out in targets:
            raise InvalidInput(f"{receipt} and {targets[out]} would both write {out}: give them different folders")
        if out.exists() and not force:
            raise InvalidInput(f"{out} exists; give --force to replace it")
        targets[out] = receipt
        groups.setdefault(key, []).append((str(receipt), out))
    made: list[Path] = []
    for key, jobs in groups.items():
        made += write_certificates(jobs, look_of(workspace, key), advance=advance, replace=True)
    return made


def batch_certificates(
    workspace: Workspace, store: Store, batch: Batch, *, advance: Callable[[int], None] | None = None
) -> list[Path]:
    """For `issue --pdf`: the missing certificates of a batch's receipts, `<receipt stem>.pdf` beside each (for
    receipts in a JSON Lines file or a zip: beside it, named after the credential)."""
    jobs = [(at, beside(at, cid, ".pdf")) for cid, at in store.receipt_paths(batch.id or 0) if at]
    return write_certificates(jobs, look_of(workspace, batch.achievement), advance=advance)
