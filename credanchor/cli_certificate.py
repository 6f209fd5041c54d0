"""`credanchor certificate`: certificate PDFs for receipts, each carrying its receipt as an attachment.

Registers on the main app when `credanchor.cli` imports this module. Parse, wire, call `issuer.certificates`,
render; paths are printed without rich markup (a file name may hold brackets).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from credanchor import render, wiring
from credanchor.cli import NamedWorkspaceOpt, app

if TYPE_CHECKING:
    from issuer.store import Batch, Store
    from issuer.workspace import Workspace


@app.command()
def certificate(
    receipts: Annotated[list[Path], typer.Argument(help="Receipt files (.json).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the PDFs (default: beside each receipt).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace PDFs that exist already.")] = False,
    workspace: NamedWorkspaceOpt = None,
) -> None:
    """Write a one-page certificate PDF per receipt (RECEIPT.pdf), with the receipt attached so the PDF alone
    verifies (`credanchor verify RECEIPT.pdf`). With a workspace: its template's badge and [share] base_url."""
    from issuer.certificates import certificates_for_receipts

    ws = wiring.workspace_or_none(workspace)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with render.progress(enabled=len(receipts) > 20) as bar:
        bar.stage("writing certificate PDFs", len(receipts))
        made = certificates_for_receipts(receipts, out, ws, advance=bar.advance, force=force)
    for path in made:
        render.out.print(f"wrote {path}", markup=False)


def missing_certificates(ws: "Workspace", store: "Store", batch: "Batch") -> None:
    """`issue --pdf` on a batch delivered before: make the certificates it does not have yet."""
    from issuer.certificates import batch_certificates

    with render.progress() as bar:
        bar.stage("writing certificate PDFs", batch.count)
        made = batch_certificates(ws, store, batch, advance=bar.advance)
    render.out.print(f"{len(made)} certificate PDF(s) written in {batch.out_dir}", markup=False)
