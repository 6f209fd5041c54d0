"""Reading a registry on any EVM node: the I/O edge behind which the verifier and the auditor sit.

Invariants: every call that leaves the process goes through `Chain.ask`, which turns a node that does not
answer (refused, timed out, garbage) into `ChainUnavailable`; the chain id is read once and always compared
with what the caller expects; the node URL comes from the caller, never from a document being verified.
Hashes cross this boundary as lowercase 0x-hex strings, addresses as EIP-55 strings.

web3 (and requests, eth-abi) are imported when a node is first asked, not with this module: a command that
asks no node (an offline `verify`) never pays their import time.
"""

from collections.abc import Callable, Iterator
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from anchoring.errors import ChainMismatch, ChainUnavailable, CredanchorError, NotARegistry, TransactionFailed
from anchoring.hashing import checksum_address, keccak256, to_hex
from anchoring.onchain import OnChainAnchor, RegistryEvent, SigningKeyStatus
from contracts import registry_abi

if TYPE_CHECKING:
    from web3 import Web3
    from web3.contract import Contract
    from web3.exceptions import Web3RPCError

ANCHOR_ROLE: Final = to_hex(keccak256(b"ANCHOR_ROLE"))
REVOKE_ROLE: Final = to_hex(keccak256(b"REVOKE_ROLE"))
KEY_ADMIN_ROLE: Final = to_hex(keccak256(b"KEY_ADMIN_ROLE"))
DEFAULT_ADMIN_ROLE: Final = "0x" + "00" * 32
ROLE_NAMES: Final = {
    ANCHOR_ROLE: "anchor",
    REVOKE_ROLE: "revoke",
    KEY_ADMIN_ROLE: "key-admin",
    DEFAULT_ADMIN_ROLE: "admin",
}
MAX_ISSUER_ID = 2048
LOG_CHUNK = 50_000
BlockId = int | Literal["latest", "earliest", "pending", "safe", "finalized"]
T = TypeVar("T")


def redact_url(url: str) -> str:
    """An RPC URL fit for messages: API keys often ride in the path or query, so those are cut."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}" if rest else url


class Chain:
    """One node, by RPC URL."""

    def __init__(self, rpc_url: str, *, timeout: float = 10.0) -> None:
        self.url = rpc_url
        self.timeout = timeout

    @cached_property
    def w3(self) -> "Web3":
        from web3 import HTTPProvider, Web3
        from web3.middleware import ExtraDataToPOAMiddleware

        provider = HTTPProvider(self.url, request_kwargs={"timeout": self.timeout}, exception_retry_configuration=None)
        w3 = Web3(provider)
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        return w3

    def ask(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except CredanchorError:
            raise  # already the project's own (a reader that maps its errors itself)
        except Exception as exc:
            mapped = self.unavailable(what, exc)
            if mapped is None:
                raise
            raise mapped from None

    def unavailable(self, what: str, exc: Exception) -> ChainUnavailable | None:
        """The `ChainUnavailable` for a failed call through web3, or None for an error that is not the node's
        (the contract's answer, or a bug): requests and web3 are imported only once a call has failed."""
        import requests
        from web3.exceptions import (
            BadFunctionCallOutput,
            ContractCustomError,
            ContractLogicError,
            Web3Exception,
            Web3RPCError,
        )

        where = redact_url(self.url)
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return ChainUnavailable(f"node at {where} did not answer ({what}): {_reason(exc)}")
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            # requests' own text names the whole URL (a provider's key in its path): the status only.
            status = exc.response.status_code
            return ChainUnavailable(f"node at {where} failed ({what}): HTTP {status} {exc.response.reason}")
        if isinstance(exc, requests.RequestException):
            return ChainUnavailable(f"node at {where} failed ({what}): {type(exc).__name__}")
        if isinstance(exc, ContractCustomError | ContractLogicError | BadFunctionCallOutput):
            return None  # the contract's answer, not the node's: callers decide what it means
        if isinstance(exc, Web3RPCError):
            return ChainUnavailable(f"node at {where} refused {what}: {_rpc_message(exc)}", answered=True)
        if isinstance(exc, ValueError | Web3Exception):
            return ChainUnavailable(f"node at {where} gave a bad answer ({what}): {exc}")
        return None

    @cached_property
    def chain_id(self) -> int:
        return self.ask("eth_chainId", lambda: int(self.w3.eth.chain_id))

    def expect_chain_id(self, expected: int) -> None:
        actual = self.chain_id
        if actual != expected:
            raise ChainMismatch(f"node at {redact_url(self.url)} is chain {actual}, expected chain {expected}")

    def block_number(self) -> int:
        return self.ask("eth_blockNumber", lambda: int(self.w3.eth.block_number))

    def block(self, number: BlockId) -> dict[str, Any]:
        return self.ask(f"block {number!r}", lambda: dict(self.w3.eth.get_block(number)))

    def has_code(self, address: str, block: BlockId = "latest") -> bool:
        code = self.ask("eth_getCode", lambda: self.w3.eth.get_code(checksum_address(address), block))  # type: ignore[arg-type]
        return len(code) > 0

    def registry(self, address: str) -> "Registry":
        return Registry(self, address)


class Registry:
    """Read side of one deployed CredentialRegistry."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = checksum_address(address)

    @cached_property
    def contract(self) -> "Contract":
        contract: Contract = self.chain.w3.eth.contract(address=self.address, abi=registry_abi())  # type: ignore[call-overload]
        return contract

    def _read(self, what: str, call: Callable[[], T]) -> T:
        """A view call; a revert or an undecodable answer means the contract is not a CredentialRegistry."""
        from eth_abi.exceptions import DecodingError
        from web3.exceptions import BadFunctionCallOutput, ContractCustomError, ContractLogicError

        try:
            return self.chain.ask(what, call)
        except (ContractCustomError, ContractLogicError, BadFunctionCallOutput, DecodingError, OverflowError) as exc:
            raise NotARegistry(
                f"contract at {self.address} does not answer {what} as a CredentialRegistry ({type(exc).__name__})"
            ) from None

    def require_code(self, block: BlockId = "latest") -> None:
        if not self.chain.has_code(self.address, block):
            raise ChainMismatch(f"no contract at {self.address} on chain {self.chain.chain_id}")

    def anchor_of(self, root: str, block: BlockId = "latest") -> OnChainAnchor | None:
        fn = self.contract.functions.anchorOf(bytes.fromhex(root[2:]))
        number, timestamp, revoked_block, revoked_timestamp, count = self._read(
            "anchorOf", lambda: fn.call(block_identifier=block)
        )
        if number == 0:
            return None
        return OnChainAnchor(root, number, timestamp, count, revoked_block, revoked_timestamp)

    def revocation_block(self, root: str, leaf: str, block: BlockId = "latest") -> int:
        """The block the credential with `leaf` was revoked in on its own; 0 when it was not."""
        fn = self.contract.functions.revocationOf(bytes.fromhex(root[2:]), bytes.fromhex(leaf[2:]))
        number, _timestamp = self._read("revocationOf", lambda: fn.call(block_identifier=block))
        return int(number)

    def is_revoked(self, root: str, leaf: str, block: BlockId = "latest") -> bool:
        fn = self.contract.functions.isRevoked(bytes.fromhex(root[2:]), bytes.fromhex(leaf[2:]))
        return bool(self._read("isRevoked", lambda: fn.call(block_identifier=block)))

    def is_valid_on_chain(self, root: str, digest: str, proof: list[str], block: BlockId = "latest") -> bool:
        fn = self.contract.functions.isValid(
            bytes.fromhex(root[2:]), bytes.fromhex(digest[2:]), [bytes.fromhex(p[2:]) for p in proof]
        )
        return bool(self._read("isValid", lambda: fn.call(block_identifier=block)))

    def has_role(self, role: str, account: str, block: BlockId = "latest") -> bool:
        fn = self.contract.functions.hasRole(bytes.fromhex(role[2:]), checksum_address(account))
        return bool(self._read("hasRole", lambda: fn.call(block_identifier=block)))

    def issuer_id(self, block: BlockId = "latest") -> str | None:
        """The issuer id the registry is bound to; None for a registry from before issuer binding."""
        from eth_abi.exceptions import DecodingError
        from web3.exceptions import BadFunctionCallOutput, ContractCustomError, ContractLogicError

        fn = self.contract.functions.issuerId()
        try:
            value = self.chain.ask("issuerId", lambda: fn.call(block_identifier=block))
        except (ContractCustomError, ContractLogicError, BadFunctionCallOutput, DecodingError, OverflowError):
            return None
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ISSUER_ID:
            raise NotARegistry(f"contract at {self.address} answers issuerId with no usable issuer id")
        return value

    def signing_key(self, public_key: str, block: BlockId = "latest") -> SigningKeyStatus:
        fn = self.contract.functions.signingKey(bytes.fromhex(public_key[2:]))
        added, revoked = self._read("signingKey", lambda: fn.call(block_identifier=block))
        return SigningKeyStatus(public_key, int(added), int(revoked))

    def key_revocation(self, public_key: str, block: int) -> RegistryEvent | None:
        topic = _event_topic(_event_abi("SigningKeyRevoked"))
        return next(iter(self.events(block, block, topics=[topic, public_key])), None)

    def deployment_block(self) -> int:
        fn = self.contract.functions.deploymentBlock()
        return int(self._read("deploymentBlock", fn.call))

    def events(
        self, from_block: int, to_block: int, *, topics: list[str | None] | None = None, chunk: int = LOG_CHUNK
    ) -> Iterator[RegistryEvent]:
        """Every log of the registry in [from_block, to_block], decoded, in chain order, `chunk` blocks a call."""
        from eth_abi.exceptions import DecodingError
        from web3.exceptions import LogTopicError, MismatchedABI

        decoders = _event_decoders()
        start = from_block
        while start <= to_block:
            end = min(to_block, start + chunk - 1)
            query: dict[str, Any] = {"address": self.address, "fromBlock": start, "toBlock": end}
            if topics:
                query["topics"] = topics
            logs = self.chain.ask("eth_getLogs", lambda q=query: self.chain.w3.eth.get_logs(q))  # type: ignore[misc]
            for log in logs:
                abi = decoders.get(to_hex(bytes(log["topics"][0]))) if log["topics"] else None
                if abi is None:
                    continue
                try:
                    decoded = getattr(self.contract.events, abi["name"])().process_log(log)
                except (MismatchedABI, LogTopicError, DecodingError, ValueError) as exc:
                    raise NotARegistry(
                        f"contract at {self.address} emits a malformed {abi['name']} event ({type(exc).__name__})"
                    ) from None
                yield RegistryEvent(
                    name=abi["name"],
                    block_number=int(log["blockNumber"]),
                    block_hash=to_hex(bytes(log["blockHash"])),
                    tx_hash=to_hex(bytes(log["transactionHash"])),
                    log_index=int(log["logIndex"]),
                    args={k: _plain(v) for k, v in decoded["args"].items()},
                )
            start = end + 1

    def anchored_events(self, root: str, from_block: int, to_block: int) -> list[RegistryEvent]:
        topic = _event_topic(_event_abi("Anchored"))
        return list(self.events(from_block, to_block, topics=[topic, root]))

    def batch_revocations(self, root: str, from_block: int, to_block: int) -> list[RegistryEvent]:
        topic = _event_topic(_event_abi("BatchRevoked"))
        return list(self.events(from_block, to_block, topics=[topic, root]))

    def revoked_leaves(self, root: str, from_block: int, to_block: int) -> dict[str, RegistryEvent]:
        """Leaf -> its CredentialRevoked event, for the credentials of `root` revoked one by one."""
        topic = _event_topic(_event_abi("CredentialRevoked"))
        return {e.args["leaf"]: e for e in self.events(from_block, to_block, topics=[topic, root])}


def _event_abi(name: str) -> dict[str, Any]:
    return next(e for e in registry_abi() if e["type"] == "event" and e["name"] == name)


def _event_topic(abi: dict[str, Any]) -> str:
    signature = f"{abi['name']}({','.join(i['type'] for i in abi['inputs'])})"
    return to_hex(keccak256(signature.encode()))


@cache
def _event_decoders() -> dict[str, dict[str, Any]]:
    """topic0 -> event ABI, for every event of the registry (computed once)."""
    return {_event_topic(e): e for e in registry_abi() if e["type"] == "event"}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return checksum_address(value)
    return value


def _reason(exc: Exception) -> str:
    import requests

    return "timed out" if isinstance(exc, requests.Timeout) else "connection refused or lost"


def _rpc_message(exc: "Web3RPCError") -> str:
    error = exc.rpc_response.get("error") if exc.rpc_response else None
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    return str(exc)


@cache
def _error_selectors() -> dict[bytes, dict[str, Any]]:
    selectors = {}
    for item in registry_abi():
        if item["type"] == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            selectors[keccak256(signature.encode())[:4]] = item
    return selectors


def explain_revert(data: str | bytes | None) -> str:
    """A registry custom error as `Name(arg=value, ...)`, with role hashes named."""
    from eth_abi.abi import decode as abi_decode

    raw = bytes.fromhex(data[2:]) if isinstance(data, str) else (data or b"")
    item = _error_selectors().get(raw[:4])
    if item is None:
        return f"reverted ({to_hex(raw) if raw else 'no reason given'})"
    values = abi_decode([i["type"] for i in item["inputs"]], raw[4:])
    shown = []
    for spec, value in zip(item["inputs"], values, strict=True):
        plain = _plain(value)
        shown.append(f"{spec['name']}={ROLE_NAMES.get(plain, plain) if spec['type'] == 'bytes32' else plain}")
    return f"{item['name']}({', '.join(shown)})"


def revert_reason(exc: Exception) -> TransactionFailed:
    """The project's error for a call the registry rejected (custom errors decoded, on Anvil and Hardhat)."""
    data = _revert_data(exc)
    if data is not None and bytes.fromhex(data[2:])[:4] in _error_selectors():
        return TransactionFailed(f"registry rejected the call: {explain_revert(data)}")
    message = getattr(exc, "message", None) or str(exc)
    return TransactionFailed(f"registry rejected the call: {message}")


def _revert_data(exc: Exception) -> str | None:
    """Revert data as 0x-hex: web3 puts it on `.data` (Anvil) or in a dict among the args (Hardhat)."""
    candidates = [getattr(exc, "data", None), *(a.get("data") for a in exc.args if isinstance(a, dict))]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.startswith("0x") and len(candidate) >= 10:
            try:
                bytes.fromhex(candidate[2:])
            except ValueError:
                continue
            return candidate
    return None
