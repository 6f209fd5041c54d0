"""The JSON-LD contexts credanchor knows, shipped inside the package, byte-exact as published.

Invariants: a context is served only for its exact URL in `BUNDLED`, from the package's own data files (no
network, no user files), and only when the file's sha256 equals the pinned one, so an edited install cannot
change what a signature covers. Files are read lazily, once per process. README.md beside this file gives
each file's provenance.
"""

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any, NamedTuple


class Bundled(NamedTuple):
    filename: str
    sha256: str


BUNDLED: dict[str, Bundled] = {
    "https://www.w3.org/ns/credentials/v2": Bundled(
        "credentials-v2.jsonld", "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"
    ),
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": Bundled(
        "ob-context-3.0.3.json", "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761"
    ),
    "https://w3id.org/security/data-integrity/v2": Bundled(
        "data-integrity-v2.jsonld", "67f21e6e33a6c14e5ccfd2fc7865f7474fb71a04af7e94136cb399dfac8ae8f4"
    ),
    "https://w3id.org/security/multikey/v1": Bundled(
        "multikey-v1.jsonld", "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597"
    ),
    "https://www.w3.org/ns/did/v1": Bundled(
        "did-v1.jsonld", "4f3eae5568c9c5f036a082088f9e192019ee06faa78973c87ff91d5421b88dad"
    ),
}


@cache
def context_bytes(url: str) -> bytes:
    """The published bytes of a bundled context; KeyError for any other URL."""
    entry = BUNDLED[url]
    data = resources.files(__package__).joinpath(entry.filename).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise RuntimeError(f"bundled context {entry.filename} has sha256 {digest}, expected {entry.sha256}")
    return data


def context_document(url: str) -> dict[str, Any]:
    """A fresh parsed copy of a bundled context (callers may mutate it); KeyError for any other URL."""
    document: dict[str, Any] = json.loads(context_bytes(url))
    return document
