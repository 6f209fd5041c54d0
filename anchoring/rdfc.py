"""RDFC-1.0 (URDNA2015) canonical N-Quads of a small dataset, byte-identical to pyld's, fast in the common case.

Invariants:
- A quad is `(subject, predicate, object, graph)`; each part is a `Term`: an int is a blank node (its index), a
  str is the part's finished N-Quads text (`<iri>`, or `"escaped"^^<datatype>` for a literal; `graph` is
  None for the default graph). `serialize` writes exactly what pyld's `serialize_nquad` writes.
- When every blank node's first-degree hash is unique, URDNA2015 issues canonical labels in the order of
  those hashes and needs nothing more; that is computed here. Any tie goes to pyld's full URDNA2015, so the
  result always equals pyld's.
"""

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from anchoring.pyldimport import URDNA2015, escape

IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\]')
"""Characters an N-Quads IRI cannot carry (pyld writes IRIs raw, so one of these could make quads ambiguous)."""
LITERAL_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters pyld writes raw in a literal where RDFC-1.0 writes an escape (tab, LF, CR agree)."""
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

Term = int | str
Quad = tuple[Term, str, Term, Term | None]


def iri_text(value: str) -> str:
    return f"<{value}>"


def literal_text(value: str, datatype: str, language: str | None) -> str:
    """A literal as pyld writes it: language tag only for rdf:langString, no datatype for xsd:string."""
    text = f'"{escape(value)}"'
    if datatype == RDF_LANGSTRING:
        return f"{text}@{language}" if language else text
    if datatype != XSD_STRING:
        return f"{text}^^<{datatype}>"
    return text


def term_of(component: dict[str, Any], blank: dict[str, int]) -> Term:
    """A pyld term dict as a `Term`, numbering blank nodes in `blank` as they are met."""
    kind = component["type"]
    if kind == "blank node":
        return blank.setdefault(component["value"], len(blank))
    if kind == "IRI":
        return iri_text(component["value"])
    return literal_text(component["value"], component["datatype"], component.get("language"))


def _label(term: Term, labels: Sequence[str]) -> str:
    return labels[term] if isinstance(term, int) else term


def serialize(quad: Quad, labels: Sequence[str]) -> str:
    subject, predicate, obj, graph = quad
    line = f"{_label(subject, labels)} {predicate} {_label(obj, labels)}"
    if graph is not None:
        line += f" {_label(graph, labels)}"
    return line + " .\n"


def _first_degree(quad: Quad, node: int) -> str:
    """The quad as Hash First Degree Quads serialises it for `node`: `_:a` for it, `_:z` for other blank nodes."""
    parts = [
        ("_:a" if term == node else "_:z") if isinstance(term, int) else term for term in (quad[0], quad[2], quad[3])
    ]
    line = f"{parts[0]} {quad[1]} {parts[1]}"
    if quad[3] is not None:
        line += f" {parts[2]}"
    return line + " .\n"


def canonical_nquads(quads: Sequence[Quad], blank_count: int) -> str:
    """Canonical N-Quads of a set of distinct quads whose blank nodes are 0 .. blank_count-1."""
    mentions: list[list[Quad]] = [[] for _ in range(blank_count)]
    for quad in quads:
        # once per occurrence, as pyld does: a quad naming a blank node twice counts twice in its hash
        for term in (quad[0], quad[2], quad[3]):
            if isinstance(term, int):
                mentions[term].append(quad)
    hashes = []
    for node in range(blank_count):
        lines = sorted(_first_degree(quad, node) for quad in mentions[node])
        hashes.append(hashlib.sha256("".join(lines).encode("utf-8")).hexdigest())
    if len(set(hashes)) < blank_count:
        return _pyld_canonical(quads)
    labels = [""] * blank_count
    for rank, node in enumerate(sorted(range(blank_count), key=hashes.__getitem__)):
        labels[node] = f"_:c14n{rank}"
    return "".join(sorted(serialize(quad, labels) for quad in quads))


def _pyld_canonical(quads: Sequence[Quad]) -> str:
    """pyld's URDNA2015 over the same quads (blank-node ties need the n-degree algorithm)."""
    dataset: dict[str, list[dict[str, Any]]] = {}
    for quad in quads:
        subject, predicate, obj, graph = quad
        name = "@default" if graph is None else _pyld_graph_name(graph)
        dataset.setdefault(name, []).append(
            {"subject": _pyld_term(subject), "predicate": _pyld_term(predicate), "object": _pyld_term(obj)}
        )
    nquads: str = URDNA2015().main(dataset, {"format": "application/n-quads"})
    return nquads


def _pyld_graph_name(graph: Term) -> str:
    return f"_:b{graph}" if isinstance(graph, int) else graph[1:-1]


def _pyld_term(term: Term) -> dict[str, Any]:
    if isinstance(term, int):
        return {"type": "blank node", "value": f"_:b{term}"}
    if term.startswith("<"):
        return {"type": "IRI", "value": term[1:-1]}
    return _pyld_literal(term)


def _pyld_literal(text: str) -> dict[str, Any]:
    """Back from a literal's N-Quads text to pyld's dict (only for the rare tie path)."""
    end = _closing_quote(text)
    value = _unescape(text[1:end])
    rest = text[end + 1 :]
    if rest.startswith("^^<"):
        return {"type": "literal", "value": value, "datatype": rest[3:-1]}
    if rest.startswith("@"):
        return {"type": "literal", "value": value, "datatype": RDF_LANGSTRING, "language": rest[1:]}
    return {"type": "literal", "value": value, "datatype": XSD_STRING}


def _closing_quote(text: str) -> int:
    index = 1
    while text[index] != '"':
        index += 2 if text[index] == "\\" else 1
    return index


_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", '"': '"'}


def _unescape(text: str) -> str:
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            out.append(_UNESCAPES[text[index + 1]])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)
