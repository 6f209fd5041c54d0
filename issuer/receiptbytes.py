"""A receipt's bytes, assembled around the stored credential text: the batch's shared parts (anchors, the
evidence header and shared trie nodes) are encoded once per batch, and each receipt adds only its own
parts (digest, leaf, Merkle proof, its leaves' trie nodes). No credential is parsed or re-encoded.

Invariants: `json.loads(envelope.receipt(...))` equals `anchoring.receipt.receipt_document(...)` for the
same inputs (a test checks it); the output is one line of compact JSON (so it is also a JSON Lines
record), UTF-8, without its line break (the writer adds it: a JSON Lines line is stored as two buffers, no
copy made to join them); the credential text is inserted as the store holds it, which is the
compact JSON the batch builder wrote.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anchoring.evidencecollect import BatchEvidence
from anchoring.merkle import SCHEME, proof_json
from anchoring.receipt import EVIDENCE_RECEIPT_VERSION, MULTI_ANCHOR_RECEIPT_VERSION, RECEIPT_VERSION

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True)
class _EvidencePart:
    head: str
    """`{"type":...,"header":{...},"nodes":[` with the shared nodes, ready for the leaf's own."""
    shared: frozenset[str]
    by_leaf: dict[str, tuple[str, ...]]
    empty: bool

    def text(self, leaf: str) -> str:
        return self.head + self.own(leaf) + "]}"

    def own(self, leaf: str) -> str:
        """The leaf's own nodes, as the rest of the nodes array's items (with the comma before them)."""
        own = [n for n in dict.fromkeys(self.by_leaf[leaf]) if n not in self.shared]
        if not own:
            return ""
        return ("" if self.empty else ",") + ",".join(f'"{n}"' for n in own)


class Envelope:
    """The parts every receipt of one batch shares, encoded once."""

    def __init__(self, root: str, anchors: Sequence[dict[str, Any]], evidence: Sequence[BatchEvidence] = ()) -> None:
        if not anchors:
            raise ValueError("a receipt needs at least one anchor")
        version = (
            MULTI_ANCHOR_RECEIPT_VERSION
            if len(anchors) > 1
            else EVIDENCE_RECEIPT_VERSION
            if evidence
            else RECEIPT_VERSION
        )
        self._start = f'{{"type":"CredentialReceipt","version":{version},"credential":'
        self._merkle = f'"merkle":{{"scheme":{_dumps(SCHEME)},"leaf":'
        self._root = f',"root":{_dumps(root)}}},"anchor":{_dumps(anchors[0])}'
        more = f',"additionalAnchors":{_dumps(list(anchors[1:]))}' if len(anchors) > 1 else ""
        self._tail = more + (',"evidence":[' if evidence else "")
        self._evidence = [_part(e) for e in evidence]

    def receipt(self, document: str, digest: str, leaf: str, proof: Sequence[bytes]) -> bytes:
        """One receipt: `document` is the credential's stored JSON text; `proof` its Merkle proof."""
        return self.receipt_of(document, digest, leaf, proof_json(proof))

    def receipt_of(self, document: str, digest: str, leaf: str, hashes: str) -> bytes:
        """`receipt` with the proof already written as its JSON array's items (`MerkleTree.proof_json`).
        The text is made in one piece and encoded once (a receipt is about 9 KB, most of it the evidence's
        shared part: each further copy of it costs more than the rest of the receipt's making)."""
        if "\n" in document or "\r" in document:  # not as the batch builder writes it: one line again
            document = _dumps(json.loads(document))
        evidence = self._evidence
        if len(evidence) == 1:  # the usual case: its shared part put in as it is, not joined into a copy first
            head, rest = evidence[0].head, evidence[0].own(leaf) + "]}]"
        else:
            head, rest = (",".join(part.text(leaf) for part in evidence) + "]" if evidence else ""), ""
        return (
            f'{self._start}{document},"digest":"{digest}",{self._merkle}"{leaf}","proof":[{hashes}]'
            f"{self._root}{self._tail}{head}{rest}}}"
        ).encode()


def _part(evidence: BatchEvidence) -> _EvidencePart:
    head = {"type": "EthStateProof", "chainId": evidence.chain_id, "registry": evidence.registry}
    shared = list(dict.fromkeys(evidence.shared))
    prefix = _dumps({**head, "header": evidence.header, "nodes": shared})
    if not prefix.endswith("]}"):
        raise ValueError("the evidence's nodes must come last")
    return _EvidencePart(prefix[:-2], frozenset(shared), evidence.by_leaf, not shared)
