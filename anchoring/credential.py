"""The credential digest and the few facts about an Open Badges 3.0 credential that verification reads.

Invariants: the digest is ``keccak256(RFC 8785 canonical JSON of the credential without its "proof")``, so
the issuer's signature (a later `proof` member) never changes what is anchored, and key order, white space
and number formatting in the file never matter. Facts are read from the same dict the digest covers.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import rfc8785
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from anchoring.hashing import keccak256
from anchoring.jcs import canonicalize

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_TYPES = ("VerifiableCredential", "OpenBadgeCredential")
MAX_TEXT = 8192
MAX_URI = 2048


def canonical_bytes(credential: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of the credential without its `proof` member."""
    body = {key: value for key, value in credential.items() if key != "proof"}
    try:
        return canonicalize(body)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"credential cannot be canonicalised (RFC 8785): {exc}") from None


def credential_digest(credential: Mapping[str, Any]) -> bytes:
    return keccak256(canonical_bytes(credential))


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def parse_timestamp(value: object) -> datetime:
    """An XML Schema dateTimeStamp (RFC 3339 with a zone), as VC 2.0 requires; nothing looser."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError("must be a date-time with a zone, like 2026-01-31T09:00:00Z")
    # fromisoformat takes at most microseconds: drop digits beyond six.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        moment = datetime.fromisoformat(value)
        moment.astimezone(UTC)  # 0001-01-01T00:00:00+23:59 parses but has no UTC form
    except (ValueError, OverflowError):
        raise ValueError("is not a real date and time") from None
    return moment


def _contexts(value: list[str]) -> list[str]:
    if value[:2] != [VC_CONTEXT, OB3_CONTEXT]:
        raise ValueError(f"must start with {VC_CONTEXT!r} and {OB3_CONTEXT!r}")
    return value


def _types(value: list[str]) -> list[str]:
    missing = [t for t in CREDENTIAL_TYPES if t not in value]
    if missing:
        raise ValueError(f"must include {', '.join(missing)}")
    return value


TIMESTAMP_SCHEMA = {"type": "string", "format": "date-time", "pattern": f"^{_TIMESTAMP.pattern}$"}
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp), WithJsonSchema(TIMESTAMP_SCHEMA)]
Uri = Annotated[str, Field(min_length=1, max_length=MAX_URI)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]


def _plain_terms(value: Any) -> None:
    """Every member is a plain term of the credential's URL contexts, so the facts verification reads from
    the JSON are the facts an RDF signature covers: no IRI or compact-IRI member names (the same statement as
    `validUntil`, written so that it is not read as one), no JSON-LD keywords but `@context`, and no inline
    context definitions (which could alias a term)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack += item
        elif isinstance(item, dict):
            for key, member in item.items():
                if key == "@context":
                    urls = member if isinstance(member, list) else [member]
                    if not all(isinstance(url, str) for url in urls):
                        raise ValueError("an @context must name its contexts by URL, not define terms inline")
                elif ":" in key or key.startswith("@"):
                    raise ValueError(f"member {key[:80]!r} is not a plain term of the contexts; write the term instead")
                else:
                    stack.append(member)


class _Open(BaseModel):
    """Open Badges documents are extensible: members we do not read are kept (and covered by the digest).

    Members are read by their JSON-LD term only (`validFrom`, never `valid_from`): a look-alike name is an
    extension member like any other, as every other Open Badges verifier reads it.
    """

    model_config = ConfigDict(
        frozen=True, extra="allow", validate_by_name=False, validate_by_alias=True, defer_build=True
    )


class IssuerView(_Open):
    id: Uri
    name: Text | None = None


class AchievementView(_Open):
    id: Uri
    name: Text


class SubjectView(_Open):
    achievement: AchievementView


class CredentialView(_Open):
    """What verification reads of an OpenBadgeCredential; parsing it checks the shape verifiers rely on."""

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [key for key in ("validUntil", "name", "id") if key in data and data[key] is None]
            if nulls:
                raise ValueError(f"{nulls[0]} is null; leave it out instead")
            _plain_terms(data)
        return data

    context: Annotated[list[Uri], AfterValidator(_contexts)] = Field(
        alias="@context",
        max_length=16,
        json_schema_extra={"minItems": 2, "prefixItems": [{"const": VC_CONTEXT}, {"const": OB3_CONTEXT}]},
    )
    id: Uri
    type: Annotated[list[Text], AfterValidator(_types)] = Field(
        max_length=16, json_schema_extra={"allOf": [{"contains": {"const": t}} for t in CREDENTIAL_TYPES]}
    )
    issuer: IssuerView
    valid_from: Timestamp = Field(alias="validFrom")
    valid_until: Annotated[Timestamp | None, WithJsonSchema(TIMESTAMP_SCHEMA)] = Field(default=None, alias="validUntil")
    name: Text
    credential_subject: SubjectView = Field(alias="credentialSubject")
