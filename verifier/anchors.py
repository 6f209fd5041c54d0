"""A receipt anchored on several chains: one report from the reports of its anchors, each checked alone.

Invariants: pure (reports in, one report out). Each anchor was checked by the single-anchor steps on the
receipt's projection to that anchor (`Receipt.for_anchor`), against the verifier's own node(s) or
checkpoints for that anchor's chain. The combining rule:
- an anchor on a registry the verifier does not trust is listed but never counts, for or against;
- a trusted anchor that could not be checked (no node for its chain, node down, no checkpoint) is "not
  checked": it neither holds nor fails;
- any checked trusted anchor that is invalid makes the receipt invalid; revoked on any checked trusted anchor
  makes it revoked (the issuer revokes on every chain, so one chain saying so is enough); a trusted anchor
  whose registry is bound to another issuer than the trust list says fails as untrusted;
- then at least `required` trusted anchors must hold (valid, or expired / not yet valid, which concern the
  credential's dates and not the anchor); by default every trusted anchor that could be checked must hold,
  and at least one. Too few because some could not be checked is `chain-unavailable`; too few because the
  receipt has too few (trusted) anchors fails as untrusted.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from anchoring.errors import InvalidInput
from anchoring.receipt import Receipt
from verifier.checks import Report, Step, Verdict

HOLDING = (Verdict.VALID, Verdict.EXPIRED, Verdict.NOT_YET_VALID)
NOT_CHECKED_OFFLINE = "not checked: the receipt fails without asking the chain"


class Standing(StrEnum):
    HOLDS = "holds"
    FAILS = "fails"
    NOT_CHECKED = "not-checked"
    NOT_TRUSTED = "not-trusted"


@dataclass(frozen=True)
class AnchorOutcome:
    """One anchor of a receipt, as its single-anchor check found it."""

    chain_id: int
    registry: str
    block: int
    trusted_as: str | None
    """The trust list's name for the registry; None when the verifier does not trust it."""
    verdict: Verdict
    reason: str
    steps: tuple[Step, ...] = ()
    """The anchor's own steps (its evidence, chain, anchor, issuer, revocation, trust), as checked alone."""

    @property
    def standing(self) -> Standing:
        if self.trusted_as is None:
            return Standing.NOT_TRUSTED
        if self.verdict == Verdict.UNAVAILABLE:
            return Standing.NOT_CHECKED
        return Standing.HOLDS if self.verdict in HOLDING else Standing.FAILS

    def where(self) -> str:
        return f"chain {self.chain_id} (registry {self.registry})"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    step: Step
    """The `anchors` step: how many held of how many required, and why the missing ones did not."""
    decisive: int
    """The anchor whose own steps the report shows."""


def check_required(required: int | None) -> int | None:
    if required is not None and required < 1:
        raise InvalidInput(f"--require {required}: at least 1 anchor must hold (give 1 or more)")
    return required


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def decide(outcomes: Sequence[AnchorOutcome], required: int | None, *, offline_failed: bool = False) -> Decision:
    """The receipt's verdict from its anchors' outcomes (see the module's rule); `required` None: default."""
    check_required(required)
    if offline_failed:
        return Decision(Verdict.INVALID, Step("anchors", None, NOT_CHECKED_OFFLINE), 0)
    standing = [o.standing for o in outcomes]
    trusted = [i for i, s in enumerate(standing) if s != Standing.NOT_TRUSTED]
    held = [i for i in trusted if standing[i] == Standing.HOLDS]
    unchecked = [i for i in trusted if standing[i] == Standing.NOT_CHECKED]
    wanted = f"required {required}" if required is not None else "required: all checked, at least 1"
    count = f"{len(held)} of {_plural(len(outcomes), 'anchor')} hold ({wanted})"
    missing = "; ".join(f"chain {outcomes[i].chain_id}: {outcomes[i].reason}" for i in unchecked)
    untrusted = ", ".join(
        f"chain {o.chain_id} registry {o.registry}" for o in outcomes if o.standing == Standing.NOT_TRUSTED
    )
    extra = (f"; not checked: {missing}" if missing else "") + (
        f"; not on your trust list, not counted: {untrusted}" if untrusted else ""
    )

    # 1. No anchor on a registry the verifier trusts: untrusted, unless the data itself does not check out.
    if not trusted:
        invalid = next((i for i, o in enumerate(outcomes) if o.verdict in (Verdict.INVALID, Verdict.MALFORMED)), None)
        if invalid is not None:
            bad = outcomes[invalid]
            return Decision(Verdict.INVALID, Step("anchors", False, f"anchor on {bad.where()}: {bad.reason}"), invalid)
        detail = f"no anchor is on a registry you trust: {untrusted} (add one with --trust FILE)"
        return Decision(Verdict.UNTRUSTED, Step("anchors", False, detail), 0)

    # 2. A checked trusted anchor that fails decides: invalid before revoked before a wrong issuer binding.
    for verdicts in ((Verdict.INVALID, Verdict.MALFORMED), (Verdict.REVOKED,), None):
        for i in trusted:
            outcome = outcomes[i]
            if standing[i] == Standing.FAILS and (verdicts is None or outcome.verdict in verdicts):
                verdict = Verdict.UNTRUSTED if verdicts is None else outcome.verdict
                if verdict == Verdict.MALFORMED:
                    verdict = Verdict.INVALID
                return Decision(verdict, Step("anchors", False, f"anchor on {outcome.where()}: {outcome.reason}"), i)

    # 3. Enough trusted anchors hold.
    first = held[0] if held else (unchecked[0] if unchecked else trusted[0])
    if required is not None and required > len(outcomes):
        detail = f"{_plural(required, 'anchor')} required, the receipt has {len(outcomes)}"
        return Decision(Verdict.UNTRUSTED, Step("anchors", False, detail), first)
    if required is not None and required > len(trusted):
        detail = (
            f"{_plural(required, 'anchor')} required, {len(trusted)} of the receipt's {len(outcomes)} are on "
            f"registries you trust{extra}"
        )
        return Decision(Verdict.UNTRUSTED, Step("anchors", False, detail), first)
    if len(held) < (required or 1):
        return Decision(Verdict.UNAVAILABLE, Step("anchors", None, count + extra), first)
    return Decision(outcomes[first].verdict, Step("anchors", True, count + extra), first)


def outcome_of(report: Report, receipt: Receipt) -> AnchorOutcome:
    """What one projection's report says of its anchor. A trusted registry bound to another issuer than the
    trust list names fails as untrusted even when the credential's dates decided the single verdict."""
    anchor = receipt.anchor
    verdict, reason = report.verdict, report.reason
    trust = next((s for s in report.steps if s.name == "trust"), None)
    own_steps = tuple(s for s in report.steps if s.name != "schema")  # the projection's schema is not the receipt's
    if verdict in (Verdict.EXPIRED, Verdict.NOT_YET_VALID) and trust is not None and trust.ok is False:
        verdict, reason = Verdict.UNTRUSTED, trust.detail
    return AnchorOutcome(
        anchor.chain_id, anchor.registry, anchor.block_number, report.trusted_as, verdict, reason, own_steps
    )


def combine(
    receipt: Receipt,
    reports: Sequence[Report],
    required: int | None,
    *,
    offline_failed: bool = False,
    notes: Sequence[str] = (),
) -> Report:
    """One report for `receipt` from `reports`, one per anchor in `receipt.anchors()` order."""
    anchors = receipt.anchors()
    outcomes = tuple(outcome_of(r, receipt.for_anchor(i)) for i, r in enumerate(reports))
    decision = decide(outcomes, required, offline_failed=offline_failed)
    shown = reports[decision.decisive]
    schema = Step("schema", True, f"receipt matches the version {receipt.version} schema")
    steps = (*(schema if s.name == "schema" else s for s in shown.steps), decision.step)
    return replace(
        shown,
        verdict=decision.verdict,
        steps=steps,
        notes=_notes(outcomes, reports, notes) if len(anchors) > 1 else (*shown.notes, *notes),
        receipt=receipt,
        anchors=outcomes,
    )


def _notes(outcomes: Sequence[AnchorOutcome], reports: Sequence[Report], extra: Sequence[str]) -> tuple[str, ...]:
    """Each checked anchor's notes, named by chain; a note every anchor has (a PDF's) once, unnamed."""
    common = set.intersection(*(set(r.notes) for r in reports))
    said: list[str] = [n for n in reports[0].notes if n in common]
    for outcome, report in zip(outcomes, reports, strict=True):
        if outcome.standing in (Standing.HOLDS, Standing.FAILS):
            said += [f"chain {outcome.chain_id}: {n}" for n in report.notes if n not in common]
        elif outcome.standing == Standing.NOT_CHECKED:
            said.append(f"the anchor on {outcome.where()} was not checked: {outcome.reason}")
    return tuple(dict.fromkeys([*said, *extra]))
