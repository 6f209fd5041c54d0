"""Canonical N-Quads fast: pyld expands each document *shape* once, each document only fills in its values.

A document's shape is the document with every string value replaced by a unique placeholder IRI
(`urn:x-credanchor-slot:N`), except under `@context`, `type` and `@type`, which stay as they are, like numbers,
booleans and every key. pyld turns the shape into an RDF dataset once; the placeholders show where each
value lands. A document of that shape then costs a substitution and `anchoring.rdfc`, not an expansion.

Invariants (the result always equals the plain pyld path, `JsonLd.canonical_nquads_plain`):
- A shape is used only if every placeholder lands unchanged and only as a whole subject or object IRI, or as
  a whole literal value whose datatype pyld does not rewrite (xsd:double). Otherwise, or if pyld refuses the
  shape, every document of that shape takes the plain path.
- A value landing in an IRI position is used only if it is an absolute IRI pyld leaves unchanged: a scheme
  of RFC 3987 letters that no context defines as a term, no character N-Quads cannot carry, not a term
  itself, and no other IRI of the document equals it (so pyld would merge no nodes). A literal value must
  hold no character the safe mode refuses. Any value that fails takes the plain path (which then raises or
  answers).
- A document whose substituted quads repeat takes the plain path (pyld keeps some repeats, drops others).
"""

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from anchoring import rdfc
from anchoring.pyldimport import escape

SLOT = "urn:x-credanchor-slot:"
MAX_DEPTH = 100
"""Deeper documents are refused: recursion that deep may exhaust the C stack (py_ecc lifts Python's limit)."""
KEPT = frozenset({"@context", "type", "@type"})
XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
_IRI = re.compile(r'([A-Za-z][A-Za-z0-9+.-]*):[^\s<>"{}|^`\\\x00-\x20]*')


class _Unshaped(Exception):
    """This document (or shape) must take the plain path."""


@dataclass(frozen=True)
class _Slot:
    index: int
    iri: bool
    suffix: str = ""
    """After the quoted value of a literal: '', '@lang' or '^^<datatype>'."""


Part = str | int | _Slot


@dataclass(frozen=True)
class Template:
    quads: tuple[tuple[Part, str, Part, Part | None], ...]
    blank_count: int
    iri_slots: tuple[int, ...]
    literal_slots: tuple[int, ...]
    constant_iris: frozenset[str]
    terms: frozenset[str]


def shape_of(document: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The shape key (JSON of the document with placeholders) and the string values in placeholder order."""
    slots: list[str] = []

    def walk(value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            if SLOT in value:
                raise _Unshaped
            slots.append(value)
            return f"{SLOT}{len(slots) - 1}"
        if depth > MAX_DEPTH:
            raise _Unshaped
        if kind is dict:
            shaped = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise _Unshaped
                if key in KEPT:
                    _check_json(item, depth + 1)
                    shaped[key] = item
                else:
                    shaped[key] = walk(item, depth + 1)
            return shaped
        if kind is list:
            return [walk(item, depth + 1) for item in value]
        if value is None or kind is bool or kind is int or kind is float:
            return value
        raise _Unshaped

    key = json.dumps(walk(document, 1), ensure_ascii=False)
    # a key or a kept value holding the placeholder prefix would be taken for a placeholder
    if key.count(SLOT) != len(slots):
        raise _Unshaped
    return key, slots


def _check_json(value: Any, depth: int) -> None:
    """A kept value goes into the shape key verbatim: it must survive a JSON round trip unchanged."""
    kind = type(value)
    if depth > MAX_DEPTH:
        raise _Unshaped
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _Unshaped
            _check_json(item, depth + 1)
    elif kind is list:
        for item in value:
            _check_json(item, depth + 1)
    elif not (kind is str or value is None or kind is bool or kind is int or kind is float):
        raise _Unshaped


def _keys(value: Any) -> list[Any]:
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def context_terms(context: Any) -> set[str]:
    """Every key below a context value that is not a keyword: a superset of the terms it can define."""
    return {key for key in _keys(context) if isinstance(key, str) and not key.startswith("@")}


def build_template(
    shaped: dict[str, Any], dataset: dict[str, list[dict[str, Any]]], slot_count: int, terms: frozenset[str]
) -> Template:
    """Where each placeholder landed in pyld's dataset of the shape; `_Unshaped` if the shape is not safe."""
    blank: dict[str, int] = {}
    seen: set[int] = set()
    iri_slots: set[int] = set()
    literal_slots: set[int] = set()
    constants: set[str] = set()

    def node(component: dict[str, Any]) -> Part:
        if component["type"] == "blank node":
            return rdfc.term_of(component, blank)
        value = component["value"]
        index = _slot_index(value, slot_count)
        if index is not None:
            seen.add(index)
            iri_slots.add(index)
            return _Slot(index, iri=True)
        constants.add(value)
        return rdfc.iri_text(value)

    def obj(component: dict[str, Any]) -> Part:
        if component["type"] != "literal":
            return node(component)
        value, datatype, language = component["value"], component["datatype"], component.get("language")
        if SLOT in datatype or (language and SLOT in language):
            raise _Unshaped
        index = _slot_index(value, slot_count)
        if index is None:
            return rdfc.literal_text(value, datatype, language)
        if datatype == XSD_DOUBLE:  # pyld rewrites numeric-looking strings typed xsd:double
            raise _Unshaped
        seen.add(index)
        literal_slots.add(index)
        text = rdfc.literal_text("", datatype, language)
        return _Slot(index, iri=False, suffix=text[2:])

    quads = []
    for graph, triples in dataset.items():
        if SLOT in graph:
            raise _Unshaped
        name: Part | None = None
        if graph != "@default":
            name = rdfc.term_of({"type": "blank node" if graph.startswith("_:") else "IRI", "value": graph}, blank)
            constants.add(graph)
        for triple in triples:
            predicate = triple["predicate"]["value"]
            if SLOT in predicate:
                raise _Unshaped
            quads.append((node(triple["subject"]), rdfc.iri_text(predicate), obj(triple["object"]), name))
    if len(seen) != slot_count or len(set(quads)) != len(quads):
        raise _Unshaped
    inline = context_terms([value for key, value in _items(shaped) if key == "@context"])
    return Template(
        quads=tuple(quads),
        blank_count=len(blank),
        iri_slots=tuple(sorted(iri_slots)),
        literal_slots=tuple(sorted(literal_slots)),
        constant_iris=frozenset(constants),
        terms=terms | inline,
    )


def _slot_index(value: str, slot_count: int) -> int | None:
    if not value.startswith(SLOT):
        if SLOT in value:
            raise _Unshaped
        return None
    digits = value[len(SLOT) :]
    if not (digits.isascii() and digits.isdigit()) or str(int(digits)) != digits or int(digits) >= slot_count:
        raise _Unshaped
    return int(digits)


def _items(value: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.extend(item.items())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def fill(template: Template, slots: list[str]) -> str:
    """Canonical N-Quads of a document of this shape; `_Unshaped` when a value must take the plain path."""
    texts: dict[int, str] = {}
    iris: set[str] = set()
    for index in template.iri_slots:
        value = slots[index]
        match = _IRI.fullmatch(value)
        if (
            match is None
            or match.group(1) in template.terms
            or value in template.terms
            or value in iris
            or value in template.constant_iris
        ):
            raise _Unshaped
        iris.add(value)
        texts[index] = f"<{value}>"
    literal_texts: dict[int, str] = {}
    for index in template.literal_slots:
        value = slots[index]
        if rdfc.LITERAL_UNSAFE.search(value):
            raise _Unshaped
        literal_texts[index] = f'"{escape(value)}"'

    def part(p: Part) -> str | int:
        if type(p) is _Slot:
            return texts[p.index] if p.iri else literal_texts[p.index] + p.suffix
        return p  # type: ignore[return-value]

    quads = [(part(s), predicate, part(o), None if g is None else part(g)) for s, predicate, o, g in template.quads]
    if len(set(quads)) != len(quads):
        raise _Unshaped
    return rdfc.canonical_nquads(quads, template.blank_count)


class ShapeCache:
    """Templates by shape key (bounded, least recently used out), with the plain path behind every refusal."""

    def __init__(
        self,
        to_dataset: Callable[[dict[str, Any]], dict[str, list[dict[str, Any]]]],
        plain: Callable[[Mapping[str, Any]], str],
        terms: frozenset[str],
        maxsize: int = 512,
    ) -> None:
        self._to_dataset = to_dataset
        self._plain = plain
        self._terms = terms
        self._maxsize = maxsize
        self._templates: OrderedDict[str, Template | None] = OrderedDict()
        self._lock = threading.Lock()
        self.fast = 0
        self.plain = 0

    def template(self, key: str, slot_count: int) -> Template | None:
        with self._lock:
            if key in self._templates:
                self._templates.move_to_end(key)
                return self._templates[key]
        shaped = json.loads(key)
        try:
            template: Template | None = build_template(shaped, self._to_dataset(shaped), slot_count, self._terms)
        except Exception:  # pyld refused the shape, or it is unsafe: the plain path answers for each document
            template = None
        with self._lock:
            self._templates[key] = template
            if len(self._templates) > self._maxsize:
                self._templates.popitem(last=False)
        return template

    def canonical_nquads(self, document: Mapping[str, Any]) -> str:
        try:
            key, slots = shape_of(document)
            template = self.template(key, len(slots))
            if template is not None:
                nquads = fill(template, slots)
                self.fast += 1
                return nquads
        except _Unshaped:
            pass
        self.plain += 1
        return self._plain(document)
