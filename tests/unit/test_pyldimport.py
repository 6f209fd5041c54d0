"""pyld imported through `anchoring.pyldimport` (in a fresh interpreter: this one has pyld already): no network
client or asyncio loaded, pyld's default document loader refuses every URL, and requests and pyld's own aiohttp
loader module still import normally afterwards."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent

PROBE = """
import json, sys
import anchoring.jsonld
loaded = [m for m in ("requests", "urllib3", "aiohttp", "asyncio") if m in sys.modules]
deferred = [m for m in ("lxml.html", "lxml.etree", "urllib.request", "http.client") if m in sys.modules]
from anchoring.jsonld import canonical_nquads
canonical_nquads({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"]})
from pyld import jsonld
import pyld.documentloader.file
html_tag = jsonld.lxml.html.fromstring("<p>x</p>").tag  # what pyld reads HTML with, loaded when used
path = pyld.documentloader.file.url2pathname("/a%20b")
import lxml.html, urllib.request
real = [lxml.html.__name__, urllib.request.url2pathname.__module__, type(jsonld.lxml.html).__name__]
try:
    jsonld._default_document_loader("https://example.org/context.jsonld", {})
    refused = None
except jsonld.JsonLdError as exc:
    refused = str(exc)
import requests
import pyld.documentloader.aiohttp as aiohttp_loader
print(json.dumps({"loaded": loaded, "refused": refused, "requests": requests.__name__,
                  "aiohttp_loader": aiohttp_loader.AioHttpDocumentLoader.__module__, "deferred": deferred,
                  "html_tag": html_tag, "path": path, "real": real}))
"""


def test_pyld_comes_without_network_loaders_and_nothing_else_is_hidden() -> None:
    found = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, check=True, capture_output=True, text=True)
    result = json.loads(found.stdout)
    assert result["loaded"] == []
    assert "Code: no default document loader" in result["refused"]
    assert result["requests"] == "requests"
    assert result["aiohttp_loader"] == "pyld.documentloader.aiohttp"


def test_lxml_html_and_urllib_request_come_when_pyld_uses_them_and_are_the_real_ones_afterwards() -> None:
    found = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, check=True, capture_output=True, text=True)
    result = json.loads(found.stdout)
    assert result["deferred"] == []  # not loaded with pyld (nor by a canonicalisation)
    assert result["html_tag"] == "p"
    assert result["path"] == "/a b"
    assert result["real"] == ["lxml.html", "urllib.request", "module"]
