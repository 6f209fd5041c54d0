"""The W3C VC API verify result (`{checks, warnings, errors}`) from a credanchor report: pure mapping.

Invariants: `verified` only when the report's verdict is valid; a credential without its receipt can only
have its Data Integrity signature checked, and the warnings say which checks were not made, so a client never
mistakes a good signature for a credential that is anchored, unrevoked and from a trusted issuer.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from verifier.checks import Report, Verdict
from verifier.signature import check_signature

# The VC API names the signature check "proof" (so the Merkle proof step is "merkleProof"); the rest keep
# credanchor's step names.
CHECK_NAMES = {"signature": "proof", "proof": "merkleProof"}
NO_RECEIPT = (
    "no credanchor receipt for this credential on this server: only its Data Integrity signature was checked; "
    "whether the issuer's registry lists the signing key, the anchor on chain, revocation, validity and the "
    "trust list were not (verify the receipt at /api/v1/verify for those)"
)


@dataclass
class VcResult:
    verified: bool
    checks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _option_warnings(options: Mapping[str, Any]) -> list[str]:
    return [f"option {name[:40]!r} is not supported and was ignored" for name in sorted(options)[:8]]


def vc_result(
    report: Report | None, options: Mapping[str, Any], *, credential: Mapping[str, Any] | None = None, now: datetime
) -> VcResult:
    """From a full report, or (`report` None) from the signature of the bare `credential` alone."""
    if report is None:
        signature = check_signature(credential or {}, now)
        result = VcResult(verified=signature.ok is True, warnings=[NO_RECEIPT])
        if signature.ok:
            result.checks.append("proof")
        else:
            result.errors.append(f"proof: {signature.detail}")
        result.warnings += _option_warnings(options)
        return result
    result = VcResult(verified=report.verdict == Verdict.VALID)
    for step in report.steps:
        name = CHECK_NAMES.get(step.name, step.name)
        if step.ok is True:
            result.checks.append(name)
        elif step.ok is False:
            result.errors.append(f"{name}: {step.detail}")
        else:
            result.warnings.append(f"{name} not checked: {step.detail}")
    result.warnings += list(report.notes) + _option_warnings(options)
    return result
