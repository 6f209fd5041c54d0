"""Refreshing a receipt's evidence: the registry's state at a newer block, agreed by the verifier's nodes.

Invariants: the evidence a receipt was issued with is kept (it proves the anchor as it was first seen); one
newer entry is added or replaced. The new state must still show the receipt's anchor as the receipt states
it, else nothing is written. Nothing else in the receipt changes, so its digest and proof stay as issued.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anchoring.errors import CredanchorError, InvalidInput
from anchoring.evidence import ProvenState
from anchoring.hashing import short
from anchoring.receipt import (
    EVIDENCE_RECEIPT_VERSION,
    MULTI_ANCHOR_RECEIPT_VERSION,
    Evidence,
    Receipt,
    dump_receipt,
    unix_to_utc,
)
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
    others: tuple[str, ...] = ()
    """A receipt anchored on several chains: what became of each other anchor's evidence."""


Nodes = Quorum | Callable[[int], Quorum | str]
"""The nodes to ask: one set for the receipt's chain, or the nodes of each chain id (or why there are none)."""


def refresh(receipt: Receipt, nodes: Nodes, now: datetime) -> Refreshed:
    """Newer evidence for each anchor of `receipt` whose chain has nodes (with several anchors, one without
    nodes keeps its evidence as it is, and says so)."""
    pick = (lambda _: nodes) if isinstance(nodes, Quorum) else nodes
    offline = offline_checks(receipt, now=now)
    failed = [s for s in offline.steps if s.ok is False]
    if failed:
        raise InvalidInput(f"the receipt does not check out on its own ({failed[0].name}: {failed[0].detail})")
    anchors = receipt.anchors()
    evidence = list(receipt.evidence or ())
    done: list[tuple[int, int, str, str | None]] = []
    skipped: list[str] = []
    for index, anchor in enumerate(anchors):
        found = pick(anchor.chain_id)
        if isinstance(found, Quorum) and found.chain_id() != anchor.chain_id:
            found = f"the nodes given are not chain {anchor.chain_id}, the receipt's anchor's chain"
        if isinstance(found, str):
            if len(anchors) == 1:
                raise CredanchorError(found)
            skipped.append(f"chain {anchor.chain_id}: not refreshed ({found})")
            continue
        single = receipt.for_anchor(index)
        newer, state, how = _fresh(single, found, offline.leaf, offline.signature.public_keys)
        # The evidence the anchor was issued with is kept; a newer one of earlier refreshes is replaced.
        own = evidences_for(single)
        issued_with = min(own, key=lambda e: block_of(e) or 0) if own else None
        evidence = [e for e in evidence if e not in own] + ([issued_with] if issued_with else []) + [newer]
        done.append((anchor.chain_id, state.block_number, how, _revoked(state)))
    if not done:
        raise CredanchorError("no anchor refreshed: " + "; ".join(skipped))
    unset = {"evidence"} | ({"additional_anchors"} if receipt.additional_anchors is None else set())
    document: dict[str, Any] = receipt.model_dump(mode="json", exclude=unset)
    document["version"] = MULTI_ANCHOR_RECEIPT_VERSION if receipt.additional_anchors else EVIDENCE_RECEIPT_VERSION
    document["evidence"] = [e.model_dump(mode="json") for e in evidence]
    Receipt.from_json(dump_receipt(document).encode(), source="refreshed receipt")
    (chain_id, block, how, revoked), *more = done
    others = [
        f"chain {c}: evidence of block {b} added ({h})" + (f"; {r}" if r else "") for c, b, h, r in more
    ] + skipped
    if len(anchors) > 1:
        how = f"chain {chain_id}: {how}"
    return Refreshed(dump_receipt(document), block, how, revoked, tuple(others))


def _fresh(single: Receipt, nodes: Quorum, leaf: str, keys: Sequence[str]) -> tuple[Evidence, ProvenState, str]:
    """Evidence of one anchor's state at the nodes' agreed head, which must still show the anchor as stated."""
    anchor = single.anchor
    evidence, state, how = nodes.fresh_evidence(anchor.registry, single.merkle.root, leaf, keys)
    if evidence is None or state is None:
        raise CredanchorError(f"no newer evidence: {how}")
    if state.anchor is None or state.anchor.block_number != anchor.block_number:
        found = f"block {state.anchor.block_number}" if state.anchor else "no anchor"
        raise CredanchorError(
            f"at block {state.block_number} registry {anchor.registry} shows {found} for root "
            f"{short(single.merkle.root)}, not block {anchor.block_number}: nothing written"
        )
    return evidence, state, how


def _revoked(state: ProvenState) -> str | None:
    if state.anchor is not None and state.anchor.batch_revoked:
        return f"its batch was revoked in block {state.anchor.revoked_block}"
    if state.leaf_revoked is not None:
        return f"it was revoked in block {state.leaf_revoked[0]} ({unix_to_utc(state.leaf_revoked[1])})"
    return None
