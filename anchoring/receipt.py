"""The receipt an earner gets, and the batch manifest an auditor gets: strict models parsed once at the edge.

Invariants: a `Receipt` exists only if its bytes passed the limits in `jsonio`, every member matched the
schema (unknown members are errors, hashes are lowercase 0x-hex, addresses are valid EIP-55) and the
credential has the Open Badges shape verifiers read. The models never touch the chain or the clock; whether
a receipt checks out is `verifier.checks`'s business. `receipt-v1.schema.json` is generated from these
models and committed (a test keeps the two equal).
"""

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from anchoring.credential import CredentialView, canonical_bytes
from anchoring.errors import InvalidInput, InvalidReceipt
from anchoring.hashing import HASH32_PATTERN, checksum_address, is_address, keccak256, to_hex
from anchoring.jsonio import parse_json
from anchoring.merkle import SCHEME

RECEIPT_VERSION = 1
EVIDENCE_RECEIPT_VERSION = 2
MULTI_ANCHOR_RECEIPT_VERSION = 3
MAX_ANCHORS = 8
MANIFEST_VERSION = 1
MAX_EVIDENCE = 8
MAX_EVIDENCE_NODES = 512
MAX_NODE_HEX = 2 + 2 * 4096
MAX_RECEIPT_BYTES = 2 * 1024 * 1024
MAX_PROOF_LENGTH = 64
MAX_MANIFEST_BYTES = 512 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)
_UTC_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _address(value: str) -> str:
    if not re.fullmatch(ADDRESS_PATTERN, value):
        raise ValueError("must be a 20-byte address as 0x-hex (42 characters)")
    if not is_address(value):
        raise ValueError("has mixed case but a wrong EIP-55 checksum")
    return checksum_address(value)


def _utc_seconds(value: str) -> str:
    if not _UTC_SECONDS.fullmatch(value):
        raise ValueError("must be a UTC time to the second, like 2026-01-31T09:00:00Z")
    datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    return value


Hash32 = Annotated[str, Field(pattern=HASH32_PATTERN, description="32 bytes as lowercase 0x-hex")]
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
Address = Annotated[
    str,
    Field(pattern=ADDRESS_PATTERN, description="contract address, EIP-55 checksummed"),
    AfterValidator(_address),
]
UtcSeconds = Annotated[
    str,
    Field(pattern=UTC_PATTERN, description="UTC, to the second"),
    AfterValidator(_utc_seconds),
]


def _not_bool(value: object) -> object:
    # Literal[1] alone accepts `true` (True == 1 in Python); the fuzzer found it.
    if isinstance(value, bool):
        raise ValueError(f"must be 1, got {json.dumps(value)}")
    return value


Version1 = Annotated[Literal[1], BeforeValidator(_not_bool)]
ReceiptVersion = Annotated[Literal[1, 2, 3], BeforeValidator(_not_bool)]


def utc_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=1024)
def unix_to_utc(seconds: int) -> str:
    """A block timestamp as UTC text; a value no calendar holds (a hostile contract's) says so instead."""
    try:
        return utc_seconds(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return f"timestamp {seconds} (out of range)"


class _Strict(BaseModel):
    # Members go by their camelCase names only: `chain_id` is an unknown member, as the schema says.
    # Validators are built on first use (`defer_build`): a verifier's fast path (`verifier.fastread`) checks a
    # well-formed receipt without them.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        defer_build=True,
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class MerkleSection(_Strict):
    """Where the credential sits in its batch: OpenZeppelin StandardMerkleTree, leaf encoding bytes32."""

    scheme: Literal["oz-standard-v1"] = Field(description="tree rules; see README 'Receipt format'")
    leaf: Hash32 = Field(description="keccak256(keccak256(digest))")
    proof: list[Hash32] = Field(max_length=MAX_PROOF_LENGTH, description="sibling hashes, leaf to root")
    root: Hash32 = Field(description="the batch root anchored on chain")


class AnchorSection(_Strict):
    """Where and when the root was anchored."""

    chain_id: int = Field(gt=0, description="EIP-155 chain id")
    registry: Address
    tx_hash: Hash32 = Field(description="the anchoring transaction")
    block_number: int = Field(gt=0, description="the block that holds the anchoring transaction")
    timestamp: UtcSeconds = Field(description="that block's time")


class Evidence(_Strict):
    """Chain state proven against one block header: enough to check the anchor without trusting a node.

    `header` holds every header field as the node gave it (so that keccak256(rlp(header)) is the block hash);
    `nodes` are the Merkle-Patricia trie nodes of `eth_getProof` (the registry's account, then the storage
    words of this receipt's anchor, its leaf's revocation, its signing keys and the issuer binding), each
    node once. What the words mean is read by the verifier from slots it computes itself."""

    type: Literal["EthStateProof"]
    chain_id: int = Field(gt=0, description="EIP-155 chain id")
    registry: Address
    header: dict[str, Any] = Field(description="the block header's fields, 0x-hex, as eth_getBlockByNumber gives")
    nodes: list[Annotated[str, Field(max_length=MAX_NODE_HEX)]] = Field(
        min_length=1, max_length=MAX_EVIDENCE_NODES, description="RLP trie nodes as 0x-hex"
    )


class Receipt(_Strict):
    """What an earner holds: the credential, its Merkle proof and the anchor of its batch."""

    model_config = ConfigDict(title="CredentialReceipt")
    type: Literal["CredentialReceipt"]
    version: ReceiptVersion
    credential: dict[str, Any] = Field(description="the Open Badges 3.0 credential, exactly as issued")
    digest: Hash32 = Field(description="keccak256 of the RFC 8785 canonical credential without 'proof'")
    merkle: MerkleSection
    anchor: AnchorSection
    additional_anchors: list[AnchorSection] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ANCHORS - 1,
        description="version 3: the same root anchored on other chains, one anchor per chain",
    )
    evidence: list[Evidence] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_EVIDENCE,
        description="version 2 and 3: proofs of the anchors' state (each names its chain and registry)",
    )
    _computed: str | None = PrivateAttr(default=None)
    _view: CredentialView | None = PrivateAttr(default=None)
    _canonical: bytes | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _members_by_version(self) -> Self:
        if self.version == 1 and self.evidence is not None:
            raise ValueError("a version 1 receipt carries no evidence (version 2 does)")
        if self.version == 2 and self.evidence is None:
            raise ValueError("a version 2 receipt carries the anchor's evidence; this one has none")
        if self.version != 3 and self.additional_anchors is not None:
            raise ValueError(f"a version {self.version} receipt has one anchor (version 3 lists more)")
        if self.version == 3:
            if self.additional_anchors is None:
                raise ValueError("a version 3 receipt lists its additional anchors; this one has none")
            _check_anchors(self.anchors(), self.evidence or ())
        return self

    def anchors(self) -> tuple[AnchorSection, ...]:
        """Every anchor of the root: `anchor` first, then the additional ones."""
        return (self.anchor, *(self.additional_anchors or ()))

    def for_anchor(self, index: int) -> "Receipt":
        """This receipt as if `anchors()[index]` were its only anchor (version 1 or 2, with that anchor's
        evidence only): what a single-anchor verification checks."""
        anchor = self.anchors()[index]
        own = [e for e in self.evidence or () if (e.chain_id, e.registry) == (anchor.chain_id, anchor.registry)]
        single = self.model_copy(
            update={
                "version": EVIDENCE_RECEIPT_VERSION if own else RECEIPT_VERSION,
                "anchor": anchor,
                "additional_anchors": None,
                "evidence": own or None,
            }
        )
        single._computed, single._view = self._computed, self._view
        return single

    @classmethod
    def from_json(cls, data: bytes, *, source: str = "receipt") -> Self:
        document = parse_json(data, source, InvalidReceipt)
        if isinstance(document, dict) and document.get("type") == "BatchManifest":
            raise InvalidReceipt(f"{source}: is a batch manifest, not a receipt")
        receipt = _validate(cls, document, source, InvalidReceipt)
        receipt._view = _validate(CredentialView, receipt.credential, source, InvalidReceipt, prefix="credential")
        try:
            receipt.computed_digest()
        except ValueError as exc:
            raise InvalidReceipt(f"{source}: {exc}") from None
        return receipt

    def computed_digest(self) -> str:
        """The digest of the credential as it is in this receipt (cached; ValueError if it cannot be hashed)."""
        # The private values are read from their dict: pydantic's attribute hook for them is slow in a hot loop.
        private = self.__pydantic_private__ or {}
        computed: str | None = private.get("_computed")
        if computed is None:
            canonical = canonical_bytes(self.credential)
            computed = to_hex(keccak256(canonical))
            self._computed, self._canonical = computed, canonical
        return computed

    def take_canonical(self) -> bytes | None:
        """The credential's RFC 8785 bytes without its proof, when reading it computed them and nothing took
        them yet: what the digest hashed, which an `eddsa-jcs-2022` signature also signs. Handed out once,
        so a receipt kept in a report does not keep a second copy of its credential."""
        private = self.__pydantic_private__
        if not private:
            return None
        canonical: bytes | None = private.get("_canonical")
        private["_canonical"] = None
        return canonical

    def view(self) -> CredentialView:
        """The parsed credential facts (validated already in `from_json`)."""
        private = self.__pydantic_private__ or {}
        view: CredentialView | None = private.get("_view")
        if view is None:
            view = CredentialView.model_validate(self.credential)
            self._view = view
        return view

    def to_json(self) -> str:
        unset = {name for name in ("evidence", "additional_anchors") if getattr(self, name) is None}
        return dump_receipt(self.model_dump(mode="json", exclude=unset))


def _check_anchors(anchors: Sequence[AnchorSection], evidence: Sequence["Evidence"]) -> None:
    """A version 3 receipt or manifest: one anchor per chain, and evidence only of those anchors."""
    seen: set[int] = set()
    for anchor in anchors:
        if anchor.chain_id in seen:
            raise ValueError(f"two anchors on chain {anchor.chain_id}: at most one anchor per chain")
        seen.add(anchor.chain_id)
    places = {(a.chain_id, a.registry) for a in anchors}
    for item in evidence:
        if (item.chain_id, item.registry) not in places:
            raise ValueError(
                f"evidence of registry {item.registry} on chain {item.chain_id}, which is none of the anchors"
            )


class ManifestAnchor(AnchorSection):
    pass


class Manifest(_Strict):
    """One batch for an auditor: the root, the count and every digest, in tree leaf order. No personal data."""

    model_config = ConfigDict(title="BatchManifest")
    type: Literal["BatchManifest"]
    version: ReceiptVersion
    scheme: Literal["oz-standard-v1"]
    root: Hash32
    count: int = Field(gt=0)
    digests: list[Hash32]
    anchor: ManifestAnchor
    issuer: str = Field(description="issuer profile id")
    achievement: str = Field(description="achievement id")
    evidence: Evidence | None = Field(default=None, description="version 2: the anchor's chain evidence")
    additional_anchors: list[ManifestAnchor] | None = Field(
        default=None, min_length=1, max_length=MAX_ANCHORS - 1, description="version 3: anchors on other chains"
    )
    additional_evidence: list[Evidence] | None = Field(
        default=None, min_length=1, max_length=MAX_EVIDENCE, description="version 3: those anchors' evidence"
    )

    @model_validator(mode="after")
    def _members_by_version(self) -> Self:
        if self.version == 3:
            if self.additional_anchors is None:
                raise ValueError("a version 3 manifest lists its additional anchors; this one has none")
            _check_anchors([self.anchor, *self.additional_anchors], self.additional_evidence or ())
            return self
        if self.additional_anchors is not None or self.additional_evidence is not None:
            raise ValueError(f"a version {self.version} manifest has one anchor (version 3 lists more)")
        if (self.version == 2) != (self.evidence is not None):
            raise ValueError("a version 2 manifest carries the anchor's evidence, a version 1 manifest none")
        return self

    def anchors(self) -> tuple[ManifestAnchor, ...]:
        return (self.anchor, *(self.additional_anchors or ()))

    @classmethod
    def from_json(cls, data: bytes, *, source: str = "manifest") -> Self:
        document = parse_json(data, source, InvalidInput)
        manifest = _validate(cls, document, source, InvalidInput)
        if manifest.count != len(manifest.digests):
            raise InvalidInput(f"{source}: count is {manifest.count} but {len(manifest.digests)} digests are listed")
        return manifest

    def to_json(self) -> str:
        dumped = self.model_dump(mode="json", exclude_none=True)
        return json.dumps(dumped, indent=1) + "\n"


def _validate(model: type[M], document: Any, source: str, error: type[InvalidInput], prefix: str = "") -> M:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise error(f"{source}: {describe(exc, prefix)}") from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    """The first validation error as `path: problem`, plus how many more there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{path or 'document'}: {_problem(first)}{more}"


def _problem(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown member"
    if kind == "missing":
        return "missing"
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}, got {_shown(error['input'])}"
    if kind == "string_pattern_mismatch":
        expected = _PATTERN_MEANING.get(error["ctx"]["pattern"], "a different format")
        return f"must be {expected}, got {_shown(error['input'])}"
    if kind in ("too_long", "string_too_long"):
        what = "characters" if isinstance(error["input"], str) else "entries"
        return f"has {len(error['input'])} {what}; at most {error['ctx']['max_length']}"
    if kind in _TYPE_MEANING:
        return f"must be {_TYPE_MEANING[kind]}, got {_shown(error['input'])}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{str(error['msg']).replace('Input should be', 'must be')}, got {_shown(error['input'])}"
    return str(error["msg"]).removeprefix("Value error, ")


_PATTERN_MEANING = {
    HASH32_PATTERN: "32 bytes as lowercase 0x-hex (66 characters)",
    ADDRESS_PATTERN: "a 20-byte address as 0x-hex (42 characters)",
    UTC_PATTERN: "a UTC time to the second, like 2026-01-31T09:00:00Z",
}
_TYPE_MEANING = {
    "int_type": "an integer",
    "string_type": "a string",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "list_type": "an array",
    "bool_type": "true or false",
    "float_type": "a number",
}


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def receipt_schema(version: int = RECEIPT_VERSION) -> dict[str, Any]:
    """The committed JSON Schema of receipt `version`, with the credential shape verifiers rely on."""
    schema = Receipt.model_json_schema(by_alias=True)
    schema["properties"]["version"] = {"const": version, "type": "integer"}
    for member in ("evidence", "additionalAnchors"):
        found = schema["properties"][member]
        found.update(found.pop("anyOf")[0])
        found.pop("default")
    del schema["properties"]["additionalAnchors"]["description"]  # the list's, not the anchor's
    if version == RECEIPT_VERSION:
        del schema["properties"]["evidence"]
        del schema["$defs"]["Evidence"]
    else:
        schema["description"] += " Version 2 adds the anchor's chain evidence, to verify without the issuer's node."
    if version == EVIDENCE_RECEIPT_VERSION:
        schema["required"].append("evidence")
    if version == MULTI_ANCHOR_RECEIPT_VERSION:
        schema["required"].append("additionalAnchors")
        schema["properties"]["additionalAnchors"]["description"] = "the same root anchored on other chains"
        schema["description"] += (
            " Version 3 lists the root's anchors on other chains (one per chain), evidence of each optional."
        )
    else:
        del schema["properties"]["additionalAnchors"]
    credential = CredentialView.model_json_schema(by_alias=True)
    schema["$defs"].update(credential.pop("$defs"))
    credential["title"] = "OpenBadgeCredential"
    schema["$defs"]["OpenBadgeCredential"] = credential
    description = schema["properties"]["credential"]["description"]
    schema["properties"]["credential"] = {"$ref": "#/$defs/OpenBadgeCredential", "description": description}
    schema = _untitled(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://credanchor.dev/schemas/receipt-v{version}.schema.json",
        "title": "CredentialReceipt",
        **schema,
    }


def _untitled(value: Any) -> Any:
    """The schema without pydantic's per-field titles ("Chainid"); models (nodes with properties) keep theirs."""
    if isinstance(value, dict):
        keep_title = "properties" in value
        return {k: _untitled(v) for k, v in value.items() if k != "title" or keep_title}
    if isinstance(value, list):
        return [_untitled(v) for v in value]
    return value


def receipt_document(
    credential: dict[str, Any],
    digest: str,
    leaf: str,
    proof: Sequence[bytes],
    root: str,
    anchor: dict[str, Any],
    evidence: Sequence[dict[str, Any]] = (),
    additional_anchors: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A receipt as plain JSON data, for writing many quickly (the issuer's self-check parses them back
    through `Receipt.from_json`, so a mistake here cannot go out unnoticed): version 2 with `evidence`,
    version 3 with `additional_anchors`."""
    version = EVIDENCE_RECEIPT_VERSION if evidence else RECEIPT_VERSION
    document = {
        "type": "CredentialReceipt",
        "version": MULTI_ANCHOR_RECEIPT_VERSION if additional_anchors else version,
        "credential": credential,
        "digest": digest,
        "merkle": {"scheme": SCHEME, "leaf": leaf, "proof": hex_list(proof), "root": root},
        "anchor": anchor,
    }
    if additional_anchors:
        document["additionalAnchors"] = list(additional_anchors)
    if evidence:
        document["evidence"] = list(evidence)
    return document


def dump_receipt(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def hex_list(values: Sequence[bytes]) -> list[str]:
    return ["0x" + v.hex() for v in values]
