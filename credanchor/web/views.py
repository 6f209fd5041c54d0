"""What a page shows of a verification report: pure (a `Report` and the uploaded bytes in, plain values out).

Invariants: the verdict and every reason are the report's own words; nothing here decides. Who issued the
credential is what the operator's trust list says; the credential's own issuer name is shown only as its
claim. A badge image is shown only from bytes the verifier already holds (the uploaded baked badge, or a
data: URI inside the credential): an image address named by a credential is never fetched, so a page view
tells no third party who is verifying whom.
"""

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from verifier.checks import Report, Verdict

LABELS = {
    Verdict.VALID: "Valid",
    Verdict.INVALID: "Invalid",
    Verdict.REVOKED: "Revoked",
    Verdict.EXPIRED: "Expired",
    Verdict.NOT_YET_VALID: "Not yet valid",
    Verdict.UNTRUSTED: "Issuer not trusted",
    Verdict.MALFORMED: "Not a readable receipt",
    Verdict.UNAVAILABLE: "Could not check the chain",
}
TONES = {Verdict.VALID: "good", Verdict.INVALID: "bad", Verdict.MALFORMED: "bad", Verdict.REVOKED: "bad"}
STEP_TITLES = {
    "badge": "Badge image carries this credential",
    "schema": "Receipt format",
    "digest": "Unchanged since issue",
    "proof": "Part of the anchored batch",
    "signature": "Issuer's signature",
    "evidence": "Chain evidence carried in the receipt",
    "chain": "Chain",
    "anchor": "Anchored on chain",
    "issuer": "Issuer bound to the registry",
    "revocation": "Not revoked",
    "validity": "Within its validity period",
    "trust": "Issuer on this verifier's trust list",
    "anchors": "Anchors on several chains",
}
STANDINGS = {
    "holds": "Holds",
    "fails": "Fails",
    "not-checked": "Not checked",
    "not-trusted": "Not counted",
}
MONTHS = "January February March April May June July August September October November December".split()
IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
MAX_INLINE_IMAGE = 2 * 1024 * 1024


@dataclass(frozen=True)
class StepView:
    name: str
    title: str
    state: str
    """pass, fail or skip."""
    detail: str


@dataclass(frozen=True)
class AnchorView:
    chain_id: int
    block: int
    registry: str
    trusted_as: str | None
    state: str
    """pass (holds), fail, skip (not checked) or ignored (not trusted)."""
    standing: str
    reason: str


_STATE = {"holds": "pass", "fails": "fail", "not-checked": "skip", "not-trusted": "ignored"}


@dataclass(frozen=True)
class Identity:
    """The "Is it theirs?" data: the credential's hashed e-mail identities, as `sha256hex:salt`."""

    hashed: tuple[str, ...]


@dataclass(frozen=True)
class ResultView:
    verdict: str
    label: str
    tone: str
    reason: str
    steps: tuple[StepView, ...]
    notes: tuple[str, ...]
    credential_id: str | None
    title: str | None
    achievement: str | None
    description: str | None
    recipient_name: str | None
    issuer_trusted_as: str | None
    issuer_claim: str | None
    valid_from: str | None
    valid_until: str | None
    anchor: Mapping[str, Any] | None
    image_src: str | None
    """The badge image: a data: URI of bytes the verifier holds, or a same-site address."""
    image_link: str | None
    """The host of an image address the credential names (shown, never fetched)."""
    identities: Identity
    anchors: tuple[AnchorView, ...] = ()
    """Every anchor of a receipt anchored on several chains, with what its check found."""

    def as_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "label": self.label, "reason": self.reason}


def human_time(text: str | None) -> str | None:
    """2026-06-30T12:00:00Z as "30 June 2026, 12:00 UTC" (midnight: the day alone); as given if unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    day = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    return day if (moment.hour, moment.minute, moment.second) == (0, 0, 0) else f"{day}, {moment:%H:%M} UTC"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _image(achievement: Mapping[str, Any], upload_kind: str | None, upload: bytes) -> tuple[str | None, str | None]:
    if upload_kind in IMAGE_TYPES and len(upload) <= MAX_INLINE_IMAGE:
        encoded = base64.b64encode(upload).decode("ascii")
        return f"data:{IMAGE_TYPES[upload_kind]};base64,{encoded}", None
    image = achievement.get("image")
    address = image.get("id") if isinstance(image, Mapping) else image
    if not isinstance(address, str):
        return None, None
    if address.startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")):
        return (address, None) if len(address) <= MAX_INLINE_IMAGE else (None, None)
    host = urlsplit(address).hostname
    return None, host


def _identities(subject: Mapping[str, Any]) -> tuple[Identity, str | None]:
    hashed = []
    name = None
    for item in subject.get("identifier") or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("identityType") == "name" and item.get("hashed") is False:
            name = _text(item.get("identityHash"))
        elif item.get("identityType") == "emailAddress" and item.get("hashed") is True:
            digest = str(item.get("identityHash", "")).removeprefix("sha256$")
            hashed.append(f"{digest}:{item.get('salt', '')}")
    return Identity(tuple(hashed[:4])), name


def result_view(report: Report, *, upload_kind: str | None = None, upload: bytes = b"") -> ResultView:
    steps = tuple(
        StepView(
            s.name,
            STEP_TITLES.get(s.name, s.name),
            {True: "pass", False: "fail", None: "skip"}[s.ok],
            s.detail,
        )
        for s in report.steps
    )
    facts: dict[str, Any] = {}
    if report.receipt is not None:
        credential = report.receipt.credential
        subject = credential.get("credentialSubject")
        subject = subject if isinstance(subject, Mapping) else {}
        achievement = subject.get("achievement")
        achievement = achievement if isinstance(achievement, Mapping) else {}
        identities, name = _identities(subject)
        image_src, image_link = _image(achievement, upload_kind, upload)
        anchor = report.receipt.anchor
        facts = {
            "title": _text(credential.get("name")),
            "achievement": _text(achievement.get("name")),
            "description": _text(achievement.get("description")),
            "recipient_name": name,
            "valid_from": human_time(_text(credential.get("validFrom"))),
            "valid_until": human_time(_text(credential.get("validUntil"))),
            "anchor": {
                "chain_id": anchor.chain_id,
                "registry": anchor.registry,
                "block": anchor.block_number,
                "tx": anchor.tx_hash,
                "time": human_time(anchor.timestamp),
                "root": report.receipt.merkle.root,
            },
            "image_src": image_src,
            "image_link": image_link,
            "identities": identities,
        }
    return ResultView(
        verdict=str(report.verdict),
        label=LABELS[report.verdict],
        tone=TONES.get(report.verdict, "warn"),
        reason=report.reason,
        steps=steps,
        notes=report.notes,
        credential_id=report.credential_id,
        title=facts.get("title"),
        achievement=facts.get("achievement"),
        description=facts.get("description"),
        recipient_name=facts.get("recipient_name"),
        issuer_trusted_as=report.trusted_as,
        issuer_claim=report.issuer,
        valid_from=facts.get("valid_from"),
        valid_until=facts.get("valid_until"),
        anchor=facts.get("anchor"),
        image_src=facts.get("image_src"),
        image_link=facts.get("image_link"),
        identities=facts.get("identities", Identity(())),
        anchors=tuple(
            AnchorView(
                a.chain_id,
                a.block,
                a.registry,
                a.trusted_as,
                _STATE[a.standing],
                STANDINGS[a.standing],
                "every check passed" if a.verdict == Verdict.VALID else a.reason,
            )
            for a in report.anchors
        ),
    )
