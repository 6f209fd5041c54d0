"""The web verifier's HTTP surface, in process (FastAPI's TestClient) on a real workspace and node: every
bad input with its exact message, parity with `credanchor verify --json`, headers, pages and their states."""

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from anchoring.localnode import free_port
from credanchor.web.app import create_app
from credanchor.web.settings import WebSettings
from tests.conftest import Node, make_workspace
from tests.e2e.conftest import BASE_URL, WebWorld, run_cli, uuid_of

pytestmark = pytest.mark.chain
MIB = 1024 * 1024
LIMIT = "8,388,608 bytes (8 MiB)"


@pytest.fixture(scope="module")
def client(web_world: WebWorld) -> Iterator[TestClient]:
    with TestClient(create_app(WebSettings(workspace=str(web_world.ws.root)))) as test_client:
        yield test_client


def post_json(client: TestClient, data: bytes, content_type: str = "application/json") -> Any:
    return client.post("/api/v1/verify", content=data, headers={"content-type": content_type})


def tampered(receipt: Path) -> bytes:
    document = json.loads(receipt.read_text())
    document["credential"]["credentialSubject"]["creditsEarned"] = 30
    return json.dumps(document).encode()


def test_valid_receipt_gives_the_same_report_as_the_cli(client: TestClient, web_world: WebWorld) -> None:
    receipt = web_world.receipts[0]
    answer = post_json(client, receipt.read_bytes())
    assert answer.status_code == 200
    report = answer.json()
    assert report["verdict"] == "valid"
    assert report["trustedAs"] == "Test University"
    cli = subprocess.run(
        [sys.executable, "-m", "credanchor", "verify", "--json", receipt, "-w", web_world.ws.root],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(cli.stdout)
    assert {**report, "source": None} == {**expected, "source": None}
    assert report["source"] == "upload"


def test_multipart_upload_names_the_file(client: TestClient, web_world: WebWorld) -> None:
    receipt = web_world.receipts[0]
    answer = client.post(
        "/api/v1/verify", files={"file": ("../../etc/mine.json", receipt.read_bytes(), "application/json")}
    )
    assert answer.status_code == 200
    assert answer.json()["source"] == "mine.json"


def test_tampered_and_revoked(client: TestClient, web_world: WebWorld) -> None:
    report = post_json(client, tampered(web_world.receipts[0])).json()
    assert report["verdict"] == "invalid"
    assert report["reason"].startswith("credential hashes to 0x")
    assert ", receipt says 0x" in report["reason"]
    report = post_json(client, web_world.revoked.read_bytes()).json()
    assert report["verdict"] == "revoked"
    assert report["reason"].startswith("credential revoked in block ")
    assert report["reason"].endswith(": Issued in error")


@pytest.mark.parametrize(
    ("data", "content_type", "status", "message"),
    [
        (b"", "application/json", 400, "The upload is empty: choose a receipt file, or paste a receipt's JSON."),
        (
            b"hello",
            "text/csv",
            415,
            "Content type 'text/csv' is not accepted: send application/json, image/png, image/svg+xml, "
            "application/pdf, or a multipart/form-data form with a file.",
        ),
        (b'{"type": 1}', "image/png", 415, "The file was sent as image/png, but its bytes are JSON."),
        (
            b"\x89PNG\r\n\x1a\n0000",
            "application/json",
            415,
            "The file was sent as application/json, but its bytes are a PNG image.",
        ),
        (b"%PDF-1.7\n", "image/svg+xml", 415, "The file was sent as image/svg+xml, but its bytes are a PDF document."),
        (
            b"MZ\x90\x00binary",
            "application/octet-stream",
            415,
            "The file is not a receipt (JSON), a baked badge (PNG or SVG) or a certificate (PDF): its first bytes are "
            "none of those.",
        ),
        (
            b"x" * (9 * MIB),
            "application/json",
            413,
            f"The upload of 9,437,184 bytes is over the limit of {LIMIT}. A receipt, baked badge or certificate is far smaller.",
        ),
        (
            b"--x\r\nbroken",
            "multipart/form-data; boundary=x",
            400,
            "The form could not be read (broken multipart body).",
        ),
        (b"a=1", "multipart/form-data", 400, "The form has no multipart boundary."),
    ],
    ids=[
        "empty",
        "csv-type",
        "json-as-png",
        "png-as-json",
        "pdf-as-svg",
        "exe",
        "too-large",
        "broken-form",
        "no-boundary",
    ],
)
def test_bad_uploads(client: TestClient, data: bytes, content_type: str, status: int, message: str) -> None:
    answer = post_json(client, data, content_type)
    assert (answer.status_code, answer.json()) == (status, {"error": message})


def test_an_upload_without_a_length_is_cut_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"{" + b" " * MIB

    answer = client.post("/api/v1/verify", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {
        "error": f"The upload is over the limit of {LIMIT}. A receipt, baked badge or certificate is far smaller."
    }


def test_a_form_without_its_file(client: TestClient) -> None:
    answer = client.post("/api/v1/verify", files={"other": ("a.json", b"{}", "application/json")})
    assert (answer.status_code, answer.json()) == (400, {"error": "The form has no file field named 'file'."})


@pytest.mark.parametrize(
    "content",
    [
        b'{"type": "CredentialReceipt"',
        b"{]",
        b"\xef\xbb\xbf{}",
        b'{"type": "\xff"}',
        b'{"a": 1, "a": 2}',
        b'{"a": NaN}',
        b"[" * 40 + b"]" * 40,
        b'{"big": "' + b"x" * (300 * 1024) + b'"}',
        b"{" + b" " * (3 * MIB) + b"}",
    ],
    ids=["truncated", "malformed", "bom", "non-utf8", "duplicate", "nan", "deep", "long-string", "over-2mib"],
)
def test_hostile_receipts_get_the_clis_words(client: TestClient, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)
    cli = subprocess.run(
        [sys.executable, "-m", "credanchor", "verify", "--json", "upload"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 2
    expected = json.loads(cli.stdout)
    answer = post_json(client, content)
    assert answer.status_code == 200
    assert answer.json() == expected
    assert answer.json()["verdict"] == "malformed"


def test_pages_carry_the_security_headers(client: TestClient) -> None:
    for answer in (client.get("/"), client.get("/nothing"), post_json(client, b"")):
        headers = answer.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in client.get("/").text
    assert 'style="' not in client.get("/").text


def test_not_found_and_methods(client: TestClient) -> None:
    answer = client.get("/nothing")
    assert answer.status_code == 404
    assert "There is no page at this address." in answer.text
    answer = client.get("/api/v1/verify")
    assert (answer.status_code, answer.json()) == (405, {"error": "Method Not Allowed"})


def test_form_post_without_javascript(client: TestClient, web_world: WebWorld) -> None:
    receipt = web_world.receipts[1]
    email = web_world.emails[f"urn:uuid:{receipt.stem}"]
    answer = client.post(
        "/verify", files={"file": (receipt.name, receipt.read_bytes(), "application/json")}, data={"email": email}
    )
    assert answer.status_code == 200
    assert '<span class="verdict">Valid</span>' in answer.text
    assert f"{email} is the address this credential was issued to" in answer.text
    answer = client.post("/verify", data={"receipt": tampered(receipt).decode()})
    assert '<span class="verdict">Invalid</span>' in answer.text
    answer = client.post("/verify", data={"receipt": "  "})
    assert answer.status_code == 400
    assert "Choose a file to verify, or paste a receipt&#39;s JSON." in answer.text


def test_is_it_theirs_without_the_file(client: TestClient, web_world: WebWorld) -> None:
    receipt = json.loads(web_world.receipts[0].read_text())
    identity = receipt["credential"]["credentialSubject"]["identifier"][0]
    hashed = f"{identity['identityHash'].removeprefix('sha256$')}:{identity['salt']}"
    email = web_world.emails[receipt["credential"]["id"]]
    answer = client.post("/verify/recipient", data={"identities": hashed, "email": f"  {email.upper()} "})
    assert f"{email} is the address this credential was issued to" in answer.text
    answer = client.post("/verify/recipient", data={"identities": hashed, "email": "someone@else.org"})
    assert "someone@else.org is not the address this credential was issued to" in answer.text
    answer = client.post("/verify/recipient", data={"identities": hashed, "email": ""})
    assert answer.status_code == 400
    assert "Type the earner&#39;s e-mail address to check it." in answer.text


def test_recipient_api(client: TestClient, web_world: WebWorld) -> None:
    credential = json.loads(web_world.receipts[0].read_text())["credential"]
    email = web_world.emails[credential["id"]]
    answer = client.post("/api/v1/recipient", json={"credential": credential, "email": email})
    assert answer.json() == {"matches": True, "detail": f"{email} is the address this credential was issued to"}
    answer = client.post("/api/v1/recipient", json={"credential": {}, "email": email})
    assert answer.json() == {"matches": None, "detail": "the credential names no hashed e-mail address to compare with"}
    answer = client.post("/api/v1/recipient", json={"email": email})
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "request body: needs 'credential' (an object) and 'email' (text)"},
    )
    answer = client.post("/api/v1/recipient", content=b"{", headers={"content-type": "application/json"})
    assert answer.json() == {
        "error": "request body: not valid JSON at line 1 column 2: Expecting property name enclosed in double quotes (the file looks truncated)"
    }


def test_vc_api_verifies_our_credentials_in_full(client: TestClient, web_world: WebWorld) -> None:
    credential = json.loads(web_world.receipts[0].read_text())["credential"]
    answer = client.post(
        "/credentials/verify", json={"verifiableCredential": credential, "options": {"challenge": "x"}}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["checks"] == [
        "schema",
        "digest",
        "merkleProof",
        "proof",
        "evidence",
        "chain",
        "anchor",
        "issuer",
        "revocation",
        "validity",
        "trust",
    ]
    assert body["errors"] == []
    assert body["warnings"] == ["option 'challenge' is not supported and was ignored"]
    credential["credentialSubject"]["creditsEarned"] = 30
    answer = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert answer.status_code == 400
    assert answer.json()["errors"][0].startswith("digest: credential hashes to 0x")


def test_vc_api_checks_only_the_signature_of_a_bare_credential(web_world: WebWorld) -> None:
    credential = json.loads(web_world.receipts[0].read_text())["credential"]
    with TestClient(create_app(WebSettings())) as bare:
        answer = bare.post("/credentials/verify", json={"verifiableCredential": credential})
        assert answer.status_code == 200
        body = answer.json()
        assert body["checks"] == ["proof"]
        assert body["warnings"][0].startswith("no credanchor receipt for this credential on this server: only its")
        credential["name"] = "Something else"
        answer = bare.post("/credentials/verify", json={"verifiableCredential": credential})
        assert answer.status_code == 400
        assert answer.json()["errors"][0].startswith("proof: ")
        answer = bare.post("/credentials/verify", json={"options": {}})
        assert answer.json() == {
            "checks": [],
            "warnings": [],
            "errors": ["request body: needs 'verifiableCredential' (an object) and optionally 'options' (an object)"],
        }


def test_credential_pages(client: TestClient, web_world: WebWorld) -> None:
    valid, revoked = web_world.receipts[0], web_world.revoked
    page = client.get(f"/credentials/{uuid_of(valid)}")
    assert page.status_code == 200
    assert '<span class="verdict">Valid</span>' in page.text
    assert "https://www.linkedin.com/profile/add?" in page.text
    assert f"certUrl={BASE_URL.replace(':', '%3A').replace('/', '%2F')}%2Fcredentials%2F{uuid_of(valid)}" in page.text
    assert client.get(f"/credentials/{uuid_of(valid)}/receipt.json").content == valid.read_bytes()
    page = client.get(f"/credentials/{uuid_of(revoked)}")
    assert '<span class="verdict">Revoked</span>' in page.text
    assert "Issued in error" in page.text
    assert "linkedin.com" not in page.text
    missing = client.get("/credentials/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert "There is no credential page at this address." in missing.text
    assert client.get("/credentials/not-a-uuid").status_code == 404
    nofile = client.get(f"/credentials/{uuid_of(valid)}/badge.png")
    assert (nofile.status_code, "This credential has no such file." in nofile.text) == (404, True)


def test_files_beside_the_receipt_are_offered(client: TestClient, web_world: WebWorld) -> None:
    receipt = web_world.receipts[2]
    png = receipt.with_suffix(".png")
    png.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    try:
        page = client.get(f"/credentials/{uuid_of(receipt)}")
        assert f'href="/credentials/{uuid_of(receipt)}/badge.png"' in page.text
        assert "certificate.pdf" not in page.text
        download = client.get(f"/credentials/{uuid_of(receipt)}/badge.png")
        assert download.headers["content-type"] == "image/png"
        assert download.content == png.read_bytes()
    finally:
        png.unlink()


def test_withdrawn_pages_are_gone(client: TestClient, web_world: WebWorld) -> None:
    receipt = web_world.receipts[3]
    run_cli("page", "withdraw", receipt.stem, "--reason", "earner asked", "-w", web_world.ws.root)
    try:
        page = client.get(f"/credentials/{uuid_of(receipt)}")
        assert page.status_code == 410
        assert "The issuer has withdrawn this credential&#39;s page." in page.text
        assert client.get(f"/credentials/{uuid_of(receipt)}/receipt.json").status_code == 410
    finally:
        run_cli("page", "restore", receipt.stem, "-w", web_world.ws.root)
    assert client.get(f"/credentials/{uuid_of(receipt)}").status_code == 200
    again = subprocess.run(
        [sys.executable, "-m", "credanchor", "page", "restore", receipt.stem, "-w", web_world.ws.root],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: the page of urn:uuid:{receipt.stem} is not withdrawn"


def test_issuer_documents(client: TestClient, web_world: WebWorld) -> None:
    profile = client.get("/issuer/profile.json").json()
    assert profile["id"] == "https://registrar.test.edu"
    assert profile["name"] == "Test University"
    did = client.get("/issuer/did.json").json()
    assert did["id"] == "https://registrar.test.edu"
    assert len(did["assertionMethod"]) == 1


def test_openapi_and_offline_docs(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/api/v1/verify", "/api/v1/recipient", "/credentials/verify"}
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/api/v1/verify" in docs.text
    assert "cdn" not in docs.text.lower()
    assert "http" not in docs.text.split("<body>")[1].split("curl")[0].replace('href="/', "")


def test_a_slow_upload_is_cut_off(web_world: WebWorld) -> None:
    """A real HTTP server (uvicorn in this process) and a client that sends half a body, then stalls."""
    config = uvicorn.Config(
        create_app(WebSettings(time_limit=0.5)), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", config.port), timeout=30) as conn:
            conn.sendall(
                b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert json.loads(body) == {"error": "The upload did not arrive within 0.5 s."}
    finally:
        server.should_exit = True
        thread.join()


def test_a_node_that_never_answers_hits_the_time_limit(web_world: WebWorld) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        settings = WebSettings(rpc_url=f"http://127.0.0.1:{silent.getsockname()[1]}", time_limit=1)
        with TestClient(create_app(settings)) as stuck:
            answer = post_json(stuck, web_world.receipts[0].read_bytes())
            assert (answer.status_code, answer.json()) == (
                503,
                {"error": "Verification took longer than 1 s; please try again."},
            )
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        silent.close()


def test_a_did_web_issuer_gets_its_did_document_at_the_well_known_address(node: Node, tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "didweb", node, issuer_id="did:web:registrar.test.edu")
    with TestClient(create_app(WebSettings(workspace=str(ws.root)))) as client:
        did = client.get("/.well-known/did.json")
        assert did.status_code == 200
        assert did.headers["content-type"] == "application/did+ld+json"
        document = did.json()
        assert document["id"] == "did:web:registrar.test.edu"
        assert document["verificationMethod"][0]["id"].startswith("did:web:registrar.test.edu#z6Mk")
        assert client.get("/issuer/profile.json").json()["id"] == "did:web:registrar.test.edu"


def test_serve_refuses_a_bad_trust_list_before_listening(web_world: WebWorld, tmp_path: Path) -> None:
    trust = tmp_path / "trust.toml"
    trust.write_text("registry = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "credanchor", "serve", "--trust", trust, "-w", web_world.ws.root],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: trust list {trust}: needs a list 'registry' of {{name, chain_id, address}}"


def test_a_certificate_pdf_verifies_and_is_offered(client: TestClient, web_world: WebWorld, tmp_path: Path) -> None:
    receipt = web_world.receipts[4]
    run_cli("certificate", receipt, "-o", tmp_path, "-w", web_world.ws.root)
    pdf = tmp_path / f"{receipt.stem}.pdf"
    answer = post_json(client, pdf.read_bytes(), "application/pdf")
    assert answer.status_code == 200
    assert (answer.json()["verdict"], answer.json()["credentialId"]) == ("valid", f"urn:uuid:{receipt.stem}")
    assert post_json(client, pdf.read_bytes(), "image/png").json() == {
        "error": "The file was sent as image/png, but its bytes are a PDF document."
    }
    beside = receipt.with_suffix(".pdf")
    beside.write_bytes(pdf.read_bytes())
    try:
        page = client.get(f"/credentials/{uuid_of(receipt)}")
        assert f'href="/credentials/{uuid_of(receipt)}/certificate.pdf"' in page.text
        download = client.get(f"/credentials/{uuid_of(receipt)}/certificate.pdf")
        assert (download.headers["content-type"], download.content) == ("application/pdf", pdf.read_bytes())
    finally:
        beside.unlink()
