"""Collecting a batch's chain evidence from a node: one header and `eth_getProof` answers, once per batch.

Invariants: this is the edge that talks to the node; what it gathers is checked by `anchoring.evidence`
before it is handed out (a node that answers wrongly fails here, not in an earner's hands). The words every
receipt of the batch shares (the registry's account, the root's anchor, the signing keys, the issuer id)
are proven once; each credential's own revocation slot is asked in chunks of `LEAF_CHUNK` keys per request.
A node that no longer serves state for the block asked (pruned, or restarted Anvil) gets a newer block.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from anchoring.blockheader import NOT_HEADER
from anchoring.chain import Chain, redact_url
from anchoring.errors import ChainUnavailable
from anchoring.evidence import prove_state
from anchoring.hashing import checksum_address, keccak256, to_hex
from anchoring.mpt import deciding_prefix, proof_path_decided, remembered
from anchoring.receipt import Evidence
from anchoring.storagelayout import RegistryLayout, committed_layout

LEAF_CHUNK = 1000


def rpc(chain: Chain, method: str, *params: object) -> Any:
    """One raw JSON-RPC call (the answer as the node wrote it, which headers and proofs need)."""
    from anchoring.rpcreader import RpcChain  # the verifier's light reader: no web3 loaded for it

    if isinstance(chain, RpcChain):
        return chain.rpc.request(method, method, list(params))
    answer = chain.ask(method, lambda: chain.w3.provider.make_request(method, list(params)))  # type: ignore[arg-type]
    if "error" in answer:
        message = answer["error"].get("message", answer["error"]) if isinstance(answer["error"], dict) else answer
        raise ChainUnavailable(f"node at {redact_url(chain.url)} refused {method}: {message}", answered=True)
    return answer.get("result")


def header_at(chain: Chain, block: int) -> dict[str, Any]:
    found = rpc(chain, "eth_getBlockByNumber", hex(block), False)
    if not isinstance(found, dict):
        raise ChainUnavailable(f"node at {redact_url(chain.url)} has no block {block}")
    # Unknown keys stay, so that the header check refuses a fork it does not know instead of hashing less.
    return {k: v for k, v in found.items() if k == "hash" or k not in NOT_HEADER}


@dataclass(frozen=True)
class BatchEvidence:
    """What a batch's receipts are proven by: shared nodes, and each leaf's own."""

    chain_id: int
    registry: str
    header: dict[str, Any]
    shared: tuple[str, ...]
    by_leaf: dict[str, tuple[str, ...]]
    fallback_note: str | None = None

    def block_number(self) -> int:
        return int(self.header["number"], 16)

    def only(self, leaves: Sequence[str]) -> "BatchEvidence":
        """The same evidence holding only these leaves' own nodes (what one writer process needs)."""
        return replace(self, by_leaf={leaf: self.by_leaf[leaf] for leaf in leaves})

    def shared_part(self) -> dict[str, Any]:
        """The evidence every receipt shares (the anchor, the keys, the issuer id), as JSON data."""
        return {
            "type": "EthStateProof",
            "chainId": self.chain_id,
            "registry": self.registry,
            "header": self.header,
            "nodes": list(self.shared),
        }

    def for_leaf(self, leaf: str) -> dict[str, Any]:
        """The evidence of one receipt, as JSON data: every node it needs, each once."""
        nodes = list(dict.fromkeys((*self.shared, *self.by_leaf[leaf])))
        return {
            "type": "EthStateProof",
            "chainId": self.chain_id,
            "registry": self.registry,
            "header": self.header,
            "nodes": nodes,
        }


def _proof(chain: Chain, registry: str, slots: Sequence[bytes], block: int) -> dict[str, Any]:
    found = rpc(chain, "eth_getProof", registry, [to_hex(s) for s in slots], hex(block))
    if not isinstance(found, dict) or len(found.get("storageProof", [])) != len(slots):
        raise ChainUnavailable(f"node at {redact_url(chain.url)} gave an eth_getProof answer without every slot")
    return found


class _Nodes:
    """Storage-trie nodes an `eth_getProof` answer gave, by hash, each kept as the node wrote it."""

    def __init__(self, nodes: Sequence[str] = ()) -> None:
        self.raw: dict[bytes, bytes] = {}
        self.text: dict[bytes, str] = {}
        self.walked: dict[bytes, dict[bytes, tuple[str, ...]]] = {}
        """By trie root: proofs by the `deciding_prefix` of the keys walked. Nodes added later cannot change a
        walk that found every node it read."""
        self.add(nodes)

    def add(self, nodes: Sequence[str]) -> None:
        for node in nodes:
            try:
                raw = bytes.fromhex(node[2:]) if node.startswith("0x") else None
            except (AttributeError, ValueError):  # not a node: left to the checks of what the node gave
                raw = None
            if raw is None:
                continue
            digest = keccak256(raw)
            if digest not in self.text:
                self.raw[digest], self.text[digest] = raw, node

    def proof(self, root: bytes, key_hash: bytes) -> tuple[str, ...] | None:
        """`eth_getProof`'s nodes for the key, walked over these nodes; None when one is missing.

        A batch's leaves' slots spread over a small trie (a registry with few revocations), where the first
        nibble or two of a key decide its whole walk: such a walk is remembered for the keys that start the
        same, and most of a million proofs are found without walking."""
        walked = self.walked.setdefault(root, {})
        found = remembered(walked, key_hash)
        if found is not None:
            return found
        path, decided = proof_path_decided(self.raw, root, key_hash)
        if path is None:
            return None
        proof = tuple([self.text[digest] for digest in path])
        prefix = deciding_prefix(key_hash, decided)
        if prefix is not None:
            walked[prefix] = proof
        return proof


ATTEMPTS = 3


class _Moved(Exception):
    """The node's answers for one block disagree on the registry's storage root."""


def collect(
    chain: Chain,
    registry: str,
    root: str,
    leaves: Sequence[str],
    public_keys: Sequence[str],
    block: int,
    *,
    layout: RegistryLayout | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> BatchEvidence:
    """Evidence of `root`'s anchor and each leaf's revocation state at `block` (or the head, if the node
    cannot serve that block's state any more).

    Every `eth_getProof` answer names the storage root its proofs start from; they must all name the
    shared one. A node whose answers for one block do not agree (Anvil, while other transactions land, was
    seen to) is asked again, everything at its head block, up to `ATTEMPTS` times."""
    note = None
    for _ in range(ATTEMPTS):
        try:
            return _collect(chain, registry, root, leaves, public_keys, block, layout, on_progress, note)
        except _Moved:
            asked, block = block, chain.block_number()
            note = (
                f"the node's answers for block {asked} disagreed on the registry's state; "
                f"evidence is from block {block}"
            )
    raise ChainUnavailable(
        f"node at {redact_url(chain.url)} gave proofs from different states of the registry {ATTEMPTS} times"
    )


def _collect(
    chain: Chain,
    registry: str,
    root: str,
    leaves: Sequence[str],
    public_keys: Sequence[str],
    block: int,
    layout: RegistryLayout | None,
    on_progress: Callable[[int], None] | None,
    note: str | None,
) -> BatchEvidence:
    layout = layout or committed_layout()
    registry = checksum_address(registry)
    raw_root = bytes.fromhex(root[2:])
    head_slot = layout.issuer_id.head
    try:
        first = _proof(chain, registry, [head_slot], block)
    except ChainUnavailable as exc:
        if not exc.answered:
            raise
        newer = chain.block_number()
        note = f"the node serves no state for block {block} any more ({exc}); evidence is from block {newer}"
        block = newer
        first = _proof(chain, registry, [head_slot], block)
    head_word = int(first["storageProof"][0]["value"], 16)
    shared_slots = [
        layout.anchors.slot(raw_root),
        *(layout.signing_keys.slot(bytes.fromhex(k[2:])) for k in public_keys),
        head_slot,
        *layout.issuer_id.data_slots(head_word),
    ]
    shared = _proof(chain, registry, shared_slots, block)
    storage_root = shared.get("storageHash")
    if first.get("storageHash") != storage_root:
        raise _Moved
    nodes = list(shared["accountProof"])
    for entry in shared["storageProof"]:
        nodes += entry["proof"]
    by_leaf: dict[str, tuple[str, ...]] = {}
    # The leaves' slots are mostly empty, so their proofs are drawn from the few nodes of a small storage
    # trie: each distinct node is kept once, and so is each distinct proof (a million leaves then share a few
    # tuples, which writer processes that inherit them read without copying a million objects' pages).
    distinct: dict[str, str] = {}
    paths: dict[tuple[str, ...], tuple[str, ...]] = {}
    # A leaf's proof is the walk of its slot's key through the storage trie: walked here over the nodes the
    # node has given so far (the trie of a registry with few revocations is a handful of nodes), and asked
    # of the node, a chunk at a time, only where a node is missing. Every receipt's proof is checked again by
    # the self-check.
    known = _Nodes(nodes[len(shared["accountProof"]) :])
    slot = layout.revoked_leaves.slots_under(raw_root)
    trie_root = bytes.fromhex(str(storage_root)[2:])
    for start in range(0, len(leaves), LEAF_CHUNK):
        chunk = leaves[start : start + LEAF_CHUNK]
        slots = [slot(bytes.fromhex(leaf[2:])) for leaf in chunk]
        walked: list[tuple[str, ...] | None] = [known.proof(trie_root, keccak256(s)) for s in slots]
        if any(proof is None for proof in walked):
            found = _proof(chain, registry, slots, block)
            if found.get("storageHash") != storage_root:
                raise _Moved
            answered: list[list[str]] = [entry["proof"] for entry in found["storageProof"]]
            for given in answered:
                known.add(given)
            walked = [tuple([distinct.setdefault(node, node) for node in given]) for given in answered]
        for leaf, proof in zip(chunk, walked, strict=True):
            by_leaf[leaf] = paths.setdefault(proof or (), proof or ())
        if on_progress is not None:
            on_progress(len(chunk))
    header = header_at(chain, block)
    gathered = BatchEvidence(chain.chain_id, registry, header, tuple(dict.fromkeys(nodes)), by_leaf, fallback_note=note)
    # What the node gave must prove what it says before any receipt carries it.
    sample = Evidence.model_validate(gathered.for_leaf(leaves[0]))
    prove_state(sample, root=root, leaf=leaves[0], public_keys=public_keys, layout=layout)
    return gathered
