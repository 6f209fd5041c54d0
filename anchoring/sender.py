"""Sending the issuer's transactions: sign locally, send raw, wait for enough confirmations.

Invariants: the private key stays in the `LocalAccount` (only signed bytes leave); fees come from the node
(EIP-1559 where the chain has a base fee); every transaction is estimated first, so a call the registry would
reject fails here with its decoded reason instead of burning gas.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound

from anchoring.chain import Chain, revert_reason
from anchoring.errors import ChainUnavailable, TransactionFailed
from anchoring.hashing import to_hex
from contracts import load_artifact, registry_abi

DEFAULT_PRIORITY_FEE = 1_000_000_000
GAS_MARGIN = 1.25


@dataclass(frozen=True)
class Fees:
    max_fee: int
    priority_fee: int
    legacy: bool = False

    def bumped(self, percent: int) -> "Fees":
        """Fees raised by `percent` (nodes replace a pending transaction only for at least 10% more)."""
        return Fees(self.max_fee * (100 + percent) // 100, self.priority_fee * (100 + percent) // 100, self.legacy)


@dataclass(frozen=True)
class SignedTx:
    tx_hash: str
    nonce: int
    fees: Fees
    gas: int
    raw: bytes = field(repr=False)


class NonceConflict(TransactionFailed):
    """The nonce was taken by another transaction of the same key (another process, or a replacement)."""


@dataclass(frozen=True)
class Mined:
    tx_hash: str
    block_number: int
    block_hash: str
    timestamp: int
    gas_used: int
    contract_address: str | None


class TxSender:
    def __init__(self, chain: Chain, account: LocalAccount) -> None:
        self.chain = chain
        self.account = account

    @property
    def address(self) -> str:
        return str(self.account.address)

    def fees(self) -> Fees:
        w3 = self.chain.w3
        latest = self.chain.block("latest")
        base = latest.get("baseFeePerGas")
        if base is None:
            return Fees(self.chain.ask("eth_gasPrice", lambda: int(w3.eth.gas_price)), 0, legacy=True)
        try:
            priority = self.chain.ask("eth_maxPriorityFeePerGas", lambda: int(w3.eth.max_priority_fee))
        except ChainUnavailable:
            priority = DEFAULT_PRIORITY_FEE
        return Fees(2 * int(base) + priority, priority)

    def pending_nonce(self) -> int:
        w3 = self.chain.w3
        return self.chain.ask(
            "eth_getTransactionCount", lambda: int(w3.eth.get_transaction_count(self.account.address, "pending"))
        )

    def confirmed_nonce(self) -> int:
        """The next nonce counting only mined transactions."""
        w3 = self.chain.w3
        return self.chain.ask(
            "eth_getTransactionCount", lambda: int(w3.eth.get_transaction_count(self.account.address, "latest"))
        )

    def estimate(self, call: ContractFunction | ContractConstructor) -> int:
        try:
            gas = self.chain.ask("eth_estimateGas", lambda: int(call.estimate_gas({"from": self.address})))
        except (ContractCustomError, ContractLogicError) as exc:
            raise revert_reason(exc) from None
        return int(gas * GAS_MARGIN)

    def sign(self, call: ContractFunction | ContractConstructor, *, nonce: int, fees: Fees, gas: int) -> SignedTx:
        tx: dict[str, Any] = {"from": self.address, "nonce": nonce, "gas": gas, "chainId": self.chain.chain_id}
        if fees.legacy:
            tx["gasPrice"] = fees.max_fee
        else:
            tx["maxFeePerGas"] = fees.max_fee
            tx["maxPriorityFeePerGas"] = fees.priority_fee
        built = self.chain.ask("build transaction", lambda: call.build_transaction(tx))  # type: ignore[arg-type]
        signed = self.account.sign_transaction(cast(dict[str, Any], built))
        return SignedTx(to_hex(bytes(signed.hash)), nonce, fees, gas, bytes(signed.raw_transaction))

    def broadcast(self, signed: SignedTx) -> None:
        """Hand the signed bytes to the node; sending the same bytes twice is harmless."""
        try:
            self.chain.ask("eth_sendRawTransaction", lambda: self.chain.w3.eth.send_raw_transaction(signed.raw))
        except ChainUnavailable as exc:
            if not exc.answered:
                raise  # lost connections, timeouts, 5xx, garbled answers: retried by the caller
            message = str(exc).lower()
            if "already known" in message or "known transaction" in message or "already imported" in message:
                return
            if "nonce too low" in message or "nonce has already been used" in message:
                raise NonceConflict(f"nonce {signed.nonce} was used by another transaction") from None
            if "replacement" in message and "underpriced" in message:
                raise NonceConflict(f"another pending transaction holds nonce {signed.nonce}") from None
            raise TransactionFailed(f"node refused the transaction: {exc}") from None

    def send(self, call: ContractFunction | ContractConstructor) -> SignedTx:
        """Estimate, sign with the next nonce and current fees, broadcast."""
        gas = self.estimate(call)
        signed = self.sign(call, nonce=self.pending_nonce(), fees=self.fees(), gas=gas)
        self.broadcast(signed)
        return signed

    def receipt(self, tx_hash: str) -> Mined | None:
        """The transaction's receipt, or None while it is not mined."""
        w3 = self.chain.w3

        def fetch() -> Any:
            try:
                return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None

        found = self.chain.ask("eth_getTransactionReceipt", fetch)
        if found is None:
            return None
        if found["status"] != 1:
            raise TransactionFailed(f"transaction {tx_hash} reverted in block {found['blockNumber']}")
        block = self.chain.block(int(found["blockNumber"]))
        address = found.get("contractAddress")
        return Mined(
            tx_hash=tx_hash,
            block_number=int(found["blockNumber"]),
            block_hash=to_hex(bytes(found["blockHash"])),
            timestamp=int(block["timestamp"]),
            gas_used=int(found["gasUsed"]),
            contract_address=str(address) if address else None,
        )

    def wait_mined(self, tx_hash: str, *, timeout: float, poll: float = 0.2) -> Mined:
        deadline = time.monotonic() + timeout
        while True:
            mined = self.receipt(tx_hash)
            if mined is not None:
                return mined
            if time.monotonic() > deadline:
                raise TransactionFailed(f"transaction {tx_hash} not mined within {timeout:.0f} s")
            time.sleep(poll)

    def deploy_registry(
        self, *, admin_delay: int, issuer_id: str, signing_keys: Sequence[bytes] = (), timeout: float = 120.0
    ) -> Mined:
        """Deploy a CredentialRegistry bound to `issuer_id` and `signing_keys`, this key holding every role."""
        artifact = load_artifact()
        factory = self.chain.w3.eth.contract(abi=registry_abi(), bytecode=artifact["bytecode"])
        me = self.address
        sent = self.send(factory.constructor(admin_delay, me, me, me, me, issuer_id, list(signing_keys)))
        return self.wait_mined(sent.tx_hash, timeout=timeout)


def wait_for_depth(
    chain: Chain,
    block_number: int,
    confirmations: int,
    *,
    timeout: float,
    poll: float = 0.5,
    on_wait: Callable[[int], None] | None = None,
) -> int:
    """Block until `block_number` has `confirmations` blocks on top of it counting itself; the head seen."""
    deadline = time.monotonic() + timeout
    while True:
        head = chain.block_number()
        if head - block_number + 1 >= confirmations:
            return head
        if on_wait is not None:
            on_wait(head - block_number + 1)
        if time.monotonic() > deadline:
            raise TransactionFailed(
                f"block {block_number} has {head - block_number + 1} of {confirmations} confirmations "
                f"after {timeout:.0f} s"
            )
        time.sleep(poll)
