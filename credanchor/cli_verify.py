"""`credanchor checkpoint`: record the block hashes that receipts' evidence rests on, for offline verifying.

The command registers on the main app when `credanchor.cli` imports this module. A verifier runs it while it
can still ask nodes it trusts (several, with --quorum, to trust none alone), keeps the file, and later
verifies with `verify --offline --checkpoints FILE` when no node, or no node of that chain, is left.
"""

from pathlib import Path
from typing import Annotated

import typer

from anchoring.chain import Chain
from anchoring.errors import CredanchorError, InvalidInput, InvalidReceipt
from anchoring.files import atomic_write_text
from anchoring.jsonio import read_head, read_limited
from anchoring.receipt import MAX_RECEIPT_BYTES, Receipt
from anchoring.receiptfiles import container_kind
from credanchor import render, wiring
from credanchor.cli import NamedWorkspaceOpt, RpcUrlsOpt, app
from credanchor.wiring import normal_url
from verifier.checkpoints import checkpoints_for, load_checkpoints, render_checkpoints
from verifier.evidencecheck import block_of
from verifier.multichain import chain_quorum, group_by_chain
from verifier.quorum import Quorum


def _receipt_in(path: Path) -> Receipt:
    """The receipt a file carries: a receipt JSON, a baked badge or a certificate PDF."""
    from anchoring.carriers import SNIFF_BYTES, max_bytes, unwrap  # badge and PDF readers: only for this command

    head, _ = read_head(path, SNIFF_BYTES, InvalidReceipt)
    carried = unwrap(read_limited(path, max_bytes(head), InvalidReceipt), str(path))
    if carried.receipt is None:
        raise InvalidReceipt(f"{path}: carries no credanchor receipt")
    return Receipt.from_json(carried.receipt, source=str(path))


def _distinct(urls: list[str]) -> None:
    if len({normal_url(u) for u in urls}) != len(urls):
        raise InvalidInput("the same --rpc-url is given twice: a node cannot outvote itself")


@app.command()
def checkpoint(
    receipts: Annotated[list[Path], typer.Argument(help="Receipts (version 2 or 3) whose evidence blocks to record.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoints file (TOML); added to if it exists.")],
    rpc_url: RpcUrlsOpt = None,
    quorum: Annotated[int | None, typer.Option(min=1, help="How many of the nodes must agree (default: all).")] = None,
    workspace: NamedWorkspaceOpt = None,
) -> None:
    """Write the hashes of the blocks the receipts' evidence rests on, as the named nodes agree on them."""
    ws = wiring.workspace_or_none(workspace)
    urls = wiring.verifier_rpcs(ws, rpc_url, offline=False, checkpoints=None)
    if not urls:
        raise InvalidInput("no node to ask: give --rpc-url (several, with --quorum, to trust none alone)")
    _distinct(urls)
    blocks: dict[int, set[int]] = {}
    for path in receipts:
        receipt = _receipt_in(path)
        if not receipt.evidence:
            raise InvalidInput(f"{path}: a version {receipt.version} receipt carries no evidence")
        for evidence in receipt.evidence:
            number = block_of(evidence)
            if number is None:
                raise InvalidInput(f"{path}: evidence header has no readable block number")
            blocks.setdefault(evidence.chain_id, set()).add(number)
    if quorum is not None and not 1 <= quorum <= len(urls):
        raise InvalidInput(f"--quorum {quorum} needs 1 to {len(urls)} (the --rpc-url count)")
    # Nodes of several chains (receipts anchored on several) are told apart by the chain id each answers.
    groups, silent = group_by_chain([Chain(url) for url in urls])
    for line in silent:
        render.err.print(f"note: {line}", markup=False)
    by_chain = {chain_id: chain_quorum(groups, chain_id, quorum) for chain_id in blocks}

    def hash_of(chain_id: int, number: int) -> tuple[str | None, str]:
        nodes = by_chain[chain_id]
        return nodes.block_hash(number) if isinstance(nodes, Quorum) else (None, nodes)

    found, missing = checkpoints_for(blocks, hash_of)
    existing = load_checkpoints(output) if output.exists() else {}
    for key, value in found.items():
        if existing.get(key, value) != value:
            raise CredanchorError(
                f"{output} already holds another hash for chain {key[0]} block {key[1]}: the nodes asked now "
                f"say {value}, the file says {existing[key]}"
            )
    atomic_write_text(output, render_checkpoints({**existing, **found}), mode=0o644)  # public hashes
    for key in sorted(found):
        render.out.print(f"chain {key[0]} block {key[1]}: {found[key]}", markup=False)
    for line in missing:
        render.err.print(f"not recorded: {line}", markup=False)
    render.out.print(f"{len(found)} checkpoint(s) written to {output}", markup=False)
    if missing:
        raise typer.Exit(3)


@app.command()
def refresh(
    receipts: Annotated[list[Path], typer.Argument(help="Receipts to bring up to date (rewritten in place).")],
    rpc_url: RpcUrlsOpt = None,
    quorum: Annotated[int | None, typer.Option(min=1, help="How many of the nodes must agree (default: all).")] = None,
    workspace: NamedWorkspaceOpt = None,
) -> None:
    """Add evidence of the registry's state at a recent block to receipts, keeping the evidence they were issued
    with: offline verification then knows revocations up to that block."""
    from datetime import UTC, datetime

    from verifier.refresh import refresh as refreshed

    ws = wiring.workspace_or_none(workspace)
    urls = wiring.verifier_rpcs(ws, rpc_url, offline=False, checkpoints=None)
    if not urls:
        raise InvalidInput("no node to ask: give --rpc-url (several, with --quorum, to trust none alone)")
    _distinct(urls)
    if quorum is not None and not 1 <= quorum <= len(urls):
        raise InvalidInput(f"--quorum {quorum} needs 1 to {len(urls)} (the --rpc-url count)")
    groups, silent = group_by_chain([Chain(url) for url in urls])
    for line in silent:
        render.err.print(f"note: {line}", markup=False)
    by_chain: dict[int, Quorum | str] = {}

    def nodes(chain_id: int) -> Quorum | str:
        if chain_id not in by_chain:  # one Quorum per chain, so its agreed head is asked once for all receipts
            by_chain[chain_id] = chain_quorum(groups, chain_id, quorum)
        return by_chain[chain_id]

    now = datetime.now(UTC)
    for path in receipts:
        if container_kind(path) is not None:
            raise InvalidInput(
                f"{path}: refresh rewrites receipt files (.json); take the receipts out of a .jsonl or .zip with "
                "`credanchor extract` first"
            )
        data = read_limited(path, MAX_RECEIPT_BYTES)
        if not data.lstrip().startswith(b"{"):
            raise InvalidInput(
                f"{path}: refresh rewrites receipt files (.json); bake or render badges and certificates again "
                "from the refreshed receipt"
            )
        receipt = Receipt.from_json(data, source=str(path))
        done = refreshed(receipt, nodes, now)
        atomic_write_text(path, done.text, mode=path.stat().st_mode & 0o777)
        state = f"; {done.revoked}" if done.revoked else ""
        render.out.print(f"{path}: evidence of block {done.block} added ({done.how}){state}", markup=False)
        for line in done.others:
            render.out.print(f"  {line}", markup=False)
