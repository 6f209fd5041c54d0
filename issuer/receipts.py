"""Writing a batch's receipts and manifest: one receipt per credential, in large chunks on every core.

Receipts go out in one of three forms (`issue --receipts`): `dir`, a file per credential written by the
workers; `jsonl` and `zip`, one container (`receipts.jsonl`, `receipts.zip`) the workers encode chunks of,
each into a file of its own, which the parent appends in order (`anchoring.receiptwrite`).

Invariants: receipts are written (atomically, each file or the whole container) before any of them is
recorded in the database, and flushed with one sync; every receipt lists every anchor it is given (the home
chain's first) with that anchor's evidence; the manifest names the batch root, every digest in tree leaf
order and every anchor, and holds no personal data.
"""

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from anchoring.errors import CredanchorError
from anchoring.evidencecollect import BatchEvidence
from anchoring.faults import fault
from anchoring.files import atomic_write, atomic_write_text
from anchoring.merkle import SCHEME, MerkleTree
from anchoring.progress import Progress
from anchoring.receipt import (
    AnchorSection,
    Evidence,
    Manifest,
    ManifestAnchor,
    utc_seconds,
)
from anchoring.receiptfiles import receipt_file_name
from anchoring.receiptwrite import CONTAINER_NAMES, ContainerWriter, Encoded, Form, encode_chunk
from anchoring.workers import bounded_map
from issuer.receiptbytes import Envelope
from issuer.store import AnchorRecord, Batch
from issuer.workspace import Workspace

Row = tuple[str, str, str, str]
"""(credential id, digest, leaf, document) as the store gives them."""


def write_batch_receipts(
    out_dir: Path,
    chunks: Iterable[list[Row]],
    tree: MerkleTree,
    root: str,
    anchors: Sequence[AnchorSection],
    evidence: Sequence[BatchEvidence],
    progress: Progress,
    form: Form = "dir",
) -> dict[str, str]:
    """Write every receipt of the batch in `form` (`chunks`: the store's rows in batch order, a chunk at a
    time), then flush them all to disk: credential id -> location (`anchoring.receiptfiles`).

    Workers assemble each chunk's receipts around the stored credential text (`issuer.receiptbytes`); they
    inherit the batch's envelope and tree as they fork, and at most a few chunks are in flight, so a million
    receipts pass through in bounded memory."""
    global _WRITING
    envelope = Envelope(root, [a.model_dump(mode="json") for a in anchors], evidence)
    half = len(tree) // 2
    locations: dict[str, str] = {}
    with _ONE_AT_A_TIME:
        _WRITING = (envelope, tree)
        try:
            if form == "dir":
                for written in bounded_map(write_receipts, _jobs(form, out_dir, chunks)):
                    locations.update(written)
                    progress.advance(len(written))
                    if len(locations) >= half:
                        fault("receipts-half")
                os.sync()  # one flush for every receipt written above, before any of them is recorded as written
                return locations
            with ContainerWriter(out_dir / CONTAINER_NAMES[form], form) as writer:
                # Each chunk goes from its worker to a file of its own, which the writer copies in.
                for encoded in bounded_map(encode_receipts, _jobs(form, writer.parts, chunks, writer.when)):
                    locations.update(writer.add(encoded))
                    progress.advance(len(encoded.ids))
                    if len(locations) >= half:
                        fault("receipts-half")
                writer.finish()  # one fsync, then the rename: only a complete container has the final name
            return locations
        finally:
            _WRITING = None


class Job(NamedTuple):
    """A chunk of a batch's receipts to write."""

    form: Form
    folder: Path
    """Where its receipts' files go (`dir`), or where the file of its container entries goes (the writer's
    `parts` folder)."""
    position: int
    """Of its first credential in the batch."""
    rows: list[Row]
    when: tuple[int, int]
    """The zip members' DOS time."""


_WRITING: tuple[Envelope, MerkleTree] | None = None
_ONE_AT_A_TIME = threading.Lock()


def _jobs(form: Form, folder: Path, chunks: Iterable[list[Row]], when: tuple[int, int] = (0, 0)) -> Iterator[Job]:
    position = 0
    for rows in chunks:
        yield Job(form, folder, position, rows, when)
        position += len(rows)


def _receipts(job: Job) -> Iterator[tuple[str, bytes]]:
    """(credential id, receipt bytes) of a job's rows."""
    if _WRITING is None:
        raise RuntimeError("receipts are assembled only while write_batch_receipts runs")
    envelope, tree = _WRITING
    for i, (credential_id, digest, leaf, document) in enumerate(job.rows, job.position):
        yield credential_id, envelope.receipt_of(document, digest, leaf, tree.proof_json(i))


def write_receipts(job: Job) -> dict[str, str]:
    """Write one chunk of a batch's receipts as files (in a worker process for large batches): id -> path."""
    out_dir = job.folder
    written = {}
    for credential_id, data in _receipts(job):
        path = out_dir / receipt_name(credential_id)
        atomic_write(path, data, durable=False)
        written[credential_id] = str(path)
    return written


def encode_receipts(job: Job) -> Encoded:
    """One chunk of a batch's receipts as container entries, written to a file of its own in `job.folder`
    (in a worker process for large batches): 15 MB a chunk need not be pickled through a pipe."""
    receipts = [(cid, receipt_name(cid), data) for cid, data in _receipts(job)]  # each a line with its break
    return encode_chunk(job.form, receipts, job.when, job.folder / f"{job.position:012d}.part")


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
    leaf_order = tree.by_leaf()
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
