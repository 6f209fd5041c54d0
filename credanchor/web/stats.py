"""The issuer-only analytics page: page views and verifications by day, per batch and per credential.

Invariants: only the issuer sees it: with CREDANCHOR_STATS_TOKEN set, a request must carry the token
(`Authorization: Bearer TOKEN`, or HTTP Basic with it as the password); without it, only a request made
from this machine directly (loopback, no proxy headers) is answered. The counts hold no visitor data.
"""

import base64
import hmac
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from credanchor.web.chart import daily_chart
from credanchor.web.common import context_of, render
from credanchor.web.settings import ENV_STATS_TOKEN
from credanchor.web.uploads import UploadError
from issuer.store import Store, daily_counts

router = APIRouter(include_in_schema=False)
LOOPBACK = ("127.0.0.1", "::1")
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
DAYS = 30


def _allowed(request: Request) -> bool:
    token = os.environ.get(ENV_STATS_TOKEN)
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "basic":
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
            except ValueError:
                return False
        elif scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(value.encode(), token.encode())
    client = request.client.host if request.client else ""
    return client in LOOPBACK and not any(h in request.headers for h in PROXY_HEADERS)


@dataclass(frozen=True)
class Summary:
    days: list[tuple[str, int, int]]
    """(YYYY-MM-DD, page views, verifications), oldest first, every day of the span."""
    batches: list[tuple[int, tuple[int, int]]]
    credentials: list[tuple[str, tuple[int, int]]]
    """The 20 most seen credentials: (id, (page views, verifications))."""

    @property
    def total_views(self) -> int:
        return sum(v for _, v, _ in self.days)

    @property
    def total_verifications(self) -> int:
        return sum(c for _, _, c in self.days)


def summary(store: Store, today: datetime, days: int = DAYS) -> Summary:
    """Counts of the last `days` days: per day, per batch and per credential (most seen first)."""
    start = (today - timedelta(days=days - 1)).date()
    per_day = {(start + timedelta(days=i)).isoformat(): [0, 0] for i in range(days)}
    per_batch: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    per_credential: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in daily_counts(store, start.isoformat()):
        k = 0 if row.kind == "view" else 1
        if row.day in per_day:
            per_day[row.day][k] += row.count
        per_batch[row.batch_id][k] += row.count
        per_credential[row.credential_id][k] += row.count
    ranked = sorted(per_credential.items(), key=lambda item: (-sum(item[1]), item[0]))[:20]
    return Summary(
        [(day, v, c) for day, (v, c) in per_day.items()],
        [(batch, (v, c)) for batch, (v, c) in sorted(per_batch.items())],
        [(cid, (v, c)) for cid, (v, c) in ranked],
    )


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(request: Request) -> HTMLResponse:
    if not _allowed(request):
        response = render(
            request,
            "message.html",
            403,
            title="Issuer only",
            message="This page is for the issuer: open it on the server itself, or with the stats token.",
        )
        if os.environ.get(ENV_STATS_TOKEN):
            response.headers["www-authenticate"] = 'Basic realm="credanchor stats"'
            response.status_code = 401
        return response
    context = context_of(request)
    if context.store is None:
        raise UploadError(404, "No workspace is served, so there is nothing to count.")
    data = summary(context.store, datetime.now(UTC))
    chart = Markup(daily_chart(data.days, f"Page views and verifications, last {DAYS} days"))  # noqa: S704  (escaped SVG)
    return render(request, "stats.html", chart=chart, data=data)
