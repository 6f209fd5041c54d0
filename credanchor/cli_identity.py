"""`credanchor key show|register|retire` and `credanchor profile export`: the issuer's identity as the
registry binds it (issuer id and signing keys) and as standard verifiers resolve it (Profile, DID document).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from credanchor import render
from credanchor.cli import JsonOpt, KeystoreOpt, PassFileOpt, RpcOpt, WorkspaceOpt, _roles, app, key_app

if TYPE_CHECKING:
    from issuer.workspace import Workspace

profile_app = typer.Typer(help="The issuer's public Profile and DID document.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")


@key_app.command("show")
def key_show(workspace: WorkspaceOpt = None, rpc_url: RpcOpt = None, json_out: JsonOpt = False) -> None:
    """The workspace's keys (no passphrase needed) and, when a registry is configured, what it says of them."""
    from anchoring.hashing import to_hex
    from anchoring.multibase import decode_multikey
    from issuer.keys import keystore_address
    from issuer.profile import verification_method
    from issuer.signing import signing_multikey
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    address = keystore_address(ws.keystore_path)
    multikey = signing_multikey(ws.signing_key_path)
    method = verification_method(ws.config.issuer.id, multikey)
    registry_state = None
    if ws.config.chain.registry:
        status = _roles(workspace, rpc_url, sign=False).registry.signing_key(to_hex(decode_multikey(multikey)))
        if status.added_block == 0:
            registry_state = "not listed in the registry (`credanchor key register`)"
        elif status.revoked_block:
            registry_state = f"revoked in the registry in block {status.revoked_block}"
        else:
            registry_state = f"active in the registry since block {status.added_block}"
    if json_out:
        render.print_json(
            {
                "anchoringKey": address,
                "signingKey": multikey,
                "verificationMethod": method,
                "signingKeyInRegistry": registry_state,
            }
        )
        return
    render.out.print(f"anchoring key {address} ({ws.keystore_path})")
    render.out.print(f"signing key   {multikey} ({ws.signing_key_path})")
    render.out.print(f"verification method {escape(method)}")
    if registry_state:
        render.out.print(f"signing key is {registry_state}")


@key_app.command("register")
def key_register(
    multikey: Annotated[
        str | None, typer.Argument(help="Ed25519 public key as a z6Mk… Multikey (default: the workspace's).")
    ] = None,
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    keystore: KeystoreOpt = None,
    passphrase_file: PassFileOpt = None,
    chain_id: Annotated[int | None, typer.Option("--chain-id", help="Only this chain (default: every one).")] = None,
) -> None:
    """List a signing key in the registry of every configured chain (signed by a key-admin key); credentials
    anchored from then on may carry its signature."""
    from issuer.signing import signing_multikey
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    key = multikey or signing_multikey(ws.signing_key_path)
    for which in _chains(ws, chain_id):
        tx, block = _roles(workspace, rpc_url, keystore, passphrase_file, chain_id=which).add_key(key)
        where = f" on chain {which}" if len(ws.config.chains) > 1 else ""
        render.out.print(f"signing key {key} listed{where} in block {block} by tx {tx}")


def _chains(ws: "Workspace", chain_id: int | None) -> list[int]:
    if chain_id is not None:
        ws.config.chain_by_id(chain_id)
        return [chain_id]
    return [c.chain_id for c in ws.config.chains]


@key_app.command("retire")
def key_retire(
    multikey: Annotated[str, typer.Argument(help="The signing key (z6Mk… Multikey) to revoke.")],
    reason: Annotated[str, typer.Option(help="Why (public, recorded on chain).")],
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    keystore: KeystoreOpt = None,
    passphrase_file: PassFileOpt = None,
    chain_id: Annotated[int | None, typer.Option("--chain-id", help="Only this chain (default: every one).")] = None,
) -> None:
    """Revoke a signing key from this block on in the registry of every configured chain (signed by a
    key-admin key). Credentials anchored before keep their signatures; later ones signed with it fail
    verification."""
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    for which in _chains(ws, chain_id):
        tx, block = _roles(workspace, rpc_url, keystore, passphrase_file, chain_id=which).revoke_key(multikey, reason)
        where = f" on chain {which}" if len(ws.config.chains) > 1 else ""
        render.out.print(f"signing key {multikey} revoked{where} in block {block} by tx {tx}")


@profile_app.command("export")
def profile_export(
    out: Annotated[Path, typer.Option(help="Folder to write profile.json and the DID/controller document to.")] = Path(
        "public"
    ),
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
) -> None:
    """Write the issuer's OB 3.0 Profile and its DID document (did:web) or controller document (URL issuer),
    listing every signing key the registry knows, for standard verifiers that resolve keys from the web."""
    from issuer.identity import export_profile
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    roles = _roles(workspace, rpc_url, sign=False) if ws.config.chain.registry else None
    written = export_profile(ws, out, roles)
    for path, url in written:
        render.out.print(f"wrote {path}" + (f"  (serve it at {escape(url)})" if url else ""))
