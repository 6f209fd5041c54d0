"""JSON-LD in safe mode, offline: bundled contexts only, and every way data could silently drop out refused."""

import copy
import json
import socket
from typing import Any

import pytest

from anchoring.contexts import BUNDLED, context_bytes, context_document
from anchoring.errors import VerificationFailed
from anchoring.jsonld import UnsafeJsonLd, bundled, canonical_nquads, expand
from tests.unit.ob3_docs import ASSETS, OB3, knob_credential, load, pyld_normalize

VC = "https://www.w3.org/ns/credentials/v2"
BASE: dict[str, Any] = {
    "@context": [VC],
    "id": "urn:uuid:1",
    "type": ["VerifiableCredential"],
    "issuer": "https://issuer.example",
    "validFrom": "2026-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:1"},
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), **changes}


def test_bundled_contexts_are_the_published_bytes() -> None:
    assert context_bytes(VC) == (OB3 / "credentials-v2.jsonld").read_bytes()
    ob3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
    assert context_bytes(ob3) == (OB3 / "ob-context-3.0.3.json").read_bytes()
    readme = (ASSETS.parent.parent / "anchoring" / "contexts" / "README.md").read_text()
    for url, entry in BUNDLED.items():
        assert json.loads(context_bytes(url)) == context_document(url)
        assert f"| `{entry.filename}` | {url} |" in readme
        assert entry.sha256 in readme


def test_a_context_not_bundled_is_refused_without_any_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any) -> None:
        raise AssertionError("tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    document = with_(**{"@context": [VC, "https://evil.example/ctx"]})
    message = (
        "context 'https://evil.example/ctx' is not bundled with credanchor; contexts are never fetched "
        "(bundled: https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json, "
        "https://w3id.org/security/data-integrity/v2, https://w3id.org/security/multikey/v1, "
        "https://www.w3.org/ns/credentials/v2, https://www.w3.org/ns/did/v1)"
    )
    with pytest.raises(UnsafeJsonLd) as caught:
        canonical_nquads(document)
    assert str(caught.value) == message
    with pytest.raises(UnsafeJsonLd, match="is not bundled"):
        expand(document)
    with pytest.raises(UnsafeJsonLd, match="'https://www.w3.org/ns/credentials/examples/v2' is not bundled"):
        canonical_nquads(load(ASSETS / "vc-di-eddsa" / "TestVectors" / "unsigned.json"))


def test_unsafe_json_ld_is_a_verification_failure() -> None:
    assert issubclass(UnsafeJsonLd, VerificationFailed)


_deep: list[Any] = ["bottom"]
for _ in range(100):
    _deep = [_deep]
NESTED_DEEP = with_(name=_deep)

REFUSALS = [
    (
        with_(favouriteColour="blue"),
        "term 'favouriteColour' at the top level is not defined by the document's @context; "
        "it would drop out of the signed data",
    ),
    (
        with_(credentialSubject={"id": "did:example:1", "alumniOf": "X"}),
        "term 'alumniOf' under 'credentialSubject' is not defined by the document's @context; "
        "it would drop out of the signed data",
    ),
    (with_(id="credentials/1"), "'credentials/1' is a relative IRI reference; only absolute IRIs can be signed"),
    (with_(issuer="issuer"), "'issuer' is a relative IRI reference; only absolute IRIs can be signed"),
    (with_(issuer="@foo"), "'@foo' looks like a JSON-LD keyword but is not one"),
    (
        with_(type=["VerifiableCredential", "FooCredential"]),
        "'FooCredential' is neither a term the document's @context defines nor an absolute IRI",
    ),
    (
        {"@context": [VC], "@graph": ["x"]},
        "the value 'x' under '@graph' is not the value of a defined term; it would drop out of the signed data",
    ),
    (
        {"@context": [VC], "id": "urn:x"},
        "an object at the top level with keys ['@context', 'id'] expands to nothing; "
        "it would drop out of the signed data",
    ),
    (
        with_(name={"@value": None}),
        "an object under 'name' with keys ['@value'] expands to nothing; it would drop out of the signed data",
    ),
    (with_(name={"@value": "x", "@direction": "rtl"}), "@direction on 'x' would drop out of the signed data"),
    (with_(name={"@value": "x", "@language": "not a tag"}), "'not a tag' is not a well-formed language tag"),
    (with_(issuer="https://ex.org/a>b"), "IRI 'https://ex.org/a>b' has a character N-Quads cannot carry"),
    (
        with_(name="bell\x07"),
        "string 'bell\\x07' holds control character U+0007, which pyld writes raw but RDFC-1.0 escapes; "
        "refused so every implementation canonicalises alike",
    ),
    (
        {"@context": [VC, {"p": "_:p"}], "id": "urn:x", "type": "VerifiableCredential", "p": "v"},
        "blank node '_:b0' used as a property; RDF cannot carry it",
    ),
    (with_(id=5), 'not valid JSON-LD: Invalid JSON-LD syntax; "@id" value must be a string. (invalid @id value)'),
    (NESTED_DEEP, "the document is nested more than 100 levels deep"),
]


@pytest.mark.parametrize(("document", "message"), REFUSALS, ids=[m[:40] for _, m in REFUSALS])
def test_safe_mode_refuses_what_would_drop_out(document: dict[str, Any], message: str) -> None:
    processor = bundled()
    for canonicalise in (processor.canonical_nquads, processor.canonical_nquads_plain):
        with pytest.raises(UnsafeJsonLd) as caught:
            canonicalise(document)
        assert str(caught.value) == message


def test_pyld_alone_would_have_dropped_or_invented_data() -> None:
    # Why the refusals matter: without safe mode these documents canonicalise to less (or other) data.
    processor = bundled()
    plain = pyld_normalize(BASE, processor)
    assert pyld_normalize(with_(favouriteColour="blue"), processor) == plain
    assert "<http://example.org/base/credentials/1>" in pyld_normalize(with_(id="credentials/1"), processor)


def test_expand_gives_the_expanded_form() -> None:
    assert expand(BASE) == [
        {
            "@id": "urn:uuid:1",
            "@type": ["https://www.w3.org/2018/credentials#VerifiableCredential"],
            "https://www.w3.org/2018/credentials#credentialSubject": [{"@id": "did:example:1"}],
            "https://www.w3.org/2018/credentials#issuer": [{"@id": "https://issuer.example"}],
            "https://www.w3.org/2018/credentials#validFrom": [
                {"@type": "http://www.w3.org/2001/XMLSchema#dateTime", "@value": "2026-01-01T00:00:00Z"}
            ],
        }
    ]


def test_tabs_newlines_and_quotes_are_escaped_as_rdfc_says() -> None:
    nquads = canonical_nquads(with_(name='a\tb\nc\rd"e\\f'))
    assert '<https://schema.org/name> "a\\tb\\nc\\rd\\"e\\\\f" .\n' in nquads


def test_processing_never_changes_the_bundled_documents() -> None:
    processor = bundled()
    for serial in range(3):
        processor.canonical_nquads_plain(knob_credential(frozenset({"name", "result", "alignments"}), serial))
    for url in BUNDLED:
        assert processor.document(url) == context_document(url)
