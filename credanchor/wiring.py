"""Building the adapters a command needs (workspace, store, node, key, trust list) from options and config.

This is the only place where the issuer side and the verifier side meet: the issuer's self-check is the
verifier's own service, handed to the batch issuer as a function.
"""

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import typer

from anchoring.chain import Chain
from anchoring.errors import InvalidInput, VerificationFailed
from anchoring.progress import Progress
from verifier.checkpoints import load_checkpoints
from verifier.quorum import Quorum
from verifier.service import ChainReader, Session
from verifier.trust import TrustList, load_trust_list, trusted

# What only issuing, key handling or the self-check needs is imported where it is used: `verify` must start
# fast, and never loads eth-account (with py_ecc) or the issuer's key handling.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from eth_account.signers.local import LocalAccount

    from anchoring.sender import TxSender
    from issuer.batch import BatchIssuer, SelfCheck
    from issuer.sign import WorkspaceSigner
    from issuer.store import Store
    from issuer.workspace import Workspace

ENV_RPC_URL = "CREDANCHOR_RPC_URL"
ENV_TRUST = "CREDANCHOR_TRUST"
ENV_WORKSPACE = "CREDANCHOR_WORKSPACE"  # issuer.workspace.ENV_WORKSPACE, without importing the issuer side


def workspace_or_none(option: Path | None) -> "Workspace | None":
    """The workspace named by `--workspace` or CREDANCHOR_WORKSPACE, else none: verifying and auditing never
    look in the current folder, where anyone's credanchor.toml could add a trusted registry or pick the node."""
    named = option or (Path(os.environ[ENV_WORKSPACE]) if os.environ.get(ENV_WORKSPACE) else None)
    if named is None:
        return None
    from issuer.workspace import open_workspace

    return open_workspace(named)


def account(
    workspace: "Workspace", keystore: Path | None = None, passphrase_file: Path | None = None
) -> "LocalAccount":
    """The workspace's key (or the keystore named), decrypted with the passphrase from the environment, the
    file named, the workspace's passphrase file (for its own key only), or a prompt."""
    from issuer.keys import load_account, resolve_passphrase

    path = keystore or workspace.keystore_path

    def prompt() -> str:
        if not sys.stdin.isatty():
            raise InvalidInput(f"no passphrase for {path} (set CREDANCHOR_KEY_PASSPHRASE or use a passphrase file)")
        return str(typer.prompt(f"Passphrase for {path}", hide_input=True))

    default_file = workspace.passphrase_path if keystore is None else None
    return load_account(path, resolve_passphrase(passphrase_file or default_file, prompt))


def issuer_chain(workspace: "Workspace", rpc_url: str | None) -> Chain:
    from issuer.chainops import connect, registry_address

    registry_address(workspace)
    return connect(workspace, rpc_url)


def sender(workspace: "Workspace", chain: Chain) -> "TxSender":
    from anchoring.sender import TxSender

    return TxSender(chain, account(workspace))


def own_trust(workspace: "Workspace") -> TrustList:
    """A workspace trusts its own registry."""
    config = workspace.config
    if not config.chain.registry:
        return TrustList()
    return TrustList((trusted(config.chain.chain_id, config.chain.registry, config.issuer.name, config.issuer.id),))


def trust_list(workspace: "Workspace | None", trust_file: Path | None) -> TrustList:
    """The verifier's trust list: the file given (or CREDANCHOR_TRUST), plus the workspace's own registry."""
    file = trust_file or (Path(os.environ[ENV_TRUST]) if os.environ.get(ENV_TRUST) else None)
    trust = load_trust_list(file) if file else TrustList()
    return trust.plus(*own_trust(workspace).entries) if workspace is not None else trust


def verifier_rpc(workspace: "Workspace | None", rpc_url: str | None) -> str | None:
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
    workspace: "Workspace | None", rpc_urls: list[str] | None, *, offline: bool, checkpoints: Path | None
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
    url = verifier_rpc(workspace, None)
    return [url] if url else []


def verification_session(
    rpc_urls: str | list[str] | None,
    trust: TrustList,
    timeout: float = 10.0,
    *,
    require_signature: bool = False,
    min_confirmations: int = 1,
    quorum: int | None = None,
    checkpoints: Path | None = None,
) -> Session:
    urls = [rpc_urls] if isinstance(rpc_urls, str) else list(rpc_urls or [])
    if len({normal_url(u) for u in urls}) != len(urls):
        raise InvalidInput("the same --rpc-url is given twice: a node cannot outvote itself")
    if quorum is not None and len(urls) < 2:
        raise InvalidInput("--quorum needs at least two --rpc-url")
    several = None
    if len(urls) > 1:
        several = Quorum([Chain(url, timeout=timeout) for url in urls], quorum or len(urls))
    single = urls[0] if len(urls) == 1 else None
    factory = (lambda: ChainReader(Chain(single, timeout=timeout))) if single else None
    return Session(
        factory,
        trust,
        datetime.now(UTC),
        require_signature=require_signature,
        min_confirmations=min_confirmations,
        checkpoints=load_checkpoints(checkpoints) if checkpoints else None,
        quorum=several,
    )


def signing_key(workspace: "Workspace") -> "Ed25519PrivateKey":
    """The workspace's Ed25519 signing key, decrypted with its passphrase (environment, file, or prompt)."""
    from issuer.keys import resolve_passphrase
    from issuer.signing import ENV_SIGNING_PASSPHRASE, ENV_SIGNING_PASSPHRASE_FILE, load_signing_key

    path = workspace.signing_key_path

    def prompt() -> str:
        if not sys.stdin.isatty():
            raise InvalidInput(f"no passphrase for {path} (set {ENV_SIGNING_PASSPHRASE} or signing.passphrase_file)")
        return str(typer.prompt(f"Passphrase for {path}", hide_input=True))

    passphrase = resolve_passphrase(
        workspace.signing_passphrase_path, prompt, env_names=(ENV_SIGNING_PASSPHRASE, ENV_SIGNING_PASSPHRASE_FILE)
    )
    return load_signing_key(path, passphrase)


def batch_issuer(
    workspace: "Workspace",
    store: "Store",
    rpc_url: str | None,
    progress: Progress,
    *,
    bake: str | None = None,
    pdf: bool | None = None,
) -> "BatchIssuer":
    """The batch issuer with every adapter: node, anchoring key, signing key, and the verifier's self-check;
    `bake` ("png", "svg") also bakes each receipt into a badge image, `pdf` writes certificates (default:
    the config's `[earner] pdf`)."""
    from issuer.batch import BatchIssuer

    chain = issuer_chain(workspace, rpc_url)
    return BatchIssuer(
        workspace,
        store,
        chain,
        sender(workspace, chain),
        self_check=self_check(workspace, chain, progress),
        signer=batch_signer(workspace),
        progress=progress,
        bake=bake,
        pdf=workspace.config.earner.pdf if pdf is None else pdf,
    )


def batch_signer(workspace: "Workspace") -> "WorkspaceSigner":
    """Signs new batches with the workspace's signing key, decrypted only when a batch is actually signed."""
    from issuer.sign import WorkspaceSigner
    from issuer.signing import signing_multikey

    config = workspace.config
    multikey = signing_multikey(workspace.signing_key_path)
    return WorkspaceSigner(config.issuer.id, multikey, config.signing.cryptosuite, lambda: signing_key(workspace))


def self_check(workspace: "Workspace", chain: Chain, progress: Progress) -> "SelfCheck":
    """Verify freshly written receipts exactly as a verifier would, trusting only this workspace's registry.

    The batch root is read from the chain once; the files are checked on every core. Receipts of back-dated
    or future-dated records are accepted as expired / not yet valid: the validity window is the record's
    business, not the anchor's.
    """
    from anchoring.hashing import checksum_address, to_hex
    from anchoring.multibase import decode_multikey
    from anchoring.receipt import Receipt
    from issuer.signing import signing_multikey
    from verifier.checks import Verdict
    from verifier.evidencecheck import block_of
    from verifier.service import BatchReader, verify_batch

    accepted = {Verdict.VALID, Verdict.EXPIRED, Verdict.NOT_YET_VALID}

    def check(paths: Sequence[Path], root: str) -> None:
        registry = checksum_address(workspace.config.chain.registry)
        head = chain.block_number()
        chain_reader = ChainReader(chain)
        view = chain_reader.root_view(registry, root, head)
        own_key = to_hex(decode_multikey(signing_multikey(workspace.signing_key_path)))
        keys = {own_key: chain_reader.signing_key(registry, own_key, head)}
        hashes = {}
        evidence = Receipt.from_json(paths[0].read_bytes(), source=str(paths[0])).evidence if paths else None
        for proof in evidence or ():
            number = block_of(proof)
            hash_ = chain_reader.block_hash(number) if number is not None else None
            if number is not None and hash_ is not None:
                hashes[number] = hash_
        reader = BatchReader(chain.chain_id, head, registry, root, view, keys, hashes)
        reports = verify_batch(
            paths,
            reader,
            own_trust(workspace),
            datetime.now(UTC),
            on_done=progress.advance,
        )
        failed = [r for r in reports if r.verdict not in accepted]
        if failed:
            first = failed[0]
            raise VerificationFailed(
                f"self-check failed for {len(failed)} of {len(paths)} receipts; first: {first.source}: "
                f"{first.verdict}: {first.reason}"
            )

    return check
