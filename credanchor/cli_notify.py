"""`credanchor notify` and `forget-addresses`: e-mail earners their credentials; then forget their addresses.

The commands register on the main app when `credanchor.cli` imports this module. Parse options, open the
workspace, build the SMTP transport from [smtp], call `issuer.notify`, render its summary. Addresses and
server replies are printed without rich markup (they come from records files and remote servers).
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anchoring.errors import InvalidInput
from credanchor import render
from credanchor.cli import JsonOpt, WorkspaceOpt, app

if TYPE_CHECKING:
    from issuer.notify import Summary
    from issuer.store import Batch, Store
    from issuer.workspace import Workspace

BatchOpt = Annotated[
    str | None, typer.Option("--batch", help="Batch number or root (default: the one batch not yet e-mailed).")
]


@app.command()
def notify(
    batch: BatchOpt = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Send again the messages the server refused.")
    ] = False,
    resend_unknown: Annotated[
        bool,
        typer.Option(
            "--resend-unknown",
            help="Send again the messages that were possibly delivered (cut off before the server answered).",
        ),
    ] = False,
    dry_run: Annotated[
        Path | None,
        typer.Option("--dry-run", help="Write each message as a .eml file in this folder instead; record nothing."),
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """E-mail each earner of a delivered batch their credential (receipt, badge and certificate attached),
    once: a rerun sends only what is not sent yet. Exit 1 when a message failed or may not have arrived, 3 when
    the mail server could not be reached."""
    from issuer.notify import Notifier
    from issuer.smtp import transport_for
    from issuer.store import Store
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    smtp = ws.config.smtp
    if smtp.sender is None:
        raise InvalidInput(
            f'{ws.config_path}: [smtp] sender is not set: the address the e-mails come from (sender = "registrar@...")'
        )
    store = Store(ws.database_url)
    chosen = _batch(store, batch)
    with render.progress(enabled=not json_out and render.err.is_terminal) as bar:
        notifier = Notifier(
            store,
            ws.root / ".locks",
            sender=smtp.sender,
            base_url=ws.config.share.base_url,
            rate=smtp.rate,
            progress=bar,
        )
        if dry_run is not None:
            summary = notifier.dry_run(chosen, dry_run, retry_failed=retry_failed, resend_unknown=resend_unknown)
        else:
            transport = transport_for(smtp, ws.root, os.environ)
            summary = notifier.send(chosen, transport, retry_failed=retry_failed, resend_unknown=resend_unknown)
    _show(summary, ws, json_out)
    if summary.stopped is not None:
        render.print_error(summary.stopped)
        raise typer.Exit(3)
    if not summary.complete:  # failed, possibly sent, or failed before and not retried
        raise typer.Exit(1)


@app.command("forget-addresses")
def forget_addresses(
    batch: Annotated[str, typer.Argument(help="Batch number or root (see `credanchor batches`).")],
    even_unsent: Annotated[
        bool, typer.Option("--even-unsent", help="Forget them although some earners were not e-mailed.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Once a batch's e-mails are sent, blank its earners' addresses in the database and its delivery list."""
    from issuer.lookup import find_batch
    from issuer.notify import Notifier
    from issuer.store import Store
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    store = Store(ws.database_url)
    chosen = find_batch(store, batch)
    notifier = Notifier(
        store, ws.root / ".locks", sender=ws.config.smtp.sender or "", base_url=ws.config.share.base_url, rate=1
    )
    count = notifier.forget(chosen, even_unsent=even_unsent)
    render.out.print(
        f"batch {chosen.id}: forgot the e-mail addresses of {count} credential(s) "
        "(database and delivery list; the records file is yours to delete)",
        markup=False,
    )


def _batch(store: "Store", ref: str | None) -> "Batch":
    from issuer.lookup import find_batch
    from issuer.store import Mailbox

    if ref is not None:
        return find_batch(store, ref)
    waiting = Mailbox(store).unsent()
    if not waiting:
        raise InvalidInput("no delivered batch has earners left to e-mail")
    if len(waiting) > 1:
        listed = ", ".join(f"{batch} ({count})" for batch, count in waiting.items())
        raise InvalidInput(f"{len(waiting)} batches have earners not yet e-mailed: {listed}; name one with --batch")
    return store.batch(next(iter(waiting)))


def _show(summary: "Summary", ws: "Workspace", json_out: bool) -> None:
    if json_out:
        render.print_json(
            {
                "batch": summary.batch,
                "sent": summary.sent,
                "alreadySent": summary.already_sent,
                "failed": [{"email": e, "code": c, "reply": r} for e, c, r in summary.failed],
                "unknown": [{"email": e, "messageId": m, "reason": r} for e, m, r in summary.unknown],
                "waiting": [{"email": e, "state": s} for e, s in summary.waiting],
                "skipped": [{"email": e, "reason": r} for e, r in summary.skipped],
                "written": [str(p) for p in summary.written],
                "stopped": summary.stopped,
            }
        )
        return
    say = render.out.print
    if summary.written:
        folder = summary.written[0].parent
        say(f"batch {summary.batch}: wrote {len(summary.written)} message(s) to {folder} (dry run: nothing sent)")
    else:
        say(f"batch {summary.batch}: sent {summary.sent}, already sent before {summary.already_sent}", markup=False)
    for email, code, reply in summary.failed:
        say(f"failed   {render.visible(email)}: {render.visible(reply or str(code))}", markup=False)
    for email, mid, why in summary.unknown:
        say(f"unknown, possibly sent  {render.visible(email)} {mid}: {render.visible(why)}", markup=False)
    for email, state in summary.waiting:
        say(f"not retried  {render.visible(email)} ({render.visible(state)})", markup=False)
    for who, why in summary.skipped:
        say(f"skipped  {render.visible(who)}: {render.visible(why)}", markup=False)
    if summary.failed or summary.waiting:
        say(f"send the failed ones again with `credanchor notify --batch {summary.batch} --retry-failed`")
    if summary.unknown:
        say(
            "possibly sent messages are not sent again unless you ask: "
            f"`credanchor notify --batch {summary.batch} --resend-unknown` (same Message-ID)",
            markup=False,
        )
