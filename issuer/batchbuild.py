"""Building, signing and hashing a batch's credentials on every core, a chunk at a time.

Each worker builds its chunk's credentials, canonicalises each (RFC 8785) once, hashes and signs it, and
sends back bytes and strings only: the ids, the 32-byte digests and leaf hashes, and the signed documents
as JSON text. The parent never holds the credentials as objects, so a million of them pass through in
bounded memory, each chunk handed to `sink` (the database insert) as it arrives.

Invariants: the chunk for records `[start, end)` holds exactly their credentials, in order; a credential's
digest is keccak256 of the canonical bytes of the credential without its proof (`anchoring.credential.
credential_digest`), and an eddsa-jcs-2022 signature covers those same bytes (eddsa-rdfc-2022 signs the RDF
canonical form instead); the leaf is the tree's leaf hash of the digest. Workers fork, so they inherit the
batch (held in `_JOB` only while `build_chunks` runs) and draw fresh randomness (ids, salts) from the
operating system each.
"""

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anchoring.batchsign import SignerSpec
from anchoring.credential import canonical_bytes
from anchoring.dataintegrity import JCS, ProofFailed, Signer
from anchoring.errors import InvalidInput
from anchoring.hashing import keccak256
from anchoring.merkle import leaf_hash
from anchoring.workers import parallel_map
from issuer.config import IssuerConfig
from issuer.credentials import build_credential
from issuer.records import Record
from issuer.templates import Template

CHUNK = 1000
"""Credentials per job: 1-2 MB of documents back, small enough that both cores stay busy to the end."""


@dataclass(frozen=True)
class BatchJob:
    """Everything a worker needs to build any chunk of the batch."""

    records: Sequence[Record]
    template: Template
    issuer: IssuerConfig
    achievement: dict[str, Any]
    issued_at: datetime
    spec: SignerSpec


@dataclass(frozen=True)
class Chunk:
    """Records `start` to `start + len(ids)` built, signed and hashed."""

    start: int
    ids: list[str]
    digests: bytes
    """32 bytes a credential, in order."""
    leaves: bytes
    """The tree's leaf hash of each digest, 32 bytes each."""
    documents: list[str]
    """Each signed credential as compact JSON text, as the store keeps it."""

    def digest(self, i: int) -> bytes:
        return self.digests[32 * i : 32 * i + 32]

    def leaf(self, i: int) -> bytes:
        return self.leaves[32 * i : 32 * i + 32]


_JOB: BatchJob | None = None
_ONE_AT_A_TIME = threading.Lock()
_SIGNERS: dict[SignerSpec, Signer] = {}


def _signer(spec: SignerSpec) -> Signer:
    signer = _SIGNERS.get(spec)
    if signer is None:
        _SIGNERS.clear()
        signer = _SIGNERS[spec] = spec.signer()
    return signer


def signed(credential: dict[str, Any], signer: Signer) -> tuple[bytes, dict[str, Any]]:
    """The credential's digest, and the credential with its proof added (canonicalised once for jcs)."""
    try:
        canonical = canonical_bytes(credential)
    except ValueError as exc:
        raise ProofFailed(f"the document cannot be canonicalised with RFC 8785: {exc}") from None
    proof = signer.sign_canonical(credential, canonical) if signer.cryptosuite == JCS else signer.sign(credential)
    credential["proof"] = [proof]
    return keccak256(canonical), credential


def build_range(span: tuple[int, int]) -> Chunk:
    """Build, sign and hash records `start..end-1` of the running batch (in a worker, or inline)."""
    start, end = span
    job = _JOB
    if job is None:
        raise RuntimeError("build_range runs only while build_chunks does")
    signer = _signer(job.spec)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    ids: list[str] = []
    digests: list[bytes] = []
    documents: list[str] = []
    for record in job.records[start:end]:
        credential = build_credential(record, job.template, job.issuer, job.achievement, job.issued_at)
        digest, credential = signed(credential, signer)
        ids.append(credential["id"])
        digests.append(digest)
        documents.append(dumps(credential))
    leaves = b"".join(leaf_hash(d) for d in digests)
    return Chunk(start, ids, b"".join(digests), leaves, documents)


def build_chunks(job: BatchJob, *, chunk: int = CHUNK) -> Iterator[Chunk]:
    """Every chunk of the batch in order, built on every core once there is more than one."""
    global _JOB
    if not job.records:
        raise InvalidInput("a batch needs at least one record")
    with _ONE_AT_A_TIME:
        _JOB = job
        try:
            # The first credential is built here: that checks the template and the signer before any worker
            # starts, and the workers inherit the warm caches (the proof configuration's hash).
            yield build_range((0, 1))
            spans = [(s, min(s + chunk, len(job.records))) for s in range(1, len(job.records), chunk)]
            yield from parallel_map(build_range, spans)
        finally:
            _JOB = None
