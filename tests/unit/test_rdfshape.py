"""The fast canonicalisation (shape templates + first-degree labelling) gives byte for byte what plain pyld
gives: on every credential shape the issuer emits, on the published examples, and on hostile values."""

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anchoring import rdfc
from anchoring.jsonld import JsonLd, UnsafeJsonLd, bundled
from anchoring.rdfshape import SLOT, ShapeCache, shape_of
from issuer.config import IssuerConfig
from issuer.records import Record
from tests.unit.ob3_docs import (
    OB3,
    VECTORS,
    credential,
    every_knob_combination,
    knob_credential,
    load,
    pyld_normalize,
    vector_processor,
)

VC = "https://www.w3.org/ns/credentials/v2"


def fresh(processor: JsonLd | None = None) -> JsonLd:
    """A processor with an empty shape cache, so counts below belong to one test."""
    return JsonLd({url: (processor or bundled()).document(url) for url in (processor or bundled()).urls})


def outcome(work: Any, document: dict[str, Any]) -> str:
    try:
        result: str = work(document)
        return result
    except UnsafeJsonLd as exc:
        return f"UnsafeJsonLd: {exc}"


def test_every_issuer_shape_matches_plain_pyld() -> None:
    processor = fresh()
    for serial, knobs in enumerate(every_knob_combination()):
        document = knob_credential(knobs, serial)
        expected = processor.canonical_nquads_plain(document)
        assert processor.canonical_nquads(document) == expected, sorted(knobs)
    assert processor.shapes.plain == 0
    assert processor.shapes.fast == len(every_knob_combination())


def test_plain_path_is_pyld_normalize() -> None:
    processor = bundled()
    for knobs in (frozenset(), every_knob_combination()[-1]):
        document = knob_credential(knobs)
        assert processor.canonical_nquads_plain(document) == pyld_normalize(document, processor)


@pytest.mark.parametrize(
    "path",
    [
        OB3 / "ob3-example-signed.json",
        VECTORS / "unsigned.json",
        VECTORS / "employmentAuth.json",
        VECTORS / "eddsa-rdfc-2022" / "signedDataInt.json",
        VECTORS / "proof-set-chain" / "signedProofChain2.json",
    ],
    ids=lambda p: p.name,
)
def test_published_documents_match_plain_pyld(path: Any) -> None:
    processor = fresh(vector_processor())
    document = load(path)
    expected = pyld_normalize(document, processor)
    assert processor.canonical_nquads_plain(document) == expected
    assert processor.canonical_nquads(document) == expected
    assert processor.canonical_nquads(copy.deepcopy(document)) == expected


def test_one_shape_is_expanded_once() -> None:
    processor = fresh()
    documents = [knob_credential(frozenset({"name", "result"}), serial) for serial in range(20)]
    keys = {shape_of(d)[0] for d in documents}
    assert len(keys) == 1
    results = [processor.canonical_nquads(d) for d in documents]
    assert len(set(results)) == 20
    assert processor.shapes.fast == 20


def test_shape_keeps_types_contexts_numbers_and_keys() -> None:
    key, slots = shape_of({"@context": ["https://a"], "type": ["T"], "id": "urn:x", "n": 1.5, "b": True, "s": ""})
    assert slots == ["urn:x", ""]
    assert key == (
        '{"@context": ["https://a"], "type": ["T"], "id": "urn:x-credanchor-slot:0", "n": 1.5, "b": true, '
        '"s": "urn:x-credanchor-slot:1"}'
    )


def test_identical_blank_nodes_take_the_full_algorithm() -> None:
    # Two identical alignments: their first-degree hashes tie, so pyld's n-degree hashing decides the labels.
    alignment = {"target_name": "Same", "target_url": "https://example.org/same"}
    document = credential(alignment=[alignment, alignment])
    processor = fresh()
    assert processor.canonical_nquads(document) == processor.canonical_nquads_plain(document)
    assert processor.shapes.fast == 1


def test_tie_path_rebuilds_pyld_terms_exactly() -> None:
    literal = rdfc.literal_text('a "q" \\ \t\n\r', rdfc.XSD_STRING, None)
    tagged = rdfc.literal_text("x", rdfc.RDF_LANGSTRING, "en")
    typed = rdfc.literal_text("1", "http://www.w3.org/2001/XMLSchema#integer", None)
    quads: list[rdfc.Quad] = [(0, "<https://p>", literal, None), (1, "<https://p>", literal, None)]
    quads += [(0, "<https://q>", tagged, 2)]
    quads += [(1, "<https://q>", tagged, 2), (2, "<https://r>", typed, "<https://g>")]
    text = rdfc.canonical_nquads(quads, 3)
    assert text == rdfc._pyld_canonical(quads)
    assert '"a \\"q\\" \\\\ \\t\\n\\r"' in text


def test_equal_iri_values_take_the_plain_path() -> None:
    # the achievement id equals the issuer id: pyld merges the two nodes, so the template cannot be used
    issuer = IssuerConfig(id="https://same.test", name="Same")
    document = credential(issuer=issuer, id="https://same.test")
    processor = fresh()
    assert processor.canonical_nquads(document) == processor.canonical_nquads_plain(document)
    assert processor.shapes.plain == 1


def test_repeated_values_take_the_plain_path() -> None:
    document = credential()
    document["credentialSubject"]["identifier"].append(copy.deepcopy(document["credentialSubject"]["identifier"][0]))
    document["name"] = [document["name"], document["name"]]
    processor = fresh()
    assert processor.canonical_nquads(document) == processor.canonical_nquads_plain(document)


def test_placeholder_lookalikes_take_the_plain_path() -> None:
    for value in (f"{SLOT}0", f"x{SLOT}1", f"{SLOT}00"):
        document = credential()
        document["name"] = value
        processor = fresh()
        assert processor.canonical_nquads(document) == processor.canonical_nquads_plain(document)
        assert processor.shapes.plain == 1
    document = credential()
    document["type"] = [*document["type"], f"{SLOT}0"]
    processor = fresh()
    assert outcome(processor.canonical_nquads, document) == outcome(processor.canonical_nquads_plain, document)
    assert processor.shapes.plain == 1


def test_unsafe_shapes_take_the_plain_path() -> None:
    inline = {
        "blob": {"@id": "https://example.org/blob", "@type": "@json"},
        "size": {"@id": "https://example.org/size", "@type": "http://www.w3.org/2001/XMLSchema#double"},
        "kind": {"@id": "https://example.org/kind", "@type": "@vocab"},
        "lang": "@language",
        "Thing": "https://example.org/Thing",
    }
    base: dict[str, Any] = {"@context": [VC, inline], "id": "urn:uuid:1", "type": "Thing"}
    cases: list[dict[str, Any]] = [
        {"blob": {"text": "a", "n": [1, "b"]}},
        {"size": "1.50"},
        {"kind": "Thing"},
        {"kind": "https://example.org/Other"},
        {"https://schema.org/name": {"@value": "hi", "lang": "EN"}},
    ]
    processor = fresh()
    for case in cases:
        document = {**base, **case}
        expected = pyld_normalize(document, processor)
        assert processor.canonical_nquads(document) == expected, case
    assert processor.shapes.fast == 1  # only the @vocab term with an absolute IRI value can use its template


def test_shape_cache_is_bounded() -> None:
    processor = bundled()
    cache = ShapeCache(processor.to_dataset, processor.canonical_nquads_plain, frozenset(), maxsize=2)
    for knobs in every_knob_combination()[:4]:
        document = knob_credential(knobs)
        assert cache.canonical_nquads(document) == processor.canonical_nquads_plain(document)
    assert len(cache._templates) == 2


HOSTILE = st.sampled_from(
    [
        "",
        "_:b0",
        "_:c14n0",
        "urn:uuid:x",
        "did:example:123",
        "https://ex.org/a b",
        "https://ex.org/a>b",
        'quote " and \\ backslash',
        "tab\there",
        "line\nbreak\r\n",
        "bell\x07",
        "nul\x00",
        "\u2028\u2029\x85",
        "é \U0001f600",
        "http://a\n",
        "relative/path",
        "@id",
        "xsd:string",
        "schema:name",
        "Profile",
        "https://registrar.test.edu",
        "https://registrar.test.edu/achievements/example",
        "Ada Lovelace",
    ]
)
TEXT = HOSTILE | st.text(st.characters(codec="utf-8"), max_size=12)
IRIISH = HOSTILE | st.builds(lambda s: f"https://ex.org/{s}", st.text(st.characters(codec="utf-8"), max_size=6))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=TEXT,
    narrative=st.none() | TEXT,
    result=st.none() | TEXT,
    evidence=st.none() | IRIISH,
    issuer_id=IRIISH,
    issuer_name=TEXT,
    achievement_id=IRIISH,
    credential_id=IRIISH,
    achievement_name=TEXT,
)
def test_hostile_values_match_plain_pyld(
    name: str,
    narrative: str | None,
    result: str | None,
    evidence: str | None,
    issuer_id: str,
    issuer_name: str,
    achievement_id: str,
    credential_id: str,
    achievement_name: str,
) -> None:
    record = Record(
        row=2, email="x@example.org", name=name, result=result, evidence_url=evidence, evidence_narrative=narrative
    )
    document = credential(
        record,
        IssuerConfig.model_construct(
            id=issuer_id, name=issuer_name, url=None, email=None, description=None, image=None
        ),
        credential_id,
        include_name=True,
    )
    document["credentialSubject"]["achievement"]["id"] = achievement_id
    document["credentialSubject"]["achievement"]["name"] = achievement_name
    processor = bundled()
    assert outcome(processor.canonical_nquads, document) == outcome(processor.canonical_nquads_plain, document)


def test_hostile_values_do_reach_the_fast_path() -> None:
    processor = fresh()
    record = Record(row=2, email="x@example.org", name='q"\\\t\n\r é', evidence_narrative="", result="_:b0")
    document = credential(record, credential_id="did:example:1", include_name=True)
    assert processor.canonical_nquads(document) == processor.canonical_nquads_plain(document)
    assert processor.shapes.fast == 1
