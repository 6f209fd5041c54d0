"""Writing a batch's receipts and manifest: one receipt per credential, in large chunks on every core.

Receipts go out in one of three forms (`issue --receipts`): `dir`, a file per credential written by the
workers; `jsonl` and `zip`, one container (`receipts.jsonl`, `receipts.zip`) the workers encode chunks of
and the parent appends in large sequential writes (`anchoring.receiptwrite`).

Invariants: receipts are written (atomically, each file or the whole container) before any of them is
recorded in the database, and flushed with one sync; every receipt lists every anchor it is given (the home
chain's first) with that anchor's evidence; the manifest names the batch root, every digest in tree leaf
order and every anchor, and holds no personal data.
"""

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from anchoring.errors import CredanchorError
from anchoring.evidencecollect import BatchEvidence
from anchoring.faults import fault
from anchoring.files import atomic_write_text
from anchoring.merkle import SCHEME, MerkleTree
from anchoring.progress import Progress
from anchoring.receipt import (
    AnchorSection,
    Evidence,
    Manifest,
    ManifestAnchor,
    dump_receipt,
    receipt_document,
    utc_seconds,
)
from anchoring.receiptfiles import receipt_file_name
from anchoring.receiptwrite import CONTAINER_NAMES, ContainerWriter, Encoded, Form, compact_receipt, encode_chunk
from anchoring.workers import parallel_map
from issuer.store import AnchorRecord, Batch
from issuer.workspace import Workspace

Row = tuple[str, str, str, str]
"""(credential id, digest, leaf, document) as the store gives them."""


def write_batch_receipts(
    out_dir: Path,
    rows: list[Row],
    tree: MerkleTree,
    root: str,
    anchors: Sequence[AnchorSection],
    evidence: Sequence[BatchEvidence],
    progress: Progress,
    form: Form = "dir",
) -> dict[str, str]:
    """Write every receipt of the batch in `form`, then flush them all to disk: credential id -> location
    (`anchoring.receiptfiles`)."""
    if form != "dir":
        return _write_container(out_dir, rows, tree, root, anchors, evidence, progress, form)
    proofs = tree.proofs()
    anchor_docs = [a.model_dump(mode="json") for a in anchors]
    jobs = []
    for i in range(0, len(rows), RECEIPT_CHUNK):
        chunk = rows[i : i + RECEIPT_CHUNK]
        leaves = [leaf for _, _, leaf, _ in chunk]
        part = [e.only(leaves) for e in evidence]
        jobs.append((out_dir, chunk, proofs[i : i + RECEIPT_CHUNK], root, anchor_docs, part))
    paths: dict[str, str] = {}
    for written in parallel_map(write_receipts, jobs):
        paths.update(written)
        progress.advance(len(written))
        if len(paths) >= len(rows) // 2:
            fault("receipts-half")
    os.sync()  # one flush for every receipt written above, before any of them is recorded as written
    return paths


def _write_container(
    out_dir: Path,
    rows: list[Row],
    tree: MerkleTree,
    root: str,
    anchors: Sequence[AnchorSection],
    evidence: Sequence[BatchEvidence],
    progress: Progress,
    form: Form,
) -> dict[str, str]:
    proofs = tree.proofs()
    anchor_docs = [a.model_dump(mode="json") for a in anchors]
    jobs = []
    for i in range(0, len(rows), RECEIPT_CHUNK):
        chunk = rows[i : i + RECEIPT_CHUNK]
        part = [e.only([leaf for _, _, leaf, _ in chunk]) for e in evidence]
        jobs.append((form, chunk, proofs[i : i + RECEIPT_CHUNK], root, anchor_docs, part))
    locations: dict[str, str] = {}
    with ContainerWriter(out_dir / CONTAINER_NAMES[form], form) as writer:
        for encoded in parallel_map(encode_receipts, jobs):
            locations.update(writer.add(encoded))
            progress.advance(len(encoded.ids))
            if len(locations) >= len(rows) // 2:
                fault("receipts-half")
        writer.finish()  # one fsync, then the rename: only a complete container has the final name
    return locations


def encode_receipts(
    job: tuple[
        Form,
        list[Row],
        list[tuple[bytes, ...]],
        str,
        list[dict[str, object]],
        list[BatchEvidence],
    ],
) -> Encoded:
    """One chunk of a batch's receipts as container bytes (in a worker process for large batches)."""
    form, rows, proofs, root, anchors, evidence = job
    receipts = []
    for (credential_id, digest, leaf, document), proof in zip(rows, proofs, strict=True):
        proven = [e.for_leaf(leaf) for e in evidence]
        receipt = receipt_document({}, digest, leaf, proof, root, anchors[0], proven, anchors[1:])
        receipts.append((credential_id, receipt_name(credential_id), compact_receipt(receipt, document)))
    return encode_chunk(form, receipts)


def write_manifest(
    workspace: Workspace,
    batch: Batch,
    tree: MerkleTree,
    anchors: list[AnchorSection],
    digests: list[str],
    evidences: Sequence[BatchEvidence | None],
) -> Path:
    """The batch manifest, in the workspace's manifests folder and beside the receipts; `evidences[i]` is the
    evidence of `anchors[i]`, if any."""
    count = len(tree)
    leaf_order = sorted(range(count), key=tree.tree_index, reverse=True)
    additional = [ManifestAnchor(**a.model_dump()) for a in anchors[1:]]
    first = evidences[0] if evidences else None
    more = [Evidence.model_validate(e.shared_part()) for e in evidences[1:] if e is not None]
    manifest = Manifest(
        type="BatchManifest",
        version=3 if additional else 2 if first else 1,
        evidence=Evidence.model_validate(first.shared_part()) if first else None,
        scheme=SCHEME,
        root=batch.root,
        count=count,
        digests=[digests[i] for i in leaf_order],
        anchor=ManifestAnchor(**anchors[0].model_dump()),
        issuer=workspace.config.issuer.id,
        achievement=batch.achievement_id,
        additionalAnchors=additional or None,
        additionalEvidence=more or None,
    )
    name = manifest_name(batch)
    text = manifest.to_json()
    archive = workspace.manifests_dir / name
    atomic_write_text(archive, text)
    atomic_write_text(Path(batch.out_dir) / "manifest" / name, text)
    return archive


RECEIPT_CHUNK = 2000


def write_receipts(
    job: tuple[
        Path,
        list[tuple[str, str, str, str]],
        list[tuple[bytes, ...]],
        str,
        list[dict[str, object]],
        list[BatchEvidence],
    ],
) -> dict[str, str]:
    """Write one chunk of a batch's receipts (in a worker process for large batches): credential id -> path.
    `anchors` are the home chain's anchor, then the additional ones; `evidence` those anchors' evidence."""
    out_dir, rows, proofs, root, anchors, evidence = job
    written = {}
    for (credential_id, digest, leaf, document), proof in zip(rows, proofs, strict=True):
        path = out_dir / receipt_name(credential_id)
        proven = [e.for_leaf(leaf) for e in evidence]
        receipt = receipt_document(json.loads(document), digest, leaf, proof, root, anchors[0], proven, anchors[1:])
        atomic_write_text(path, dump_receipt(receipt), durable=False)
        written[credential_id] = str(path)
    return written


def anchor_section(record: AnchorRecord) -> AnchorSection:
    if record.tx_hash is None or record.block_number is None or record.block_timestamp is None:
        raise CredanchorError(f"{record.label} is {record.state} but has no anchoring block recorded")
    return AnchorSection(
        chainId=record.chain_id,
        registry=record.registry,
        txHash=record.tx_hash,
        blockNumber=record.block_number,
        timestamp=utc_seconds(datetime.fromtimestamp(record.block_timestamp, UTC)),
    )


def receipt_name(credential_id: str) -> str:
    return receipt_file_name(credential_id)


def manifest_name(batch: Batch) -> str:
    return f"batch-{batch.id:05d}-{batch.root[2:14]}.json"
