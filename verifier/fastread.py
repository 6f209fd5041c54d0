"""Reading many receipts of one batch: `Receipt.from_json`, with the work their shared parts need done once.

Invariants: `ReceiptReader.parse(data, source)` returns a receipt equal to `Receipt.from_json(data, source=
source)` (its credential view and digest included) or raises exactly what that raises. The fast path only
ever accepts, checking each member as the models do (so a receipt that passes needs no model's validator
built: one receipt verified costs no pydantic schema); whatever it is not sure of (a `\\u` escape, a
byte-order mark, a version 3 receipt, a member of another form) goes to `Receipt.from_json`, whose answer is
the answer. What it remembers is keyed by exact content (orjson's bytes of a parsed value, which tell `1`
from `1.0` and `true`, or the evidence's own bytes), never by position or receipt, so a receipt that differs
in any shared member misses the cache and is checked in full. Duplicate members are caught without a hook:
outside `\\u` escapes, the colons of the text are one per member plus those inside strings, and orjson's
rewriting of what it parsed keeps the latter and one colon per member it kept, so the two counts are equal
exactly when no member was dropped.
"""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import orjson
from pydantic import BaseModel

from anchoring import jcs
from anchoring.credential import (
    CREDENTIAL_TYPES,
    MAX_TEXT,
    MAX_URI,
    OB3_CONTEXT,
    VC_CONTEXT,
    AchievementView,
    CredentialView,
    IssuerView,
    SubjectView,
    parse_timestamp,
)
from anchoring.hashing import checksum_address, is_address, keccak256, to_hex
from anchoring.jsonio import MAX_DEPTH, MAX_STRING
from anchoring.merkle import SCHEME
from anchoring.receipt import (
    MAX_EVIDENCE,
    MAX_EVIDENCE_NODES,
    MAX_NODE_HEX,
    MAX_PROOF_LENGTH,
    AnchorSection,
    Evidence,
    MerkleSection,
    Receipt,
)

M = TypeVar("M", bound=BaseModel)
LIMIT: Final = 16384
_WS: Final = b" \t\n\r"  # JSON's white space (bytes.strip would also take \x0b and \x0c)
_HASHES: Final = re.compile(r"(?:0x[0-9a-f]{64})*")
_RECEIPT_KEYS: Final = frozenset(("type", "version", "credential", "digest", "merkle", "anchor"))
_VIEW_KEYS: Final = {
    "@context": "context",
    "id": "id",
    "type": "type",
    "issuer": "issuer",
    "validFrom": "valid_from",
    "validUntil": "valid_until",
    "name": "name",
    "credentialSubject": "credential_subject",
}
_LARGEST_EXACT: Final = 2.0**53
_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_UTC_SECONDS: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_ANCHOR_KEYS: Final = frozenset(("chainId", "registry", "txHash", "blockNumber", "timestamp"))
_EVIDENCE_KEYS: Final = frozenset(("type", "chainId", "registry", "header", "nodes"))


class Unsure(Exception):
    """Not sure: `Receipt.from_json` decides."""


def is_hash32(value: object) -> bool:
    return type(value) is str and len(value) == 66 and _HASHES.fullmatch(value) is not None


def are_hashes(values: list[Any]) -> bool:
    """Every item is 32 bytes as lowercase 0x-hex (one match over them all, each of the right length)."""
    if not all(type(v) is str and len(v) == 66 for v in values):
        return False
    return _HASHES.fullmatch("".join(values)) is not None


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= LIMIT:
        cache.clear()
    cache[key] = value


def _assemble(model: type[M], fields: dict[str, Any], extra: dict[str, Any] | None, given: set[str]) -> M:
    """A model instance from values already checked as its validator checks them (what `model_construct`
    does, without its per-field bookkeeping)."""
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", fields)
    object.__setattr__(instance, "__pydantic_extra__", extra)
    object.__setattr__(instance, "__pydantic_fields_set__", given)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


class ReceiptReader:
    """`Receipt.from_json` for many receipts, remembering checks of their shared parts (bounded caches)."""

    def __init__(self) -> None:
        self._evidence: dict[bytes, tuple[list[Evidence], int]] = {}
        self._values: dict[tuple[str, bytes], Any] = {}

    def parse(self, data: bytes, source: str) -> Receipt:
        split = split_evidence(data)
        document = parse_head(split[0]) if split is not None and len(data) <= MAX_STRING else None
        if document is not None:
            try:
                return self._fast(document, split[1] if split else None)
            except Unsure:
                pass
        receipt = Receipt.from_json(data, source=source)
        if document is not None and split is not None and split[1] is not None and receipt.version == 2:
            # The whole document passed, and its head parsed alone: these bytes are its top-level evidence's.
            evidence_bytes = split[1]
            try:
                depth = json_depth(orjson.loads(evidence_bytes))
            except (Unsure, orjson.JSONDecodeError):
                return receipt
            _remember(self._evidence, evidence_bytes, (list(receipt.evidence or ()), depth))
        return receipt

    def _fast(self, document: dict[str, Any], evidence_bytes: bytes | None) -> Receipt:
        evidence: list[Evidence] | None = None
        depth = 0
        if evidence_bytes is not None:
            if "evidence" in document:
                raise Unsure
            known = self._evidence.get(evidence_bytes)
            if known is None:
                known = _evidence_list(evidence_bytes)
                _remember(self._evidence, evidence_bytes, known)
            evidence, depth = list(known[0]), 1 + known[1]
        keys = document.keys()
        if not keys >= _RECEIPT_KEYS or len(keys) != len(_RECEIPT_KEYS):
            raise Unsure
        version = document["version"]
        if document["type"] != "CredentialReceipt" or type(version) is not int:
            raise Unsure
        if (version, evidence is None) not in ((1, True), (2, False)):
            raise Unsure
        digest, credential = document["digest"], document["credential"]
        if not is_hash32(digest) or type(credential) is not dict:
            raise Unsure
        merkle = self._merkle(document["merkle"])
        anchor = self._value("anchor", document["anchor"], _anchor)
        view, canonical, credential_depth = self._credential(credential)
        if max(depth, 2 + credential_depth, 3) > MAX_DEPTH:
            raise Unsure
        fields = {
            "type": "CredentialReceipt",
            "version": version,
            "credential": credential,
            "digest": digest,
            "merkle": merkle,
            "anchor": anchor,
            "additional_anchors": None,
            "evidence": evidence,
        }
        given = {"type", "version", "credential", "digest", "merkle", "anchor"}
        if evidence is not None:
            given.add("evidence")
        receipt = _assemble(Receipt, fields, None, given)
        private = {"_computed": to_hex(keccak256(canonical)), "_view": view, "_canonical": canonical}
        object.__setattr__(receipt, "__pydantic_private__", private)
        return receipt

    def _merkle(self, merkle: Any) -> MerkleSection:
        if type(merkle) is not dict or merkle.keys() != {"scheme", "leaf", "proof", "root"}:
            raise Unsure
        proof = merkle["proof"]
        if merkle["scheme"] != SCHEME or not is_hash32(merkle["leaf"]) or not is_hash32(merkle["root"]):
            raise Unsure
        if type(proof) is not list or len(proof) > MAX_PROOF_LENGTH or not are_hashes(proof):
            raise Unsure
        fields = {"scheme": SCHEME, "leaf": merkle["leaf"], "proof": list(proof), "root": merkle["root"]}
        return _assemble(MerkleSection, fields, None, {"scheme", "leaf", "proof", "root"})

    def _value(self, kind: str, value: Any, check: Callable[[Any], Any]) -> Any:
        """`check(value)` (which raises `Unsure` or ValueError), remembered by the value's exact content."""
        key = (kind, orjson.dumps(value))
        if key not in self._values:
            try:
                result = check(value)
            except (Unsure, ValueError):
                result = Unsure
            _remember(self._values, key, result)
        found = self._values[key]
        if found is Unsure:
            raise Unsure
        return found

    def _credential(self, credential: dict[str, Any]) -> tuple[CredentialView, bytes, int]:
        """The credential's view (as `CredentialView` validates it), its RFC 8785 bytes without `proof`, depth.

        One walk checks the depth and `_plain_terms` of the whole credential, then the body is canonicalised
        at once: each receipt's subject and proof are its own, so remembering members by content (below) saved
        less than it cost here."""
        if "@context" in credential:
            self._value("context", credential["@context"], _contexts)
        depth = json_depth(credential, plain=True) - 1
        canonical = canonical_or_none({key: value for key, value in credential.items() if key != "proof"})
        if canonical is None:
            raise Unsure
        return self._view(credential), canonical, depth

    def _view(self, credential: dict[str, Any]) -> CredentialView:
        for required in ("@context", "id", "type", "issuer", "validFrom", "name", "credentialSubject"):
            if required not in credential:
                raise Unsure
        ident, name, until = credential["id"], credential["name"], credential.get("validUntil", "")
        if type(ident) is not str or not 0 < len(ident) <= MAX_URI or type(name) is not str or len(name) > MAX_TEXT:
            raise Unsure
        if until is None:
            raise Unsure
        subject = credential["credentialSubject"]
        if type(subject) is not dict or "achievement" not in subject:
            raise Unsure
        achievement = self._value("achievement", subject["achievement"], _achievement)
        fields = {
            "context": list(credential["@context"]),
            "id": ident,
            "type": list(self._value("type", credential["type"], _types)),
            "issuer": self._value("issuer", credential["issuer"], _issuer),
            "valid_from": self._value("time", credential["validFrom"], parse_timestamp),
            "valid_until": self._value("time", until, parse_timestamp) if "validUntil" in credential else None,
            "name": name,
            "credential_subject": _assemble(
                SubjectView,
                {"achievement": achievement},
                {k: v for k, v in subject.items() if k != "achievement"},
                set(subject),
            ),
        }
        extra = {k: v for k, v in credential.items() if k not in _VIEW_KEYS}
        given = {_VIEW_KEYS.get(k, k) for k in credential}
        return _assemble(CredentialView, fields, extra, given)


def parse_head(head: bytes) -> dict[str, Any] | None:
    """The document (without its evidence) parsed, when it is an object and no member was dropped as a
    duplicate; no string in it is longer than the limit, as the caller made sure the document is not."""
    try:
        document = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    if type(document) is not dict or head.count(b":") != orjson.dumps(document).count(b":"):
        return None
    return document


def split_evidence(data: bytes) -> tuple[bytes, bytes | None] | None:
    """The document without its top-level `evidence` member (as an object's text) and that member's value's
    bytes; or the whole document and None when it has no such member last; None when unsure.

    Inside a JSON string a quote is escaped, so `"evidence"` followed by a colon is a member name; it is the
    top-level one when what precedes it, closed, parses as an object (checked by the caller's parse), and
    what follows it is that member's value and the closing brace."""
    if data[:3] == b"\xef\xbb\xbf" or b"\\u" in data:
        return None
    at = data.rfind(b'"evidence"')
    if at < 0:
        return data, None
    rest = data[at + 10 :].lstrip(_WS)
    before = data[:at].rstrip(_WS)
    if rest[:1] != b":" or before[-1:] != b",":
        return None
    value = rest[1:].rstrip(_WS)
    if value[-1:] != b"}":
        return None
    value = value[:-1].strip(_WS)
    if value[:1] != b"[" or value[-1:] != b"]":
        return None
    return before[:-1] + b"}", value


def canonical_or_none(value: Any) -> bytes | None:
    try:
        return jcs.canonicalize(value)
    except (ValueError, TypeError):
        return None


def json_depth(value: Any, *, plain: bool = False) -> int:
    """How deeply `value` nests (a string or number: 0); `Unsure` for a float orjson may have read otherwise
    than `json`, and, when `plain`, for a member name outside `_plain_terms` (a colon, a leading @) or an
    `@context` that is not URLs."""
    # Written out, with no call for a string, integer, boolean or null member: this walks every credential.
    kind = type(value)
    if kind is dict:
        deepest = 0
        for key, member in value.items():
            inner = plain
            if plain:
                if key == "@context":
                    urls = member if type(member) is list else [member]
                    if not all(type(url) is str for url in urls):
                        raise Unsure
                    inner = False
                elif ":" in key or key.startswith("@"):
                    raise Unsure
            if type(member) in _LEAVES:
                continue
            found = json_depth(member, plain=inner)
            if found > deepest:
                deepest = found
        return 1 + deepest
    if kind is list:
        deepest = 0
        for item in value:
            if type(item) in _LEAVES:
                continue
            found = json_depth(item, plain=plain)
            if found > deepest:
                deepest = found
        return 1 + deepest
    if kind is float and value.is_integer() and abs(value) >= _LARGEST_EXACT:
        raise Unsure  # orjson reads a long integer as a float, `json` as an integer
    return 0


_LEAVES: Final = frozenset((str, int, bool, type(None)))


def _contexts(value: Any) -> list[str]:
    if type(value) is not list or len(value) > 16 or value[:2] != [VC_CONTEXT, OB3_CONTEXT]:
        raise Unsure
    if not all(type(url) is str and 0 < len(url) <= MAX_URI for url in value):
        raise Unsure
    return value


def _types(value: Any) -> list[str]:
    if type(value) is not list or len(value) > 16 or not all(type(t) is str and len(t) <= MAX_TEXT for t in value):
        raise Unsure
    if not all(t in value for t in CREDENTIAL_TYPES):
        raise Unsure
    return value


def _positive(value: Any) -> bool:
    return type(value) is int and value > 0


def _registry(value: Any) -> str:
    """An `Address` as the receipt model reads it: 0x and 40 hex digits, EIP-55 if mixed case, checksummed."""
    if type(value) is not str or not _ADDRESS.fullmatch(value) or not is_address(value):
        raise Unsure
    return checksum_address(value)


def _anchor(value: Any) -> AnchorSection:
    """`AnchorSection.model_validate(value)` where that surely passes (strict, no other members)."""
    if type(value) is not dict or value.keys() != _ANCHOR_KEYS:
        raise Unsure
    chain_id, block, tx_hash, moment = value["chainId"], value["blockNumber"], value["txHash"], value["timestamp"]
    if not _positive(chain_id) or not _positive(block) or not is_hash32(tx_hash):
        raise Unsure
    if type(moment) is not str or not _UTC_SECONDS.fullmatch(moment):
        raise Unsure
    datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ")
    fields = {
        "chain_id": chain_id,
        "registry": _registry(value["registry"]),
        "tx_hash": tx_hash,
        "block_number": block,
        "timestamp": moment,
    }
    return _assemble(AnchorSection, fields, None, {"chain_id", "registry", "tx_hash", "block_number", "timestamp"})


def _evidence_list(data: bytes) -> tuple[list[Evidence], int]:
    """The receipt's `evidence` value (its bytes) as the receipt model reads it, and its depth, where that
    surely passes: one parse with no member dropped, each item strictly an `Evidence` with no other members."""
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise Unsure from None
    if type(items) is not list or data.count(b":") != orjson.dumps(items).count(b":"):
        raise Unsure
    if not 0 < len(items) <= MAX_EVIDENCE:
        raise Unsure
    evidence = []
    for item in items:
        if type(item) is not dict or item.keys() != _EVIDENCE_KEYS or item["type"] != "EthStateProof":
            raise Unsure
        nodes, header = item["nodes"], item["header"]
        if not _positive(item["chainId"]) or type(header) is not dict or type(nodes) is not list:
            raise Unsure
        if not 0 < len(nodes) <= MAX_EVIDENCE_NODES:
            raise Unsure
        if not all(type(node) is str and len(node) <= MAX_NODE_HEX for node in nodes):
            raise Unsure
        fields = {
            "type": "EthStateProof",
            "chain_id": item["chainId"],
            "registry": _registry(item["registry"]),
            "header": header,
            "nodes": list(nodes),
        }
        evidence.append(_assemble(Evidence, fields, None, {"type", "chain_id", "registry", "header", "nodes"}))
    return evidence, json_depth(items)


def _uri(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_URI


def _text(value: Any) -> bool:
    return type(value) is str and len(value) <= MAX_TEXT


def _issuer(value: Any) -> IssuerView:
    """`IssuerView.model_validate(value)` where that surely passes (members it does not read are kept)."""
    if type(value) is not dict or not _uri(value.get("id")):
        raise Unsure
    name = value.get("name")
    if name is not None and not _text(name):
        raise Unsure
    extra = {k: v for k, v in value.items() if k not in ("id", "name")}
    return _assemble(IssuerView, {"id": value["id"], "name": name}, extra, set(value))


def _achievement(value: Any) -> AchievementView:
    """`AchievementView.model_validate(value)` where that surely passes (members it does not read are kept)."""
    if type(value) is not dict or not _uri(value.get("id")) or not _text(value.get("name")):
        raise Unsure
    extra = {k: v for k, v in value.items() if k not in ("id", "name")}
    return _assemble(AchievementView, {"id": value["id"], "name": value["name"]}, extra, set(value))
