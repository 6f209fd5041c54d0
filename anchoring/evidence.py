"""What a receipt's chain evidence proves: the registry's words for its root, leaf and keys at one block.

Invariants: pure (an `Evidence` and the receipt's own values in, proven facts out). The header is hashed
from its fields here; whether that hash belongs to the chain is for the caller to establish (checkpoints,
or several nodes agreeing), and a `ProvenState` says which hash it rests on. Storage slots are computed from
the committed storage layout, never read from the evidence, so evidence can only prove words at the places
this verifier chose. Anything the nodes do not reach raises `ProofInvalid`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import orjson

from anchoring.blockheader import Header, parse_header
from anchoring.errors import InvalidInput
from anchoring.hashing import to_hex
from anchoring.mpt import NodePool, ProofInvalid, StorageWalks
from anchoring.onchain import OnChainAnchor, SigningKeyStatus
from anchoring.receipt import MAX_EVIDENCE_NODES, Evidence
from anchoring.storagelayout import RegistryLayout, committed_layout


@dataclass(frozen=True)
class ProvenState:
    """The registry's state at one block, as the evidence proves it against that block's header."""

    chain_id: int
    registry: str
    block_number: int
    block_hash: str
    timestamp: int
    registry_exists: bool
    anchor: OnChainAnchor | None
    """The root's anchor word (None: the root is not anchored in this registry at this block)."""
    leaf_revoked: tuple[int, int] | None
    """(block, timestamp) of the credential's own revocation, None if it is not revoked."""
    keys: dict[str, SigningKeyStatus] = field(default_factory=dict)
    """Registry entries of the signing keys the evidence covers."""
    issuer_id: str | None = None


def needed_slots(layout: RegistryLayout, root: str, leaf: str, public_keys: Sequence[str]) -> list[bytes]:
    """The storage slots a receipt's evidence must prove (the issuer id's data slots follow its head word)."""
    return [
        layout.anchors.slot(bytes.fromhex(root[2:])),
        layout.revoked_leaves.slot(bytes.fromhex(root[2:]), bytes.fromhex(leaf[2:])),
        *(layout.signing_keys.slot(bytes.fromhex(k[2:])) for k in public_keys),
        layout.issuer_id.head,
    ]


_Shared = tuple[ProvenState, NodePool, bytes | None]
_shared: dict[tuple[object, ...], _Shared] = {}
SHARED_LIMIT = 4096


def prove_state(
    evidence: Evidence,
    *,
    root: str,
    leaf: str,
    public_keys: Sequence[str] = (),
    layout: RegistryLayout | None = None,
) -> ProvenState:
    """Walk the evidence from its header's state root to every word this receipt depends on.

    Receipts of one batch carry the same header and mostly the same nodes: what does not depend on the leaf
    (the header, the account, the anchor word, the keys, the issuer id) is remembered by the evidence's exact
    content, the root and the keys, and only the leaf's own word is walked each time. Evidence that does not
    hold is never remembered: it is walked in full, in the order below, so its error is the same."""
    layout = layout or committed_layout()
    try:
        content: tuple[object, ...] | None = (
            evidence.chain_id,
            evidence.registry,
            orjson.dumps(evidence.header),
            tuple(evidence.nodes),
            root,
            tuple(public_keys),
            layout,
        )
    except (orjson.JSONEncodeError, TypeError):
        content = None
    found = _shared.get(content) if content is not None else None
    if found is None:
        try:
            found = _prove_shared(evidence, root, public_keys, layout)
        except InvalidInput:
            return _prove_state(evidence, root=root, leaf=leaf, public_keys=public_keys, layout=layout)
        if content is not None:
            if len(_shared) >= SHARED_LIMIT:
                _shared.clear()
            _shared[content] = found
    state, pool, storage = found
    if storage is None:
        return state
    try:
        word = pool.storage(storage, layout.revoked_leaves.slot(bytes.fromhex(root[2:]), bytes.fromhex(leaf[2:])))
    except ProofInvalid:
        return _prove_state(evidence, root=root, leaf=leaf, public_keys=public_keys, layout=layout)
    revocation = layout.revoked_leaves.decode(word)
    leaf_revoked = (revocation["blockNumber"], revocation["timestamp"]) if revocation["blockNumber"] else None
    return replace(state, leaf_revoked=leaf_revoked, keys=dict(state.keys))


def leaf_walker(
    evidence: Evidence, *, root: str, public_keys: Sequence[str] = (), layout: RegistryLayout | None = None
) -> Callable[[str], bool]:
    """For the leaves of one root: whether `prove_state(evidence, root=root, leaf=leaf, public_keys=...)`
    surely proves without failing (its leaf's revocation word is walked; True only when the walk is whole).
    Raises what `prove_state` raises when the evidence's shared part does not hold, or has no registry."""
    layout = layout or committed_layout()
    _, pool, storage = _prove_shared(evidence, root, public_keys, layout)
    if storage is None:
        raise ProofInvalid("evidence: the registry has no account")
    slot = layout.revoked_leaves.slots_under(bytes.fromhex(root[2:]))
    whole = StorageWalks(pool, storage)

    def walks(leaf: str) -> bool:
        try:
            return whole(slot(bytes.fromhex(leaf[2:])))
        except ValueError:
            return False

    return walks


def _prove_shared(evidence: Evidence, root: str, public_keys: Sequence[str], layout: RegistryLayout) -> _Shared:
    """`_prove_state` without the leaf's word (the state, the pool, the storage root; None: no account)."""
    header = parse_header(evidence.header)  # InvalidInput is not ProofInvalid: `_prove_state` says it
    pool = NodePool(evidence.nodes, "evidence", limit=MAX_EVIDENCE_NODES)
    account = pool.account(header.state_root, bytes.fromhex(evidence.registry[2:]))
    if account is None:
        return _absent(evidence, header), pool, None
    return (
        _prove_state(evidence, root=root, leaf=None, public_keys=public_keys, layout=layout),
        pool,
        account.storage_root,
    )


def _absent(evidence: Evidence, header: Header) -> ProvenState:
    """What evidence proves of a registry that has no account at its block."""
    return ProvenState(
        chain_id=evidence.chain_id,
        registry=evidence.registry,
        block_number=header.number,
        block_hash=to_hex(header.hash),
        timestamp=header.timestamp,
        registry_exists=False,
        anchor=None,
        leaf_revoked=None,
    )


def _prove_state(
    evidence: Evidence,
    *,
    root: str,
    leaf: str | None,
    public_keys: Sequence[str],
    layout: RegistryLayout,
) -> ProvenState:
    """Every word, in order (the leaf's left out when `leaf` is None)."""
    try:
        header = parse_header(evidence.header)
    except InvalidInput as exc:
        raise ProofInvalid(f"evidence header: {exc}") from None
    pool = NodePool(evidence.nodes, "evidence", limit=MAX_EVIDENCE_NODES)
    address = bytes.fromhex(evidence.registry[2:])
    account = pool.account(header.state_root, address)
    if account is None:
        return _absent(evidence, header)
    storage = account.storage_root
    raw_root = bytes.fromhex(root[2:])

    # 1. The root's anchor word: block, time, leaf count and the batch's revocation.
    word = layout.anchors.decode(pool.storage(storage, layout.anchors.slot(raw_root)))
    anchor = None
    if word["blockNumber"] != 0:
        anchor = OnChainAnchor(
            root=root,
            block_number=word["blockNumber"],
            timestamp=word["timestamp"],
            leaf_count=word["leafCount"],
            revoked_block=word["revokedBlock"],
            revoked_timestamp=word["revokedTimestamp"],
        )

    # 2. The credential's own revocation.
    leaf_revoked = None
    if leaf is not None:
        revocation = layout.revoked_leaves.decode(
            pool.storage(storage, layout.revoked_leaves.slot(raw_root, bytes.fromhex(leaf[2:])))
        )
        leaf_revoked = (revocation["blockNumber"], revocation["timestamp"]) if revocation["blockNumber"] else None

    # 3. The signing keys' entries, for the keys the evidence covers (a credential re-signed with another key
    # after issuing brings a key the issuer's evidence never proved: it is left out, and is unproven).
    keys = {}
    for key in public_keys:
        try:
            key_word = pool.storage(storage, layout.signing_keys.slot(bytes.fromhex(key[2:])))
        except ProofInvalid:
            continue
        entry = layout.signing_keys.decode(key_word)
        keys[key] = SigningKeyStatus(key, entry["addedBlock"], entry["revokedBlock"])

    # 4. The issuer id the registry is bound to (a string: one word, or a head word and its data words).
    head = pool.storage(storage, layout.issuer_id.head)
    try:
        data = [pool.storage(storage, slot) for slot in layout.issuer_id.data_slots(head)]
        raw_id = layout.issuer_id.decode(head, data)
        issuer_id = raw_id.decode("utf-8") if raw_id else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProofInvalid(f"evidence: the registry's issuer id cannot be read: {exc}") from None
    return replace(
        _absent(evidence, header),
        registry_exists=True,
        anchor=anchor,
        leaf_revoked=leaf_revoked,
        keys=keys,
        issuer_id=issuer_id,
    )
