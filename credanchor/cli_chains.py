"""`credanchor chain up|down|status|add` and `deploy`: the chains a workspace anchors on.

A workspace anchors on its home chain (`[chain]`, or the first `[[chain]]` entry) and on every additional
`[[chain]]` entry. Local entries (a node on 127.0.0.1) get an Anvil node each from `chain up`; a chain
elsewhere gets its registry from `deploy --chain-id`. The commands register on the main app when
`credanchor.cli` imports this module.
"""

from typing import Annotated

import typer

from anchoring.errors import InvalidInput
from credanchor import render, wiring
from credanchor.cli import ChainIdOpt, JsonOpt, RpcOpt, WorkspaceOpt, app, chain_app


@chain_app.command("up")
def chain_up(
    workspace: WorkspaceOpt = None,
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: chain.local_port).")] = None,
) -> None:
    """Start the local Anvil nodes (state kept in the workspace); deploy the registries on first start."""
    from issuer.chainops import chain_up as up
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    for result in up(ws, port, lambda config: wiring.account(ws, *wiring.chain_key(ws, config))):
        if result.warning:
            render.err.print(f"warning: {result.warning}", markup=False)
        which = f" {result.chain_id}" if len(ws.config.chains) > 1 else ""
        render.out.print(
            f"local chain{which} running at {result.node.url} (pid {result.node.pid}, state {result.node.state_file})"
        )
        verb = "deployed" if result.deployed else "found"
        render.out.print(f"registry {result.registry} {verb}; issuer key {result.issuer}")


@chain_app.command("down")
def chain_down(workspace: WorkspaceOpt = None) -> None:
    """Stop the local nodes cleanly; their state is saved for the next `chain up`."""
    from issuer.chainops import chain_down as down
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    stopped = down(ws)
    if not stopped:
        render.out.print("local chain was not running")
    for chain_id in stopped:
        which = f" {chain_id}" if len(ws.config.chains) > 1 else ""
        render.out.print(f"local chain{which} stopped; state saved")


@chain_app.command("status")
def chain_status(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Is each local node running, at which block, with which registry (exit 1 if the home chain's is not)."""
    from anchoring.chain import Chain
    from issuer.chainops import local_node
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    statuses: list[dict[str, object]] = []
    for index, config in enumerate(ws.config.chains):
        info = local_node(ws, config).info() if index == 0 or config.is_local else None
        status: dict[str, object] = {
            "chainId": config.chain_id,
            "running": info is not None,
            "rpcUrl": config.rpc_url,
            "registry": config.registry,
        }
        if info is not None:
            chain = Chain(info.url)
            status |= {"pid": info.pid, "block": chain.block_number()}
        statuses.append(status)
    if json_out:
        render.print_json(statuses[0] if len(statuses) == 1 else statuses)
    for status in [] if json_out else statuses:
        if not status["running"]:
            render.out.print(f"local chain {status['chainId']} not running (configured node: {status['rpcUrl']})")
        else:
            render.out.print(
                f"local chain running at {status['rpcUrl']}, pid {status['pid']}, chain {status['chainId']}, "
                f"block {status['block']}; registry {status['registry'] or '(none)'}"
            )
    if not statuses[0]["running"]:
        raise typer.Exit(1)


@chain_app.command("add")
def chain_add(
    chain_id: Annotated[int, typer.Option("--chain-id", help="The chain's EIP-155 id.")],
    rpc_url: Annotated[
        str | None, typer.Option("--rpc-url", help="Its node (default: a local Anvil node `chain up` starts).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port of the local node (default: the next free one).")] = None,
    keystore: Annotated[
        str | None, typer.Option(help="Anchoring key for this chain, in the workspace (default: [key]).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Anchor every new batch on one more chain too (a [[chain]] entry); then `chain up` or `deploy`."""
    from issuer.chainops import add_chain
    from issuer.workspace import open_workspace

    ws = add_chain(open_workspace(workspace), chain_id, rpc_url, port, keystore)
    _, added = ws.config.chain_by_id(chain_id)
    render.out.print(f"chain {chain_id} added ({added.rpc_url}); new batches are anchored on it too")
    hint = "`credanchor chain up`" if added.is_local else f"`credanchor deploy --chain-id {chain_id}`"
    render.out.print(f"next: {hint} to deploy its registry")


@app.command()
def deploy(workspace: WorkspaceOpt = None, rpc_url: RpcOpt = None, chain_id: ChainIdOpt = None) -> None:
    """Deploy this issuer's registry on a configured chain (the key must hold gas money there)."""
    from issuer.chainops import connect
    from issuer.chainops import deploy as deploy_registry
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    index, config = ws.config.chain_by_id(chain_id) if chain_id is not None else (0, ws.config.chain)
    if config.registry:
        raise InvalidInput(
            f"a registry is configured already on chain {config.chain_id} ({config.registry}); remove it from the "
            "config to deploy anew"
        )
    chain = connect(ws, rpc_url, index)
    ws, address = deploy_registry(ws, chain, wiring.account(ws, *wiring.chain_key(ws, config)), index)
    render.out.print(f"registry {address} deployed on chain {chain.chain_id}; recorded in {ws.config_path}")
