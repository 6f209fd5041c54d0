"""Addresses an earner shares: the credential's public verification page and LinkedIn's add-to-profile link.

Invariants: pure (a credential and the configured base URL in, URLs out). A credential page lives at
`{base_url}/credentials/{uuid}` (the web verifier serves exactly that path); without a configured base URL
there is no verification URL, and the LinkedIn link then carries no certificate URL rather than a made-up one.
Every value is query-encoded, so a name can never add parameters of its own.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from anchoring.errors import InvalidInput

LINKEDIN_ADD = "https://www.linkedin.com/profile/add"
_UUID = re.compile(r"urn:uuid:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def credential_uuid(credential_id: str) -> str:
    """The UUID of a credential id `urn:uuid:…` (the only form credanchor issues), lower case."""
    found = _UUID.fullmatch(credential_id.lower())
    if found is None:
        raise InvalidInput(f"credential id {credential_id!r} is not a urn:uuid: id")
    return found.group(1)


def verification_url(base_url: str, credential_id: str) -> str:
    return f"{base_url.rstrip('/')}/credentials/{credential_uuid(credential_id)}"


def _year_month(timestamp: str) -> tuple[int, int]:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return moment.year, moment.month


def linkedin_url(credential: Mapping[str, Any], certificate_url: str | None) -> str:
    """LinkedIn's add-a-certification link for `credential` (an OpenBadgeCredential as credanchor issues it)."""
    issuer = credential.get("issuer")
    organization = issuer.get("name") if isinstance(issuer, Mapping) else None
    params: dict[str, str | int] = {"startTask": "CERTIFICATION_NAME", "name": str(credential.get("name", ""))}
    if isinstance(organization, str):
        params["organizationName"] = organization
    params["issueYear"], params["issueMonth"] = _year_month(str(credential["validFrom"]))
    if "validUntil" in credential:
        params["expirationYear"], params["expirationMonth"] = _year_month(str(credential["validUntil"]))
    if certificate_url is not None:
        params["certUrl"] = certificate_url
    params["certId"] = str(credential["id"])
    return f"{LINKEDIN_ADD}?{urlencode(params)}"
