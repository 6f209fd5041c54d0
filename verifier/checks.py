"""Verifying one receipt: pure steps over the receipt, what the chain said about its root, and the time.

Invariants: nothing here opens a socket or a file or reads the clock; `now` and the chain's answers are
passed in. Every step is reported with a reason, pass or fail. A receipt is `valid` only if every step
passed; the verdict names the most serious failure, in this order: invalid (the data does not check out),
revoked, expired or not yet valid, untrusted issuer.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from anchoring.hashing import short, to_hex
from anchoring.merkle import leaf_hash, process_proof
from anchoring.onchain import OnChainAnchor, RegistryEvent
from anchoring.receipt import Receipt, unix_to_utc, utc_seconds
from verifier.trust import TrustList


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    UNTRUSTED = "untrusted-issuer"
    MALFORMED = "malformed"
    UNAVAILABLE = "chain-unavailable"


# Steps whose failure makes the receipt invalid, in the order they run.
INTEGRITY_STEPS = ("digest", "proof", "chain", "anchor")


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool | None
    """True passed, False failed, None not checked (an earlier failure or no chain made it moot)."""
    detail: str


@dataclass(frozen=True)
class RootView:
    """What the chain says about one root in one registry, read once and shared by its receipts."""

    registry_has_code: bool
    anchor: OnChainAnchor | None
    anchored: RegistryEvent | None
    revoked_leaves: dict[str, RegistryEvent] = field(default_factory=dict)
    batch_revocation: RegistryEvent | None = None
    not_a_registry: str | None = None
    """Why the contract at the address is not a CredentialRegistry, when it is not."""


@dataclass(frozen=True)
class ChainFacts:
    """The node's answers for one receipt: its chain id, the head block read at, and the root's view."""

    chain_id: int
    head: int
    root: RootView | None
    """None when the chain ids differ: nothing about the root was asked."""


@dataclass(frozen=True)
class Report:
    source: str
    verdict: Verdict
    steps: tuple[Step, ...]
    credential_id: str | None = None
    issuer: str | None = None
    achievement: str | None = None
    root: str | None = None
    registry: str | None = None
    chain_id: int | None = None
    anchored_by: str | None = None
    trusted_as: str | None = None

    @property
    def reason(self) -> str:
        """The detail of the step that decided the verdict."""
        if self.verdict == Verdict.VALID:
            return "every check passed"
        decisive = _DECISIVE.get(self.verdict, ())
        for step in self.steps:
            if step.name in decisive and step.ok is not True:
                return step.detail
        return next((s.detail for s in self.steps if s.ok is False), str(self.verdict))


_DECISIVE = {
    Verdict.MALFORMED: ("schema",),
    Verdict.INVALID: INTEGRITY_STEPS,
    Verdict.UNAVAILABLE: ("chain",),
    Verdict.REVOKED: ("revocation",),
    Verdict.EXPIRED: ("validity",),
    Verdict.NOT_YET_VALID: ("validity",),
    Verdict.UNTRUSTED: ("trust",),
}


def malformed(source: str, message: str) -> Report:
    return Report(source, Verdict.MALFORMED, (Step("schema", False, message),))


def check_receipt(
    receipt: Receipt,
    *,
    source: str,
    facts: ChainFacts | None,
    trust: TrustList,
    now: datetime,
    unavailable: str | None = None,
) -> Report:
    """All steps for one parsed receipt. `facts` is None when the chain could not be asked (`unavailable`)."""
    view = receipt.view()
    anchor = receipt.anchor
    steps = [Step("schema", True, "receipt matches the version 1 schema")]

    # 1. The credential's canonical bytes hash to the receipt's digest.
    digest = receipt.computed_digest()
    if digest == receipt.digest:
        steps.append(Step("digest", True, f"credential hashes to {short(digest)}"))
    else:
        steps.append(
            Step("digest", False, f"credential hashes to {short(digest)}, receipt says {short(receipt.digest)}")
        )

    # 2. The leaf is the digest's leaf hash, and the proof leads from it to the root.
    leaf = to_hex(leaf_hash(bytes.fromhex(receipt.digest[2:])))
    reached = to_hex(process_proof(bytes.fromhex(leaf[2:]), [bytes.fromhex(p[2:]) for p in receipt.merkle.proof]))
    if leaf != receipt.merkle.leaf:
        steps.append(
            Step("proof", False, f"leaf of the digest is {short(leaf)}, receipt names {short(receipt.merkle.leaf)}")
        )
    elif reached != receipt.merkle.root:
        steps.append(
            Step("proof", False, f"proof leads to {short(reached)}, receipt names root {short(receipt.merkle.root)}")
        )
    else:
        steps.append(Step("proof", True, f"proof of {len(receipt.merkle.proof)} hashes leads to root {short(reached)}"))

    # 3. The node is on the receipt's chain; 4. the root is anchored in that registry, at that block.
    anchored_by = None
    if facts is None:
        reason = unavailable or "chain not asked"
        steps += [Step("chain", None, reason), Step("anchor", None, reason), Step("revocation", None, reason)]
    elif facts.chain_id != anchor.chain_id or facts.root is None:
        mismatch = f"receipt is for chain {anchor.chain_id}, the node is chain {facts.chain_id}"
        if trust.find(anchor.chain_id, anchor.registry) is not None:
            # A registry the verifier trusts, checked against the wrong node: say so, do not call it invalid.
            reason = f"{mismatch}: point --rpc-url at a node of chain {anchor.chain_id}"
            steps += [Step("chain", None, reason), Step("anchor", None, reason), Step("revocation", None, reason)]
            facts = None
        else:
            not_checked = "not checked: wrong chain"
            steps += [
                Step("chain", False, mismatch),
                Step("anchor", None, not_checked),
                Step("revocation", None, not_checked),
            ]
    else:
        steps.append(Step("chain", True, f"node is chain {facts.chain_id}"))
        anchor_step, anchored_by = _anchor_step(receipt, facts.root, facts.head)
        steps.append(anchor_step)
        steps.append(
            _revocation_step(facts.root, leaf)
            if anchor_step.ok
            else Step("revocation", None, "not checked: not anchored")
        )

    # 5. The credential is inside its validity window.
    steps.append(_validity_step(view.valid_from, view.valid_until, now))

    # 6. The registry is one the verifier trusts.
    trusted = trust.find(anchor.chain_id, anchor.registry)
    if trusted is None:
        steps.append(
            Step(
                "trust",
                False,
                f"registry {anchor.registry} on chain {anchor.chain_id} is not on the trust list "
                "(add it with --trust FILE)",
            )
        )
    else:
        steps.append(Step("trust", True, f"registry is trusted as {trusted.name!r}"))

    verdict = _verdict(steps, facts is None, view.valid_from, now)
    return Report(
        source=source,
        verdict=verdict,
        steps=tuple(steps),
        credential_id=view.id,
        issuer=view.issuer.name or view.issuer.id,
        achievement=view.credential_subject.achievement.name,
        root=receipt.merkle.root,
        registry=anchor.registry,
        chain_id=anchor.chain_id,
        anchored_by=anchored_by,
        trusted_as=trusted.name if trusted else None,
    )


def _anchor_step(receipt: Receipt, root: RootView, head: int) -> tuple[Step, str | None]:
    anchor = receipt.anchor
    if not root.registry_has_code:
        return Step("anchor", False, f"no contract at {anchor.registry} on chain {anchor.chain_id}"), None
    if root.not_a_registry is not None:
        return Step("anchor", False, root.not_a_registry), None
    found = root.anchor
    if found is None:
        return Step(
            "anchor", False, f"root {short(receipt.merkle.root)} is not anchored in registry {anchor.registry}"
        ), None
    if found.block_number != anchor.block_number:
        return Step(
            "anchor",
            False,
            f"root was anchored in block {found.block_number}, receipt says block {anchor.block_number}",
        ), None
    anchored_at = unix_to_utc(found.timestamp)
    if anchored_at != anchor.timestamp:
        return Step(
            "anchor", False, f"block {found.block_number} is from {anchored_at}, receipt says {anchor.timestamp}"
        ), None
    event = root.anchored
    if event is None:
        return Step("anchor", False, f"no Anchored event for the root in block {found.block_number}"), None
    if event.tx_hash != anchor.tx_hash:
        return Step(
            "anchor", False, f"root was anchored by tx {short(event.tx_hash)}, receipt says {short(anchor.tx_hash)}"
        ), None
    sender = str(event.args["sender"])
    depth = head - found.block_number + 1
    depth_text = f"{depth} confirmation{'s' if depth != 1 else ''}"
    return Step(
        "anchor", True, f"anchored in block {found.block_number} ({anchored_at}, {depth_text}) by {sender}"
    ), sender


def _revocation_step(root: RootView, leaf: str) -> Step:
    if root.anchor is not None and root.anchor.batch_revoked:
        reason = root.batch_revocation.args.get("reason") if root.batch_revocation else None
        return Step(
            "revocation",
            False,
            f"batch revoked in block {root.anchor.revoked_block}" + (f": {reason}" if reason else ""),
        )
    revoked = root.revoked_leaves.get(leaf)
    if revoked is not None:
        return Step(
            "revocation", False, f"credential revoked in block {revoked.block_number}: {revoked.args.get('reason')}"
        )
    return Step("revocation", True, "neither the credential nor its batch is revoked")


def _validity_step(valid_from: datetime, valid_until: datetime | None, now: datetime) -> Step:
    if now < valid_from:
        return Step("validity", False, f"not valid until {utc_seconds(valid_from)}")
    if valid_until is not None and now >= valid_until:
        return Step("validity", False, f"expired at {utc_seconds(valid_until)}")
    until = f" until {utc_seconds(valid_until)}" if valid_until else ", no expiry"
    return Step("validity", True, f"valid from {utc_seconds(valid_from)}{until}")


def _verdict(steps: list[Step], no_chain: bool, valid_from: datetime, now: datetime) -> Verdict:
    by_name = {s.name: s for s in steps}
    if any(by_name[name].ok is False for name in INTEGRITY_STEPS):
        return Verdict.INVALID
    if no_chain:
        return Verdict.UNAVAILABLE
    if by_name["revocation"].ok is False:
        return Verdict.REVOKED
    if by_name["validity"].ok is False:
        return Verdict.NOT_YET_VALID if now < valid_from else Verdict.EXPIRED
    if by_name["trust"].ok is False:
        return Verdict.UNTRUSTED
    return Verdict.VALID
