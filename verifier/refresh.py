"""Refreshing a receipt's evidence: the registry's state at a newer block, agreed by the verifier's nodes.

Invariants: the evidence a receipt was issued with is kept (it proves the anchor as it was first seen); one
newer entry is added or replaced. The new state must still show the receipt's anchor as the receipt states
it, else nothing is written. Nothing else in the receipt changes, so its digest and proof stay as issued.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anchoring.errors import CredanchorError, InvalidInput
from anchoring.hashing import short
from anchoring.receipt import EVIDENCE_RECEIPT_VERSION, Receipt, dump_receipt, unix_to_utc
from verifier.checks import offline_checks
from verifier.evidencecheck import block_of, evidences_for
from verifier.quorum import Quorum


@dataclass(frozen=True)
class Refreshed:
    text: str
    """The receipt, with its new evidence, as JSON text."""
    block: int
    how: str
    revoked: str | None
    """Why the credential no longer holds at that block, if it does not."""


def refresh(receipt: Receipt, nodes: Quorum, now: datetime) -> Refreshed:
    anchor = receipt.anchor
    if nodes.chain_id() != anchor.chain_id:
        raise CredanchorError(f"the nodes given are not chain {anchor.chain_id}, the receipt's anchor's chain")
    offline = offline_checks(receipt, now=now)
    failed = [s for s in offline.steps if s.ok is False]
    if failed:
        raise InvalidInput(f"the receipt does not check out on its own ({failed[0].name}: {failed[0].detail})")
    evidence, state, how = nodes.fresh_evidence(
        anchor.registry, receipt.merkle.root, offline.leaf, offline.signature.public_keys
    )
    if evidence is None or state is None:
        raise CredanchorError(f"no newer evidence: {how}")
    if state.anchor is None or state.anchor.block_number != anchor.block_number:
        found = f"block {state.anchor.block_number}" if state.anchor else "no anchor"
        raise CredanchorError(
            f"at block {state.block_number} registry {anchor.registry} shows {found} for root "
            f"{short(receipt.merkle.root)}, not block {anchor.block_number}: nothing written"
        )
    own = evidences_for(receipt)
    issued_with = min(own, key=lambda e: block_of(e) or 0) if own else None
    others = [e for e in receipt.evidence or () if e not in own]
    kept = [e.model_dump(mode="json") for e in (*others, *([issued_with] if issued_with else []))]
    document: dict[str, Any] = receipt.model_dump(mode="json", exclude={"evidence"})
    document["version"] = EVIDENCE_RECEIPT_VERSION
    document["evidence"] = [*kept, evidence.model_dump(mode="json")]
    Receipt.from_json(dump_receipt(document).encode(), source="refreshed receipt")
    revoked = None
    if state.anchor.batch_revoked:
        revoked = f"its batch was revoked in block {state.anchor.revoked_block}"
    elif state.leaf_revoked is not None:
        revoked = f"it was revoked in block {state.leaf_revoked[0]} ({unix_to_utc(state.leaf_revoked[1])})"
    return Refreshed(dump_receipt(document), state.block_number, how, revoked)
