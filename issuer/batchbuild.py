"""Building, signing and hashing a batch's credentials on every core, a chunk at a time.

Each worker makes its chunk's credentials, hashes and signs each, and sends back bytes and strings only:
the ids, the 32-byte digests and leaf hashes, the signed documents as JSON text, and a 16-byte tag of each
signature made (which lets the self-check know them without signing again). The parent never holds
the credentials as objects, so a million of them pass through in bounded memory, each chunk handed to
`sink` (the database insert) as it arrives.

Invariants: the chunk for records `[start, end)` holds exactly their credentials, in order; a credential's
digest is keccak256 of the canonical bytes of the credential without its proof (`anchoring.credential.
credential_digest`), and an eddsa-jcs-2022 signature covers those same bytes (eddsa-rdfc-2022 signs the RDF
canonical form instead); the leaf is the tree's leaf hash of the digest. At most `WINDOW` chunks are built
ahead of the caller. Workers fork, so they inherit the batch (held in `_JOB` only while `build_chunks` runs)
and draw fresh randomness (ids, salts) from the operating system each. An eddsa-jcs-2022 credential is written
from a stencil (`issuer.stencil`: its canonical form and stored text with the record's values written in,
never built as objects or canonicalised); an eddsa-rdfc-2022 one is built whole, for its RDF.
"""

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from anchoring.batchsign import SignerSpec
from anchoring.dataintegrity import JCS, Signer
from anchoring.errors import InvalidInput
from anchoring.merkle import leaf_hashes
from anchoring.workers import bounded_map
from issuer.config import IssuerConfig
from issuer.credentials import assemble_credential, credential_fields, ids_and_salts, issuer_profile
from issuer.records import Record
from issuer.stencil import Stencils, signed
from issuer.templates import Template


def _dumps(value: Any) -> str:
    """A document's stored text: compact JSON, UTF-8 as is (orjson: a tenth of the standard encoder's time)."""
    text: str = orjson.dumps(value).decode()
    return text


CHUNK = 1000
"""Credentials per job: 1-2 MB of documents back, small enough that both cores stay busy to the end."""

WINDOW = 8
"""Chunks submitted to the workers and not yet taken by the caller: a few MB held, enough to keep both cores
busy while the caller stores the chunk before."""


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
    made: bytes
    """The `signature_tag` of each signature made (for the self-check: `OwnSignatures`)."""

    def digest(self, i: int) -> bytes:
        return self.digests[32 * i : 32 * i + 32]

    def leaf(self, i: int) -> bytes:
        return self.leaves[32 * i : 32 * i + 32]


_JOB: BatchJob | None = None
_ONE_AT_A_TIME = threading.Lock()


def _writer(job: BatchJob, signer: Signer) -> Callable[[dict[str, Any]], tuple[str, bytes, str]]:
    """What makes (id, digest, signed document text) of the credential holding given fields: stencils for
    eddsa-jcs-2022; for eddsa-rdfc-2022, which signs the RDF of the credential, the credential built whole."""
    if signer.cryptosuite == JCS:
        return Stencils(job.template, job.issuer, job.achievement, signer).one
    profile = issuer_profile(job.issuer)

    def whole(fields: dict[str, Any]) -> tuple[str, bytes, str]:
        credential = assemble_credential(fields, job.template, job.issuer, job.achievement, profile)
        digest, credential = signed(credential, signer)
        return credential["id"], digest, _dumps(credential)

    return whole


def build_range(span: tuple[int, int]) -> Chunk:
    """Build, sign and hash records `start..end-1` of the running batch (in a worker, or inline)."""
    start, end = span
    job = _JOB
    if job is None:
        raise RuntimeError("build_range runs only while build_chunks does")
    signer = job.spec.signer()
    signer.made = bytearray()
    write = _writer(job, signer)
    template, issued_at = job.template, job.issued_at
    ids: list[str] = []
    digests: list[bytes] = []
    documents: list[str] = []
    fresh = ids_and_salts(end - start)
    for record, (new_id, salt) in zip(job.records[start:end], fresh, strict=True):
        fields = credential_fields(record, template, issued_at, credential_id=new_id, salt=salt)
        credential_id, digest, document = write(fields)
        ids.append(credential_id)
        digests.append(digest)
        documents.append(document)
    every = b"".join(digests)
    return Chunk(start, ids, every, leaf_hashes(every), documents, bytes(signer.made))


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
            # At most a few chunks in flight: workers that sign faster than the caller stores would otherwise
            # pile their documents up in this process (a million-record batch: about 1.5 GB of JSON text).
            spans = [(s, min(s + chunk, len(job.records))) for s in range(1, len(job.records), chunk)]
            yield from bounded_map(build_range, spans, WINDOW)
        finally:
            _JOB = None
