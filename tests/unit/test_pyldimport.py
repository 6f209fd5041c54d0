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
from pyld import jsonld
try:
    jsonld._default_document_loader("https://example.org/context.jsonld", {})
    refused = None
except jsonld.JsonLdError as exc:
    refused = str(exc)
import requests
import pyld.documentloader.aiohttp as aiohttp_loader
print(json.dumps({"loaded": loaded, "refused": refused, "requests": requests.__name__,
                  "aiohttp_loader": aiohttp_loader.AioHttpDocumentLoader.__module__}))
"""


def test_pyld_comes_without_network_loaders_and_nothing_else_is_hidden() -> None:
    found = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, check=True, capture_output=True, text=True)
    result = json.loads(found.stdout)
    assert result["loaded"] == []
    assert "Code: no default document loader" in result["refused"]
    assert result["requests"] == "requests"
    assert result["aiohttp_loader"] == "pyld.documentloader.aiohttp"
