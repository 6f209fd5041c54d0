"""Public credential pages: `/credentials/{uuid}` for the served workspace's delivered credentials.

Invariants: a page exists only for a credential of a delivered batch whose receipt file is on disk; it is
verified live on every view (the chain's answers cached for a few seconds), so a revocation shows without
anything being republished; a page the issuer withdrew answers 410 Gone with no details; the files offered
are the receipt and, when they lie beside it, the baked badge (`<stem>.png|.svg`) and the certificate
(`<stem>.pdf`). Views are counted per credential and day, nothing about the visitor.
"""

import re
from dataclasses import dataclass, replace
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from anchoring.errors import InvalidReceipt
from anchoring.receiptfiles import beside, location_file, read_receipt_at
from credanchor.web.common import context_of, render, verify_limited
from credanchor.web.context import Context
from credanchor.web.uploads import UploadError, parse_form, sniff
from credanchor.web.views import ResultView, result_view
from issuer.sharing import linkedin_url, verification_url
from issuer.store import State, page_withdrawal
from verifier.recipient import RecipientCheck, check_email

router = APIRouter(include_in_schema=False)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOT_FOUND = "There is no credential page at this address."
DOWNLOADS = (
    ("badge.png", ".png", "image/png"),
    ("badge.svg", ".svg", "image/svg+xml"),
    ("certificate.pdf", ".pdf", "application/pdf"),
)


@dataclass(frozen=True)
class Found:
    credential_id: str
    batch_id: int
    location: str
    """Where the receipt is (`anchoring.receiptfiles`)."""
    receipt: Path
    """The receipt's file name in the `dir` form: its badge and certificate are this with their suffixes."""
    revoked_reason: str | None


def _find(context: Context, uuid: str) -> Found:
    """The delivered credential with this UUID, or 404; 410 when its page was withdrawn."""
    store = context.store
    if store is None or not _UUID.fullmatch(uuid):
        raise UploadError(404, NOT_FOUND)
    credential_id = f"urn:uuid:{uuid}"
    found = store.find_credentials(credential_id=credential_id)
    if not found or found[0].batch.state != State.DELIVERED or not found[0].receipt_path:
        raise UploadError(404, NOT_FOUND)
    if page_withdrawal(store, credential_id) is not None:
        raise UploadError(410, "The issuer has withdrawn this credential's page.")
    issued = found[0]
    location = str(issued.receipt_path)
    if not location_file(location).is_file():
        raise UploadError(404, NOT_FOUND)
    receipt = beside(location, credential_id, ".json")  # its badge and certificate sit beside this name
    reason = issued.revoke_reason or issued.batch.revoke_reason
    return Found(credential_id, int(issued.batch.id or 0), location, receipt, reason)


def _receipt_bytes(found: Found) -> bytes:
    """The receipt at its location (a file, a JSON Lines line or a zip member); 404 when it cannot be read."""
    try:
        return read_receipt_at(found.location)
    except InvalidReceipt:
        raise UploadError(404, NOT_FOUND) from None


def _downloads(found: Found) -> list[tuple[str, str]]:
    """(file name in the URL, label) of the files beside the receipt."""
    offered = [("receipt.json", "Receipt (JSON)")]
    labels = {
        "badge.png": "Badge image (PNG)",
        "badge.svg": "Badge image (SVG)",
        "certificate.pdf": "Certificate (PDF)",
    }
    for name, suffix, _ in DOWNLOADS:
        if found.receipt.with_suffix(suffix).is_file():
            offered.append((name, labels[name]))
    return offered


def _with_badge(result: ResultView, found: Found, uuid: str) -> ResultView:
    """The baked badge beside the receipt, when there is one, as the page's picture (served from here)."""
    for name, suffix, _ in DOWNLOADS[:2]:
        if found.receipt.with_suffix(suffix).is_file():
            return replace(result, image_src=f"/credentials/{uuid}/{name}", image_link=None)
    return result


async def _page(request: Request, uuid: str, email: str = "") -> HTMLResponse:
    context = context_of(request)
    found = _find(context, uuid)
    data = _receipt_bytes(found)
    report = await verify_limited(context, data, found.receipt.name, count=False)
    recipient = None
    if email:
        recipient = (
            check_email(report.receipt.credential, email)
            if report.receipt is not None
            else RecipientCheck(None, "the receipt could not be read, so there is nothing to compare with")
        )
    if request.method == "GET":
        context.counter.count("view", found.credential_id, found.batch_id)
    base_url = context.workspace.config.share.base_url if context.workspace else None
    page_url = verification_url(base_url, found.credential_id) if base_url else None
    linkedin = None
    if report.receipt is not None and not found.revoked_reason:
        linkedin = linkedin_url(report.receipt.credential, page_url)
    return render(
        request,
        "credential.html",
        uuid=uuid,
        result=_with_badge(result_view(report, upload_kind=sniff(data)), found, uuid),
        downloads=_downloads(found),
        linkedin=linkedin,
        page_url=page_url,
        recipient=recipient,
        email=email,
    )


@router.get("/credentials/{uuid}", response_class=HTMLResponse)
async def credential_page(request: Request, uuid: str) -> HTMLResponse:
    return await _page(request, uuid)


@router.post("/credentials/{uuid}/recipient", response_class=HTMLResponse)
async def credential_recipient(request: Request, uuid: str) -> HTMLResponse:
    form = parse_form(await request.body(), request.headers.get("content-type"))
    email = form.fields.get("email", "").strip()
    if not email:
        raise UploadError(400, "Type the earner's e-mail address to check it.")
    return await _page(request, uuid, email)


@router.get("/credentials/{uuid}/{name}")
async def credential_file(request: Request, uuid: str, name: str) -> Response:
    found = _find(context_of(request), uuid)
    download = f"credential-{uuid}"
    if name == "receipt.json":
        return Response(
            _receipt_bytes(found),
            media_type="application/json",
            headers={"content-disposition": f'attachment; filename="{download}.json"'},
        )
    for offered, suffix, media in DOWNLOADS:
        path = found.receipt.with_suffix(suffix)
        if name == offered and path.is_file():
            return FileResponse(path, media_type=media, filename=f"{download}{suffix}")
    raise UploadError(404, "This credential has no such file.")
