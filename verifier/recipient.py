""" "Is it theirs?": does an e-mail address match the recipient a credential names by salted hash?

Invariants: pure (a credential and an address in, an answer out). The address is normalised exactly as the
issuer normalised the records (surrounding space trimmed, lower case) before hashing with the credential's own
salt; only `sha256$<hex>` identity hashes of type `emailAddress` are compared, in constant time. A match
says the credential was issued to that address, not that the person holding the file owns it.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_EMAIL = 320
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class RecipientCheck:
    matches: bool | None
    """True the address is the recipient's; False it is not; None the credential names no hashed address."""
    detail: str


def normalise_email(email: str) -> str:
    """As `issuer.records.normalise_email` does for the records file (a test keeps them the same)."""
    return email.strip().lower()


def email_identities(credential: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(hex sha256, salt) of every hashed e-mail identity of the credential's subject."""
    subject = credential.get("credentialSubject")
    identifiers = subject.get("identifier") if isinstance(subject, Mapping) else None
    found = []
    for identity in identifiers if isinstance(identifiers, list) else []:
        if not isinstance(identity, Mapping) or identity.get("identityType") != "emailAddress":
            continue
        hashed, salt = identity.get("identityHash"), identity.get("salt", "")
        if identity.get("hashed") is True and isinstance(hashed, str) and isinstance(salt, str):
            algorithm, _, digest = hashed.partition("$")
            if algorithm == "sha256" and len(digest) == 64:
                found.append((digest.lower(), salt))
    return found


def check_email(credential: Mapping[str, Any], email: str) -> RecipientCheck:
    return check_identities(email_identities(credential), email)


def check_identities(identities: list[tuple[str, str]], email: str) -> RecipientCheck:
    """`email` against (hex sha256, salt) identities, as `email_identities` reads them from a credential."""
    address = normalise_email(email)
    if not address or len(address) > MAX_EMAIL or "@" not in address:
        return RecipientCheck(False, f"{email[:80]!r} is not an e-mail address")
    if not identities:
        return RecipientCheck(None, "the credential names no hashed e-mail address to compare with")
    for digest, salt in identities:
        if not _HEX64.fullmatch(digest):
            continue
        computed = hashlib.sha256((address + salt).encode("utf-8")).hexdigest()
        if hmac.compare_digest(computed, digest.lower()):
            return RecipientCheck(True, f"{address} is the address this credential was issued to")
    return RecipientCheck(False, f"{address} is not the address this credential was issued to")
