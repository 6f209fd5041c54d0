"""`credanchor serve` (the web verifier), `credanchor stats` and `credanchor page withdraw|restore`.

Invariants: `serve` listens on 127.0.0.1 unless told otherwise; what it serves is wired in
`credanchor.web` from the options here, handed to uvicorn's worker processes in one environment variable.
"""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from credanchor import render
from credanchor.cli import JsonOpt, NamedWorkspaceOpt, RpcOpt, WorkspaceOpt, app

page_app = typer.Typer(help="The public credential pages `credanchor serve` shows.", no_args_is_help=True)
app.add_typer(page_app, name="page")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: [web] host, or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: [web] port, or 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each caches on its own).")] = 1,
    rpc_url: RpcOpt = None,
    trust: Annotated[
        Path | None, typer.Option("--trust", help="Trust list (TOML or JSON) of registries you accept.")
    ] = None,
    workspace: NamedWorkspaceOpt = None,
) -> None:
    """Run the web verifier: a verification page, public credential pages, and the JSON API.

    With --workspace, the workspace's registry is trusted, its node used, and its delivered credentials get
    pages at /credentials/{uuid}. Stop with Ctrl-C.
    """
    import uvicorn

    from credanchor import wiring
    from credanchor.web.settings import ENV_SETTINGS, WebSettings

    ws = wiring.workspace_or_none(workspace)
    web = ws.config.web if ws else None
    settings = WebSettings(
        workspace=str(ws.root) if ws else None,
        rpc_url=rpc_url,
        trust_file=str(trust.resolve()) if trust else None,
        max_upload=web.max_upload if web else WebSettings.max_upload,
        time_limit=web.time_limit if web else WebSettings.time_limit,
        cache_seconds=web.cache_seconds if web else WebSettings.cache_seconds,
    )
    from credanchor.web.app import create_app

    create_app(settings).state.context.close()  # a bad workspace or trust list fails here, with its message
    os.environ[ENV_SETTINGS] = settings.to_env()
    listen_host = host or (web.host if web else "127.0.0.1")
    listen_port = port or (web.port if web else 8000)
    render.out.print(f"credanchor verifier on http://{listen_host}:{listen_port}/ (Ctrl-C to stop)", markup=False)
    uvicorn.run(
        "credanchor.web.app:app_from_env",
        factory=True,
        host=listen_host,
        port=listen_port,
        workers=workers,
        log_level="warning",
        server_header=False,
        timeout_keep_alive=5,
        proxy_headers=False,
    )


@app.command()
def stats(
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days back.")] = 30,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Page views and verifications of this workspace's credentials, by day and by batch (no visitor data)."""
    from credanchor.web.stats import summary
    from issuer.store import Store
    from issuer.workspace import open_workspace

    data = summary(Store(open_workspace(workspace).database_url), datetime.now(UTC), days)
    if json_out:
        render.print_json(
            {
                "days": [{"day": d, "views": v, "verifications": c} for d, v, c in data.days],
                "batches": [{"batch": b, "views": v, "verifications": c} for b, (v, c) in data.batches],
                "credentials": [{"credentialId": i, "views": v, "verifications": c} for i, (v, c) in data.credentials],
            }
        )
        return
    render.out.print(
        f"last {days} days: {data.total_views} page views, {data.total_verifications} verifications", markup=False
    )
    for day, views, verifications in data.days:
        if views or verifications:
            render.out.print(f"  {day}  {views:>6} views  {verifications:>6} verifications", markup=False)
    for batch, (views, verifications) in data.batches:
        render.out.print(f"  batch {batch:>4}  {views:>6} views  {verifications:>6} verifications", markup=False)


@page_app.command("withdraw")
def page_withdraw(
    credential_id: Annotated[str, typer.Argument(help="Credential id (urn:uuid:... or the receipt's file name).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the workspace database, not shown).")] = "",
    workspace: WorkspaceOpt = None,
) -> None:
    """Take a credential's public page down: it answers 410 Gone. The credential itself stays as it is."""
    from issuer.revoke import credential_key
    from issuer.store import Store, withdraw_page
    from issuer.workspace import open_workspace

    cid = credential_key(credential_id)
    withdraw_page(Store(open_workspace(workspace).database_url), cid, reason)
    render.out.print(f"page of {cid} withdrawn (410 Gone); `credanchor page restore` brings it back", markup=False)


@page_app.command("restore")
def page_restore(
    credential_id: Annotated[str, typer.Argument(help="Credential id (urn:uuid:... or the receipt's file name).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Put a withdrawn credential page back."""
    from issuer.revoke import credential_key
    from issuer.store import Store, restore_page
    from issuer.workspace import open_workspace

    cid = credential_key(credential_id)
    restore_page(Store(open_workspace(workspace).database_url), cid)
    render.out.print(f"page of {cid} restored", markup=False)
