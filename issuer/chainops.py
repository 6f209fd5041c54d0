"""The issuer's chain: the embedded local Anvil node, deploying the registry, funding the local key.

Invariants: the node's URL and the registry's address are recorded in the workspace config as soon as they
are known; every connection checks the chain id against the config; funding from Anvil's unlocked dev
account happens only on the local node (chain id 31337 started by `chain up`).
"""

from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from anchoring.chain import Chain
from anchoring.errors import ChainMismatch, InvalidInput
from anchoring.localnode import LocalNode, NodeInfo
from anchoring.multibase import decode_multikey
from anchoring.sender import TxSender
from issuer.config import ChainConfig, add_chain_entry, load_config
from issuer.keys import keystore_address
from issuer.signing import signing_multikey
from issuer.workspace import Workspace

LOCAL_FUNDING = 100 * 10**18
LOW_BALANCE = 10 * 10**18


@dataclass(frozen=True)
class ChainUp:
    workspace: Workspace
    node: NodeInfo
    registry: str
    deployed: bool
    issuer: str
    warning: str | None = None
    chain_id: int = 31337


def local_node(workspace: Workspace, chain: ChainConfig | None = None) -> LocalNode:
    """The local Anvil node of the home chain, or of the additional chain given."""
    return LocalNode(workspace.local_chain_dir(chain or workspace.config.chain))


def connect(workspace: Workspace, rpc_url: str | None = None, index: int = 0) -> Chain:
    """A node for this workspace's chain `index` (0: the home chain), its chain id checked against the config."""
    config = workspace.config.chains[index]
    chain = Chain(rpc_url or config.rpc_url, timeout=config.rpc_timeout)
    chain.expect_chain_id(config.chain_id)
    return chain


def registry_address(workspace: Workspace) -> str:
    address = workspace.config.chain.registry
    if not address:
        raise InvalidInput("no registry configured: run `credanchor chain up` (local) or `credanchor deploy`")
    return address


def chain_up(workspace: Workspace, port: int | None, account: Callable[[ChainConfig], LocalAccount]) -> list[ChainUp]:
    """Start (or find) the local node of the home chain and of every additional chain on this machine, fund
    the anchoring keys, deploy the registries on first start."""
    started = []
    for index, config in enumerate(workspace.config.chains):
        if index > 0 and not config.is_local:
            continue
        result = _one_up(workspace, index, port if index == 0 else None, account)
        workspace = result.workspace
        started.append(result)
    return started


def _one_up(
    workspace: Workspace, index: int, port: int | None, account: Callable[[ChainConfig], LocalAccount]
) -> ChainUp:
    config = workspace.config.chains[index]
    node = local_node(workspace, config).start(port or config.local_port, chain_id=config.chain_id)
    if config.rpc_url != node.url:
        workspace = workspace.set("chain", "rpc_url", node.url, index).set("chain", "local_port", node.port, index)
    chain = connect(workspace, index=index)
    config = workspace.config.chains[index]
    issuer = keystore_address(workspace.keystore_for(config))
    fund_locally(chain, issuer)
    registry = config.registry
    warning = None
    if registry and chain.has_code(registry):
        return ChainUp(workspace, node, registry, False, issuer, chain_id=config.chain_id)
    if registry:
        warning = (
            f"registry {registry} from the config has no code on the local chain (was its state.json removed?); "
            "deploying a new one: receipts anchored in the old one no longer verify here"
        )
    workspace, registry = deploy(workspace, chain, account(config), index)
    return ChainUp(workspace, node, registry, True, issuer, warning, config.chain_id)


def fund_locally(chain: Chain, address: str) -> None:
    """Top up `address` from the first of Anvil's (or Hardhat's) unlocked dev accounts that can afford it."""
    w3 = chain.w3

    def balance_of(account: str) -> int:
        return chain.ask("eth_getBalance", lambda: int(w3.eth.get_balance(account)))  # type: ignore[arg-type]

    if balance_of(address) >= LOW_BALANCE:
        return
    dev_accounts = chain.ask("eth_accounts", lambda: list(w3.eth.accounts))
    source = next((a for a in dev_accounts if balance_of(a) > 2 * LOCAL_FUNDING), None)
    if source is None:
        raise ChainMismatch("the local node has no unlocked dev account with funds for the issuer key")
    tx = {"from": source, "to": address, "value": LOCAL_FUNDING}
    tx_hash = chain.ask("eth_sendTransaction", lambda: w3.eth.send_transaction(tx))  # type: ignore[arg-type]
    chain.ask("funding receipt", lambda: w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))


def deploy(workspace: Workspace, chain: Chain, account: LocalAccount, index: int = 0) -> tuple[Workspace, str]:
    """Deploy this issuer's CredentialRegistry on chain `index` with `account` holding every role; record its
    address.

    The registry is bound to the configured issuer id and the workspace's signing key from its first block.
    """
    config = workspace.config.chains[index]
    signing_key = decode_multikey(signing_multikey(workspace.signing_key_path))
    mined = TxSender(chain, account).deploy_registry(
        admin_delay=config.admin_delay,
        issuer_id=workspace.config.issuer.id,
        signing_keys=[signing_key],
        timeout=config.tx_timeout,
    )
    if mined.contract_address is None:
        raise ChainMismatch(f"deployment tx {mined.tx_hash} created no contract")
    workspace = workspace.set("chain", "registry", mined.contract_address, index)
    return workspace, mined.contract_address


def chain_down(workspace: Workspace) -> list[int]:
    """Stop every local node of the workspace; the chain ids of those that were running."""
    stopped = []
    for index, config in enumerate(workspace.config.chains):
        if (index == 0 or config.is_local) and local_node(workspace, config).stop():
            stopped.append(config.chain_id)
    return stopped


def add_chain(
    workspace: Workspace, chain_id: int, rpc_url: str | None, port: int | None, keystore: str | None
) -> Workspace:
    """Add a `[[chain]]` entry: a node elsewhere (`rpc_url`) or a local Anvil node `chain up` starts (`port`)."""
    if rpc_url is not None and port is not None:
        raise InvalidInput("--rpc-url names a node elsewhere, --port a local one: give one of them")
    if keystore is not None and not (workspace.root / keystore).is_file():
        raise InvalidInput(f"--keystore {keystore}: no such file in the workspace")
    used = {c.local_port for c in workspace.config.chains}
    local_port = port or next(p for p in range(8546, 65536) if p not in used)
    entry: dict[str, str | int | float | bool] = {
        "rpc_url": rpc_url or f"http://127.0.0.1:{local_port}",
        "chain_id": chain_id,
        "local_port": local_port,
    }
    if keystore is not None:
        entry["keystore"] = keystore
    add_chain_entry(workspace.config_path, entry)
    return Workspace(workspace.root, load_config(workspace.config_path))
