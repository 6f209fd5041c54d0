"""Showing results: rich text for people on a terminal, JSON for scripts. Progress goes to stderr.

Invariant: every string that comes from a file, a credential, the chain or an error message is shown through
`visible` (and rich markup escaped), so none can move the cursor, recolour or clear the terminal, start a
line or reorder one: file names, issuer and achievement names and revocation reasons are untrusted.

`out` and `err` are rich consoles, made on first use. A verification's lines (`print_report`,
`print_counts`, `print_error`) written where rich would write no styling at all (not a terminal, nothing
forcing colour) are written as the very text rich would write, without loading rich: a `verify` piped to a
file or a script starts faster (a test holds the two equal).
"""

import builtins
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TextIO

from verifier.anchors import Standing
from verifier.checks import Report, Verdict

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from verifier.audit import AuditReport

_consoles: dict[str, "Console"] = {}


def __getattr__(name: str) -> "Console":
    """`out` (stdout) and `err` (stderr): the rich consoles, made when first asked for."""
    if name not in ("out", "err"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _console(name)


def _console(name: str) -> "Console":
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(stderr=name == "err", highlight=False, soft_wrap=True, emoji=False)
    return _consoles[name]


# rich's markup: a tag, with the backslashes before it (`rich.markup`), and what `escape` escapes.
_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
_ESCAPE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
_STYLED_BY_ENVIRONMENT = ("FORCE_COLOR", "TTY_COMPATIBLE")


def escape(markup: str) -> str:
    """`rich.markup.escape`: text that rich shows as it is."""
    markup = _ESCAPE.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", markup)
    if markup.endswith("\\") and not markup.endswith("\\\\"):
        return markup + "\\"
    return markup


def plain_text(markup: str) -> str:
    """The text rich shows for well-formed `markup` (styles dropped, escapes undone), as `rich.markup.render`
    reads it."""
    if "[" not in markup:
        return markup
    parts = []
    position = 0
    for match in _TAG.finditer(markup):
        full, escapes, _ = match.groups()
        start, end = match.span()
        if start > position:
            parts.append(markup[position:start].replace("\\[", "["))
        position = end
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            parts.append("\\" * backslashes)
            if escaped:
                parts.append(full[len(escapes) :].replace("\\[", "["))
    parts.append(markup[position:].replace("\\[", "["))
    return "".join(parts)


def _unstyled(stream: TextIO) -> bool:
    """Whether rich would write to `stream` with no styling: not a terminal and nothing forcing one (rich's
    `Console.is_terminal`), not a notebook, not inside rich's own redirection (a progress display)."""
    if os.name == "nt" or any(name in os.environ for name in _STYLED_BY_ENVIRONMENT):
        return False
    if hasattr(builtins, "get_ipython") or hasattr(stream, "rich_proxied_file"):
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return False


def _print(name: str, text: str, *, markup: bool = True) -> None:
    """`out.print(text)` (or `err`'s), written without rich where it would add no styling."""
    stream = sys.stderr if name == "err" else sys.stdout
    shown = plain_text(text) if markup else text
    if not _unstyled(stream) or _CONTROL.search(shown):
        _console(name).print(text, markup=markup)
        return
    try:  # as rich's console writes: one write and a flush a line, and its answer to a closed pipe
        stream.write(shown + "\n")
        stream.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except UnicodeEncodeError as error:
        error.reason = f"{error.reason}\n*** You may need to add PYTHONIOENCODING=utf-8 to your environment ***"
        raise


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
"""Controls rich itself would strip or expand (a tab): such text is left to rich."""

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
        console=_console("err"),
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
    _console("err").print(table)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    _console("err").print(f"peak memory: {own:,} MiB in this process, {worker:,} MiB in its largest worker")


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
    _print("out", f"[{style}]{report.verdict.upper()}[/] {safe(report.source)}: {safe(report.reason)}")
    if not details:
        return
    if report.credential_id:
        achievement = report.achievement or "?"
        _print("out", f"  {safe(achievement)}; {safe(report.credential_id)}")
        # Who issued it is what the verifier's trust list says; the credential's own words are only a claim.
        claim = f"the credential claims {report.issuer or '?'!r}"
        if report.trusted_as:
            _print("out", f"  issuer: {safe(repr(report.trusted_as))} (your trust list); {safe(claim)}")
        else:
            _print("out", f"  issuer: not on your trust list; {safe(claim)}, which nothing here vouches for")
    for step in report.steps:
        mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]skip[/]"}[step.ok]
        _print("out", f"  {mark} {step.name:<10} {safe(step.detail)}")
    for note in report.notes:
        _print("out", f"  [yellow]note[/] {safe(note)}")
    for i, anchor in enumerate(report.anchors, 1):
        trust = f"trusted as {anchor.trusted_as!r}" if anchor.trusted_as else "not on your trust list"
        said = "every check passed" if anchor.verdict == Verdict.VALID else f"{anchor.verdict}, {anchor.reason}"
        if anchor.standing == Standing.NOT_CHECKED:
            said = anchor.reason
        _print(
            "out",
            f"  anchor {i} on chain {anchor.chain_id}, block {anchor.block}, registry {safe(anchor.registry)} "
            f"({safe(trust)}): {_STANDING[anchor.standing]}: {safe(said)}",
        )


def print_summary(reports: Sequence[Report]) -> None:
    print_counts(Counter(str(r.verdict) for r in reports))


def print_counts(counts: Counter[str]) -> None:
    """`N receipts: n valid, m revoked...` from the count of each verdict."""
    total = sum(counts.values())
    parts = ", ".join(f"{n} {v}" for v, n in counts.most_common())
    _print("out", f"{total} receipt{'s' if total != 1 else ''}: {parts}")


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
    _console("out").print(
        f"Registry {safe(report.registry)} on chain {report.chain_id}, blocks {report.from_block}..{report.to_block}: "
        f"{report.anchors} anchors, {len(report.entries)} events, {report.manifests} manifests checked"
    )
    for entry in report.entries:
        mark = " [red](!)[/]" if entry.flags else (" [yellow](?)[/]" if entry.notices else "")
        _console("out").print(
            f"  block {entry.block:<6} {safe(entry.time)}  [bold]{safe(entry.kind)}[/]{mark}  {safe(entry.summary)}\n"
            f"  {'':12} by {safe(entry.sender)} in tx {safe(entry.tx_hash)}"
        )
    for role, holders in report.roles.items():
        _console("out").print(f"{safe(role)} role now held by: {safe(', '.join(holders) or 'nobody')}")
    for notice in report.notices:
        _console("out").print(f"[yellow]notice[/] {safe(notice)}")
    for problem in report.problems:
        _console("out").print(f"[red]problem[/] {safe(problem)}")
    _console("out").print("[green]audit clean[/]" if report.clean else f"[red]{len(report.problems)} problem(s)[/]")


def print_json(data: Any) -> None:
    """One JSON document on a line. `json` escapes C0 controls only; the rest of `_UNSAFE` (which can occur
    only inside strings) becomes `\\uXXXX` too, so the line is as safe on a terminal as the human output."""
    text = json.dumps(data, ensure_ascii=False)
    print(_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def print_error(message: str) -> None:
    """An error on stderr: one `error:` line, plus the indented lines of messages that list problems (the
    only line breaks kept: a newline anywhere else is shown as `\\n`)."""
    first, *more = message.split("\n  ")
    _print("err", f"error: {visible(first)}", markup=False)
    for line in more:
        _print("err", f"  {visible(line)}", markup=False)
