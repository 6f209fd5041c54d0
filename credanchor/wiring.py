"""Building the adapters a command needs (workspace, store, node, key, trust list) from options and config.

This is the only place where the issuer side and the verifier side meet: the issuer's self-check is the
verifier's own service, handed to the batch issuer as a function.

What only issuing, key handling or the self-check needs is imported where it is used (Typer too, for its
prompts): `verify` must start fast, and never loads eth-account (with py_ecc), Typer, or anything of the
issuer side unless a workspace is named (a test checks a fresh process).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from anchoring.chain import Chain
from anchoring.errors import InvalidInput
from anchoring.hashing import checksum_address, to_hex
from anchoring.multibase import decode_multikey
from anchoring.progress import Progress
from anchoring.receipt import Receipt
from verifier.checkpoints import load_checkpoints
from verifier.checks import Report, Verdict
from verifier.evidencecheck import block_of
from verifier.multichain import NodeGroups, OneSession, Route, Verifier
from verifier.service import ChainReader, Session
from verifier.trust import TrustList, load_trust_list, trusted

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from eth_account.signers.local import LocalAccount

    from anchoring.dataintegrity import OwnSignatures
    from issuer.anchorjob import AnchorJob
    from issuer.batch import BatchIssuer, SelfCheck
    from issuer.config import ChainConfig
    from issuer.receipts import ChunkCheck
    from issuer.revoke import Revoker
    from issuer.sign import WorkspaceSigner
    from issuer.store import Store
    from issuer.workspace import Workspace
    from verifier.batchcheck import BatchReader

ENV_RPC_URL = "CREDANCHOR_RPC_URL"
ENV_TRUST = "CREDANCHOR_TRUST"
ENV_WORKSPACE = "CREDANCHOR_WORKSPACE"  # issuer.workspace.ENV_WORKSPACE, without importing the issuer side


def workspace_or_none(option: Path | None) -> Workspace | None:
    """The workspace named by `--workspace` or CREDANCHOR_WORKSPACE, else none: verifying and auditing never
    look in the current folder, where anyone's credanchor.toml could add a trusted registry or pick the node."""
    named = option or (Path(os.environ[ENV_WORKSPACE]) if os.environ.get(ENV_WORKSPACE) else None)
    if named is None:
        return None
    from issuer.workspace import open_workspace

    return open_workspace(named)


def account(workspace: Workspace, keystore: Path | None = None, passphrase_file: Path | None = None) -> LocalAccount:
    """The workspace's key (or the keystore named), decrypted with the passphrase from the environment, the
    file named, the workspace's passphrase file (for its own key only), or a prompt."""
    from issuer.keys import load_account, resolve_passphrase

    path = keystore or workspace.keystore_path

    def prompt() -> str:
        if not sys.stdin.isatty():
            raise InvalidInput(f"no passphrase for {path} (set CREDANCHOR_KEY_PASSPHRASE or use a passphrase file)")
        import typer

        return str(typer.prompt(f"Passphrase for {path}", hide_input=True))

    default_file = workspace.passphrase_path if keystore is None else None
    return load_account(path, resolve_passphrase(passphrase_file or default_file, prompt))


def chain_key(workspace: Workspace, config: ChainConfig) -> tuple[Path | None, Path | None]:
    """(keystore, passphrase file) for `account` of one chain's anchoring key; (None, None): the workspace's."""
    if config.keystore is None and config.passphrase_file is None:
        return None, None
    return workspace.keystore_for(config), workspace.passphrase_for(config)


def issuer_chain(workspace: Workspace, rpc_url: str | None) -> Chain:
    from issuer.chainops import connect, registry_address

    registry_address(workspace)
    return connect(workspace, rpc_url)


def revokers(
    workspace: Workspace, store: Store, chain_ids: Sequence[int], rpc_url: str | None
) -> list[tuple[int, Callable[[], Revoker]]]:
    """A revoker per chain (connected when called; `rpc_url` replaces the home chain's node), home first."""
    from anchoring.sender import TxSender
    from issuer.revoke import Revoker

    def connector(chain_id: int) -> Callable[[], Revoker]:
        def connect_() -> Revoker:
            index, config = workspace.config.chain_by_id(chain_id)
            node = issuer_chain(workspace, rpc_url) if index == 0 else Chain(config.rpc_url, timeout=config.rpc_timeout)
            node.expect_chain_id(config.chain_id)
            if not config.registry:
                raise InvalidInput(f"chain {chain_id} has no registry configured")
            return Revoker(store, node, TxSender(node, account(workspace, *chain_key(workspace, config))), config)

        return connect_

    return [(chain_id, connector(chain_id)) for chain_id in chain_ids]


def own_trust(workspace: Workspace) -> TrustList:
    """A workspace trusts its own registries, one per configured chain."""
    config = workspace.config
    return TrustList(
        tuple(
            trusted(chain.chain_id, chain.registry, config.issuer.name, config.issuer.id)
            for chain in config.chains
            if chain.registry
        )
    )


def trust_list(workspace: Workspace | None, trust_file: Path | None) -> TrustList:
    """The verifier's trust list: the file given (or CREDANCHOR_TRUST), plus the workspace's own registry."""
    file = trust_file or (Path(os.environ[ENV_TRUST]) if os.environ.get(ENV_TRUST) else None)
    trust = load_trust_list(file) if file else TrustList()
    return trust.plus(*own_trust(workspace).entries) if workspace is not None else trust


def verifier_rpc(workspace: Workspace | None, rpc_url: str | None) -> str | None:
    if rpc_url:
        return rpc_url
    if workspace is not None:
        return workspace.config.chain.rpc_url
    return None


def normal_url(url: str) -> str:
    """An RPC URL as compared for sameness: scheme and host in lower case, default port and trailing slash
    dropped (two spellings of one node must not count as two votes)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:  # not a port number: compared as written
        return url.strip().lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    host = (parts.hostname or "").lower()
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, ""))


def verifier_rpcs(
    workspace: Workspace | None, rpc_urls: list[str] | None, *, offline: bool, checkpoints: Path | None
) -> list[str]:
    """The nodes `verify` may ask: those given, else the workspace's; none at all with --offline."""
    if offline:
        if rpc_urls:
            raise InvalidInput("--offline asks no node: drop --rpc-url, or drop --offline")
        if checkpoints is None:
            raise InvalidInput("--offline needs --checkpoints FILE: the block hashes you trust")
        return []
    if checkpoints is not None:
        raise InvalidInput("--checkpoints is for --offline verification")
    if rpc_urls:
        return rpc_urls
    return verifier_nodes(workspace) if workspace is not None else []


def verifier_nodes(workspace: Workspace) -> list[str]:
    """The nodes a workspace verifies with when none are named: one per chain it anchors on. `verify` groups
    them by the chain id each answers, so the order does not matter."""
    return list(dict.fromkeys(c.rpc_url for c in workspace.config.chains if c.rpc_url))


def reading_node(url: str, timeout: float = 10.0) -> Chain:
    """A node that verification only reads from: the plain JSON-RPC reader, which never imports web3 (so a
    `verify` process starts fast, and each request costs less; an offline one loads no HTTP client at all)."""
    from anchoring.rpcreader import RpcChain

    return RpcChain(url, timeout=timeout)


def verification_session(
    rpc_urls: str | list[str] | None,
    trust: TrustList,
    timeout: float = 10.0,
    *,
    require_signature: bool = False,
    min_confirmations: int = 1,
    quorum: int | None = None,
    checkpoints: Path | None = None,
    required: int | None = None,
) -> Verifier:
    """The verifier for the nodes named (none: offline with `checkpoints`, or no chain at all). One node checks
    every anchor it is the chain of; several are grouped by the chain id each answers, and several of one
    chain must agree (`quorum` of them, default all)."""
    urls = [rpc_urls] if isinstance(rpc_urls, str) else list(rpc_urls or [])
    if len({normal_url(u) for u in urls}) != len(urls):
        raise InvalidInput("the same --rpc-url is given twice: a node cannot outvote itself")
    if quorum is not None and len(urls) < 2:
        raise InvalidInput("--quorum needs at least two --rpc-url")
    if quorum is not None and not 1 <= quorum <= len(urls):
        raise InvalidInput(f"--quorum {quorum} needs 1 to {len(urls)} (the --rpc-url count)")
    single = urls[0] if len(urls) == 1 else None
    factory = (lambda: ChainReader(reading_node(single, timeout))) if single else None
    session = Session(
        factory,
        trust,
        datetime.now(UTC),
        require_signature=require_signature,
        min_confirmations=min_confirmations,
        checkpoints=load_checkpoints(checkpoints) if checkpoints else None,
    )
    route: Route = OneSession(session)
    if len(urls) > 1:
        route = NodeGroups(session, [reading_node(url, timeout) for url in urls], quorum)
    return Verifier(session, route, required)


def signing_key(workspace: Workspace) -> Ed25519PrivateKey:
    """The workspace's Ed25519 signing key, decrypted with its passphrase (environment, file, or prompt)."""
    from issuer.keys import resolve_passphrase
    from issuer.signing import ENV_SIGNING_PASSPHRASE, ENV_SIGNING_PASSPHRASE_FILE, load_signing_key

    path = workspace.signing_key_path

    def prompt() -> str:
        if not sys.stdin.isatty():
            raise InvalidInput(f"no passphrase for {path} (set {ENV_SIGNING_PASSPHRASE} or signing.passphrase_file)")
        import typer

        return str(typer.prompt(f"Passphrase for {path}", hide_input=True))

    passphrase = resolve_passphrase(
        workspace.signing_passphrase_path, prompt, env_names=(ENV_SIGNING_PASSPHRASE, ENV_SIGNING_PASSPHRASE_FILE)
    )
    return load_signing_key(path, passphrase)


def batch_issuer(
    workspace: Workspace,
    store: Store,
    rpc_url: str | None,
    progress: Progress,
    *,
    bake: str | None = None,
    pdf: bool | None = None,
    receipts: str | None = None,
) -> BatchIssuer:
    """The batch issuer with every adapter: the home chain's node and anchoring key, a connection made on
    first use to every additional chain, the signing key, and the verifier's self-check; `bake` ("png",
    "svg") also bakes each receipt into a badge image, `pdf` writes certificates (default: the config's
    `[earner] pdf`). `rpc_url` replaces the home chain's node only."""
    from anchoring.sender import TxSender
    from issuer.anchorjob import AnchorJob
    from issuer.batch import BatchIssuer
    from issuer.chainops import registry_address

    if workspace.config.additional_chains:
        # Several chains: the home chain's node is first asked when its anchor is made (checked then), so a
        # home chain that is down delays only its own anchor.
        registry_address(workspace)
        home = workspace.config.chain
        chain = Chain(rpc_url or home.rpc_url, timeout=home.rpc_timeout)
    else:
        chain = issuer_chain(workspace, rpc_url)
    accounts: dict[Path, LocalAccount] = {}

    def key_for(config: ChainConfig) -> LocalAccount:
        path = workspace.keystore_for(config)
        if path not in accounts:  # one passphrase prompt and one scrypt per key, however many chains use it
            accounts[path] = account(workspace, *chain_key(workspace, config))
        return accounts[path]

    def job(config: ChainConfig, node: Chain, home: bool) -> AnchorJob:
        sender_ = TxSender(node, key_for(config))
        return AnchorJob(config, node, sender_, store, progress, workspace.root, home=home)

    def connector(config: ChainConfig) -> Callable[[], AnchorJob]:
        def connect_() -> AnchorJob:
            node = Chain(config.rpc_url, timeout=config.rpc_timeout)
            node.expect_chain_id(config.chain_id)
            return job(config, node, home=False)

        return connect_

    others = {c.chain_id: connector(c) for c in workspace.config.additional_chains if c.registry}
    return BatchIssuer(
        workspace,
        store,
        job(workspace.config.chain, chain, home=True),
        self_check=self_check(workspace, progress),
        signer=batch_signer(workspace),
        progress=progress,
        bake=bake,
        pdf=workspace.config.earner.pdf if pdf is None else pdf,
        others=others,
        receipts=receipts or workspace.config.earner.receipts,
    )


def batch_signer(workspace: Workspace) -> WorkspaceSigner:
    """Signs new batches with the workspace's signing key, decrypted only when a batch is actually signed."""
    from issuer.sign import WorkspaceSigner
    from issuer.signing import signing_multikey

    config = workspace.config
    multikey = signing_multikey(workspace.signing_key_path)
    return WorkspaceSigner(config.issuer.id, multikey, config.signing.cryptosuite, lambda: signing_key(workspace))


ACCEPTED_BY_SELF_CHECK = frozenset({Verdict.VALID, Verdict.EXPIRED, Verdict.NOT_YET_VALID, Verdict.REVOKED})
"""A receipt written again (its batch got an anchor on one more chain) may have been revoked meanwhile: that
is the issuer's own decision, read from the chain, and the receipt is still well made."""


def self_check(workspace: Workspace, progress: Progress) -> SelfCheck:
    """Verify freshly written receipts exactly as a verifier would, trusting only this workspace's registries."""
    return WorkspaceSelfCheck(workspace, progress)


class WorkspaceSelfCheck:
    """The issuer's self-check (`issuer.batch.SelfCheck`), trusting only this workspace's registries.

    `chains` (given with each batch): each chain whose anchor the receipts carry and that can be asked now,
    with the workspace's registry there; each of those anchors must hold on its chain (one chain: as before).

    The batch root is read from each chain once; the receipts are checked on every core, each on every anchor
    (all must hold): read from their locations, or from their bytes as the workers make them. Receipts of
    back-dated or future-dated records are accepted as expired / not yet valid: the validity window is the
    record's business, not the anchor's.
    """

    def __init__(self, workspace: Workspace, progress: Progress) -> None:
        self.workspace = workspace
        self.progress = progress

    def __call__(
        self,
        locations: Sequence[str],
        root: str,
        chains: Sequence[tuple[Chain, str]],
        signatures: OwnSignatures | None = None,
    ) -> None:
        from anchoring.receiptfiles import read_receipt_at
        from issuer.receipts import check_failed
        from verifier.batchcheck import verify_batch

        # Nothing is asked of any node before receipts are written (a chain that is down at start-up must not
        # stop the issuer from being built); each chain is read here, once per batch.
        first = Receipt.from_json(read_receipt_at(locations[0]), source=locations[0]) if locations else None
        blocks: dict[int, int] = {}
        for proof in (first.evidence or ()) if first else ():
            number = block_of(proof)
            if number is not None:
                blocks.setdefault(proof.chain_id, number)
        failed = verify_batch(
            locations,
            self._readers(root, chains, blocks),
            self._trust(chains),
            datetime.now(UTC),
            on_done=self.progress.advance,
            passing=ACCEPTED_BY_SELF_CHECK,
            signatures=signatures,
        )
        if failed:
            raise check_failed(_failures(failed), len(locations))

    @contextmanager
    def checking(
        self,
        root: str,
        chains: Sequence[tuple[Chain, str]],
        signatures: OwnSignatures | None,
        blocks: Mapping[int, int],
    ) -> Iterator[ChunkCheck]:
        from verifier.batchcheck import checking

        readers = self._readers(root, chains, blocks)
        now = datetime.now(UTC)
        with checking(
            readers, self._trust(chains), now, passing=ACCEPTED_BY_SELF_CHECK, signatures=signatures
        ) as batch:

            def check(receipts: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
                return _failures(batch.check(receipts))

            yield check

    def _trust(self, chains: Sequence[tuple[Chain, str]]) -> TrustList:
        issuer = self.workspace.config.issuer
        return TrustList(tuple(trusted(c.chain_id, r, issuer.name, issuer.id) for c, r in chains))

    def _readers(
        self, root: str, chains: Sequence[tuple[Chain, str]], blocks: Mapping[int, int]
    ) -> dict[int, BatchReader]:
        from issuer.signing import signing_multikey

        own_key = to_hex(decode_multikey(signing_multikey(self.workspace.signing_key_path)))
        return {
            chain.chain_id: batch_reader(chain, registry, root, own_key, blocks.get(chain.chain_id))
            for chain, registry in chains
        }


def _failures(reports: Sequence[Report]) -> list[tuple[str, str]]:
    """(where, "verdict: reason") of each report, as the self-check's error names them."""
    return [(report.source, f"{report.verdict}: {report.reason}") for report in reports]


def batch_reader(chain: Chain, registry: str, root: str, own_key: str, block: int | None) -> BatchReader:
    """What one chain says of the batch's root, read once for every worker; with the hash of the block the
    batch's evidence on this chain rests on, if any."""
    from verifier.batchcheck import BatchReader

    registry = checksum_address(registry)
    head = chain.block_number()
    chain_reader = ChainReader(chain)
    view = chain_reader.root_view(registry, root, head)
    keys = {own_key: chain_reader.signing_key(registry, own_key, head)}
    hashes = {}
    hash_ = chain_reader.block_hash(block) if block is not None else None
    if block is not None and hash_ is not None:
        hashes[block] = hash_
    return BatchReader(chain.chain_id, head, registry, root, view, keys, hashes)
