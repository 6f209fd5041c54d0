"""Fixtures for the web verifier: a real workspace on the test node with one issued batch (one credential
revoked), `credanchor serve` running on it as a real subprocess on a free port, and Debian's Chromium."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from anchoring.localnode import free_port
from issuer.workspace import Workspace, open_workspace
from tests.conftest import Node, make_workspace, people, write_csv

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BASE_URL = "https://verify.registrar.test.edu"


@dataclass
class WebWorld:
    ws: Workspace
    out: Path
    receipts: list[Path]
    """Receipts of valid (unrevoked) credentials; the last is left to the counting test alone (the session's
    server counts what the browser tests do, and writes its counts when it likes)."""
    revoked: Path
    emails: dict[str, str]
    """credential id -> the e-mail it was issued to."""


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "credanchor", *map(str, args)], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="session")
def web_world(node: Node, tmp_path_factory: pytest.TempPathFactory) -> WebWorld:
    root = tmp_path_factory.mktemp("web")
    ws = make_workspace(root / "ws", node)
    with ws.config_path.open("a", encoding="utf-8") as config:
        config.write(f'\n[share]\nbase_url = "{BASE_URL}"\n')
    ws = open_workspace(ws.root)
    rows = [{**p, "credits_earned": "2"} for p in people(7, "web.example.org")]
    csv = write_csv(root / "records.csv", rows)
    out = root / "receipts"
    run_cli("issue", csv, "--achievement", "example", "--out", out, "-w", ws.root)
    emails = {}
    for line in run_cli("deliveries", "1", "--format", "json", "-w", ws.root).stdout.splitlines()[:1]:
        for item in json.loads(line):
            emails[item["credentialId"]] = item["email"]
    receipts = sorted(out.glob("*.json"))
    revoked = receipts.pop()
    run_cli("revoke", revoked.stem, "--reason", "Issued in error", "-w", ws.root)
    return WebWorld(ws, out, receipts, revoked, emails)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(ws: Workspace, log: Path, *extra: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    args = [sys.executable, "-m", "credanchor", "serve", "-w", str(ws.root), "--port", str(port), *extra]
    process = subprocess.Popen(
        args,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(url + "/", timeout=5).status_code == 200:
                return Server(url, process, log)
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(Server(url, process, log))
            raise RuntimeError(f"credanchor serve did not start: {log.read_text()}")
        time.sleep(0.2)


def stop_server(server: Server) -> None:
    """Ctrl-C, as a person stops it; the whole process group, so no worker outlives the test."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGINT)
    try:
        server.process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@pytest.fixture(scope="session")
def server(web_world: WebWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(web_world.ws, tmp_path_factory.mktemp("serve") / "serve.log")
    yield started
    stop_server(started)


def uuid_of(receipt: Path) -> str:
    return receipt.stem
