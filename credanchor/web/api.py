"""The JSON API: `POST /api/v1/verify` (the `verify --json` report), the e-mail check, and the W3C VC API's
`POST /credentials/verify`.

Invariants: request bodies are parsed by the project's strict JSON reader (depth, string and duplicate-member
limits), never by the framework's, so a hostile body gets a 400 with a reason, not a 500; the report is
`credanchor.render.report_json`, the CLI's own; the OpenAPI document describes every answer.
"""

import json
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from anchoring.errors import InvalidInput
from anchoring.jsonio import MAX_DEPTH, parse_json
from credanchor.render import report_json
from credanchor.web.common import context_of, source_name, verify_limited
from credanchor.web.uploads import KINDS, UploadError, check_type, media_type, parse_form, unsupported
from credanchor.web.vcapi import VcResult, vc_result
from verifier.checks import Verdict
from verifier.recipient import check_email

router = APIRouter()


class StepOut(BaseModel):
    name: str
    ok: bool | None = Field(description="true passed, false failed, null not checked")
    detail: str


class AnchorOut(BaseModel):
    chainId: int
    registry: str
    blockNumber: int
    trustedAs: str | None
    standing: Literal["holds", "fails", "not-checked", "not-trusted"]
    verdict: Literal[tuple(str(v) for v in Verdict)]  # type: ignore[valid-type]
    reason: str
    steps: list[StepOut]


class ReportOut(BaseModel):
    """Exactly what `credanchor verify --json` prints for one receipt."""

    source: str
    verdict: Literal[tuple(str(v) for v in Verdict)]  # type: ignore[valid-type]
    valid: bool
    reason: str
    credentialId: str | None
    issuerClaimed: str | None
    achievement: str | None
    root: str | None
    registry: str | None
    chainId: int | None
    anchoredBy: str | None
    trustedAs: str | None = Field(description="the issuer's name on this verifier's trust list")
    signed: bool
    notes: list[str]
    steps: list[StepOut]
    anchors: list[AnchorOut] | None = Field(
        default=None, description="a receipt anchored on several chains: each anchor and what its check found"
    )


class ErrorOut(BaseModel):
    error: str


class RecipientOut(BaseModel):
    matches: bool | None = Field(description="null: the credential names no hashed e-mail address")
    detail: str


class VcResultOut(BaseModel):
    checks: list[str]
    warnings: list[str]
    errors: list[str]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


_BINARY = {"schema": {"type": "string", "format": "binary"}}
VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "description": "A receipt (JSON), a baked badge (PNG or SVG) or a certificate (PDF), as the raw body "
        "or as the field `file` of a multipart form.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "image/png": _BINARY,
            "image/svg+xml": _BINARY,
            "application/pdf": _BINARY,
            "application/octet-stream": _BINARY,
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


def _json_body(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _document(request_body: bytes, content_type: str | None, depth: int) -> dict[str, Any]:
    if media_type(content_type) != "application/json":
        raise UploadError(415, f"Send the request as application/json, not {media_type(content_type) or '(none)'}.")
    try:
        document = parse_json(request_body, "request body", max_depth=depth)
    except InvalidInput as exc:
        raise UploadError(400, str(exc)) from None
    if not isinstance(document, dict):
        raise UploadError(400, "request body: must be a JSON object")
    return document


@router.post(
    "/api/v1/verify",
    summary="Verify a receipt, baked badge or certificate",
    description="Runs every check `credanchor verify` runs, against this server's node and trust list, and "
    "returns the same JSON. The verdict is in the body: any verdict, `malformed` included, is a 200.",
    response_model=ReportOut,
    response_model_exclude_unset=True,
    responses=_errors(400, 408, 413, 415, 503),
    openapi_extra=VERIFY_BODY,
)
async def verify(request: Request) -> dict[str, Any]:
    body = await request.body()
    declared = media_type(request.headers.get("content-type"))
    if declared == "multipart/form-data":
        upload = parse_form(body, request.headers.get("content-type")).files.get("file")
        if upload is None:
            raise UploadError(400, "The form has no file field named 'file'.")
        body, declared, source = upload.data, upload.content_type, source_name(upload.filename, "upload")
    elif declared in KINDS or declared == "application/octet-stream":
        source = "upload"
    else:
        raise UploadError(415, unsupported(declared))
    check_type(body, declared)
    report = await verify_limited(context_of(request), body, source)
    return report_json(report)


@router.post(
    "/api/v1/recipient",
    summary="Is it theirs? Check an e-mail address against a credential's hashed recipient",
    response_model=RecipientOut,
    responses=_errors(400, 413, 415),
    openapi_extra=_json_body(
        ["credential", "email"], {"credential": {"type": "object"}, "email": {"type": "string", "maxLength": 320}}
    ),
)
async def recipient(request: Request) -> dict[str, Any]:
    document = _document(await request.body(), request.headers.get("content-type"), MAX_DEPTH + 1)
    credential, email = document.get("credential"), document.get("email")
    if not isinstance(credential, dict) or not isinstance(email, str):
        raise UploadError(400, "request body: needs 'credential' (an object) and 'email' (text)")
    check = check_email(credential, email)
    return {"matches": check.matches, "detail": check.detail}


@router.post(
    "/credentials/verify",
    summary="W3C VC API: verify a credential",
    description="The VC API's verify endpoint. A credential this server issued is verified in full, with its "
    "receipt; any other credential can only have its Data Integrity signature checked, and the warnings say so. "
    "200 when verified, 400 with `errors` when not.",
    response_model=VcResultOut,
    responses={400: {"model": VcResultOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
    openapi_extra=_json_body(
        ["verifiableCredential"], {"verifiableCredential": {"type": "object"}, "options": {"type": "object"}}
    ),
)
async def vc_verify(request: Request) -> Any:
    from fastapi.responses import JSONResponse

    try:
        document = _document(await request.body(), request.headers.get("content-type"), MAX_DEPTH + 1)
    except UploadError as exc:
        if exc.status != 400:
            raise
        return JSONResponse({"checks": [], "warnings": [], "errors": [exc.message]}, status_code=400)
    credential = document.get("verifiableCredential")
    options = document.get("options", {})
    if not isinstance(credential, dict) or not isinstance(options, dict):
        errors = ["request body: needs 'verifiableCredential' (an object) and optionally 'options' (an object)"]
        return JSONResponse({"checks": [], "warnings": [], "errors": errors}, status_code=400)
    context = context_of(request)
    receipt = context.receipt_for(credential)
    if receipt is not None:
        data = json.dumps({**receipt, "credential": credential}).encode("utf-8")
        report = await verify_limited(context, data, "verifiableCredential")
        result: VcResult = vc_result(report, options, now=datetime.now(UTC))
    else:
        result = vc_result(None, options, credential=credential, now=datetime.now(UTC))
    body = {"checks": result.checks, "warnings": result.warnings, "errors": result.errors}
    return JSONResponse(body, status_code=200 if result.verified else 400)
