"""Request bodies: read whole into memory within a size and time limit, forms parsed there, files sniffed.

Invariants: no body is ever written to disk (python-multipart's low-level parser fills bytes in memory;
Starlette's form parser, which spools large files to a temporary file, is not used); a body over the limit is
refused from its Content-Length before a byte is read, or as soon as it grows past the limit; a file is
accepted as what its first bytes say it is, and a declared type that contradicts them is refused.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
OnError = Callable[[Scope, int, str], ASGIApp]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"
KINDS = {"application/json": "json", "image/png": "png", "image/svg+xml": "svg", "application/pdf": "pdf"}
KIND_NAMES = {"json": "JSON", "png": "a PNG image", "svg": "an SVG image", "pdf": "a PDF document"}
GENERIC_TYPES = ("application/octet-stream", "text/plain", "")
MAX_FIELDS = 8


class UploadError(Exception):
    """A request the server refuses before verifying anything: `status` and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def size_text(n: int) -> str:
    return f"{n:,} bytes ({n / 1024 / 1024:.0f} MiB)" if n >= 1024 * 1024 else f"{n:,} bytes"


def too_large(limit: int, declared: int | None = None) -> str:
    what = f"The upload of {declared:,} bytes" if declared is not None else "The upload"
    return f"{what} is over the limit of {size_text(limit)}. A receipt, baked badge or certificate is far smaller."


class BodyLimit:
    """ASGI middleware: every request body is read here, within `limit` bytes and `seconds`, then replayed."""

    def __init__(self, app: ASGIApp, *, limit: int, seconds: float, on_error: OnError) -> None:
        self.app, self.limit, self.seconds, self.on_error = app, limit, seconds, on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self.on_error(scope, 413, too_large(self.limit, int(declared)))(scope, receive, send)
            return
        body = bytearray()
        more = True
        with anyio.move_on_after(self.seconds) as timer:
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.limit:
                    await self.on_error(scope, 413, too_large(self.limit))(scope, receive, send)
                    return
        if timer.cancelled_caught:
            slow = f"The upload did not arrive within {self.seconds:g} s."
            await self.on_error(scope, 408, slow)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def parse_form(body: bytes, content_type: str | None) -> Form:
    """A multipart/form-data or urlencoded body, parsed in memory."""
    kind = media_type(content_type)
    if kind == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl

        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise UploadError(400, "The form could not be read (not UTF-8, or too many fields).") from None
        return Form(fields=dict(pairs))
    if kind != "multipart/form-data":
        raise UploadError(415, f"A form must be sent as multipart/form-data, not {kind or 'without a type'}.")
    _, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError(400, "The form has no multipart boundary.")
    return _multipart(body, boundary)


def _multipart(body: bytes, boundary: bytes) -> Form:
    form = Form()
    parts: list[tuple[dict[bytes, bytes], bytearray]] = []
    header_field = bytearray()
    header_value = bytearray()
    ended = []

    def on_part_begin() -> None:
        if len(parts) >= MAX_FIELDS:
            raise UploadError(400, f"The form has more than {MAX_FIELDS} fields.")
        parts.append(({}, bytearray()))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1][0][bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_end": lambda: ended.append(True),
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except UploadError:
        raise
    except Exception:  # python-multipart's own errors: a form that is not one
        ended.clear()
    if not ended:
        raise UploadError(400, "The form could not be read (broken multipart body).")
    for headers, data in parts:
        _, params = parse_options_header(headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in params:
            filename = params[b"filename"].decode("utf-8", "replace")
            declared = media_type(headers.get(b"content-type", b"").decode("latin-1"))
            form.files[name] = Upload(filename, declared, bytes(data))
        else:
            try:
                form.fields[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise UploadError(400, f"Form field {name[:40]!r} is not UTF-8 text.") from None
    return form


def sniff(data: bytes) -> str | None:
    """What the first bytes say the file is: png, pdf, svg, json, or None (none of those)."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(PDF_MAGIC):
        return "pdf"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in data[:4096]:
        return "svg"
    if head.startswith((b"{", b"[")) or data.startswith(b"\xef\xbb\xbf"):
        return "json"
    return None


def check_type(data: bytes, declared: str) -> None:
    """Refuse a file whose first bytes contradict its declared type, or that is none of the four kinds."""
    if not data:
        raise UploadError(400, "The upload is empty: choose a receipt file, or paste a receipt's JSON.")
    found = sniff(data)
    expected = KINDS.get(declared)
    if expected is None and declared not in GENERIC_TYPES:
        raise UploadError(415, unsupported(declared))
    if found is None:
        raise UploadError(
            415,
            "The file is not a receipt (JSON), a baked badge (PNG or SVG) or a certificate (PDF): "
            "its first bytes are none of those.",
        )
    if expected is not None and expected != found:
        raise UploadError(415, f"The file was sent as {declared}, but its bytes are {KIND_NAMES[found]}.")


def unsupported(declared: str) -> str:
    return (
        f"Content type {declared or '(none)'!r} is not accepted: send application/json, image/png, "
        "image/svg+xml, application/pdf, or a multipart/form-data form with a file."
    )
