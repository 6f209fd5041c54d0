"""`credanchor doctor`: cross-check the database, the manifests, the receipts on disk and the chain.

Invariants: read-only (it reports, it never repairs); every difference is one finding naming the batch and
the values on each side. Problems make the exit code 1; notices (an unfinished batch to resume) do not.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from anchoring.chain import Registry
from anchoring.errors import CredanchorError
from anchoring.hashing import to_hex
from anchoring.jsonio import read_limited
from anchoring.merkle import MerkleTree
from anchoring.onchain import RegistryEvent
from anchoring.progress import Progress, Silent
from anchoring.receipt import MAX_MANIFEST_BYTES, Manifest
from anchoring.receiptfiles import location_file
from issuer.store import Batch, State, Store


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    batches: int = 0
    credentials: int = 0
    anchors_on_chain: int = 0

    @property
    def healthy(self) -> bool:
        return not self.problems


def examine(store: Store, registry: Registry, progress: Progress | None = None) -> Findings:
    progress = progress or Silent()
    findings = Findings()
    chain = registry.chain
    head = chain.block_number()
    events = list(registry.events(registry.deployment_block(), head))
    anchored = {e.args["root"]: e for e in events if e.name == "Anchored"}
    revoked_on_chain = {(e.args["root"], e.args["leaf"]) for e in events if e.name == "CredentialRevoked"}
    batch_revoked_on_chain = {e.args["root"] for e in events if e.name == "BatchRevoked"}
    findings.anchors_on_chain = len(anchored)
    batches = list(store.batches())
    findings.batches = len(batches)
    progress.stage("checking batches", len(batches))
    known_roots = set()
    for batch in batches:
        known_roots.add(batch.root)
        findings.problems += [f"batch {batch.id}: {p}" for p in _batch_problems(store, batch, anchored, findings)]
        if batch.state != State.DELIVERED:
            findings.notices.append(f"batch {batch.id} is {batch.state}: run `credanchor resume {batch.id}`")
        revoked_in_db = batch.revoked_at is not None
        if revoked_in_db != (batch.root in batch_revoked_on_chain):
            side = "the database" if revoked_in_db else "the chain"
            findings.problems.append(f"batch {batch.id}: revoked only in {side}")
        progress.advance()
    for root, event in anchored.items():
        if root not in known_roots:
            findings.problems.append(
                f"root {root} anchored in block {event.block_number} by {event.args['sender']} is not a batch of "
                "this workspace (another workspace sharing the registry, or a key used elsewhere?)"
            )
    for problem in _revocation_problems(store, batches, revoked_on_chain):
        findings.problems.append(problem)
    return findings


def _batch_problems(
    store: Store, batch: Batch, anchored: dict[str, RegistryEvent], findings: Findings
) -> Iterator[str]:
    digests = store.digests(batch.id or 0)
    findings.credentials += len(digests)
    if len(digests) != batch.count:
        yield f"{len(digests)} credentials stored, the batch says {batch.count}"
    if digests:
        root = to_hex(MerkleTree.build([bytes.fromhex(d[2:]) for d in digests]).root)
        if root != batch.root:
            yield f"stored credentials give root {root}, the batch says {batch.root}"
    event = anchored.get(batch.root)
    if batch.state in (State.CONFIRMED, State.DELIVERED):
        if event is None:
            yield f"root {batch.root} is {batch.state} in the database but not anchored on chain"
        else:
            yield from _anchor_problems(batch, event)
    if batch.state == State.DELIVERED:
        yield from _manifest_problems(batch, digests)
        missing = [cid for cid, at in store.receipt_paths(batch.id or 0) if not at or not location_file(at).is_file()]
        if missing:
            yield f"{len(missing)} receipt file(s) missing, first for {missing[0]}"


def _anchor_problems(batch: Batch, event: RegistryEvent) -> Iterator[str]:
    if event.block_number != batch.block_number:
        yield f"anchored in block {event.block_number}, the database says {batch.block_number}"
    if event.tx_hash != batch.tx_hash:
        yield f"anchored by tx {event.tx_hash}, the database says {batch.tx_hash}"


def _manifest_problems(batch: Batch, digests: list[str]) -> Iterator[str]:
    if not batch.manifest_path:
        yield "no manifest recorded"
        return
    path = Path(batch.manifest_path)
    try:
        manifest = Manifest.from_json(read_limited(path, MAX_MANIFEST_BYTES), source=str(path))
    except CredanchorError as exc:
        yield f"manifest unreadable: {exc}"
        return
    if manifest.root != batch.root or manifest.count != batch.count:
        yield f"manifest {path} names root {manifest.root} with {manifest.count} credentials"
    if sorted(manifest.digests) != sorted(digests):
        yield f"manifest {path} lists other digests than the database"
    if manifest.anchor.tx_hash != batch.tx_hash or manifest.anchor.block_number != batch.block_number:
        yield f"manifest {path} names tx {manifest.anchor.tx_hash} in block {manifest.anchor.block_number}"


def _revocation_problems(store: Store, batches: list[Batch], on_chain: set[tuple[str, str]]) -> Iterator[str]:
    in_db = set()
    for batch in batches:
        for credential_id, leaf in store.revoked_leaves(batch.id or 0):
            in_db.add((batch.root, leaf))
            if (batch.root, leaf) not in on_chain:
                yield f"credential {credential_id} is revoked in the database but not on chain"
    roots = {b.root for b in batches}
    for root, leaf in sorted(on_chain - in_db):
        if root in roots:
            yield f"leaf {leaf} of root {root} is revoked on chain but not in the database"


def findings_json(findings: Findings) -> str:
    return json.dumps(
        {
            "healthy": findings.healthy,
            "batches": findings.batches,
            "credentials": findings.credentials,
            "anchorsOnChain": findings.anchors_on_chain,
            "problems": findings.problems,
            "notices": findings.notices,
        }
    )
