"""JSON-LD expansion and RDFC-1.0 canonical N-Quads, offline and in safe mode (pyld underneath).

Invariants:
- Contexts come only from a fixed map of exact URL -> document (by default the contexts bundled in
  `anchoring.contexts`); every other URL is refused with `UnsafeJsonLd`, so nothing is ever fetched.
- Safe mode: a document either gives exactly pyld's result or raises `UnsafeJsonLd`; it never gives a silently
  smaller dataset. pyld 3.3 has no safe mode (it ignores a `safe` option), so the processor here raises where
  pyld would drop data, following jsonld.js's safe mode: an undefined term, a free-floating value or object,
  a relative IRI reference, a blank-node predicate, `@direction` (RDF cannot carry it here), a malformed
  language tag. Two more refusals keep the canonical form unambiguous: an IRI with a character N-Quads
  cannot carry (space, `<>"{}|^`\\`, controls), and a string with a control character that pyld writes
  raw but RDFC-1.0 escapes (all but tab, LF, CR), so no other implementation canonicalises it differently.
- `canonical_nquads_plain(doc)` is pyld's `normalize(doc, URDNA2015, n-quads)` with this loader: the reference
  that `anchoring.rdfshape` (the fast path behind `canonical_nquads`) is tested against.
"""

import re
import threading
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from cachetools import LRUCache

from anchoring.contexts import BUNDLED, context_document
from anchoring.errors import VerificationFailed
from anchoring.pyldimport import URDNA2015, ContextResolver, jsonld
from anchoring.rdfc import IRI_UNSAFE, LITERAL_UNSAFE
from anchoring.rdfshape import MAX_DEPTH, ShapeCache, context_terms

Dataset = dict[str, list[dict[str, Any]]]
"""pyld's RDF dataset: graph name ('@default' or an IRI / blank node) -> triples as dicts."""

# pyld's own test for an absolute IRI (re.match, so `$` also matches before a final newline).
PYLD_ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")
_LANGUAGE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")
_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$")


class UnsafeJsonLd(VerificationFailed):
    """The document cannot be canonicalised without losing or inventing data, or needs a context not bundled."""


class _Dropped(Exception):
    """pyld is about to drop a property (raised from its `on_property_dropped` hook)."""

    def __init__(self, expanded: str | None) -> None:
        self.expanded = expanded


def _raise_dropped(expanded: str | None) -> None:
    raise _Dropped(expanded)


def _where(active_property: str | None) -> str:
    return f"under {active_property!r}" if active_property else "at the top level"


class _SafeProcessor(jsonld.JsonLdProcessor):  # type: ignore[misc]
    """pyld's processor, raising `UnsafeJsonLd` at each place where pyld would silently drop data."""

    def __init__(self) -> None:
        super().__init__(on_property_dropped=_raise_dropped)

    def _expand_object(self, active_ctx: Any, active_property: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._expand_object(active_ctx, active_property, *args, **kwargs)
        except _Dropped as dropped:
            element, expand_iri = args[1], super()._expand_iri
            keys = [
                key
                for key in sorted(element)
                if key != "@context" and expand_iri(active_ctx, key, vocab=True) == dropped.expanded
            ]
            term = keys[0] if keys else dropped.expanded
            raise UnsafeJsonLd(
                f"term {term!r} {_where(active_property)} is not defined by the document's @context; "
                "it would drop out of the signed data"
            ) from None

    def _expand(self, active_ctx: Any, active_property: Any, element: Any, *args: Any, **kwargs: Any) -> Any:
        result = super()._expand(active_ctx, active_property, element, *args, **kwargs)
        if result is None and element is not None:
            if isinstance(element, dict):
                raise UnsafeJsonLd(
                    f"an object {_where(active_property)} with keys {sorted(element)} expands to nothing; "
                    "it would drop out of the signed data"
                )
            raise UnsafeJsonLd(
                f"the value {element!r} {_where(active_property)} is not the value of a defined term; "
                "it would drop out of the signed data"
            )
        return result

    def _expand_iri(
        self,
        active_ctx: Any,
        value: Any,
        base: Any = None,
        vocab: bool = False,
        local_ctx: Any = None,
        defined: Any = None,
    ) -> Any:
        if base is None or local_ctx is not None or active_ctx.get("@base") is not None:
            return super()._expand_iri(active_ctx, value, base, vocab, local_ctx, defined)
        # Document-relative expansion without an @base: pyld would resolve a relative reference against its
        # made-up base (http://example.org/base/) or drop it. Either way the data would not be the author's.
        if isinstance(value, str) and _KEYWORD_LIKE.match(value) and not jsonld._is_keyword(value):
            raise UnsafeJsonLd(f"{value!r} looks like a JSON-LD keyword but is not one")
        unresolved = super()._expand_iri(active_ctx, value, None, vocab, local_ctx, defined)
        if isinstance(unresolved, str) and not jsonld._is_keyword(unresolved) and not PYLD_ABSOLUTE.match(unresolved):
            if vocab:  # a type (or a @vocab-typed value): most likely a term the contexts do not define
                raise UnsafeJsonLd(f"{value!r} is neither a term the document's @context defines nor an absolute IRI")
            raise UnsafeJsonLd(f"{value!r} is a relative IRI reference; only absolute IRIs can be signed")
        return unresolved

    def _graph_to_rdf(self, graph: Any, issuer: Any, options: Any) -> Any:
        for subject, node in graph.items():
            if not PYLD_ABSOLUTE.match(subject):
                raise UnsafeJsonLd(f"{subject!r} is a relative IRI reference; only absolute IRIs can be signed")
            for prop in node:
                if prop.startswith("_:"):
                    raise UnsafeJsonLd(f"blank node {prop!r} used as a property; RDF cannot carry it")
        return super()._graph_to_rdf(graph, issuer, options)

    def _object_to_rdf(self, item: Any, issuer: Any, triples: Any, options: Any) -> Any:
        if isinstance(item, dict) and "@value" in item:
            if "@direction" in item:
                raise UnsafeJsonLd(f"@direction on {item['@value']!r} would drop out of the signed data")
            language = item.get("@language")
            if language is not None and not _LANGUAGE.fullmatch(language):
                raise UnsafeJsonLd(f"{language!r} is not a well-formed language tag")
        result = super()._object_to_rdf(item, issuer, triples, options)
        if result is None:
            reference = item.get("@id") if isinstance(item, dict) else item
            raise UnsafeJsonLd(f"{reference!r} is a relative IRI reference; only absolute IRIs can be signed")
        return result


def check_dataset(dataset: Dataset) -> None:
    """The refusals that look at the finished dataset: IRIs and strings N-Quads must write unambiguously."""
    for graph, triples in dataset.items():
        if graph != "@default" and IRI_UNSAFE.search(graph):
            raise UnsafeJsonLd(f"IRI {graph!r} has a character N-Quads cannot carry")
        for triple in triples:
            for position in ("subject", "predicate", "object"):
                term = triple[position]
                if term["type"] == "IRI" and IRI_UNSAFE.search(term["value"]):
                    raise UnsafeJsonLd(f"IRI {term['value']!r} has a character N-Quads cannot carry")
            obj = triple["object"]
            if obj["type"] == "literal":
                check_literal(obj["value"])
                if IRI_UNSAFE.search(obj.get("datatype", "")):
                    raise UnsafeJsonLd(f"datatype IRI {obj['datatype']!r} has a character N-Quads cannot carry")


def check_literal(value: str) -> None:
    bad = LITERAL_UNSAFE.search(value)
    if bad:
        raise UnsafeJsonLd(
            f"string {value!r} holds control character U+{ord(bad.group()):04X}, which pyld writes raw but "
            "RDFC-1.0 escapes; refused so every implementation canonicalises alike"
        )


def check_depth(document: Any) -> None:
    """Refuse documents nested more than MAX_DEPTH levels (the check itself recurses at most that deep)."""
    if isinstance(document, dict | list) and _too_deep(document, MAX_DEPTH):
        raise UnsafeJsonLd(f"the document is nested more than {MAX_DEPTH} levels deep")


def _too_deep(value: Any, levels_left: int) -> bool:
    if levels_left == 0:
        return True
    for item in value.values() if isinstance(value, dict) else value:
        if isinstance(item, dict | list) and _too_deep(item, levels_left - 1):
            return True
    return False


def _unsafe_cause(error: BaseException) -> UnsafeJsonLd | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UnsafeJsonLd):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _innermost(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


class JsonLd:
    """Safe, offline JSON-LD processing over a fixed set of context documents (thread-safe)."""

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self._documents = dict(documents)
        self._lock = threading.Lock()
        self._resolver = ContextResolver(LRUCache(maxsize=256), self.document_loader)
        terms = frozenset(context_terms(list(self._documents.values())))
        self.shapes = ShapeCache(self.to_dataset, self.canonical_nquads_plain, terms)

    @property
    def urls(self) -> frozenset[str]:
        return frozenset(self._documents)

    def document(self, url: str) -> Any:
        """The context document served for `url` (do not mutate); `UnsafeJsonLd` if not bundled."""
        if url not in self._documents:
            raise UnsafeJsonLd(
                f"context {url!r} is not bundled with credanchor; contexts are never fetched "
                f"(bundled: {', '.join(sorted(self._documents))})"
            )
        return self._documents[url]

    def with_documents(self, extra: Mapping[str, Any]) -> "JsonLd":
        """The same, also serving `extra` (URL -> parsed context document), e.g. a test vector's contexts."""
        return JsonLd({**self._documents, **extra})

    def document_loader(self, url: str, options: Any = None) -> dict[str, Any]:
        """A pyld `documentLoader` serving exactly this processor's documents (and refusing every other URL)."""
        document = self.document(url)
        # 'static' lets pyld cache the processed context across calls: the document never changes.
        return {
            "contextUrl": None,
            "documentUrl": url,
            "document": document,
            "contentType": "application/ld+json",
            "tag": "static",
        }

    def _options(self) -> dict[str, Any]:
        return {"documentLoader": self.document_loader, "contextResolver": self._resolver, "base": ""}

    def _run(self, document: Any, work: Callable[[], Any]) -> Any:
        """Run pyld under the lock, turning its errors into `UnsafeJsonLd` with the innermost reason."""
        check_depth(document)
        with self._lock:
            try:
                return work()
            except jsonld.JsonLdError as error:
                unsafe = _unsafe_cause(error)
                if unsafe is not None:
                    raise unsafe from None
                inner = _innermost(error)
                reason = inner.args[0] if inner.args else type(inner).__name__
                code = getattr(inner, "code", None)
                raise UnsafeJsonLd(f"not valid JSON-LD: {reason}{f' ({code})' if code else ''}") from None

    def expand(self, document: Mapping[str, Any]) -> list[Any]:
        """The expanded form (safe mode)."""
        expanded: list[Any] = self._run(document, lambda: _SafeProcessor().expand(dict(document), self._options()))
        return expanded

    def to_dataset(self, document: Mapping[str, Any]) -> Dataset:
        """pyld's RDF dataset of the document, as `normalize` builds it (safe mode, checked)."""
        options = {**self._options(), "produceGeneralizedRdf": False}
        dataset: Dataset = self._run(document, lambda: _SafeProcessor().to_rdf(dict(document), options))
        check_dataset(dataset)
        return dataset

    def canonical_nquads(self, document: Mapping[str, Any]) -> str:
        """RDFC-1.0 canonical N-Quads, equal to `canonical_nquads_plain`, fast for a shape seen before."""
        return self.shapes.canonical_nquads(document)

    def canonical_nquads_plain(self, document: Mapping[str, Any]) -> str:
        """RDFC-1.0 canonical N-Quads straight through pyld: expand, to RDF, URDNA2015 (the reference path)."""
        return normalize_dataset(self.to_dataset(document))


def normalize_dataset(dataset: Dataset) -> str:
    """pyld's URDNA2015 of a dataset (which it consumes) as canonical N-Quads."""
    nquads: str = URDNA2015().main(dataset, {"format": "application/n-quads"})
    return nquads


@cache
def bundled() -> JsonLd:
    """The processor over the contexts bundled with credanchor (one per process)."""
    return JsonLd({url: context_document(url) for url in BUNDLED})


def expand(document: Mapping[str, Any]) -> list[Any]:
    return bundled().expand(document)


def canonical_nquads(document: Mapping[str, Any]) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads over the bundled contexts, equal to pyld's `normalize`."""
    return bundled().canonical_nquads(document)
