"""`credanchor verify`'s work once its options are read: build the session, verify each input, render.

Both ways in call `run_verify`: the Typer command (`credanchor.cli.verify`) and the lean dispatch
(`credanchor.entry`), which reads a plain `verify` command line without building the Typer app. It returns the
exit code; it imports neither Typer nor anything of the issuer side unless a workspace is named.
"""

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from credanchor import render, wiring

if TYPE_CHECKING:
    from verifier.checks import Report


def run_verify(
    receipts: list[Path],
    *,
    rpc_url: list[str] | None = None,
    quorum: int | None = None,
    offline: bool = False,
    checkpoints: Path | None = None,
    trust: Path | None = None,
    json_out: bool = False,
    details: bool | None = None,
    require_signature: bool = False,
    min_confirmations: int | None = None,
    require: int | None = None,
    workspace: Path | None = None,
) -> int:
    """Verify `receipts` as `credanchor verify` does; the exit code (0 valid, 1 not, 2 malformed, 3 no chain)."""
    from verifier.inputs import sniffed, verify_inputs
    from verifier.service import exit_code

    ws = wiring.workspace_or_none(workspace)
    confirmations = min_confirmations or (ws.config.chain.confirmations if ws else 1)
    session = wiring.verification_session(
        wiring.verifier_rpcs(ws, rpc_url, offline=offline, checkpoints=checkpoints),
        wiring.trust_list(ws, trust),
        require_signature=require_signature,
        min_confirmations=confirmations,
        quorum=quorum,
        checkpoints=checkpoints,
        required=require,
    )
    inputs = sniffed(receipts)
    containers = any(kind is not None for _, kind in inputs)  # each may hold millions: their count is unknown
    many = len(receipts) > 20 or containers
    show_details = details if details is not None else len(receipts) == 1 and not containers
    counts: Counter[str] = Counter()
    first_of: dict[str, Report] = {}  # one report of each verdict: the exit code needs no more (nor memory)
    verify: Callable[[bytes, str], Report] = session.verify_bytes
    if many and not json_out and not show_details:
        # Valid receipts are only counted here: a batch's receipts after its first are checked for their own
        # parts (the same reports, without the parsed receipt that nothing here reads).
        from verifier.batchfast import shortcut_verify

        verify = shortcut_verify(session.verify_bytes, session.known_revocation)
    with render.progress(enabled=many and not json_out) as bar:
        bar.stage("verifying receipts", None if containers else len(receipts))
        for report in verify_inputs(inputs, verify):
            counts[str(report.verdict)] += 1
            first_of.setdefault(str(report.verdict), report)
            bar.advance()
            if json_out:
                render.print_json(render.report_json(report))
            elif show_details or report.verdict != "valid" or not many:
                render.print_report(report, details=show_details)
    if not json_out and sum(counts.values()) > 1:
        render.print_counts(counts)
    return exit_code(first_of.values())
