"""Verification and LinkedIn URLs: built from the credential, every value encoded."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from anchoring.errors import InvalidInput
from issuer.sharing import credential_uuid, linkedin_url, verification_url

ID = "urn:uuid:0B6E3C52-6E5F-4C1B-9D0A-3F2E1C4B5A69"


def credential(**extra: Any) -> dict[str, Any]:
    return {
        "id": ID,
        "name": "Data Science & Ethics",
        "issuer": {"id": "did:web:registrar.example.edu", "name": "Example University&certUrl=https://evil"},
        "validFrom": "2026-11-03T09:00:00Z",
        **extra,
    }


def test_verification_url_is_the_credential_page_of_the_base() -> None:
    assert verification_url("https://badges.example.edu/", ID) == (
        "https://badges.example.edu/credentials/0b6e3c52-6e5f-4c1b-9d0a-3f2e1c4b5a69"
    )


@pytest.mark.parametrize("bad", ["urn:uuid:../../etc", "https://example.edu/x", "urn:uuid:0b6e3c52", ""])
def test_an_id_that_is_not_a_uuid_urn_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match=f"credential id {bad!r} is not a urn:uuid: id"):
        credential_uuid(bad)


def test_linkedin_link_names_the_certification_and_cannot_be_given_parameters() -> None:
    url = linkedin_url(credential(validUntil="2029-02-28T23:59:59Z"), "https://badges.example.edu/credentials/x")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.linkedin.com", "/profile/add")
    assert parse_qs(parts.query) == {
        "startTask": ["CERTIFICATION_NAME"],
        "name": ["Data Science & Ethics"],
        "organizationName": ["Example University&certUrl=https://evil"],
        "issueYear": ["2026"],
        "issueMonth": ["11"],
        "expirationYear": ["2029"],
        "expirationMonth": ["2"],
        "certUrl": ["https://badges.example.edu/credentials/x"],
        "certId": [ID],
    }


def test_without_a_base_url_the_link_has_no_certificate_url() -> None:
    query = parse_qs(urlsplit(linkedin_url(credential(), None)).query)
    assert "certUrl" not in query
    assert "expirationYear" not in query
