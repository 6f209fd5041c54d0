"""Our signed credentials are valid 1EdTech OB 3.0 AchievementCredentials, and nothing in them (the proof
included) falls out of JSON-LD expansion."""

from typing import Any

import pytest
from jsonschema import Draft201909Validator
from pyld import jsonld as pyld_jsonld

from anchoring.dataintegrity import JCS, RDFC, Signer, proofs_of, verify_proof
from anchoring.jsonld import bundled, expand
from tests.unit.ob3_docs import OB3, every_knob_combination, knob_credential, load

SCHEMA = load(OB3 / "schema" / "achievementcredential.json")
VALIDATOR = Draft201909Validator(SCHEMA, format_checker=Draft201909Validator.FORMAT_CHECKER)
SEED = bytes(range(32))
METHOD = "https://registrar.test.edu#z6MkqM3MRz6sCkyUB7CKc8nDJkFWP6Xb3KkrEtQTvqEpuFSk"
KNOB_SETS = [every_knob_combination()[0], every_knob_combination()[-1], frozenset({"name", "evidence_url"})]


def signed(knobs: frozenset[str], suite: str) -> dict[str, Any]:
    document = knob_credential(knobs, serial=3)
    proof = Signer(SEED, suite, METHOD, "2026-06-30T12:00:00Z").sign(document)
    return {**document, "proof": [proof]}


def test_the_schema_is_the_one_shared() -> None:
    assert SCHEMA["$id"].endswith("ob_v3p0_achievementcredential-jsonschema1.json")
    Draft201909Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("suite", [RDFC, JCS])
@pytest.mark.parametrize("knobs", KNOB_SETS, ids=["bare", "everything", "name-evidence"])
def test_signed_credentials_pass_the_achievement_credential_schema(knobs: frozenset[str], suite: str) -> None:
    document = signed(knobs, suite)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]
    assert errors == []
    verify_proof(document, proofs_of(document)[0], Signer(SEED, suite, METHOD, "2026-06-30T12:00:00Z").public_key)


def test_the_schema_wants_proof_as_an_array() -> None:
    document = signed(KNOB_SETS[0], RDFC)
    as_object = {**document, "proof": document["proof"][0]}
    assert [e.message for e in VALIDATOR.iter_errors(as_object)] == [f"{as_object['proof']!r} is not of type 'array'"]


@pytest.mark.parametrize("suite", [RDFC, JCS])
@pytest.mark.parametrize("knobs", KNOB_SETS, ids=["bare", "everything", "name-evidence"])
def test_expansion_drops_no_term_of_a_signed_credential(knobs: frozenset[str], suite: str) -> None:
    document = signed(knobs, suite)
    assert expand(document)  # our safe mode raises on any drop
    # and pyld's own hook, as a second witness, sees nothing dropped either
    dropped: list[Any] = []
    processor = bundled()
    options = {
        "documentLoader": lambda url, _: {
            "document": processor.document(url),
            "contextUrl": None,
            "documentUrl": url,
            "contentType": "application/ld+json",
        }
    }
    pyld_jsonld.expand(document, options, on_property_dropped=dropped.append)
    assert dropped == []
