"""Credentials are Open Badges 3.0 documents whose every term the two standard contexts define, whose
recipient email is only ever hashed, and whose digest ignores a `proof` member."""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anchoring.credential import CredentialView, canonical_bytes, credential_digest
from issuer.config import IssuerConfig
from issuer.credentials import build_credential
from issuer.records import Record
from issuer.templates import ResultSpec, Template
from issuer.workspace import EXAMPLE_TEMPLATE

ASSETS = Path(__file__).parent.parent / "assets" / "ob3"
ISSUER = IssuerConfig(id="https://registrar.test.edu", name="Test University", url="https://test.edu")


def template(**changes: Any) -> Template:
    import tomllib

    data = tomllib.loads(EXAMPLE_TEMPLATE)
    return Template.model_validate({**data, "key": "example", **changes})


def credential(record: Record | None = None, **changes: Any) -> dict[str, Any]:
    t = template(**changes)
    record = record or Record(
        row=2,
        email="ada@example.org",
        name="Ada Lovelace",
        credits_earned=2.5,
        evidence_url="https://ex.org/p",
        evidence_narrative="Project",
        result="A",
    )
    return build_credential(record, t, ISSUER, t.achievement(ISSUER.id), datetime(2026, 6, 30, 12, tzinfo=UTC))


def defined_terms() -> dict[str, set[str]]:
    """Terms each type may use: the top-level terms of both contexts plus each type's scoped context."""
    vc = json.loads((ASSETS / "credentials-v2.jsonld").read_text())["@context"]
    ob = json.loads((ASSETS / "ob-context-3.0.3.json").read_text())["@context"]
    top = {k for k in (*vc, *ob) if not k.startswith("@")} | {"@context", "id", "type"}
    scoped: dict[str, set[str]] = {}
    for ctx in (vc, ob):
        for name, value in ctx.items():
            if isinstance(value, dict) and isinstance(value.get("@context"), dict):
                scoped.setdefault(name, set()).update(k for k in value["@context"] if not k.startswith("@"))
    return {"": top, **{name: top | terms for name, terms in scoped.items()}}


def undefined_terms(node: Any, terms: dict[str, set[str]], scope: str = "") -> list[str]:
    missing: list[str] = []
    if isinstance(node, list):
        for item in node:
            missing += undefined_terms(item, terms, scope)
    elif isinstance(node, dict):
        types = node.get("type", [])
        types = [types] if isinstance(types, str) else types
        allowed = set(terms[""])
        for t in [scope, *types]:
            allowed |= terms.get(t, set())
        missing += [k for k in node if k not in allowed]
        for key, value in node.items():
            # a property's value inherits the property's own scoped context (e.g. credentialSubject)
            missing += undefined_terms(value, terms, key if key in terms else "")
    return missing


def test_every_term_is_defined_by_the_vc_and_ob3_contexts() -> None:
    assert undefined_terms(credential(), defined_terms()) == []


def test_shape_of_an_ob3_credential() -> None:
    doc = credential()
    view = CredentialView.model_validate(doc)
    assert view.id.startswith("urn:uuid:")
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["issuer"] == {"id": ISSUER.id, "type": ["Profile"], "name": ISSUER.name, "url": "https://test.edu"}
    assert doc["validFrom"] == "2026-06-30T12:00:00Z"
    assert doc["validUntil"] == "2029-06-30T12:00:00Z"
    subject = doc["credentialSubject"]
    assert subject["creditsEarned"] == 2.5
    assert subject["result"] == [
        {
            "type": ["Result"],
            "resultDescription": "https://registrar.test.edu/achievements/example#result",
            "value": "A",
        }
    ]
    assert doc["evidence"] == [{"type": ["Evidence"], "id": "https://ex.org/p", "narrative": "Project"}]
    assert "proof" not in doc


def test_email_is_salted_and_hashed_never_written() -> None:
    doc = credential()
    text = json.dumps(doc)
    assert "ada@example.org" not in text
    email_id, name_id = doc["credentialSubject"]["identifier"]
    assert email_id["identityType"] == "emailAddress"
    assert email_id["hashed"] is True
    expected = hashlib.sha256(("ada@example.org" + email_id["salt"]).encode()).hexdigest()
    assert email_id["identityHash"] == f"sha256${expected}"
    assert len(email_id["salt"]) == 32
    assert name_id == {
        "type": "IdentityObject",
        "identityHash": "Ada Lovelace",
        "identityType": "name",
        "hashed": False,
    }


def test_name_only_when_the_template_says_so() -> None:
    doc = credential(include_name=False)
    assert len(doc["credentialSubject"]["identifier"]) == 1
    assert "Ada Lovelace" not in json.dumps(doc)


def test_salts_differ_so_two_credentials_do_not_link() -> None:
    a, b = credential(), credential()
    assert a["credentialSubject"]["identifier"][0] != b["credentialSubject"]["identifier"][0]
    assert a["id"] != b["id"]


def test_no_validity_and_no_result_description() -> None:
    record = Record(row=2, email="b@example.org", name="B", result="Pass")
    doc = credential(record, validity=None, result=ResultSpec())
    assert "validUntil" not in doc
    assert doc["credentialSubject"]["achievement"]["resultDescription"][0]["resultType"] == "Result"


def test_digest_ignores_proof_key_order_and_whitespace() -> None:
    signed = json.loads((ASSETS / "ob3-example-signed.json").read_text())
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    assert credential_digest(signed) == credential_digest(unsigned)
    reordered = json.loads(json.dumps(dict(reversed(list(unsigned.items())))))
    assert credential_digest(reordered) == credential_digest(unsigned)
    assert canonical_bytes(unsigned).startswith(b'{"@context":["https://www.w3.org/ns/credentials/v2"')
    changed = json.loads(json.dumps(unsigned))
    changed["credentialSubject"]["achievement"]["name"] = "Teamwork!"
    assert credential_digest(changed) != credential_digest(unsigned)


def test_the_1edtech_example_has_the_shape_verifiers_read() -> None:
    signed = json.loads((ASSETS / "ob3-example-signed.json").read_text())
    view = CredentialView.model_validate(signed)
    assert view.credential_subject.achievement.name == "Teamwork"
    assert view.issuer.name == "Example Corp"
