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


def local_node(workspace: Workspace) -> LocalNode:
    return LocalNode(workspace.chain_dir)


def connect(workspace: Workspace, rpc_url: str | None = None) -> Chain:
    """A node for this workspace, its chain id checked against the config."""
    config = workspace.config.chain
    chain = Chain(rpc_url or config.rpc_url, timeout=config.rpc_timeout)
    chain.expect_chain_id(config.chain_id)
    return chain


def registry_address(workspace: Workspace) -> str:
    address = workspace.config.chain.registry
    if not address:
        raise InvalidInput("no registry configured: run `credanchor chain up` (local) or `credanchor deploy`")
    return address


def chain_up(workspace: Workspace, port: int | None, account: Callable[[], LocalAccount]) -> ChainUp:
    """Start (or find) the local node, fund the issuer key, deploy the registry on first start."""
    node = local_node(workspace).start(port or workspace.config.chain.local_port)
    if workspace.config.chain.rpc_url != node.url:
        workspace = workspace.set("chain", "rpc_url", node.url).set("chain", "local_port", node.port)
    chain = connect(workspace)
    issuer = keystore_address(workspace.keystore_path)
    fund_locally(chain, issuer)
    registry = workspace.config.chain.registry
    warning = None
    if registry and chain.has_code(registry):
        return ChainUp(workspace, node, registry, False, issuer)
    if registry:
        warning = (
            f"registry {registry} from the config has no code on the local chain (was chain/state.json removed?); "
            "deploying a new one: receipts anchored in the old one no longer verify here"
        )
    workspace, registry = deploy(workspace, chain, account())
    return ChainUp(workspace, node, registry, True, issuer, warning)


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


def deploy(workspace: Workspace, chain: Chain, account: LocalAccount) -> tuple[Workspace, str]:
    """Deploy this issuer's CredentialRegistry with `account` holding every role; record its address.

    The registry is bound to the configured issuer id and the workspace's signing key from its first block.
    """
    config = workspace.config.chain
    signing_key = decode_multikey(signing_multikey(workspace.signing_key_path))
    mined = TxSender(chain, account).deploy_registry(
        admin_delay=config.admin_delay,
        issuer_id=workspace.config.issuer.id,
        signing_keys=[signing_key],
        timeout=config.tx_timeout,
    )
    if mined.contract_address is None:
        raise ChainMismatch(f"deployment tx {mined.tx_hash} created no contract")
    workspace = workspace.set("chain", "registry", mined.contract_address)
    return workspace, mined.contract_address


def chain_down(workspace: Workspace) -> bool:
    return local_node(workspace).stop()
