"""The evidence step: a version 2 receipt's chain evidence, checked against a block hash the verifier trusts.

Invariants: pure. The block hash the evidence rests on comes from the verifier (its checkpoints, or the
nodes it named agreeing), never from the receipt; without one the step is not checked rather than passed.
Evidence that does not prove the receipt's own anchor (another block, another time, no anchor at all) fails.
From passing evidence, `facts_from_state` makes the same `ChainFacts` a node's answers make, so the
remaining steps read one shape of facts whichever way they were learnt.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from anchoring.evidence import ProvenState, prove_state
from anchoring.hashing import short
from anchoring.mpt import ProofInvalid
from anchoring.onchain import RegistryEvent
from anchoring.receipt import Evidence, Receipt, unix_to_utc
from verifier.checks import ChainFacts, Offline, RootView, Step

Checkpoints = Mapping[tuple[int, int], str]
"""Trusted block hashes by (chain id, block number)."""


@dataclass(frozen=True)
class EvidenceOutcome:
    step: Step
    state: ProvenState | None
    """The proven state when the step passed."""


def evidences_for(receipt: Receipt) -> list[Evidence]:
    """The receipt's evidence of its own anchor (its chain and registry), newest block first: a refreshed
    receipt keeps the evidence it was issued with and adds a newer one."""
    own = [
        e
        for e in receipt.evidence or ()
        if e.chain_id == receipt.anchor.chain_id and e.registry == receipt.anchor.registry
    ]
    return sorted(own, key=lambda e: block_of(e) or 0, reverse=True)


def evidence_for(receipt: Receipt, usable: Callable[[Evidence], bool] = lambda _: True) -> Evidence | None:
    """The newest evidence of the receipt's own anchor that `usable` accepts (say, one with a checkpoint)."""
    own = evidences_for(receipt)
    return next((e for e in own if usable(e)), own[0] if own else None)


def block_of(evidence: Evidence) -> int | None:
    """The evidence header's block number as stated (for asking what its hash should be); None if unreadable."""
    number = evidence.header.get("number")
    try:
        return int(number, 16) if isinstance(number, str) else None
    except ValueError:
        return None


def check_evidence(
    receipt: Receipt,
    offline: Offline,
    trusted_hash: str | None,
    source: str,
    *,
    missing: str = "",
    evidence: Evidence | None = None,
) -> EvidenceOutcome:
    """Prove the receipt's anchor from its evidence (`evidence`, or its newest); `trusted_hash` is what
    `source` (a checkpoint, the node) says the block's hash is; without one the step is not checked, for the
    reason `missing`."""
    evidence = evidence or evidence_for(receipt)
    anchor = receipt.anchor
    if evidence is None:
        return EvidenceOutcome(
            Step(
                "evidence", False, f"no evidence for the anchor's registry {anchor.registry} on chain {anchor.chain_id}"
            ),
            None,
        )
    try:
        state = prove_state(
            evidence, root=receipt.merkle.root, leaf=offline.leaf, public_keys=offline.signature.public_keys
        )
    except ProofInvalid as exc:
        return EvidenceOutcome(Step("evidence", False, str(exc)), None)
    where = f"block {state.block_number} ({short(state.block_hash)})"
    if trusted_hash is None:
        return EvidenceOutcome(Step("evidence", None, f"{where} not checked: {missing}"), None)
    if trusted_hash.lower() != state.block_hash:
        return EvidenceOutcome(
            Step("evidence", False, f"evidence header is {where}, but {source} gives hash {short(trusted_hash)}"),
            None,
        )
    if not state.registry_exists:
        return EvidenceOutcome(Step("evidence", False, f"evidence shows no registry at {anchor.registry}"), None)
    proven = state.anchor
    if proven is None:
        return EvidenceOutcome(
            Step("evidence", False, f"evidence shows root {short(receipt.merkle.root)} not anchored at {where}"), None
        )
    if proven.block_number != anchor.block_number or unix_to_utc(proven.timestamp) != anchor.timestamp:
        return EvidenceOutcome(
            Step(
                "evidence",
                False,
                f"evidence shows the root anchored in block {proven.block_number} at "
                f"{unix_to_utc(proven.timestamp)}; receipt says block {anchor.block_number} at {anchor.timestamp}",
            ),
            None,
        )
    return EvidenceOutcome(
        Step("evidence", True, f"state of {where} proves the anchor (block hash confirmed by {source})"),
        state,
    )


def facts_from_state(state: ProvenState) -> ChainFacts:
    """The chain facts a node would have given, as the evidence proves them at its block."""
    view = RootView(
        registry_has_code=state.registry_exists,
        anchor=state.anchor,
        anchored=None,
        revoked_leaves={},
        issuer_id=state.issuer_id,
    )
    revoked = None
    if state.leaf_revoked is not None:
        block, _ = state.leaf_revoked
        revoked = RegistryEvent("CredentialRevoked", block, "", "", 0, {})
    return ChainFacts(state.chain_id, state.block_number, view, revoked, dict(state.keys), proven=state)
