"""Documents for the Data Integrity tests: credentials the way the issuer builds them, the W3C vc-di-eddsa
vectors, the 1EdTech example, and pyld's own `normalize` as the reference."""

import itertools
import json
import tomllib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from pyld import jsonld as pyld_jsonld

from anchoring.jsonld import JsonLd, bundled
from issuer.config import IssuerConfig
from issuer.credentials import build_credential
from issuer.records import Record
from issuer.templates import Template
from issuer.workspace import EXAMPLE_TEMPLATE

ASSETS = Path(__file__).parent.parent / "assets"
OB3 = ASSETS / "ob3"
VECTORS = ASSETS / "vc-di-eddsa" / "TestVectors"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
CITIZENSHIP = "https://w3id.org/citizenship/v4rc1"
ISSUED = datetime(2026, 6, 30, 12, tzinfo=UTC)
KNOBS = ("name", "credits", "result", "evidence_url", "narrative", "alignments", "validity", "images")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def vector_processor() -> JsonLd:
    """The bundled contexts plus the two the W3C vectors need (test-only)."""
    return bundled().with_documents(
        {
            EXAMPLES_V2: load(ASSETS / "contexts" / "credentials-examples-v2.jsonld"),
            CITIZENSHIP: load(ASSETS / "contexts" / "citizenship-v4rc1.jsonld"),
        }
    )


def pyld_normalize(document: Any, processor: JsonLd) -> str:
    """pyld's own `normalize`, with a loader over the same documents: the reference the brief names."""

    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": processor.document_loader,
        "safe": True,
    }
    result: str = pyld_jsonld.normalize(document, options)
    return result


def issuer_config(images: bool = False, issuer_id: str = "https://registrar.test.edu") -> IssuerConfig:
    extras = {"email": "registrar@test.edu", "description": "A test", "image": "https://test.edu/logo.png"}
    return IssuerConfig(id=issuer_id, name="Test University", url="https://test.edu", **(extras if images else {}))


def template(**changes: Any) -> Template:
    return Template.model_validate({**tomllib.loads(EXAMPLE_TEMPLATE), "key": "example", **changes})


def credential(
    record: Record | None = None,
    issuer: IssuerConfig | None = None,
    credential_id: str | None = None,
    **template_changes: Any,
) -> dict[str, Any]:
    t = template(**template_changes)
    issuer = issuer or issuer_config()
    record = record or Record(row=2, email="ada@example.org", name="Ada Lovelace", credits_earned=2.5, result="A")
    return build_credential(
        record, t, issuer, t.achievement(issuer.id), ISSUED, credential_id=credential_id, salt="00" * 16
    )


def knob_credential(on: frozenset[str], serial: int = 0) -> dict[str, Any]:
    """One credential for a combination of the optional parts an issuer template and record can have."""
    alignments = [
        {"target_name": "Data literacy", "target_url": "https://example.org/f/dl"},
        {
            "target_name": "Statistics",
            "target_url": "https://example.org/f/st",
            "target_description": "Descriptive statistics",
            "target_framework": "Example Framework",
            "target_code": "ST-1",
            "target_type": "ext:Skill",
        },
    ]
    changes: dict[str, Any] = {
        "include_name": "name" in on,
        "credits_available": 3.0 if "credits" in on else None,
        "result": {"name": "Final grade", "result_type": "LetterGrade"} if "result" in on else None,
        "alignment": alignments if "alignments" in on else [],
        "validity": "P3Y" if "validity" in on else None,
        "image": "https://test.edu/badge.png" if "images" in on else None,
    }
    record = Record(
        row=2 + serial,
        email=f"student{serial}@example.org",
        name=f"Student {serial}",
        credits_earned=2.5 if "credits" in on else None,
        result="B+" if "result" in on else None,
        evidence_url=f"https://portfolio.example.org/{serial}" if "evidence_url" in on else None,
        evidence_narrative="Built a data pipeline" if "narrative" in on else None,
        issue_date=datetime(2026, 1, 15, tzinfo=UTC) if serial % 2 else None,
    )
    return credential(
        record, issuer_config(images="images" in on), f"urn:uuid:{serial:08d}-0000-4000-8000-000000000000", **changes
    )


def every_knob_combination() -> list[frozenset[str]]:
    return [
        frozenset(k for k, flag in zip(KNOBS, flags, strict=True) if flag)
        for flags in itertools.product((False, True), repeat=len(KNOBS))
    ]
