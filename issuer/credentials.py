"""Building Open Badges 3.0 credentials (W3C VC 2.0 data model) from validated records.

Invariants: the recipient's email never appears in a credential, only its salted sha256 hash as an OB3
`IdentityObject` (a fresh 16-byte salt per credential, so equal emails in different batches do not link);
the name appears only when the template says so; every credential names the 1EdTech OB 3.0 JSON Schema it
satisfies (`credentialSchema`). The issuer's signature (`proof`) is added afterwards by `issuer.sign`, and
is excluded from the anchored digest.
"""

import hashlib
import secrets
import uuid
from datetime import datetime
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


def email_identity(email: str, salt: str) -> dict[str, Any]:
    digest = hashlib.sha256((email + salt).encode("utf-8")).hexdigest()
    return {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
    }


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
    salt = salt or secrets.token_hex(16)
    identifiers = [email_identity(record.email, salt)]
    if template.include_name:
        identifiers.append(
            {"type": "IdentityObject", "identityHash": record.name, "identityType": "name", "hashed": False}
        )
    subject: dict[str, Any] = {"type": ["AchievementSubject"], "identifier": identifiers, "achievement": achievement}
    if record.credits_earned is not None:
        subject["creditsEarned"] = record.credits_earned
    if record.result is not None:
        subject["result"] = [
            {
                "type": ["Result"],
                "resultDescription": template.result_description_id(issuer.id),
                "value": record.result,
            }
        ]
    valid_from = record.issue_date or issued_at
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_profile(issuer),
        "validFrom": utc_seconds(valid_from),
        "name": template.name,
        "credentialSubject": subject,
        "credentialSchema": [OB3_SCHEMA],
    }
    valid_until = template.valid_until(valid_from)
    if valid_until is not None:
        credential["validUntil"] = utc_seconds(valid_until)
    if record.evidence_url or record.evidence_narrative:
        evidence: dict[str, Any] = {"type": ["Evidence"]}
        if record.evidence_url:
            evidence["id"] = record.evidence_url
        if record.evidence_narrative:
            evidence["narrative"] = record.evidence_narrative
        credential["evidence"] = [evidence]
    return credential
