"""JSON-LD with bundled contexts only: a document loader that refuses every URL it does not hold, and RDF
Dataset Canonicalization (RDFC-1.0, the URDNA2015 algorithm) through pyld.

Invariants: no network access ever (an unknown context URL is an error, never a fetch); expansion runs in
pyld's safe mode, so a term that would be silently dropped is an error instead.
"""

import json
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld

CONTEXT_FILES = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-context-3.0.3.json",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
}


class UnsafeJsonLd(ValueError):
    """The document cannot be processed with the bundled contexts without losing or fetching anything."""


@cache
def bundled_context(url: str) -> dict[str, Any]:
    name = CONTEXT_FILES.get(url)
    if name is None:
        raise KeyError(url)
    document: dict[str, Any] = json.loads(resources.files("anchoring.contexts").joinpath(name).read_text("utf-8"))
    return document


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        document = bundled_context(url)
    except KeyError:
        raise jsonld.JsonLdError(
            f"context {url} is not bundled with credanchor (nothing is fetched)",
            "jsonld.LoadDocumentError",
            code="loading document failed",
        ) from None
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}


def _options(**extra: Any) -> dict[str, Any]:
    return {"documentLoader": document_loader, "safe": True, **extra}


def _reason(exc: BaseException) -> str:
    """The innermost pyld message (pyld chains its errors), with the URL or term it names."""
    innermost: BaseException = exc
    while isinstance(innermost.__cause__, jsonld.JsonLdError):
        innermost = innermost.__cause__
    message = str(innermost.args[0]) if innermost.args else type(innermost).__name__
    details = getattr(innermost, "details", None) or {}
    extra = next((str(details[k]) for k in ("url", "term", "property", "iri") if details.get(k)), "")
    return f"{message.rstrip('.')}{f' ({extra})' if extra and extra not in message else ''}"


def expand(document: dict[str, Any]) -> list[Any]:
    try:
        expanded: list[Any] = jsonld.expand(document, _options())
    except jsonld.JsonLdError as exc:
        raise UnsafeJsonLd(f"JSON-LD: {_reason(exc)}") from None
    return expanded


def canonical_nquads(document: dict[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of the document (every term must be defined by a bundled context)."""
    try:
        nquads: str = jsonld.normalize(document, _options(algorithm="URDNA2015", format="application/n-quads"))
    except jsonld.JsonLdError as exc:
        raise UnsafeJsonLd(f"JSON-LD: {_reason(exc)}") from None
    return nquads
