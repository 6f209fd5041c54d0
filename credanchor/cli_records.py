"""`credanchor deliveries`, `credentials` and `show`: what a workspace issued, to whom, and where it stands.

The commands register on the main app when `credanchor.cli` imports this module. As everywhere in the CLI:
parse options, open the store, call one lookup, render. Names and e-mails are printed without rich markup
(a name may hold brackets).
"""

from enum import StrEnum
from typing import Annotated

import typer

from credanchor import render
from credanchor.cli import JsonOpt, WorkspaceOpt, app


class ListFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@app.command()
def deliveries(
    batch: Annotated[str, typer.Argument(help="Batch number or root (see `credanchor batches`).")],
    list_format: Annotated[ListFormat, typer.Option("--format", help="csv (as delivery.csv) or json.")] = (
        ListFormat.CSV
    ),
    workspace: WorkspaceOpt = None,
) -> None:
    """Print a batch's delivery list again: records row, e-mail, name, credential id, receipt file, and the
    verification and LinkedIn URLs when [share] base_url is set."""
    from issuer.delivery import delivery_csv, delivery_json
    from issuer.lookup import batch_deliveries
    from issuer.store import Store
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    _, entries = batch_deliveries(Store(ws.database_url), batch, ws.config.share.base_url)
    if list_format == ListFormat.JSON:
        render.print_json(delivery_json(entries))
    else:
        print(delivery_csv(entries), end="")


@app.command()
def credentials(
    email: Annotated[str | None, typer.Option(help="The recipient's e-mail (the whole address).")] = None,
    name: Annotated[str | None, typer.Option(help="Part of the recipient's name (case and accents ignored).")] = None,
    credential_id: Annotated[
        str | None, typer.Option("--id", help="Credential id (urn:uuid:..., or the receipt's file name).")
    ] = None,
    batch: Annotated[str | None, typer.Option(help="Batch number or root.")] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find issued credentials by e-mail, name, id or batch, with their state. Exit 1 when none matches."""
    from issuer.lookup import find_credentials, listing_json, standing
    from issuer.store import Store
    from issuer.workspace import open_workspace

    store = Store(open_workspace(workspace).database_url)
    found = find_credentials(store, email=email, name=name, credential_id=credential_id, batch=batch)
    if json_out:
        render.print_json([listing_json(issued) for issued in found])
    elif found:
        rows = [(str(i.batch.id), str(i.row), i.id, i.email, i.name, standing(i).describe()) for i in found]
        header = ("batch", "row", "credential", "email", "name", "state")
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header) - 1)]
        for *padded, state in [header, *rows]:
            pairs = enumerate(zip(padded, widths, strict=True))
            cells = [cell.rjust(width) if c < 2 else cell.ljust(width) for c, (cell, width) in pairs]
            render.out.print("  ".join([*cells, state]), markup=False)
        render.out.print(f"{len(found)} credential{'s' if len(found) != 1 else ''}", markup=False)
    else:
        render.out.print("no credential matches", markup=False)
    if not found:
        raise typer.Exit(1)


@app.command()
def show(
    credential_id: Annotated[str, typer.Argument(help="Credential id (urn:uuid:..., or the receipt's file name).")],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One credential as a person reads it: recipient, achievement, issuer, validity, state."""
    from issuer.lookup import listing_json, one_credential, person_view
    from issuer.store import Store
    from issuer.workspace import open_workspace

    document, issued = one_credential(Store(open_workspace(workspace).database_url), credential_id)
    if json_out:
        render.print_json({**listing_json(issued), "credential": document})
        return
    lines = person_view(document, issued)
    width = max(len(label) for label, _ in lines)
    for label, text in lines:
        render.out.print(f"{label:<{width}}  {text}", markup=False)
