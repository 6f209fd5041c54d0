"""Showing results: rich text for people on a terminal, JSON for scripts. Progress goes to stderr.

Invariant: every string that comes from a file, a credential, the chain or an error message is shown through
`visible` (and rich markup escaped), so none can move the cursor, recolour or clear the terminal, start a
line or reorder one: file names, issuer and achievement names and revocation reasons are untrusted.
"""

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from verifier.anchors import Standing
from verifier.checks import Report, Verdict

if TYPE_CHECKING:
    from rich.progress import Progress

    from verifier.audit import AuditReport

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

# C0 and C1 controls and DEL; line and paragraph separators; bidi embeddings, overrides and isolates (they
# reorder what follows: "Trojan Source"); lone surrogates (file-name bytes that are not UTF-8, which would
# not even encode).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

_STANDING = {
    Standing.HOLDS: "[green]holds[/]",
    Standing.FAILS: "[red]FAILS[/]",
    Standing.NOT_CHECKED: "[yellow]not checked[/]",
    Standing.NOT_TRUSTED: "[dim]not counted[/]",
}
_STYLE = {Verdict.VALID: "bold green", Verdict.MALFORMED: "bold red", Verdict.INVALID: "bold red"}


class RichProgress:
    """`anchoring.progress.Progress` on stderr: one bar a stage, notes as log lines; nothing when disabled."""

    def __init__(self, progress: "Progress | None") -> None:
        self._progress = progress
        self._task: Any = None

    def stage(self, label: str, total: int | None = None) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.completed or 1, completed=task.completed or 1)
        self._task = self._progress.add_task(label, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, steps)

    def note(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)


@contextmanager
def progress(enabled: bool = True) -> Iterator[RichProgress]:
    if not enabled:  # rich's progress machinery is loaded only when a bar is shown
        yield RichProgress(None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with bar:
        yield RichProgress(bar)


def print_timings(stages: list[tuple[str, float]], total: float) -> None:
    """Where the time went (`issue --timings`), and the peak memory of this process and of its largest worker."""
    import resource

    from rich.table import Table

    table = Table(title="where the time went", title_justify="left")
    for name in ("stage", "seconds", "share"):
        table.add_column(name, justify="left" if name == "stage" else "right")
    for label, seconds in stages:
        table.add_row(safe(label), f"{seconds:.1f}", f"{seconds / total:.0%}" if total else "-")
    rest = total - sum(seconds for _, seconds in stages)
    if rest > 0:
        table.add_row("[dim]between stages (connecting, checks, bookkeeping)[/]", f"{rest:.1f}", f"{rest / total:.0%}")
    table.add_row("[bold]total[/]", f"[bold]{total:.1f}[/]", "100%")
    err.print(table)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    err.print(f"peak memory: {own:,} MiB in this process, {worker:,} MiB in its largest worker")


def visible(text: str) -> str:
    """`text` with every unsafe character shown as its Python escape: `\\x1b`, `\\n`, `\\u202e`, `\\udcff`."""
    return _UNSAFE.sub(lambda m: repr(m.group())[1:-1], text)


def safe(text: object) -> str:
    """Untrusted text for a rich markup string: unsafe characters and markup both escaped."""
    return escape(visible(str(text)))


def report_json(report: Report) -> dict[str, Any]:
    found = _report_json(report)
    if report.anchors:
        found["anchors"] = [
            {
                "chainId": a.chain_id,
                "registry": a.registry,
                "blockNumber": a.block,
                "trustedAs": a.trusted_as,
                "standing": str(a.standing),
                "verdict": str(a.verdict),
                "reason": a.reason,
                "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in a.steps],
            }
            for a in report.anchors
        ]
    return found


def _report_json(report: Report) -> dict[str, Any]:
    return {
        "source": report.source,
        "verdict": str(report.verdict),
        "valid": report.verdict == Verdict.VALID,
        "reason": report.reason,
        "credentialId": report.credential_id,
        "issuerClaimed": report.issuer,
        "achievement": report.achievement,
        "root": report.root,
        "registry": report.registry,
        "chainId": report.chain_id,
        "anchoredBy": report.anchored_by,
        "trustedAs": report.trusted_as,
        "signed": report.signed,
        "notes": list(report.notes),
        "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in report.steps],
    }


def print_report(report: Report, *, details: bool) -> None:
    style = _STYLE.get(report.verdict, "bold yellow")
    out.print(f"[{style}]{report.verdict.upper()}[/] {safe(report.source)}: {safe(report.reason)}")
    if not details:
        return
    if report.credential_id:
        achievement = report.achievement or "?"
        out.print(f"  {safe(achievement)}; {safe(report.credential_id)}")
        # Who issued it is what the verifier's trust list says; the credential's own words are only a claim.
        claim = f"the credential claims {report.issuer or '?'!r}"
        if report.trusted_as:
            out.print(f"  issuer: {safe(repr(report.trusted_as))} (your trust list); {safe(claim)}")
        else:
            out.print(f"  issuer: not on your trust list; {safe(claim)}, which nothing here vouches for")
    for step in report.steps:
        mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]skip[/]"}[step.ok]
        out.print(f"  {mark} {step.name:<10} {safe(step.detail)}")
    for note in report.notes:
        out.print(f"  [yellow]note[/] {safe(note)}")
    for i, anchor in enumerate(report.anchors, 1):
        trust = f"trusted as {anchor.trusted_as!r}" if anchor.trusted_as else "not on your trust list"
        said = "every check passed" if anchor.verdict == Verdict.VALID else f"{anchor.verdict}, {anchor.reason}"
        if anchor.standing == Standing.NOT_CHECKED:
            said = anchor.reason
        out.print(
            f"  anchor {i} on chain {anchor.chain_id}, block {anchor.block}, registry {safe(anchor.registry)} "
            f"({safe(trust)}): {_STANDING[anchor.standing]}: {safe(said)}"
        )


def print_summary(reports: Sequence[Report]) -> None:
    print_counts(Counter(str(r.verdict) for r in reports))


def print_counts(counts: Counter[str]) -> None:
    """`N receipts: n valid, m revoked...` from the count of each verdict."""
    total = sum(counts.values())
    parts = ", ".join(f"{n} {v}" for v, n in counts.most_common())
    out.print(f"{total} receipt{'s' if total != 1 else ''}: {parts}")


def audit_json(report: "AuditReport") -> dict[str, Any]:
    return camel_keys({**asdict(report), "clean": report.clean})


def camel_keys(data: dict[str, Any]) -> dict[str, Any]:
    """JSON output uses the receipt's style, camelCase, everywhere."""
    camel: dict[str, Any] = _camel(data)
    return camel


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel_key(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def print_audit(report: "AuditReport") -> None:
    out.print(
        f"Registry {safe(report.registry)} on chain {report.chain_id}, blocks {report.from_block}..{report.to_block}: "
        f"{report.anchors} anchors, {len(report.entries)} events, {report.manifests} manifests checked"
    )
    for entry in report.entries:
        mark = " [red](!)[/]" if entry.flags else (" [yellow](?)[/]" if entry.notices else "")
        out.print(
            f"  block {entry.block:<6} {safe(entry.time)}  [bold]{safe(entry.kind)}[/]{mark}  {safe(entry.summary)}\n"
            f"  {'':12} by {safe(entry.sender)} in tx {safe(entry.tx_hash)}"
        )
    for role, holders in report.roles.items():
        out.print(f"{safe(role)} role now held by: {safe(', '.join(holders) or 'nobody')}")
    for notice in report.notices:
        out.print(f"[yellow]notice[/] {safe(notice)}")
    for problem in report.problems:
        out.print(f"[red]problem[/] {safe(problem)}")
    out.print("[green]audit clean[/]" if report.clean else f"[red]{len(report.problems)} problem(s)[/]")


def print_json(data: Any) -> None:
    """One JSON document on a line. `json` escapes C0 controls only; the rest of `_UNSAFE` (which can occur
    only inside strings) becomes `\\uXXXX` too, so the line is as safe on a terminal as the human output."""
    text = json.dumps(data, ensure_ascii=False)
    print(_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def print_error(message: str) -> None:
    """An error on stderr: one `error:` line, plus the indented lines of messages that list problems (the
    only line breaks kept: a newline anywhere else is shown as `\\n`)."""
    first, *more = message.split("\n  ")
    err.print(f"error: {visible(first)}", markup=False)
    for line in more:
        err.print(f"  {visible(line)}", markup=False)
