"""Reading a registry over plain JSON-RPC (http.client and the hand-written `anchoring.abicodec`), without web3.

`RpcChain` and `RpcRegistry` are a `Chain` and a `Registry` whose reads (chain id, head, blocks, code, the
registry's views and events) never import web3, requests or eth-abi: a `verify` process starts in a fraction
of the time. They give the same values and raise the same errors with the same messages as the web3-backed
reads (tests ask both of one real node side by side): a node that does not answer, answers with an HTTP
error status or with garbage is `ChainUnavailable` naming the node by its redacted URL; a JSON-RPC error is
`ChainUnavailable(answered=True)`, except a revert of `eth_call`, which (like an undecodable answer) is the
contract's word: `NotARegistry`. Anything else (`w3`, used to send transactions) is still the web3 `Chain`'s.

Invariants: one keep-alive connection per thread, re-opened once if the node closed it between requests
(reads are idempotent); an answer over `MAX_ANSWER` bytes is refused unread.
"""

import base64
import http.client
import itertools
import json
import os
import threading
from collections.abc import Iterator
from functools import cache, cached_property
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from anchoring.abicodec import AbiDecodeError, decode, decode_word, encode_call, flat_types, signature_of
from anchoring.chain import LOG_CHUNK, MAX_ISSUER_ID, BlockId, Chain, Registry, redact_url
from anchoring.errors import ChainUnavailable, NotARegistry
from anchoring.hashing import checksum_address, keccak256, to_hex
from anchoring.onchain import OnChainAnchor, RegistryEvent, SigningKeyStatus
from contracts import registry_abi

MAX_ANSWER = 256 * 1024 * 1024
QUANTITIES = frozenset(
    "number timestamp gasLimit gasUsed size difficulty totalDifficulty baseFeePerGas blobGasUsed excessBlobGas "
    "l1BlockNumber".split()
)
"""Block fields web3 turns into ints (the rest of the hex fields become bytes, as web3's HexBytes are)."""
PANIC = "0x4e487b71"
ERROR_STRING = "0x08c379a0"


class Reverted(Exception):
    """The node ran the call and the contract reverted; `kind` is the exception web3 would raise."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class JsonRpc:
    """Requests to one node; every failure is a `ChainUnavailable` naming the node by its redacted URL."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._parts = urlsplit(url)
        self._ids = itertools.count(1)
        self._local = threading.local()

    def request(self, what: str, method: str, params: list[Any]) -> Any:
        """The `result` of one call (a revert of `eth_call` raises `Reverted`)."""
        where = redact_url(self.url)
        payload = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        status, reason, body = self._post(what, payload.encode())
        if status >= 400:
            raise ChainUnavailable(f"node at {where} failed ({what}): HTTP {status} {reason}")
        try:
            answer = json.loads(body)
        except ValueError as exc:  # not JSON, or not UTF-8
            raise ChainUnavailable(f"node at {where} gave a bad answer ({what}): {exc}") from None
        if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
            raise ChainUnavailable(f"node at {where} gave a bad answer ({what}): not a JSON-RPC response")
        error = answer.get("error")
        if error is not None:
            if method == "eth_call" and (kind := revert_kind(error)) is not None:
                raise Reverted(kind)
            message = error.get("message", error) if isinstance(error, dict) else error
            raise ChainUnavailable(f"node at {where} refused {what}: {message}", answered=True)
        return answer["result"]

    def _post(self, what: str, body: bytes) -> tuple[int, str, bytes]:
        for attempt in (0, 1):
            fresh = getattr(self._local, "connection", None) is None
            connection = self._connection()
            try:
                connection.request("POST", self._target(), body, self._headers())
                response = connection.getresponse()
                length = response.getheader("Content-Length")
                if length is not None and length.isdigit() and int(length) > MAX_ANSWER:
                    raise ChainUnavailable(
                        f"node at {redact_url(self.url)} gave a bad answer ({what}): over {MAX_ANSWER} bytes"
                    )
                data = response.read(MAX_ANSWER + 1)
                if len(data) > MAX_ANSWER:
                    raise ChainUnavailable(
                        f"node at {redact_url(self.url)} gave a bad answer ({what}): over {MAX_ANSWER} bytes"
                    )
                if response.getheader("Connection", "").lower() == "close" or response.will_close:
                    self._drop()
                return response.status, response.reason, data
            except ChainUnavailable:
                self._drop()
                raise
            except TimeoutError:
                self._drop()
                raise ChainUnavailable(f"node at {redact_url(self.url)} did not answer ({what}): timed out") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                # A kept-alive connection the node closed meanwhile: the read is asked again, once, afresh.
                if attempt == 0 and not fresh and isinstance(exc, ConnectionError | http.client.RemoteDisconnected):
                    continue
                reason = "connection refused or lost"
                raise ChainUnavailable(f"node at {redact_url(self.url)} did not answer ({what}): {reason}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection, self._local.via_proxy = _connect(self._parts, self.timeout)
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def _target(self) -> str:
        path = self._parts.path or "/"
        query = f"?{self._parts.query}" if self._parts.query else ""
        if getattr(self._local, "via_proxy", False) and self._parts.scheme == "http":
            return f"http://{self._parts.hostname}:{self._parts.port or 80}{path}{query}"
        return path + query

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "credanchor"}
        if self._parts.username is not None:
            user = f"{unquote(self._parts.username)}:{unquote(self._parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
        return headers


def _connect(parts: SplitResult, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
    """A connection to the node, through the proxy the environment names for it (as requests would), and
    whether it is a plain HTTP proxy (which wants the whole URL as the request target)."""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChainUnavailable(f"node at {redact_url(parts.geturl())} cannot be asked: not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = _proxy_for(parts)
    if parts.scheme == "https":
        if proxy is None:
            return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout), False
        tunnel = http.client.HTTPSConnection(proxy.hostname or "", proxy.port or 80, timeout=timeout)
        tunnel.set_tunnel(parts.hostname, port)
        return tunnel, False
    if proxy is None:
        return http.client.HTTPConnection(parts.hostname, port, timeout=timeout), False
    return http.client.HTTPConnection(proxy.hostname or "", proxy.port or 80, timeout=timeout), True


def _proxy_for(parts: SplitResult) -> SplitResult | None:
    if not any(k.lower().endswith("_proxy") for k in os.environ):
        return None  # the common case, without importing urllib.request
    import urllib.request

    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


def revert_kind(error: object) -> str | None:
    """The web3 exception an `eth_call` error answer is (a revert), or None when the node refused the call."""
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    has_message = isinstance(message, str) and message != ""
    data = error.get("data", ...)
    if data is None or (isinstance(data, dict) and has_message):
        return "ContractLogicError"
    if isinstance(data, str):
        if data.startswith(PANIC):
            return "ContractPanicError"
        if len(data) >= 10 and not data.startswith(ERROR_STRING) and not data.startswith("Reverted "):
            return "ContractCustomError"
        return "ContractLogicError"
    if has_message and (error.get("code") == 3 or "execution reverted" in str(message)):
        return "ContractLogicError"
    return None


def _block_param(block: BlockId) -> str:
    return hex(block) if isinstance(block, int) else block


def _quantity(where: str, what: str, value: object) -> int:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ChainUnavailable(f"node at {where} gave a bad answer ({what}): {value!r} is not a hex quantity")


def _hex_bytes(where: str, what: str, value: object) -> bytes:
    if isinstance(value, str) and value.startswith("0x") and len(value) % 2 == 0:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise ChainUnavailable(f"node at {where} gave a bad answer ({what}): {str(value)[:80]!r} is not hex data")


def _block_value(key: str, value: Any) -> Any:
    """A block field in web3's shape: quantities as ints, other hex as bytes, lists and the rest as given."""
    if isinstance(value, list):
        return [_block_value(key, v) for v in value]
    if not isinstance(value, str) or not value.startswith("0x"):
        return value
    try:
        if key in QUANTITIES:
            return int(value, 16)
        return bytes.fromhex(value[2:]) if len(value) % 2 == 0 else value
    except ValueError:
        return value


class RpcChain(Chain):
    """A `Chain` whose reads are plain JSON-RPC requests."""

    def __init__(self, rpc_url: str, *, timeout: float = 10.0) -> None:
        super().__init__(rpc_url, timeout=timeout)
        self.rpc = JsonRpc(rpc_url, timeout)

    @property
    def where(self) -> str:
        return redact_url(self.url)

    @cached_property
    def chain_id(self) -> int:
        return _quantity(self.where, "eth_chainId", self.rpc.request("eth_chainId", "eth_chainId", []))

    def block_number(self) -> int:
        return _quantity(self.where, "eth_blockNumber", self.rpc.request("eth_blockNumber", "eth_blockNumber", []))

    def block(self, number: BlockId) -> dict[str, Any]:
        what = f"block {number!r}"
        found = self.rpc.request(what, "eth_getBlockByNumber", [_block_param(number), False])
        if found is None:
            raise ChainUnavailable(
                f"node at {self.where} refused {what}: Block with id: {_block_param(number)!r} not found.",
                answered=True,
            )
        if not isinstance(found, dict) or not isinstance(found.get("hash"), str):
            raise ChainUnavailable(f"node at {self.where} gave a bad answer ({what}): not a block")
        _hex_bytes(self.where, what, found["hash"])
        return {key: _block_value(key, value) for key, value in found.items()}

    def has_code(self, address: str, block: BlockId = "latest") -> bool:
        params = [checksum_address(address), _block_param(block)]
        code = _hex_bytes(self.where, "eth_getCode", self.rpc.request("eth_getCode", "eth_getCode", params))
        return len(code) > 0

    def call(self, what: str, to: str, data: bytes, block: BlockId) -> bytes:
        """An `eth_call`'s return data (a revert raises `Reverted`)."""
        answer = self.rpc.request(what, "eth_call", [{"to": to, "data": to_hex(data)}, _block_param(block)])
        return _hex_bytes(self.where, what, answer)

    def registry(self, address: str) -> "RpcRegistry":
        return RpcRegistry(self, address)


@cache
def _functions() -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in registry_abi() if f["type"] == "function"}


@cache
def _events() -> dict[str, dict[str, Any]]:
    """topic0 -> event ABI, for every event of the registry."""
    return {to_hex(keccak256(signature_of(e).encode())): e for e in registry_abi() if e["type"] == "event"}


def event_topic(name: str) -> str:
    return next(topic for topic, abi in _events().items() if abi["name"] == name)


class RpcRegistry(Registry):
    """Read side of one deployed CredentialRegistry, over `RpcChain`."""

    chain: RpcChain

    def __init__(self, chain: RpcChain, address: str) -> None:
        super().__init__(chain, address)

    def view(self, name: str, *args: Any, block: BlockId = "latest") -> Any:
        """A view's answer, as web3 gives it (one value, or a tuple of several); a revert or an undecodable
        answer means the contract is not a CredentialRegistry."""
        item = _functions()[name]
        data = encode_call(signature_of(item), flat_types(item["inputs"]), args)
        try:
            raw = self.chain.call(name, self.address, data, block)
            values = decode(flat_types(item["outputs"]), raw)
        except Reverted as exc:
            kind = exc.kind
        except AbiDecodeError:
            kind = "BadFunctionCallOutput"  # web3's name for every answer its decoder refuses
        else:
            return values[0] if len(values) == 1 else values
        raise NotARegistry(f"contract at {self.address} does not answer {name} as a CredentialRegistry ({kind})")

    def anchor_of(self, root: str, block: BlockId = "latest") -> OnChainAnchor | None:
        number, timestamp, revoked_block, revoked_timestamp, count = self.view(
            "anchorOf", bytes.fromhex(root[2:]), block=block
        )
        if number == 0:
            return None
        return OnChainAnchor(root, number, timestamp, count, revoked_block, revoked_timestamp)

    def revocation_block(self, root: str, leaf: str, block: BlockId = "latest") -> int:
        number, _timestamp = self.view("revocationOf", bytes.fromhex(root[2:]), bytes.fromhex(leaf[2:]), block=block)
        return int(number)

    def is_revoked(self, root: str, leaf: str, block: BlockId = "latest") -> bool:
        return bool(self.view("isRevoked", bytes.fromhex(root[2:]), bytes.fromhex(leaf[2:]), block=block))

    def is_valid_on_chain(self, root: str, digest: str, proof: list[str], block: BlockId = "latest") -> bool:
        hashes = [bytes.fromhex(p[2:]) for p in proof]
        return bool(self.view("isValid", bytes.fromhex(root[2:]), bytes.fromhex(digest[2:]), hashes, block=block))

    def has_role(self, role: str, account: str, block: BlockId = "latest") -> bool:
        return bool(self.view("hasRole", bytes.fromhex(role[2:]), checksum_address(account), block=block))

    def issuer_id(self, block: BlockId = "latest") -> str | None:
        try:
            value = self.view("issuerId", block=block)
        except NotARegistry:
            return None
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ISSUER_ID:
            raise NotARegistry(f"contract at {self.address} answers issuerId with no usable issuer id")
        return value

    def signing_key(self, public_key: str, block: BlockId = "latest") -> SigningKeyStatus:
        added, revoked = self.view("signingKey", bytes.fromhex(public_key[2:]), block=block)
        return SigningKeyStatus(public_key, int(added), int(revoked))

    def deployment_block(self) -> int:
        return int(self.view("deploymentBlock"))

    def events(
        self, from_block: int, to_block: int, *, topics: list[str | None] | None = None, chunk: int = LOG_CHUNK
    ) -> Iterator[RegistryEvent]:
        """Every log of the registry in [from_block, to_block], decoded, in chain order, `chunk` blocks a call."""
        start = from_block
        while start <= to_block:
            end = min(to_block, start + chunk - 1)
            query: dict[str, Any] = {"address": self.address, "fromBlock": hex(start), "toBlock": hex(end)}
            if topics:
                query["topics"] = topics
            logs = self.chain.rpc.request("eth_getLogs", "eth_getLogs", [query])
            if not isinstance(logs, list):
                raise ChainUnavailable(f"node at {self.chain.where} gave a bad answer (eth_getLogs): not a list")
            for log in logs:
                event = self._decoded(log)
                if event is not None:
                    yield event
            start = end + 1

    def _decoded(self, log: Any) -> RegistryEvent | None:
        where, what = self.chain.where, "eth_getLogs"
        if not isinstance(log, dict) or not isinstance(log.get("topics"), list):
            raise ChainUnavailable(f"node at {where} gave a bad answer ({what}): a log without topics")
        topics = [_hex_bytes(where, what, t) for t in log["topics"]]
        abi = _events().get(to_hex(topics[0])) if topics else None
        if abi is None:
            return None
        indexed = [i for i in abi["inputs"] if i.get("indexed")]
        unindexed = [i for i in abi["inputs"] if not i.get("indexed")]
        try:
            if len(topics) != len(indexed) + 1:
                raise AbiDecodeError("LogTopicError", f"{len(topics) - 1} topics for {len(indexed)} indexed")
            args = {
                spec["name"]: decode_word(spec["type"], topic) for spec, topic in zip(indexed, topics[1:], strict=True)
            }
            data = decode(flat_types(unindexed), _hex_bytes(where, what, log.get("data", "0x")))
            args.update((spec["name"], value) for spec, value in zip(unindexed, data, strict=True))
        except AbiDecodeError as exc:
            raise NotARegistry(
                f"contract at {self.address} emits a malformed {abi['name']} event ({exc.kind})"
            ) from None
        return RegistryEvent(
            name=abi["name"],
            block_number=_quantity(where, what, log.get("blockNumber")),
            block_hash=to_hex(_hex_bytes(where, what, log.get("blockHash"))),
            tx_hash=to_hex(_hex_bytes(where, what, log.get("transactionHash"))),
            log_index=_quantity(where, what, log.get("logIndex")),
            args=args,
        )
