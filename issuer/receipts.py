"""Writing a batch's receipts and manifest: one receipt per credential, in large chunks on every core.

Receipts go out in one of three forms (`issue --receipts`): `dir`, a file per credential written by the
workers; `jsonl` and `zip`, one container (`receipts.jsonl`, `receipts.zip`) the workers encode chunks of,
each written straight into it at the range the chunks before it leave (`anchoring.receiptwrite`). The
issuer's self-check runs in the same workers, on each chunk's bytes as they are written.

Invariants: receipts are written (atomically, each file or the whole container) before any of them is
recorded in the database, and flushed with one sync; a check sees exactly the bytes a reader gets at the
receipt's location; every receipt lists every anchor it is given (the home
chain's first) with that anchor's evidence; the manifest names the batch root, every digest in tree leaf
order and every anchor, and holds no personal data.
"""

import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from anchoring.errors import CredanchorError, VerificationFailed
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
from anchoring.receiptfiles import read_receipt_at, receipt_file_name
from anchoring.receiptwrite import CONTAINER_NAMES, ContainerWriter, Encoded, Form, Slots, encode_chunk
from anchoring.workers import bounded_map
from issuer.receiptbytes import Envelope
from issuer.store import AnchorRecord, Batch
from issuer.workspace import Workspace

Row = tuple[str, str, str]
"""(credential id, digest, leaf) as the store gives them."""

Documents = Callable[[int, int], Sequence[str]]
"""`documents(position, count)`: the signed documents of the batch's credentials at `position` onwards, in
order, read where the receipts are assembled (`issuer.store.BatchDocuments`: in each worker process)."""


Failure = tuple[str, str]
"""A receipt that did not check out: (where it is, its verdict and why, as "verdict: reason")."""

ChunkCheck = Callable[[list[tuple[str, bytes]]], list[Failure]]
"""Checks receipts ((source, bytes)) as a verifier would, in the worker process that made them: the failures,
in order. The workers inherit it as they fork: it is never pickled."""


class Written(NamedTuple):
    locations: dict[str, str]
    """Credential id -> where its receipt is (`anchoring.receiptfiles`)."""
    failures: list[Failure]
    """The receipts that did not check out, by location, in batch order (none when nothing was checked)."""


def write_batch_receipts(
    out_dir: Path,
    chunks: Iterable[list[Row]],
    documents: Documents,
    tree: MerkleTree,
    root: str,
    anchors: Sequence[AnchorSection],
    evidence: Sequence[BatchEvidence],
    progress: Progress,
    form: Form = "dir",
    check: ChunkCheck | None = None,
    on_written: Callable[[dict[str, str]], None] | None = None,
) -> Written:
    """Write every receipt of the batch in `form` (`chunks`: the store's rows in batch order, a chunk at a
    time; the worker that writes a chunk reads its documents from `documents`), then flush them all to disk;
    with `check`, each worker checks the receipts it made, from the bytes it wrote, before it hands its chunk
    back. `on_written` is given each chunk's locations (id -> location) in batch order, as the chunk is
    written.

    Workers assemble each chunk's receipts around the stored credential text (`issuer.receiptbytes`); they
    inherit the batch's envelope, tree and check as they fork, and at most a few chunks are in flight, so a
    million receipts pass through in bounded memory."""
    global _WRITING
    envelope = Envelope(root, [a.model_dump(mode="json") for a in anchors], evidence)
    half = len(tree) // 2
    locations: dict[str, str] = {}
    failures: list[Failure] = []

    def done(written: dict[str, str], failed: list[Failure]) -> None:
        locations.update(written)
        if on_written is not None:
            on_written(written)
        failures.extend((written[credential_id], why) for credential_id, why in failed)
        progress.advance(len(written))
        if len(locations) >= half:
            fault("receipts-half")
        if check is not None:
            fault("verifying")

    with _ONE_AT_A_TIME:
        _WRITING = _Writing(envelope, tree, documents, check, None)
        try:
            if form == "dir":
                for written, failed in bounded_map(write_receipts, _jobs(form, out_dir, chunks)):
                    done(written, failed)
                os.sync()  # one flush for every receipt written above, before any of them is recorded as written
                return Written(locations, failures)
            with ContainerWriter(out_dir / CONTAINER_NAMES[form], form) as writer:
                _WRITING = _WRITING._replace(slots=writer.slots)  # each worker writes its chunk into the container
                for encoded, failed in bounded_map(encode_receipts, _jobs(form, out_dir, chunks, writer.when)):
                    done(writer.add(encoded), failed)
                writer.finish()  # one fsync, then the rename: only a complete container has the final name
            return Written(locations, failures)
        finally:
            _WRITING = None


def check_failed(failures: Sequence[Failure], total: int) -> VerificationFailed:
    """The self-check's error: how many receipts failed, and the first of them."""
    where, why = failures[0]
    return VerificationFailed(f"self-check failed for {len(failures)} of {total} receipts; first: {where}: {why}")


READ_BACK = 64
"""Receipts of a batch read back from their locations after it is written (the first, the last, and others
at random): each location the store records is a sum of the sizes of the receipts before it."""


def read_back_sample(locations: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(credential id, location) of the receipts to read back, in batch order."""
    if len(locations) <= READ_BACK:
        return list(locations)
    inner = secrets.SystemRandom().sample(range(1, len(locations) - 1), READ_BACK - 2)
    return [locations[i] for i in sorted({0, len(locations) - 1, *inner})]


def check_sample_ids(sample: Sequence[tuple[str, str]]) -> None:
    """Each receipt read back is the one of the credential the store records at its location."""
    for credential_id, location in sample:
        try:
            found = json.loads(read_receipt_at(location)).get("credential", {}).get("id")
        except (CredanchorError, ValueError, AttributeError) as exc:
            raise VerificationFailed(f"self-check: {location} cannot be read back: {exc}") from None
        if found != credential_id:
            raise VerificationFailed(f"self-check: {location} holds the receipt of {found}, not of {credential_id}")


class Job(NamedTuple):
    """A chunk of a batch's receipts to write."""

    form: Form
    folder: Path
    """Where its receipts' files go (`dir`; a container's chunks go into the container, `Slots`)."""
    number: int
    """Of the chunk in the batch (0, 1, ...): the order of the container's ranges."""
    position: int
    """Of its first credential in the batch."""
    rows: list[Row]
    when: tuple[int, int]
    """The zip members' DOS time."""


class _Writing(NamedTuple):
    """What the workers of the running `write_batch_receipts` inherit as they fork."""

    envelope: Envelope
    tree: MerkleTree
    documents: Documents
    check: ChunkCheck | None
    slots: Slots | None
    """The container's ranges, when the receipts go into one."""


_WRITING: _Writing | None = None
_ONE_AT_A_TIME = threading.Lock()


def _jobs(form: Form, folder: Path, chunks: Iterable[list[Row]], when: tuple[int, int] = (0, 0)) -> Iterator[Job]:
    position = 0
    for number, rows in enumerate(chunks):
        yield Job(form, folder, number, position, rows, when)
        position += len(rows)


def _receipts(job: Job) -> list[tuple[str, bytes]]:
    """(credential id, receipt as one line of JSON, without its break) of a job's rows."""
    if _WRITING is None:
        raise RuntimeError("receipts are assembled only while write_batch_receipts runs")
    envelope, tree = _WRITING.envelope, _WRITING.tree
    documents = _WRITING.documents(job.position, len(job.rows))
    return [
        (credential_id, envelope.receipt_of(document, digest, leaf, tree.proof_json(i)))
        for i, ((credential_id, digest, leaf), document) in enumerate(
            zip(job.rows, documents, strict=True), job.position
        )
    ]


def _checked(receipts: list[tuple[str, bytes]], *, add_break: bool = False) -> list[Failure]:
    """The failures among a chunk's receipts (by credential id), if the batch is checked as it is written;
    `add_break`: a reader gets each with its line break (a zip member)."""
    check = _WRITING.check if _WRITING is not None else None
    if check is None:
        return []
    return check([(credential_id, line + b"\n") for credential_id, line in receipts] if add_break else receipts)


def write_receipts(job: Job) -> tuple[dict[str, str], list[Failure]]:
    """Write one chunk of a batch's receipts as files (in a worker process for large batches): id -> path,
    and the failures of the check."""
    out_dir = job.folder
    written = {}
    receipts = [(credential_id, line + b"\n") for credential_id, line in _receipts(job)]  # a file ends its line
    for credential_id, data in receipts:
        path = out_dir / receipt_name(credential_id)
        atomic_write(path, data, durable=False)
        written[credential_id] = str(path)
    return written, _checked(receipts)


def encode_receipts(job: Job) -> tuple[Encoded, list[Failure]]:
    """One chunk of a batch's receipts as container entries, written straight into the container (in a worker
    process for large batches: 15 MB a chunk need not be pickled through a pipe), and the failures of the
    check."""
    slots = _WRITING.slots if _WRITING is not None else None
    if slots is None:
        raise RuntimeError("container entries are written only while write_batch_receipts runs")
    try:
        receipts = _receipts(job)  # each a line without its break, as a reader of a JSON Lines line gets it
        named = [(credential_id, receipt_name(credential_id), line) for credential_id, line in receipts]
        encoded = encode_chunk(job.form, named, job.when, (slots, job.number))
    except BaseException:
        slots.give_up()  # the chunks after this one must not wait for one that will not come
        raise
    del named
    return encoded, _checked(receipts, add_break=job.form == "zip")


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
