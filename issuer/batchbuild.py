"""Building, signing and hashing a batch's credentials on every core, a chunk at a time.

Each worker builds its chunk's credentials, canonicalises each (RFC 8785) once, hashes and signs it, and
sends back bytes and strings only: the ids, the 32-byte digests and leaf hashes, and the signed documents
as JSON text. The parent never holds the credentials as objects, so a million of them pass through in
bounded memory, each chunk handed to `sink` (the database insert) as it arrives.

Invariants: the chunk for records `[start, end)` holds exactly their credentials, in order; a credential's
digest is keccak256 of the canonical bytes of the credential without its proof (`anchoring.credential.
credential_digest`), and an eddsa-jcs-2022 signature covers those same bytes (eddsa-rdfc-2022 signs the RDF
canonical form instead); the leaf is the tree's leaf hash of the digest. At most `WINDOW` chunks are built
ahead of the caller. Workers fork, so they inherit the batch (held in `_JOB` only while `build_chunks` runs)
and draw fresh randomness (ids, salts) from the operating system each.
"""

import secrets
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson

from anchoring.batchsign import SignerSpec
from anchoring.credential import canonical_bytes
from anchoring.dataintegrity import JCS, ProofFailed, Signer
from anchoring.errors import InvalidInput
from anchoring.hashing import keccak256
from anchoring.jcs import canonicalize
from anchoring.merkle import leaf_hashes
from anchoring.workers import bounded_map
from issuer.config import IssuerConfig
from issuer.credentials import build_credential, issuer_profile
from issuer.records import Record
from issuer.templates import Template

_T = TypeVar("_T", str, bytes)


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

    def digest(self, i: int) -> bytes:
        return self.digests[32 * i : 32 * i + 32]

    def leaf(self, i: int) -> bytes:
        return self.leaves[32 * i : 32 * i + 32]


_JOB: BatchJob | None = None
_ONE_AT_A_TIME = threading.Lock()


def signed(credential: dict[str, Any], signer: Signer) -> tuple[bytes, dict[str, Any]]:
    """The credential's digest, and the credential with its proof added (canonicalised once for jcs)."""
    try:
        canonical = canonical_bytes(credential)
    except ValueError as exc:
        raise ProofFailed(f"the document cannot be canonicalised with RFC 8785: {exc}") from None
    proof = signer.sign_canonical(credential, canonical) if signer.cryptosuite == JCS else signer.sign(credential)
    credential["proof"] = [proof]
    return keccak256(canonical), credential


class Shared:
    """The parts every credential of a batch shares (the achievement, the issuer profile), canonicalised and
    encoded once: a credential is encoded with a placeholder string in their place, which is then replaced
    by their text. JCS and JSON encodings are compositional (an object's canonical form does not depend on
    where it sits), so the result is the encoding of the whole credential, byte for byte. The placeholders
    carry a random token, so no record's text can be one; a credential whose encoding does not hold each
    placeholder exactly once is encoded the plain way."""

    def __init__(self, achievement: dict[str, Any], issuer: dict[str, Any]) -> None:
        token = secrets.token_hex(16)
        self.marks = {"achievement": f"credanchor-shared-a-{token}", "issuer": f"credanchor-shared-i-{token}"}
        self._values = {"achievement": achievement, "issuer": issuer}
        self._canonical = {k: (f'"{m}"'.encode(), canonicalize(self._values[k])) for k, m in self.marks.items()}
        self._text = {k: (f'"{m}"', _dumps(self._values[k])) for k, m in self.marks.items()}

    def mark(self, credential: dict[str, Any]) -> None:
        credential["issuer"] = self.marks["issuer"]
        credential["credentialSubject"]["achievement"] = self.marks["achievement"]

    def unmark(self, credential: dict[str, Any]) -> None:
        credential["issuer"] = self._values["issuer"]
        credential["credentialSubject"]["achievement"] = self._values["achievement"]

    def canonical(self, credential: dict[str, Any]) -> bytes:
        found = canonical_bytes(credential)
        for mark, text in self._canonical.values():
            found = _splice(found, mark, text)
        return found

    def text(self, credential: dict[str, Any]) -> str:
        found = _dumps(credential)
        for mark, text in self._text.values():
            found = _splice(found, mark, text)
        return found


def _splice(whole: _T, mark: _T, text: _T) -> _T:
    parts = whole.split(mark)
    if len(parts) != 2:
        raise _Plain
    return parts[0] + text + parts[1]


class _Plain(Exception):
    """This credential is encoded without the shared parts' placeholders."""


def _one(credential: dict[str, Any], shared: Shared, signer: Signer) -> tuple[str, bytes, str]:
    """(id, digest, signed document text) of one credential, canonicalised once."""
    if signer.cryptosuite != JCS:
        digest, credential = signed(credential, signer)
        return credential["id"], digest, _dumps(credential)
    shared.mark(credential)
    try:
        canonical = shared.canonical(credential)
        credential["proof"] = [signer.sign_canonical(credential, canonical)]
        return credential["id"], keccak256(canonical), shared.text(credential)
    except _Plain:
        shared.unmark(credential)
        credential.pop("proof", None)
        digest, credential = signed(credential, signer)
        return credential["id"], digest, _dumps(credential)


def build_range(span: tuple[int, int]) -> Chunk:
    """Build, sign and hash records `start..end-1` of the running batch (in a worker, or inline)."""
    start, end = span
    job = _JOB
    if job is None:
        raise RuntimeError("build_range runs only while build_chunks does")
    signer = job.spec.signer()
    shared = Shared(job.achievement, issuer_profile(job.issuer))
    ids: list[str] = []
    digests: list[bytes] = []
    documents: list[str] = []
    for record in job.records[start:end]:
        credential = build_credential(record, job.template, job.issuer, job.achievement, job.issued_at)
        credential_id, digest, document = _one(credential, shared, signer)
        ids.append(credential_id)
        digests.append(digest)
        documents.append(document)
    every = b"".join(digests)
    return Chunk(start, ids, every, leaf_hashes(every), documents)


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
