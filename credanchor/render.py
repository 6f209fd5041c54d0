"""Showing results: rich text for people on a terminal, JSON for scripts. Progress goes to stderr."""

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from verifier.audit import AuditReport
from verifier.checks import Report, Verdict

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_STYLE = {Verdict.VALID: "bold green", Verdict.MALFORMED: "bold red", Verdict.INVALID: "bold red"}


class RichProgress:
    """`anchoring.progress.Progress` on stderr: one bar a stage, notes as log lines."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: Any = None

    def stage(self, label: str, total: int | None = None) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.completed or 1, completed=task.completed or 1)
        self._task = self._progress.add_task(label, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, steps)

    def note(self, text: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, description=text)


@contextmanager
def progress(enabled: bool = True) -> Iterator[RichProgress]:
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled,
    )
    with bar:
        yield RichProgress(bar)


def report_json(report: Report) -> dict[str, Any]:
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
    out.print(f"[{style}]{report.verdict.upper()}[/] {escape(report.source)}: {escape(report.reason)}")
    if not details:
        return
    if report.credential_id:
        achievement = report.achievement or "?"
        out.print(f"  {escape(achievement)}; {escape(report.credential_id)}")
        # Who issued it is what the verifier's trust list says; the credential's own words are only a claim.
        claim = f"the credential claims {report.issuer or '?'!r}"
        if report.trusted_as:
            out.print(f"  issuer: {escape(repr(report.trusted_as))} (your trust list); {escape(claim)}")
        else:
            out.print(f"  issuer: not on your trust list; {escape(claim)}, which nothing here vouches for")
    for step in report.steps:
        mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]skip[/]"}[step.ok]
        out.print(f"  {mark} {step.name:<10} {escape(step.detail)}")
    for note in report.notes:
        out.print(f"  [yellow]note[/] {escape(note)}")


def print_summary(reports: Sequence[Report]) -> None:
    counts = Counter(str(r.verdict) for r in reports)
    parts = ", ".join(f"{n} {v}" for v, n in counts.most_common())
    out.print(f"{len(reports)} receipt{'s' if len(reports) != 1 else ''}: {parts}")


def audit_json(report: AuditReport) -> dict[str, Any]:
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


def print_audit(report: AuditReport) -> None:
    out.print(
        f"Registry {report.registry} on chain {report.chain_id}, blocks {report.from_block}..{report.to_block}: "
        f"{report.anchors} anchors, {len(report.entries)} events, {report.manifests} manifests checked"
    )
    for entry in report.entries:
        mark = " [red](!)[/]" if entry.flags else (" [yellow](?)[/]" if entry.notices else "")
        out.print(
            f"  block {entry.block:<6} {entry.time}  [bold]{entry.kind}[/]{mark}  {escape(entry.summary)}\n"
            f"  {'':12} by {entry.sender} in tx {entry.tx_hash}"
        )
    for role, holders in report.roles.items():
        out.print(f"{role} role now held by: {', '.join(holders) or 'nobody'}")
    for notice in report.notices:
        out.print(f"[yellow]notice[/] {escape(notice)}")
    for problem in report.problems:
        out.print(f"[red]problem[/] {escape(problem)}")
    out.print("[green]audit clean[/]" if report.clean else f"[red]{len(report.problems)} problem(s)[/]")


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False))
