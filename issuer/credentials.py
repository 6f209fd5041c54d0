"""Building Open Badges 3.0 credentials (W3C VC 2.0 data model) from validated records.

Invariants: the recipient's email never appears in a credential, only its salted sha256 hash as an OB3
`IdentityObject` (a fresh 16-byte salt per credential, so equal emails in different batches do not link);
the name appears only when the template says so; every credential names the 1EdTech OB 3.0 JSON Schema it
satisfies (`credentialSchema`). The issuer's signature (`proof`) is added afterwards by `issuer.sign`, and
is excluded from the anchored digest.
"""

import hashlib
import secrets
from datetime import datetime, tzinfo
from typing import Any

from anchoring.credential import OB3_CONTEXT, VC_CONTEXT
from anchoring.receipt import utc_seconds
from issuer.config import IssuerConfig
from issuer.records import Record
from issuer.templates import Template

# The 1EdTech AchievementCredential schema, as a VC 2.0 `JsonSchema` (the validator type the VC 2.0 context
# defines): OB 3.0's own example type, 1EdTechJsonSchemaValidator2019, is in no JSON-LD context, so verifiers
# that process JSON-LD safely (Digital Bazaar's, ours) would refuse the credential.
OB3_SCHEMA = {
    "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
    "type": "JsonSchema",
}


def issuer_profile(issuer: IssuerConfig) -> dict[str, Any]:
    profile: dict[str, Any] = {"id": issuer.id, "type": ["Profile"], "name": issuer.name}
    for key in ("url", "email", "description"):
        value = getattr(issuer, key)
        if value:
            profile[key] = value
    if issuer.image:
        profile["image"] = {"id": issuer.image, "type": "Image"}
    return profile


def identity_hash(email: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((email + salt).encode("utf-8")).hexdigest()


def email_identifier(hashed: str, salt: str) -> dict[str, Any]:
    """The OB3 `IdentityObject` of a recipient's email, given its `identity_hash` with `salt`."""
    return {
        "type": "IdentityObject",
        "identityHash": hashed,
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
    }


def random_urn_uuid() -> str:
    """A random (version 4, RFC 9562) UUID as a URN: `uuid.uuid4()` written out directly, at a third of its cost."""
    return _urn_uuid(secrets.token_hex(16))


def _urn_uuid(digits: str) -> str:
    """The version 4 UUID URN of 32 random hex digits (six of their bits give way to the version and variant)."""
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"urn:uuid:{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def ids_and_salts(count: int) -> list[tuple[str, str]]:
    """A fresh (credential id, salt) for each of `count` credentials, as `credential_fields` draws them one by
    one (`random_urn_uuid`, `secrets.token_hex(16)`), from one read of the same source instead of two a
    credential (`credential_fields` with them: 5.1-5.4 us a credential against 7.6-8.1 us, 2,000 at a time)."""
    digits = secrets.token_hex(32 * count)
    return [(_urn_uuid(digits[at : at + 32]), digits[at + 32 : at + 64]) for at in range(0, 64 * count, 64)]


FIELDS = (
    "id",
    "salt",
    "identityHash",
    "name",
    "creditsEarned",
    "result",
    "validFrom",
    "validUntil",
    "evidenceId",
    "evidenceNarrative",
)
"""Every value a credential of a batch may hold of its own (`credential_fields`); the rest is the batch's."""


def credential_fields(
    record: Record,
    template: Template,
    issued_at: datetime,
    *,
    credential_id: str | None = None,
    salt: str | None = None,
) -> dict[str, Any]:
    """The values this record's credential holds of its own, by name (`FIELDS`, in that order); a name is
    absent when the credential has no such member."""
    salt = salt or secrets.token_hex(16)
    valid_from, valid_until = _validity(template, record.issue_date or issued_at)
    fields: dict[str, Any] = {
        "id": credential_id or random_urn_uuid(),
        "salt": salt,
        "identityHash": identity_hash(record.email, salt),
    }
    if template.include_name:
        fields["name"] = record.name
    if record.credits_earned is not None:
        fields["creditsEarned"] = record.credits_earned
    if record.result is not None:
        fields["result"] = record.result
    fields["validFrom"] = valid_from
    if valid_until is not None:
        fields["validUntil"] = valid_until
    if record.evidence_url:
        fields["evidenceId"] = record.evidence_url
    if record.evidence_narrative:
        fields["evidenceNarrative"] = record.evidence_narrative
    return fields


_VALIDITY: dict[tuple[str | None, datetime, tzinfo | None, int], tuple[str, str | None]] = {}


def _validity(template: Template, valid_from: datetime) -> tuple[str, str | None]:
    """`validFrom` and `validUntil` (None: none) as written, kept for the few dates a batch has. The key holds
    the zone and fold too: `validUntil` is counted on the wall clock of the zone (one instant in two zones can
    fall in two months), and two datetimes of one zone that differ only in fold compare equal."""
    key = (template.validity, valid_from, valid_from.tzinfo, valid_from.fold)
    found = _VALIDITY.get(key)
    if found is None:
        if len(_VALIDITY) >= 4096:
            _VALIDITY.clear()
        until = template.valid_until(valid_from)
        found = _VALIDITY[key] = (utc_seconds(valid_from), None if until is None else utc_seconds(until))
    return found


def assemble_credential(
    fields: dict[str, Any], template: Template, issuer: IssuerConfig, achievement: Any, profile: Any = None
) -> dict[str, Any]:
    """The OpenBadgeCredential holding `fields` (`credential_fields`); `achievement` is the template's rendered
    Achievement and `profile` the issuer's (`issuer_profile` when not given), both shared by the batch."""
    identifiers = [email_identifier(fields["identityHash"], fields["salt"])]
    if "name" in fields:
        identifiers.append(
            {"type": "IdentityObject", "identityHash": fields["name"], "identityType": "name", "hashed": False}
        )
    subject: dict[str, Any] = {"type": ["AchievementSubject"], "identifier": identifiers, "achievement": achievement}
    if "creditsEarned" in fields:
        subject["creditsEarned"] = fields["creditsEarned"]
    if "result" in fields:
        subject["result"] = [
            {
                "type": ["Result"],
                "resultDescription": template.result_description_id(issuer.id),
                "value": fields["result"],
            }
        ]
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        "id": fields["id"],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_profile(issuer) if profile is None else profile,
        "validFrom": fields["validFrom"],
        "name": template.name,
        "credentialSubject": subject,
        "credentialSchema": [OB3_SCHEMA],
    }
    if "validUntil" in fields:
        credential["validUntil"] = fields["validUntil"]
    if "evidenceId" in fields or "evidenceNarrative" in fields:
        evidence: dict[str, Any] = {"type": ["Evidence"]}
        if "evidenceId" in fields:
            evidence["id"] = fields["evidenceId"]
        if "evidenceNarrative" in fields:
            evidence["narrative"] = fields["evidenceNarrative"]
        credential["evidence"] = [evidence]
    return credential


def build_credential(
    record: Record,
    template: Template,
    issuer: IssuerConfig,
    achievement: dict[str, Any],
    issued_at: datetime,
    *,
    credential_id: str | None = None,
    salt: str | None = None,
) -> dict[str, Any]:
    """One OpenBadgeCredential; `achievement` is the template's rendered Achievement, shared by the batch."""
    fields = credential_fields(record, template, issued_at, credential_id=credential_id, salt=salt)
    return assemble_credential(fields, template, issuer, achievement)
