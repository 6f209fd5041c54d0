"""`credanchor`: the command line. Each command parses options, builds adapters, calls one service, renders.

Errors: every `CredanchorError` is printed as one `error: ...` line on stderr (no traceback) and exits with
its class's code: 1 failed check, 2 bad input, 3 chain unreachable.
"""

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from anchoring.errors import CredanchorError, InvalidInput
from anchoring.progress import StageClock
from credanchor import render, wiring
from credanchor.bakeopt import BakeOpt, bake_format
from credanchor.receiptsopt import ReceiptsOpt

if TYPE_CHECKING:
    from issuer.batch import Outcome
    from issuer.roles import Roles
    from issuer.store import Batch
    from issuer.workspace import Workspace

app = typer.Typer(
    help="Batch-issue Open Badges 3.0 credentials anchored on an EVM chain; verify receipts; audit registries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
chain_app = typer.Typer(help="The chains the workspace anchors on, and their local Anvil nodes.", no_args_is_help=True)
key_app = typer.Typer(
    help="The issuer's keys: the anchoring key (an encrypted Ethereum keystore) and the Ed25519 signing key.",
    no_args_is_help=True,
)
role_app = typer.Typer(help="Who may anchor and revoke in the registry.", no_args_is_help=True)
admin_app = typer.Typer(help="Hand the registry's admin role over (two steps, delayed).", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
app.add_typer(key_app, name="key")
app.add_typer(role_app, name="role")
app.add_typer(admin_app, name="admin")

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="CREDANCHOR_WORKSPACE", help="Workspace folder (default: current)."),
]
NamedWorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="CREDANCHOR_WORKSPACE",
        help="Use this workspace's registry and node (default: none).",
    ),
]
RpcOpt = Annotated[
    str | None, typer.Option("--rpc-url", envvar=wiring.ENV_RPC_URL, help="JSON-RPC URL of an EVM node.")
]
RpcUrlsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rpc-url",
        envvar=wiring.ENV_RPC_URL,
        help="JSON-RPC URL of an EVM node; give several (with --quorum) to trust none of them alone.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ChainIdOpt = Annotated[int | None, typer.Option("--chain-id", help="Which configured chain (default: the home chain).")]
DEFAULT_ISSUER_ID = "did:web:registrar.example.edu"


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path("."),
    issuer_id: Annotated[str, typer.Option(help="Issuer id: a URL or DID you control.")] = DEFAULT_ISSUER_ID,
    issuer_name: Annotated[str, typer.Option(help="Issuer's official name.")] = "Example University Registrar",
    issuer_url: Annotated[str | None, typer.Option(help="Issuer's public web site.")] = None,
    port: Annotated[int, typer.Option(help="Port for the local chain.")] = 8545,
    scrypt_n: Annotated[int, typer.Option(hidden=True, help="scrypt cost of the key (tests use less).")] = 2**18,
) -> None:
    """Create a workspace: config, example achievement template, database and a new issuer key."""
    from issuer.keys import keystore_address
    from issuer.workspace import init_workspace

    ws = init_workspace(
        directory, issuer_id=issuer_id, issuer_name=issuer_name, issuer_url=issuer_url, port=port, scrypt_n=scrypt_n
    )
    render.out.print(f"workspace created in {ws.root}")
    if issuer_id == DEFAULT_ISSUER_ID:
        render.out.print(
            f"set your issuer's real id and name in {ws.config_path} ([issuer]) before issuing", markup=False
        )
    render.out.print(f"issuer key {keystore_address(ws.keystore_path)} in {ws.keystore_path} (mode 0600)")
    render.out.print("next: `credanchor chain up` to start the local chain and deploy your registry")


def _columns(mapping: list[str]) -> dict[str, str]:
    from issuer.config import FIELDS, unknown_targets

    columns = {}
    for item in mapping:
        header, sep, field = item.partition("=")
        if not sep or not header.strip() or not field.strip():
            raise InvalidInput(f"--map {item!r}: expected 'HEADER=FIELD' or 'HEADER=ignore'")
        columns[header.strip()] = field.strip()
    for header, field in unknown_targets(columns):
        raise InvalidInput(f"--map {header}={field}: unknown field {field!r} (known: {', '.join(FIELDS)}, ignore)")
    return columns


@app.command()
def issue(
    records: Annotated[Path, typer.Argument(help="Records (CSV or .xlsx): email, name, and optional columns.")],
    achievement: Annotated[str, typer.Option(help="Achievement template name (achievements/NAME.toml).")],
    out: Annotated[Path | None, typer.Option(help="Folder for the receipts (default: receipts/NAME-ROOT).")] = None,
    map_columns: Annotated[
        list[str], typer.Option("--map", help="Map a CSV header: 'HEADER=FIELD' or 'HEADER=ignore'.")
    ] = [],  # noqa: B006
    allow_reissue: Annotated[
        bool, typer.Option(help="Issue even to recipients who already hold the achievement.")
    ] = False,
    delimiter: Annotated[str | None, typer.Option(help="CSV separator: , ; or tab (default: detected).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Sheet of an .xlsx workbook (default: the first).")] = None,
    bake: BakeOpt = None,
    receipts: ReceiptsOpt = None,
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    pdf: Annotated[
        bool | None,
        typer.Option("--pdf/--no-pdf", help="Write a certificate PDF beside each receipt (default: config)."),
    ] = None,
    timings: Annotated[
        bool, typer.Option("--timings", help="Print how long each stage took and the peak memory, at the end.")
    ] = False,
) -> None:
    """Issue a batch: validate every row, anchor the root in one transaction, write and self-check receipts."""
    from issuer.baked import template_picture
    from issuer.batch import plan_batch
    from issuer.store import Store
    from issuer.table import delimiter_option
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    columns = _columns(map_columns)
    separator = delimiter_option(delimiter) if delimiter is not None else None
    started = time.perf_counter()
    plan = plan_batch(ws, records, achievement, columns, delimiter=separator, sheet=sheet)
    read = time.perf_counter() - started
    store = Store(ws.database_url)
    with render.progress() as bar:
        clock = StageClock(bar, time.perf_counter)
        form = str(receipts) if receipts is not None else None
        issuer = wiring.batch_issuer(ws, store, rpc_url, clock, bake=bake_format(ws, bake), pdf=pdf, receipts=form)
        if issuer.bake:  # the badge picture is checked before anything is anchored
            template_picture(ws, plan.template, issuer.bake)
        outcome = issuer.issue(plan, out, allow_reissue=allow_reissue)
    _print_outcome(outcome, issuer.bake)
    if timings:
        render.print_timings([("reading and checking records", read), *clock.finish()], time.perf_counter() - started)
    if outcome.already_delivered and (ws.config.earner.pdf if pdf is None else pdf):
        from credanchor.cli_certificate import missing_certificates

        missing_certificates(ws, store, outcome.batch)


def _print_outcome(outcome: "Outcome", bake: str | None = None) -> None:
    batch = outcome.batch
    where, container = _receipts_of(batch)
    if outcome.already_delivered:
        render.out.print(f"batch {batch.id} was issued already (root {batch.root}); receipts in {where}", markup=False)
        return
    prefix = "resumed and finished" if outcome.resumed else "issued"
    confirmed = [a for a in outcome.anchors if a.state == "confirmed"]
    if len(outcome.anchors) == 1:
        anchored = f"anchored in block {batch.block_number} by tx {batch.tx_hash}"
    else:
        anchored = "\n".join(
            f"anchored on chain {a.chain_id} in block {a.block_number} by tx {a.tx_hash}" for a in confirmed
        )
    render.out.print(
        f"{prefix} batch {batch.id}: {batch.count} credentials, root {batch.root}\n{anchored}\n"
        f"receipts in {where} (each verified against the chain)\nmanifest {outcome.manifest}",
        markup=False,
    )
    if container:
        render.out.print(f"one earner's receipt: credanchor extract {where} --id <credential id>", markup=False)
    for line in outcome.pending:
        render.err.print(f"pending: {line}", markup=False)
    if outcome.delivery_list is not None:
        render.out.print(f"delivery list {outcome.delivery_list} (e-mails and names: mode 0600)", markup=False)
    if bake:
        render.out.print(f"baked {bake.upper()} badges beside the receipts (each read back and checked)")


def _receipts_of(batch: "Batch") -> tuple[str, bool]:
    """Where the batch's receipts are (its folder, or the container in it), and whether that is a container."""
    from anchoring.receiptwrite import CONTAINER_NAMES

    name = CONTAINER_NAMES.get(batch.receipts or "dir")
    return (f"{batch.out_dir}/{name}", True) if name else (batch.out_dir, False)


@app.command()
def resume(
    batch_id: Annotated[int | None, typer.Argument(help="Batch number (default: every unfinished batch).")] = None,
    bake: BakeOpt = None,
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
) -> None:
    """Finish batches that a crash or a lost node left unfinished."""
    from issuer.locks import Busy
    from issuer.store import Store
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    store = Store(ws.database_url)
    batches = [store.batch(batch_id)] if batch_id is not None else list(store.batches(unfinished=True))
    if not batches:
        render.out.print("no unfinished batch")
        return
    with render.progress() as bar:
        issuer = wiring.batch_issuer(ws, store, rpc_url, bar, bake=bake_format(ws, bake))
        for batch in batches:  # each outcome shown as it is reached: a later failure must not hide it
            try:
                _print_outcome(issuer.resume(batch), issuer.bake)
            except Busy as exc:  # a live process (here, or on another machine sharing the database) has it
                if batch_id is not None:
                    raise
                render.err.print(f"batch {batch.id}: {exc}; left to it", markup=False)


@app.command()
def discard(
    batch_id: Annotated[int, typer.Argument(help="Batch number (see `credanchor batches`).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Drop a prepared batch that never reached the chain (for example after fixing its records file)."""
    from issuer.store import Store
    from issuer.workspace import open_workspace

    batch = Store(open_workspace(workspace).database_url).discard(batch_id)
    render.out.print(f"discarded batch {batch_id} ({batch.count} credentials, never anchored)")


@app.command("batches")
def list_batches(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List this workspace's batches and their states."""
    from issuer.store import Store, chain_anchors
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    store = Store(ws.database_url)
    batches = store.batches()
    others = {b.id: chain_anchors(store, b.id or 0) for b in batches}
    if json_out:
        listed = []
        for b in batches:
            entry = render.camel_keys(b.model_dump(mode="json", exclude={"input_key"}))
            if others[b.id]:
                entry["additionalAnchors"] = [
                    render.camel_keys(a.model_dump(mode="json", exclude={"id", "batch_id", "confirmed_at"}))
                    for a in others[b.id]
                ]
            listed.append(entry)
        render.print_json(listed)
        return
    for b in batches:
        revoked = " REVOKED" if b.revoked_at else ""
        also = "".join(
            f"; chain {a.chain_id} block {a.block_number}"
            if a.delivered
            else f"; chain {a.chain_id} {a.state}" + (", not in the receipts yet" if a.state == "confirmed" else "")
            for a in others[b.id]
        )
        render.out.print(
            f"{b.id:>4} {b.state:<10} {b.count:>7} {b.achievement:<20} {b.root} block {b.block_number}{revoked}{also}"
        )


@app.command()
def verify(
    receipts: Annotated[
        list[Path],
        typer.Argument(
            help="Receipts (.json), baked badges (.png, .svg), certificates (.pdf), .jsonl or .zip of receipts."
        ),
    ],
    rpc_url: RpcUrlsOpt = None,
    quorum: Annotated[
        int | None, typer.Option(min=1, help="Nodes of one chain that must agree on a block hash (default: all).")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use no node at all: the receipts' evidence and --checkpoints.")
    ] = False,
    checkpoints: Annotated[
        Path | None, typer.Option("--checkpoints", help="Block hashes you trust (TOML or JSON), for --offline.")
    ] = None,
    trust: Annotated[
        Path | None, typer.Option("--trust", help="Trust list (TOML or JSON) of registries you accept.")
    ] = None,
    json_out: JsonOpt = False,
    details: Annotated[
        bool | None, typer.Option("--details/--brief", help="Show every step (default: for one receipt).")
    ] = None,
    require_signature: Annotated[
        bool, typer.Option("--require-signature", help="Fail credentials that carry no issuer signature.")
    ] = False,
    min_confirmations: Annotated[
        int | None,
        typer.Option(min=1, help="Blocks the anchor needs on top of it, its own counted (default: config, or 1)."),
    ] = None,
    require: Annotated[
        int | None,
        typer.Option(
            "--require", help="Anchors on trusted registries that must hold (default: all that can be checked, >= 1)."
        ),
    ] = None,
    workspace: NamedWorkspaceOpt = None,
) -> None:
    """Verify receipts: digest, Merkle proof, signature, anchor on chain, issuer, revocation, validity, trust.

    A version 2 receipt carries its anchor's chain evidence: with --offline and --checkpoints it verifies with
    no node at all; with several --rpc-url and --quorum K no single node is trusted. A version 3 receipt is
    anchored on several chains: each anchor is checked on its own chain's nodes (--rpc-url of every chain; they
    are told apart by the chain id they answer), and --require K says how many must hold.

    Exit 0 if every receipt is valid; 1 invalid, revoked, expired or untrusted; 2 unreadable or malformed;
    3 chain unreachable.
    """
    from credanchor.verifycmd import run_verify

    raise typer.Exit(
        run_verify(
            receipts,
            rpc_url=rpc_url,
            quorum=quorum,
            offline=offline,
            checkpoints=checkpoints,
            trust=trust,
            json_out=json_out,
            details=details,
            require_signature=require_signature,
            min_confirmations=min_confirmations,
            require=require,
            workspace=workspace,
        )
    )


@app.command()
def revoke(
    credential_id: Annotated[
        str | None, typer.Argument(help="Credential id (urn:uuid:... or the receipt's file name).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (public, emitted on chain: no personal data).")] = "",
    batch: Annotated[str | None, typer.Option("--batch", help="Revoke a whole batch by its root instead.")] = None,
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
) -> None:
    """Revoke one credential, or a whole batch with --batch ROOT."""
    from anchoring.errors import ChainUnavailable
    from issuer.revoke import anchored_chains, check_reason, revoke_everywhere
    from issuer.store import Store
    from issuer.workspace import open_workspace

    if (credential_id is None) == (batch is None):
        raise InvalidInput("name either a CREDENTIAL_ID or --batch ROOT")
    check_reason(reason)
    ws = open_workspace(workspace)
    store = Store(ws.database_url)
    chains = anchored_chains(store, credential_id, batch) or [ws.config.chain.chain_id]
    several = len(chains) > 1
    outcomes = revoke_everywhere(wiring.revokers(ws, store, chains, rpc_url), credential_id, batch, reason)
    for outcome in outcomes:
        where = f" on chain {outcome.chain_id}" if several else ""
        if outcome.revoked is not None:
            done = outcome.revoked
            render.out.print(f"revoked {done.what}{where} in block {done.block_number} by tx {done.tx_hash}")
        elif outcome.already is not None:
            render.out.print(f"chain {outcome.chain_id}: {outcome.already}", markup=False)
    missing = [o for o in outcomes if o.problem]
    for outcome in missing:
        render.err.print(f"not revoked on chain {outcome.chain_id} yet: {outcome.problem}", markup=False)
    if missing:
        raise ChainUnavailable("run the same command again when those chains answer: it revokes only where missing")


@app.command()
def audit(
    registry: Annotated[str | None, typer.Option(help="Registry address (default: the workspace's).")] = None,
    rpc_url: RpcOpt = None,
    manifests: Annotated[
        Path | None, typer.Option(help="Folder of batch manifests to check against the anchors.")
    ] = None,
    chain_id: Annotated[int | None, typer.Option(help="Refuse a node on any other chain.")] = None,
    json_out: JsonOpt = False,
    workspace: NamedWorkspaceOpt = None,
) -> None:
    """Every anchor, revocation and role change of a registry, from the chain alone. Exit 1 on any problem."""
    from anchoring.chain import Chain
    from anchoring.hashing import is_address
    from verifier.audit import assemble, collect, load_manifests

    ws = wiring.workspace_or_none(workspace)
    address = registry or (ws.config.chain.registry if ws else None)
    if not address:
        raise InvalidInput("name the registry with --registry ADDRESS (or --workspace DIR)")
    if not is_address(address):
        raise InvalidInput(f"--registry {address!r} is not an address (0x and 40 hex digits, EIP-55 if mixed case)")
    url = wiring.verifier_rpc(ws, rpc_url)
    if url is None:
        raise InvalidInput("name the node with --rpc-url URL (or CREDANCHOR_RPC_URL)")
    loaded, unchecked = load_manifests(manifests) if manifests is not None else (None, [])
    chain = Chain(url)
    if chain_id is not None:
        chain.expect_chain_id(chain_id)
    with render.progress(enabled=not json_out) as bar:
        events, times, senders, start, head = collect(chain, address, bar)
    report = assemble(address, chain.chain_id, events, times, senders, start, head, loaded, unchecked)
    if json_out:
        render.print_json(render.audit_json(report))
    else:
        render.print_audit(report)
    raise typer.Exit(0 if report.clean else 1)


KeystoreOpt = Annotated[
    Path | None, typer.Option("--keystore", help="Sign with this keystore instead of the workspace key.")
]
PassFileOpt = Annotated[Path | None, typer.Option("--passphrase-file", help="File holding the keystore's passphrase.")]


@key_app.command("address")
def key_address(workspace: WorkspaceOpt = None, keystore: KeystoreOpt = None) -> None:
    """The issuer key's address (read from the keystore, no passphrase needed)."""
    from issuer.keys import keystore_address
    from issuer.workspace import open_workspace

    render.out.print(keystore_address(keystore or open_workspace(workspace).keystore_path))


def _new_passphrase(
    workspace: "Workspace", passphrase_file: Path | None, target: Path, *, signing: bool = False
) -> str:
    from issuer.keys import ENV_PASSPHRASE, ENV_PASSPHRASE_FILE, resolve_passphrase
    from issuer.signing import ENV_SIGNING_PASSPHRASE, ENV_SIGNING_PASSPHRASE_FILE

    env_names = (
        (ENV_SIGNING_PASSPHRASE, ENV_SIGNING_PASSPHRASE_FILE) if signing else (ENV_PASSPHRASE, ENV_PASSPHRASE_FILE)
    )

    def prompt() -> str:
        if not sys.stdin.isatty():
            raise InvalidInput(f"no passphrase for the new key (set {env_names[0]} or --passphrase-file)")
        return str(typer.prompt(f"Passphrase for {target}", hide_input=True, confirmation_prompt=True))

    if signing:
        own = workspace.signing_passphrase_path if target == workspace.signing_key_path else None
    else:
        own = workspace.passphrase_path if target == workspace.keystore_path else None
    return resolve_passphrase(passphrase_file or (own if own and own.exists() else None), prompt, env_names=env_names)


SigningOpt = Annotated[
    bool, typer.Option("--signing", help="An Ed25519 credential-signing key instead of an anchoring key.")
]


@key_app.command("new")
def key_new(
    out: Annotated[
        Path | None,
        typer.Option(help="Key file to create (default: the workspace's key.keystore, or signing.key with --signing)."),
    ] = None,
    passphrase_file: PassFileOpt = None,
    signing: SigningOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a new key in an encrypted keystore (never overwrites one)."""
    from issuer.keys import create_keystore
    from issuer.signing import create_signing_key
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    if signing:
        target = out or ws.signing_key_path
        multikey = create_signing_key(target, _new_passphrase(ws, passphrase_file, target, signing=True))
        render.out.print(f"new signing key {multikey} in {target} (mode 0600)")
        render.out.print("the registry does not list it yet: `credanchor key register` (key-admin role)")
        return
    target = out or ws.keystore_path
    address = create_keystore(target, None, passphrase=_new_passphrase(ws, passphrase_file, target))
    render.out.print(f"new key {address} in {target} (mode 0600)")
    render.out.print("it holds no role yet: `credanchor role grant anchor ADDRESS` from the admin key")


@key_app.command("import")
def key_import(
    key_file: Annotated[Path | None, typer.Option(help="File holding the private key as hex (else: a prompt).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Key file to create (default: the workspace's key.keystore, or signing.key with --signing)."),
    ] = None,
    passphrase_file: PassFileOpt = None,
    signing: SigningOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Encrypt an existing private key into a keystore. The key is never taken on the command line."""
    from issuer.keys import create_keystore, parse_private_key
    from issuer.signing import create_signing_key, parse_seed
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    target = out or (ws.signing_key_path if signing else ws.keystore_path)
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {key_file}: {exc.strerror}") from None
    elif sys.stdin.isatty():
        text = str(typer.prompt("Private key (hex)", hide_input=True))
    else:
        raise InvalidInput("give the private key with --key-file FILE (or run in a terminal to be prompted)")
    if signing:
        seed = parse_seed(text)
        passphrase = _new_passphrase(ws, passphrase_file, target, signing=True)
        render.out.print(f"imported signing key {create_signing_key(target, passphrase, seed=seed)} into {target}")
        return
    key = parse_private_key(text)
    address = create_keystore(target, None, passphrase=_new_passphrase(ws, passphrase_file, target), private_key=key)
    render.out.print(f"imported key {address} into {target} (mode 0600)")


def _roles(
    workspace: Path | None,
    rpc_url: str | None,
    keystore: Path | None = None,
    passphrase_file: Path | None = None,
    *,
    sign: bool = True,
    chain_id: int | None = None,
) -> "Roles":
    """The registry's roles on the home chain (or the configured chain `chain_id`), with a key to sign changes
    (that chain's anchoring key, or `keystore`) unless `sign` is off."""
    from anchoring.sender import TxSender
    from issuer.chainops import connect
    from issuer.roles import Roles
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    index, config = ws.config.chain_by_id(chain_id) if chain_id is not None else (0, ws.config.chain)
    if not config.registry:
        raise InvalidInput(f"no registry configured on chain {config.chain_id}: run `credanchor chain up` or `deploy`")
    chain = connect(ws, rpc_url, index)
    if keystore is None and passphrase_file is None:
        keystore, passphrase_file = wiring.chain_key(ws, config)
    sender = TxSender(chain, wiring.account(ws, keystore, passphrase_file)) if sign else None
    return Roles(chain, chain.registry(config.registry), sender, config.tx_timeout)


@role_app.command("grant")
def role_grant(
    role: Annotated[str, typer.Argument(help="anchor, revoke or key-admin")],
    account: Annotated[str, typer.Argument(help="Address to grant it to.")],
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    keystore: KeystoreOpt = None,
    passphrase_file: PassFileOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """Grant a role (signed by the admin key)."""
    tx, block = _roles(workspace, rpc_url, keystore, passphrase_file, chain_id=chain_id).grant(role, account)
    render.out.print(f"granted {role} to {account} in block {block} by tx {tx}")


@role_app.command("revoke")
def role_revoke(
    role: Annotated[str, typer.Argument(help="anchor, revoke or key-admin")],
    account: Annotated[str, typer.Argument(help="Address to take it from.")],
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    keystore: KeystoreOpt = None,
    passphrase_file: PassFileOpt = None,
    chain_id: ChainIdOpt = None,
) -> None:
    """Take a role away (signed by the admin key): the first thing to do when a key is compromised."""
    tx, block = _roles(workspace, rpc_url, keystore, passphrase_file, chain_id=chain_id).revoke(role, account)
    render.out.print(f"revoked {role} from {account} in block {block} by tx {tx}")


@role_app.command("show")
def role_show(
    workspace: WorkspaceOpt = None, rpc_url: RpcOpt = None, json_out: JsonOpt = False, chain_id: ChainIdOpt = None
) -> None:
    """Who is admin, who holds each role, and any pending admin handover."""
    from dataclasses import asdict

    status = _roles(workspace, rpc_url, sign=False, chain_id=chain_id).status()
    if json_out:
        render.print_json(render.camel_keys(asdict(status)))
        return
    pending = (
        f"; handover to {status.pending_admin} possible from {status.pending_after}" if status.pending_admin else ""
    )
    render.out.print(f"admin {status.admin} (handover delay {status.admin_delay} s){pending}")
    render.out.print(f"anchor: {', '.join(status.anchor) or 'nobody'}")
    render.out.print(f"revoke: {', '.join(status.revoke) or 'nobody'}")
    render.out.print(f"key-admin: {', '.join(status.key_admin) or 'nobody'}")
    render.out.print(f"issuer id: {escape(status.issuer_id or 'none (registry from before issuer binding)')}")
    for key in status.signing_keys:
        state = f"revoked in block {key.revoked_block}: {key.reason}" if key.revoked_block else "active"
        render.out.print(f"signing key {key.multikey} added in block {key.added_block}, {escape(state)}")


@admin_app.command("transfer")
def admin_transfer(
    new_admin: Annotated[str, typer.Argument(help="Address of the next admin.")],
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    keystore: KeystoreOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Step 1 of the admin handover (signed by the current admin); the new admin accepts after the delay."""
    tx, block = _roles(workspace, rpc_url, keystore, passphrase_file).begin_admin_transfer(new_admin)
    render.out.print(f"admin handover to {new_admin} scheduled in block {block} by tx {tx}; see `credanchor role show`")


@admin_app.command("accept")
def admin_accept(
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    keystore: KeystoreOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Step 2 of the admin handover, signed by the new admin once the delay has passed."""
    tx, block = _roles(workspace, rpc_url, keystore, passphrase_file).accept_admin_transfer()
    render.out.print(f"admin handover accepted in block {block} by tx {tx}")


@admin_app.command("cancel")
def admin_cancel(
    workspace: WorkspaceOpt = None,
    rpc_url: RpcOpt = None,
    keystore: KeystoreOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Cancel a pending admin handover (signed by the current admin)."""
    tx, block = _roles(workspace, rpc_url, keystore, passphrase_file).cancel_admin_transfer()
    render.out.print(f"admin handover cancelled in block {block} by tx {tx}")


@app.command()
def doctor(workspace: WorkspaceOpt = None, rpc_url: RpcOpt = None, json_out: JsonOpt = False) -> None:
    """Cross-check the database, the manifests, the receipts on disk and the chain. Exit 1 on any problem."""
    from issuer.doctor import examine, findings_json
    from issuer.store import Store
    from issuer.workspace import open_workspace

    ws = open_workspace(workspace)
    chain = wiring.issuer_chain(ws, rpc_url)
    with render.progress(enabled=not json_out) as bar:
        findings = examine(Store(ws.database_url), chain.registry(ws.config.chain.registry), bar)
    if json_out:
        print(findings_json(findings))
    else:
        counts = f"{findings.batches} batches, {findings.credentials} credentials"
        render.out.print(f"{counts}, {findings.anchors_on_chain} anchors on chain")
        for notice in findings.notices:
            render.out.print(f"[yellow]notice[/] {escape(notice)}")
        for problem in findings.problems:
            render.out.print(f"[red]problem[/] {escape(problem)}")
        render.out.print(
            "[green]all consistent[/]" if findings.healthy else f"[red]{len(findings.problems)} problem(s)[/]"
        )
    raise typer.Exit(0 if findings.healthy else 1)


import credanchor.cli_badges  # noqa: E402  (registers `bake` and `extract`)
import credanchor.cli_certificate  # noqa: E402  (registers `certificate`)
import credanchor.cli_identity  # noqa: E402, F401  (registers `key show|register|retire` and `profile`)
from credanchor import cli_notify  # noqa: E402, F401  (registers `notify` and `forget-addresses`)


def main() -> None:
    """`credanchor ARGS...` (the entry point is `credanchor.entry.main`, which does the same without loading
    this module for a plain `verify`)."""
    from credanchor.entry import run_lean

    run_lean(sys.argv[1:])
    run_app()


def run_app() -> None:
    """The Typer app for the command line; a `CredanchorError` is printed as one line and exits with its code."""
    try:
        only_command(sys.argv[1:])()
    except CredanchorError as exc:
        render.print_error(str(exc))
        sys.exit(exc.exit_code)


def only_command(args: list[str]) -> typer.Typer:
    """`app` with only the top-level command `args` name (the whole app for help, a group, or no command):
    typer turns every registered command into a click command before it parses anything, which a `verify`
    of one receipt should not pay for. Usage lines and errors read the same (a one-command group)."""
    from typer.main import get_command_name

    name = next((a for a in args if not a.startswith("-")), None)
    if name is None or args[0] != name:
        return app  # no command, or options of the whole app (--help) come first
    found = [
        c
        for c in app.registered_commands
        if c.callback is not None and (c.name or get_command_name(c.callback.__name__)) == name
    ]
    if len(found) != 1:
        return app
    one = typer.Typer(help=app.info.help, pretty_exceptions_enable=False, add_completion=False)
    one.registered_commands = found
    one.callback()(_group)
    return one


def _group() -> None:
    """A callback makes the one-command app a group, so the command keeps its name on the command line."""


# The command groups in their own modules register on `app` when imported.
from credanchor import cli_chains, cli_records, cli_serve, cli_verify  # noqa: E402, F401
