"""Refreshing a receipt's evidence: the registry's state at a newer block, agreed by the verifier's nodes.

Invariants: the evidence a receipt was issued with is kept (it proves the anchor as it was first seen); one
newer entry is added or replaced. The new state must still show the receipt's anchor as the receipt states
it, else nothing is written. Nothing else in the receipt changes, so its digest and proof stay as issued.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anchoring.errors import CredanchorError, InvalidInput
from anchoring.hashing import short
from anchoring.receipt import EVIDENCE_RECEIPT_VERSION, Evidence, Receipt, dump_receipt, unix_to_utc
from verifier.checks import offline_checks
from verifier.evidencecheck import block_of, evidences_for
from verifier.quorum import Quorum


@dataclass(frozen=True)
class AnchorRefreshed:
    """What refreshing did for one anchor of the receipt."""

    chain_id: int
    block: int | None
    """The block of the new evidence; None when this anchor was not refreshed (`how` says why)."""
    how: str
    revoked: str | None = None
    """Why the credential no longer holds at that block, if it does not."""


@dataclass(frozen=True)
class Refreshed:
    text: str
    """The receipt, with its new evidence, as JSON text."""
    anchors: tuple[AnchorRefreshed, ...]

    @property
    def block(self) -> int | None:
        return self.anchors[0].block


def refresh(receipt: Receipt, nodes: Mapping[int, "Quorum | str"], now: datetime) -> Refreshed:
    """New evidence for every anchor whose chain has nodes in `nodes` (chain id -> the nodes, or why none);
    one anchor that cannot be refreshed is said, none at all is an error."""
    offline = offline_checks(receipt, now=now)
    failed = [s for s in offline.steps if s.ok is False]
    if failed:
        raise InvalidInput(f"the receipt does not check out on its own ({failed[0].name}: {failed[0].detail})")
    kept: list[Evidence] = []
    added: list[Evidence] = []
    outcomes: list[AnchorRefreshed] = []
    for index, anchor in enumerate(receipt.anchors()):
        single = receipt.for_anchor(index)
        own = evidences_for(single)
        group = nodes.get(anchor.chain_id, f"no node given answers as chain {anchor.chain_id}")
        try:
            if isinstance(group, str):
                raise CredanchorError(group)
            evidence, outcome = _fresh(single, group, offline.leaf, offline.signature.public_keys)
        except CredanchorError as exc:
            if len(receipt.anchors()) == 1:
                raise
            kept += own
            outcomes.append(AnchorRefreshed(anchor.chain_id, None, str(exc)))
            continue
        issued_with = min(own, key=lambda e: block_of(e) or 0) if own else None
        kept += [issued_with] if issued_with else []
        added.append(evidence)
        outcomes.append(outcome)
    if not added:
        raise CredanchorError("no newer evidence: " + "; ".join(f"chain {o.chain_id}: {o.how}" for o in outcomes))
    document: dict[str, Any] = receipt.model_dump(mode="json", exclude={"evidence", "additional_anchors"})
    if receipt.additional_anchors:
        document["additionalAnchors"] = [a.model_dump(mode="json") for a in receipt.additional_anchors]
    else:
        document["version"] = EVIDENCE_RECEIPT_VERSION
    document["evidence"] = [e.model_dump(mode="json") for e in (*kept, *added)]
    Receipt.from_json(dump_receipt(document).encode(), source="refreshed receipt")
    return Refreshed(dump_receipt(document), tuple(outcomes))


def _fresh(receipt: Receipt, nodes: Quorum, leaf: str, public_keys: Sequence[str]) -> tuple[Evidence, AnchorRefreshed]:
    """Evidence of the (single-anchor) receipt's registry at a newer block the nodes agree on."""
    anchor = receipt.anchor
    if nodes.chain_id() != anchor.chain_id:
        raise CredanchorError(f"the nodes given are not chain {anchor.chain_id}, the receipt's anchor's chain")
    evidence, state, how = nodes.fresh_evidence(anchor.registry, receipt.merkle.root, leaf, public_keys)
    if evidence is None or state is None:
        raise CredanchorError(f"no newer evidence: {how}")
    if state.anchor is None or state.anchor.block_number != anchor.block_number:
        found = f"block {state.anchor.block_number}" if state.anchor else "no anchor"
        raise CredanchorError(
            f"at block {state.block_number} registry {anchor.registry} shows {found} for root "
            f"{short(receipt.merkle.root)}, not block {anchor.block_number}: nothing written"
        )
    revoked = None
    if state.anchor.batch_revoked:
        revoked = f"its batch was revoked in block {state.anchor.revoked_block}"
    elif state.leaf_revoked is not None:
        revoked = f"it was revoked in block {state.leaf_revoked[0]} ({unix_to_utc(state.leaf_revoked[1])})"
    return evidence, AnchorRefreshed(anchor.chain_id, state.block_number, how, revoked)
