"""The FastAPI application: middleware (security headers, body limits), error pages, static files, routes.

Invariants: every response carries the security headers (a CSP without inline script or style, no framing,
no sniffing, no referrer); every error is a short message for a person (HTML) or `{"error": ...}` (JSON,
for the API paths), never a traceback; the OpenAPI document and its /docs page need nothing from the
internet (FastAPI's default docs load Swagger UI from a CDN, so they are replaced by a page of our own).
"""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from credanchor.web.context import Context
from credanchor.web.settings import WebSettings
from credanchor.web.uploads import ASGIApp, BodyLimit, Message, Receive, Scope, Send, UploadError

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 408: "Too slow", 410: "Gone"}
TITLES |= {413: "Too large", 415: "Unsupported file", 422: "Bad request", 503: "Try again"}

templates = Jinja2Templates(directory=str(HERE / "templates"))


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def wants_json(path: str) -> bool:
    return path.startswith("/api/") or path == "/credentials/verify" or path.endswith(".json")


def error_response(request_path: str, status: int, message: str) -> Response:
    if wants_json(request_path):
        return JSONResponse({"error": message}, status_code=status)
    page = templates.get_template("message.html").render(
        title=TITLES.get(status, "Error"), message=message, status=status
    )
    return HTMLResponse(page, status_code=status)


def _limit_error(scope: Scope, status: int, message: str) -> ASGIApp:
    response = error_response(scope.get("path", ""), status, message)
    response.headers["connection"] = "close"
    return response


def create_app(settings: WebSettings) -> FastAPI:
    context = Context.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()

        def flush_now_and_then() -> None:
            while not stop.wait(settings.flush_seconds):
                context.counter.flush()

        flusher = threading.Thread(target=flush_now_and_then, name="credanchor-counts", daemon=True)
        flusher.start()
        try:
            yield
        finally:
            stop.set()
            await anyio.to_thread.run_sync(flusher.join)
            context.close()

    app = FastAPI(
        title="credanchor verifier",
        version="1",
        summary="Verify Open Badges 3.0 credentials anchored on an EVM chain, from their receipts.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.context = context
    app.state.templates = templates

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError) -> Response:
        return error_response(request.url.path, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.status_code != 404 else "There is no page at this address."
        return error_response(request.url.path, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
        return error_response(request.url.path, 422, message)

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    from credanchor.web import api, credentials, pages, stats

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(credentials.router)
    app.include_router(stats.router)
    pages.identity_routes(app, context)
    app.add_middleware(BodyLimit, limit=settings.max_upload, seconds=settings.time_limit, on_error=_limit_error)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn's worker processes call (`credanchor serve --workers N`)."""
    return create_app(WebSettings.from_env())
