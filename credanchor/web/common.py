"""What the routes share: the context, rendering, and verification within the time limit.

Invariants: verification runs in a worker thread and is given up (503) after the configured time limit;
file names from uploads are reduced to a short base name before they appear in any message.
"""

import re
from functools import partial
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import HTMLResponse

from credanchor.render import visible
from credanchor.web.context import Context
from credanchor.web.uploads import UploadError
from verifier.checks import Report

MAX_NAME = 80


def context_of(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    page = request.app.state.templates.get_template(template).render(request=request, **values)
    response = HTMLResponse(page, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def source_name(filename: str | None, fallback: str) -> str:
    """The upload's base name, without control characters, at most 80 characters; else `fallback`."""
    if not filename:
        return fallback
    base = re.split(r"[\\/]", filename)[-1].strip()
    shown = visible(base)[:MAX_NAME]
    return shown or fallback


async def verify_limited(context: Context, data: bytes, source: str, *, count: bool = True) -> Report:
    seconds = context.settings.time_limit
    with anyio.move_on_after(seconds):
        return await anyio.to_thread.run_sync(
            partial(context.verify, count=count), data, source, abandon_on_cancel=True
        )
    raise UploadError(503, f"Verification took longer than {seconds:g} s; please try again.")
