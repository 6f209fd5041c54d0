"""HTML pages: the verification page (a plain form post, enhanced by script) and the e-mail check.

Invariants: the page works without JavaScript (the form posts and the server answers with the whole page);
with it, the same endpoint answers with the result fragment only (`?view=result`), rendered by the same
template. The upload is verified by the CLI's own service and dropped with the request.
"""

from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from credanchor.web.common import context_of, render, source_name, verify_limited
from credanchor.web.context import Context
from credanchor.web.identity import controller, profile
from credanchor.web.uploads import UploadError, check_type, parse_form, sniff
from credanchor.web.views import ResultView, result_view
from issuer.profile import hosting_url
from verifier.recipient import RecipientCheck, check_email, check_identities

router = APIRouter(include_in_schema=False)
MAX_IDENTITIES = 4


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return render(request, "index.html", result=None, recipient=None, email="")


def _page(request: Request, result: ResultView | None, recipient: RecipientCheck | None, email: str) -> HTMLResponse:
    if request.query_params.get("view") == "result":
        return render(request, "_result.html", result=result, recipient=recipient, email=email)
    return render(request, "index.html", result=result, recipient=recipient, email=email)


@router.post("/verify", response_class=HTMLResponse)
async def verify_form(request: Request) -> HTMLResponse:
    form = parse_form(await request.body(), request.headers.get("content-type"))
    upload = form.files.get("file")
    pasted = form.fields.get("receipt", "").strip()
    if upload is not None and upload.data:
        data, declared, source = upload.data, upload.content_type, source_name(upload.filename, "uploaded file")
    elif pasted:
        data, declared, source = pasted.encode("utf-8"), "application/json", "pasted receipt"
    else:
        raise UploadError(400, "Choose a file to verify, or paste a receipt's JSON.")
    check_type(data, declared)
    report = await verify_limited(context_of(request), data, source)
    result = result_view(report, upload_kind=sniff(data), upload=data)
    email = form.fields.get("email", "").strip()
    recipient = None
    if email and report.receipt is not None:
        recipient = check_email(report.receipt.credential, email)
    return _page(request, result, recipient, email)


@router.post("/verify/recipient", response_class=HTMLResponse)
async def recipient_form(request: Request) -> HTMLResponse:
    """The e-mail check after a verification: the result's hashed identities come back in the form (they
    are public in the credential), so nothing about the upload had to be kept."""
    form = parse_form(await request.body(), request.headers.get("content-type"))
    email = form.fields.get("email", "").strip()
    if not email:
        raise UploadError(400, "Type the earner's e-mail address to check it.")
    identities = []
    for item in form.fields.get("identities", "").split()[:MAX_IDENTITIES]:
        digest, _, salt = item.partition(":")
        identities.append((digest, salt))
    recipient = check_identities(identities, email)
    if request.query_params.get("view") == "result":
        return render(request, "_recipient.html", recipient=recipient)
    return render(request, "index.html", result=None, recipient=recipient, email=email)


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """The API, described from the OpenAPI document itself (offline: no Swagger UI from a CDN)."""
    schema = request.app.openapi()
    operations = [
        (method.upper(), path, op.get("summary", ""), op.get("description", ""))
        for path, methods in schema.get("paths", {}).items()
        for method, op in methods.items()
    ]
    return render(request, "docs.html", operations=operations, info=schema.get("info", {}))


def identity_routes(app: FastAPI, context: Context) -> None:
    """The issuer's Profile and DID (or controller) document at stable addresses, when a workspace is served:
    /issuer/profile.json, /issuer/did.json, and for a did:web issuer where did:web resolvers look."""
    workspace = context.workspace
    if workspace is None:
        return

    async def profile_json() -> Response:
        return JSONResponse(profile(workspace), media_type="application/ld+json")

    async def did_json() -> Response:
        document = await anyio.to_thread.run_sync(controller, context, workspace)
        return JSONResponse(document, media_type="application/did+ld+json")

    app.add_api_route("/issuer/profile.json", profile_json, methods=["GET"], include_in_schema=False)
    app.add_api_route("/issuer/did.json", did_json, methods=["GET"], include_in_schema=False)
    issuer_id = workspace.config.issuer.id
    if issuer_id.startswith("did:web:"):
        path = urlsplit(hosting_url(issuer_id)).path
        app.add_api_route(path, did_json, methods=["GET"], include_in_schema=False)
