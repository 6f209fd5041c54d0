"""Issuer analytics: page views and verifications counted per credential and day in the workspace database
(nothing about visitors), shown by `credanchor stats` and on the issuer-only /stats page with its chart."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from credanchor.web.app import create_app
from credanchor.web.settings import ENV_STATS_TOKEN, WebSettings
from issuer.store import DailyCount
from tests.e2e.conftest import Server, WebWorld, uuid_of
from tests.e2e.test_web_browser import browser, shot

pytestmark = pytest.mark.chain
__all__ = ["browser"]


def stats_json(web_world: WebWorld) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "credanchor", "stats", "--json", "-w", web_world.ws.root],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def counts_of(web_world: WebWorld, credential_id: str) -> tuple[int, int]:
    found = [c for c in stats_json(web_world)["credentials"] if c["credentialId"] == credential_id]
    return (found[0]["views"], found[0]["verifications"]) if found else (0, 0)


def test_views_and_verifications_are_counted_by_day(web_world: WebWorld) -> None:
    receipt = web_world.receipts[-1]  # no other test touches it
    credential_id = f"urn:uuid:{receipt.stem}"
    assert counts_of(web_world, credential_id) == (0, 0)
    with TestClient(create_app(WebSettings(workspace=str(web_world.ws.root)))) as client:
        for _ in range(3):
            assert client.get(f"/credentials/{uuid_of(receipt)}").status_code == 200
        client.post("/api/v1/verify", content=receipt.read_bytes(), headers={"content-type": "application/json"})
        client.post("/verify", files={"file": ("r.json", receipt.read_bytes(), "application/json")})
        client.get("/credentials/00000000-0000-4000-8000-000000000000")  # no such credential: not counted
    assert counts_of(web_world, credential_id) == (3, 2)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert today in {d["day"] for d in stats_json(web_world)["days"] if d["views"] >= 3}
    batches = stats_json(web_world)["batches"]
    assert [b["batch"] for b in batches] == [1]
    # What is kept: days, kinds, credentials, batches and numbers; nothing about who looked.
    assert set(DailyCount.model_fields) == {"day", "kind", "credential_id", "batch_id", "count"}


def test_stats_page_is_for_the_issuer_only(web_world: WebWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(WebSettings(workspace=str(web_world.ws.root)))) as client:
        answer = client.get("/stats")  # TestClient's peer is "testclient", not this machine's loopback
        assert answer.status_code == 403
        assert "This page is for the issuer: open it on the server itself, or with the stats token." in answer.text
        monkeypatch.setenv(ENV_STATS_TOKEN, "s3cret-token")
        answer = client.get("/stats")
        assert (answer.status_code, answer.headers["www-authenticate"]) == (401, 'Basic realm="credanchor stats"')
        assert client.get("/stats", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/stats", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        assert client.get("/stats", auth=("issuer", "s3cret-token")).status_code == 200
        assert client.get("/stats", headers={"authorization": "Basic !!!"}).status_code == 401


def test_stats_page_from_this_machine(browser: Browser, server: Server, web_world: WebWorld) -> None:
    with TestClient(create_app(WebSettings(workspace=str(web_world.ws.root)))) as client:
        for receipt in web_world.receipts[:3]:
            client.get(f"/credentials/{uuid_of(receipt)}")
    page = browser.new_page()
    page.goto(f"{server.url}/stats")
    expect(page.locator("h1")).to_have_text("Page views and verifications")
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.locator("svg.chart rect").first).to_be_attached()
    shot(page, "stats")
    answer = page.request.get(f"{server.url}/stats", headers={"x-forwarded-for": "203.0.113.9"})
    assert answer.status == 403  # through a proxy, a request is not "from this machine"
    page.close()
