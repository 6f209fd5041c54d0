"""Issuing a batch: records -> credentials -> Merkle tree -> one anchoring transaction -> receipts.

Invariants (the batch state machine; each state is committed before the next external effect):
- prepared:  credentials, digests and root are in the database; nothing has left the machine.
- submitted: a signed anchoring transaction (hash, nonce, fees, raw bytes) is in the database; it may or may
  not have reached the node. Re-running finds it on chain, re-broadcasts it, or replaces it.
- confirmed: the root is anchored in a block with the configured number of confirmations, still canonical.
- delivered: every receipt and the manifest are on disk and each receipt verified against the chain.
Those are the home chain's states; on each additional chain (`[[chain]]` entries after the first) the root
goes through prepared, submitted and confirmed on its own (issuer/anchorjob.py), and a chain that is down
delays only its own anchor: receipts are delivered with the anchors confirmed by then, and `resume` adds
the others to them later.
The same input (records file, template, column mapping, registry) always maps to the same batch, so running
the same command again after a crash resumes that batch instead of issuing a second one; the registry itself
refuses a second anchor of one root. One process at a time drives a batch, and the re-issue check is made
again with the insert, one process at a time per achievement (issuer/locks.py: the workspace's lock files,
or PostgreSQL advisory locks that hold between machines sharing the database).
"""

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from anchoring.batchsign import SignerSpec
from anchoring.chain import Chain
from anchoring.dataintegrity import OwnSignatures
from anchoring.errors import ChainUnavailable, CredanchorError, InvalidInput, TransactionFailed
from anchoring.evidencecollect import BatchEvidence
from anchoring.faults import fault
from anchoring.hashing import to_hex
from anchoring.jsonio import read_limited
from anchoring.merkle import MerkleTree
from anchoring.multibase import decode_multikey
from anchoring.progress import Progress, Silent
from anchoring.receipt import (
    AnchorSection,
)
from anchoring.receiptwrite import check_form, chosen_form
from issuer.anchorjob import AnchorJob
from issuer.baked import bake_batch
from issuer.batchbuild import BatchJob, build_chunks
from issuer.evidence import gather
from issuer.locks import locks_for
from issuer.lookup import DeliveryListWriter
from issuer.receipts import (
    ChunkCheck,
    anchor_section,
    check_failed,
    check_sample_ids,
    manifest_name,
    read_back_sample,
    write_batch_receipts,
    write_manifest,
)
from issuer.records import Record, parse_table, read_table
from issuer.store import (
    AnchorRecord,
    Batch,
    State,
    Store,
    anchor_records,
    chain_anchors,
    home_record,
    mark_delivered,
    now,
    record_delivered,
    reload_record,
    update_record,
)
from issuer.templates import ResultSpec, Template, load_template
from issuer.workspace import Workspace


class SelfCheck(Protocol):
    """Verifies a batch's receipts and its root against the chains given (each with its registry), one read of
    each per batch, as a verifier would. Given the key that signed the batch in this process and the tags of
    the signatures it made, it knows those signatures by a hash and a look-up (`OwnSignatures`); the verdicts
    are the same."""

    def __call__(
        self, locations: Sequence[str], root: str, chains: Sequence[tuple[Chain, str]], signatures: OwnSignatures | None
    ) -> None:
        """The receipts read from where they were written (`anchoring.receiptfiles`); raises `CredanchorError`
        if any does not check out."""

    def checking(
        self,
        root: str,
        chains: Sequence[tuple[Chain, str]],
        signatures: OwnSignatures | None,
        blocks: Mapping[int, int],
    ) -> AbstractContextManager[ChunkCheck]:
        """What checks the receipts from their bytes as the workers forked inside it make them; `blocks`: the
        block each chain's evidence is from, by chain id (its hash is read once, here)."""


class Signing(Protocol):
    """The key that signs a batch's credentials (W3C Data Integrity), every proof `created` at one time."""

    @property
    def multikey(self) -> str: ...

    def spec(self, created: datetime) -> SignerSpec:
        """What signing workers need (the key is decrypted here, once a batch is signed)."""


MAX_RECORDS_BYTES = 100 * 1024 * 1024
LEGACY_READ_AS = "comma-separated CSV"
DELIVERY_NAME = "delivery.csv"


@dataclass(frozen=True)
class Plan:
    """A validated request to issue: everything read from disk, nothing sent anywhere."""

    template: Template
    records: list[Record]
    """Emptied by `BatchIssuer.issue` once the batch is prepared: its credentials are in the store then, and a
    million records take about 300 MB that the rest of the batch does not need."""
    input_key: str
    source: str
    read_as: str = LEGACY_READ_AS


@dataclass(frozen=True)
class Outcome:
    batch: Batch
    receipts: int
    manifest: Path
    resumed: bool
    already_delivered: bool
    delivery_list: Path | None = None
    anchors: tuple[AnchorRecord, ...] = ()
    """Every anchor of the batch, the home chain's first (confirmed or not)."""
    pending: tuple[str, ...] = ()
    """Why an additional chain's anchor is not in the receipts yet (`resume` adds it later)."""


def read_records_file(path: Path) -> bytes:
    """The records file's bytes, refused before reading when it is over `MAX_RECORDS_BYTES`."""
    with suppress(OSError):  # a missing or unreadable file is reported by `read_limited`
        size = path.stat().st_size
        if size > MAX_RECORDS_BYTES:
            raise InvalidInput(
                f"{path}: {size:,} bytes is over the limit of {MAX_RECORDS_BYTES:,} bytes (100 MiB); "
                "split the records into smaller batches"
            )
    return read_limited(path, MAX_RECORDS_BYTES)


def plan_batch(
    workspace: Workspace,
    records_path: Path,
    achievement: str,
    columns: dict[str, str],
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Plan:
    """Read and validate everything a batch needs (step 1): on any error nothing is anchored."""
    template = load_template(workspace.achievements_dir, achievement)
    data = read_records_file(records_path)
    mapping = {**workspace.config.records.columns, **columns}
    table = read_table(data, str(records_path), delimiter=delimiter, sheet=sheet)
    records = parse_table(table, str(records_path), mapping, template)
    if template.result is None and any(r.result is not None for r in records):
        template = template.model_copy(update={"result": ResultSpec()})
    # Everything a credential is built from names the batch: the records, the template as read, the issuer
    # profile, the column mapping and the registry. Change any of them and it is a different batch.
    parts = [
        data,
        achievement.encode(),
        template.source_sha256.encode(),
        workspace.config.issuer.model_dump_json().encode(),
        json.dumps(mapping, sort_keys=True).encode(),
        f"{workspace.config.chain.chain_id}:{workspace.config.chain.registry}".encode(),
    ]
    if table.read_as != LEGACY_READ_AS:
        # How the bytes were read (the sheet, the separator) picks the records too. Files read the one way
        # there was before (comma-separated CSV) keep the key they had, so their unfinished batches resume.
        parts.append(table.read_as.encode())
    key = hashlib.sha256()
    for part in parts:
        key.update(hashlib.sha256(part).digest())
    return Plan(template, records, key.hexdigest(), str(records_path), table.read_as)


OtherChain = Callable[[], AnchorJob]
"""Connects to an additional chain and gives its anchoring job (raises ChainUnavailable when it is down)."""


class BatchIssuer:
    """Drives batches through their states against one store, the home chain's job and the other chains'."""

    def __init__(
        self,
        workspace: Workspace,
        store: Store,
        home: AnchorJob,
        *,
        self_check: SelfCheck,
        signer: "Signing",
        progress: Progress | None = None,
        bake: str | None = None,
        pdf: bool = False,
        others: dict[int, OtherChain] | None = None,
        receipts: str = "auto",
    ) -> None:
        self.workspace = workspace
        self.receipts = receipts  # the form (or "auto") new batches' receipts are written in (each keeps its own)
        self.bake = bake  # "png" or "svg": each receipt baked into a badge image beside it (issuer/baked.py)
        self.config = workspace.config
        self.store = store
        self.home = home
        self.chain = home.chain
        self.sender = home.sender
        self.registry = home.registry
        self.self_check = self_check
        self.signer = signer
        self.progress = progress or Silent()
        self.pdf = pdf
        self.others = others or {}
        self._jobs: dict[int, AnchorJob] = {}
        self._pending: dict[int, str] = {}
        self._home_checked = False
        self._trees: dict[str, MerkleTree] = {}
        self._signed: dict[str, tuple[bytes, bytes]] = {}
        """By root, for the batch this process built: the key that signed it, and the tags of the signatures
        it made (`OwnSignatures`)."""
        self._hashed: dict[str, tuple[bytes, bytes]] = {}
        """By root, the batch `_prepare` made in this process: its digests and leaves, 32 bytes each in order."""
        self.locks = locks_for(store.engine, workspace.root)  # file locks, or the database's on PostgreSQL

    # The one public entry: plan -> the batch for that input -> drive it to delivered.
    def issue(self, plan: Plan, out_dir: Path | None, *, allow_reissue: bool = False) -> Outcome:
        with self._batch_lock(plan.input_key):
            existing = self.store.batch_by_key(plan.input_key)
            if existing is not None:
                return self._continue(existing)
            if not self.others:  # one chain: a node that is down or a wrong registry stops it before anything
                self._check_home()
            if not allow_reissue:
                self._refuse_reissue(plan)
            batch = self._prepare(plan, out_dir, recheck=not allow_reissue)
            plan.records.clear()
            # the form kept with the batch: what `resume` writes too
            batch = self.store.update_batch(batch.id or 0, receipts=chosen_form(self.receipts, batch.count))
            return self._drive(batch, resumed=False)

    def resume(self, batch: Batch) -> Outcome:
        with self._batch_lock(batch.input_key):
            return self._continue(self.store.batch(batch.id or 0))

    def _continue(self, batch: Batch) -> Outcome:
        if batch.state == State.DELIVERED and not self._unfinished(batch):
            return self._outcome(batch, resumed=False, already=True)
        if not self.others and batch.state in (State.PREPARED, State.SUBMITTED):
            self._check_home()
        return self._drive(batch, resumed=True)

    def _unfinished(self, batch: Batch) -> bool:
        """An anchor still to make, or receipts still to write again (as `Store.batches(unfinished=True)`)."""
        if batch.state != State.DELIVERED or batch.block_number is None or batch.delivered_at is None:
            return True
        return any(a.state != State.CONFIRMED or not a.delivered for a in chain_anchors(self.store, batch.id or 0))

    def _to_deliver(self, batch: Batch, home: AnchorRecord, others: list[AnchorRecord]) -> bool:
        """Receipts to write: for the first time once an anchor is confirmed, or again when an anchor was
        confirmed since they were written (not every time `resume` finds a chain still down)."""
        confirmed = [r for r in (home, *others) if r.state == State.CONFIRMED]
        if batch.state != State.DELIVERED:
            return bool(confirmed)
        fresh = {
            a.id for a in chain_anchors(self.store, batch.id or 0) if a.state == State.CONFIRMED and not a.delivered
        }
        return batch.delivered_at is None or any(r.anchor_id in fresh for r in others)

    def _check_home(self) -> None:
        if not self._home_checked:
            self.home.check_role()
            self._check_identity()
            self._home_checked = True

    def _batch_lock(self, input_key: str) -> AbstractContextManager[None]:
        """One process at a time drives a given batch; another one is told so instead of racing it."""
        return self.locks.batch(input_key)

    def _drive(self, batch: Batch, resumed: bool) -> Outcome:
        """Anchor the root on every chain, then deliver (again, when an additional anchor is newly confirmed).

        Every chain first gets its transaction, then each is waited for: the home chain's failure (its node
        gone past `node_deadline`) is raised only after the other chains have had their turn, and another
        chain's failure only leaves its anchor for `credanchor resume`.
        """
        home_chain = self.home.config.chain_id
        if batch.registry_address != self.registry.address or batch.chain_id != home_chain:
            raise InvalidInput(
                f"batch {batch.id} belongs to registry {batch.registry_address} on chain {batch.chain_id}, "
                f"not the configured {self.registry.address} on chain {home_chain}"
            )
        while True:
            home = home_record(batch)
            others = [reload_record(self.store, r) for r in self._other_records(batch)]
            failure: CredanchorError | None = None
            for target in (State.SUBMITTED, State.CONFIRMED):
                if failure is None and home.state != State.CONFIRMED:
                    try:
                        self._check_home()
                        home = self.home.until(home, target)
                    except ChainUnavailable as exc:
                        failure = exc
                others = [self._other_until(record, target) for record in others]
            batch = self.store.batch(batch.id or 0)
            if failure is not None:
                if not any(o.state == State.CONFIRMED for o in others):
                    raise failure
                # The home chain is down: deliver with the other chains' anchors; `resume` adds its own later.
                self._pending[home.chain_id] = str(failure)
            if self._to_deliver(batch, home, others):
                batch = self._deliver(batch)
            if batch.state == State.DELIVERED:
                return self._outcome(batch, resumed=resumed, already=False)
            # The home anchor was reorganised away after its confirmations: confirm it again.

    def _other_records(self, batch: Batch) -> list[AnchorRecord]:
        return anchor_records(self.store, batch)[1:]

    def _job(self, chain_id: int) -> AnchorJob | None:
        """The additional chain's job (connected on first use); None if the chain is no longer configured."""
        if chain_id not in self._jobs:
            connect = self.others.get(chain_id)
            if connect is None:
                return None
            job = connect()
            job.check_role()
            self._check_identity(job)
            self._jobs[chain_id] = job
        return self._jobs[chain_id]

    def _other_until(self, record: AnchorRecord, target: State) -> AnchorRecord:
        """Move an additional chain's anchor on; on failure say why and leave it where it is."""
        if record.state in (State.CONFIRMED,) or record.chain_id in self._pending:
            return record
        try:
            job = self._job(record.chain_id)
            if job is None:
                self._pending[record.chain_id] = f"chain {record.chain_id} is no longer in the config"
                return record
            return job.until(record, target)
        except (ChainUnavailable, TransactionFailed, InvalidInput) as exc:
            self._pending[record.chain_id] = str(exc)
            self.progress.note(f"anchor on chain {record.chain_id} left for later: {exc}")
            return reload_record(self.store, record)

    def _catch_up_revocations(self, job: AnchorJob, record: AnchorRecord) -> None:
        """Revocations made before this chain's anchor existed are made here too, with their reasons: a
        verifier that can check only this chain must not find valid what the issuer revoked. Asked every time
        the anchor is about to go into the receipts, so a crash halfway through is caught up on `resume`."""
        from issuer.revoke import AlreadyRevoked, Revoker

        batch = self.store.batch(record.batch_id)
        revoker = Revoker(self.store, job.chain, job.sender, job.config)
        if batch.revoked_at is not None:
            with suppress(AlreadyRevoked):
                revoker.batch(batch.root, batch.revoke_reason or "revoked", record=False)
                self.progress.note(f"batch {batch.id} revoked on chain {record.chain_id} too")
            return
        for credential_id, _ in self.store.revoked_leaves(batch.id or 0):
            credential = self.store.credential(credential_id)
            reason = (credential.revoke_reason if credential else None) or "revoked"
            with suppress(AlreadyRevoked):
                revoker.credential(credential_id, reason, record=False)
                self.progress.note(f"{credential_id} revoked on chain {record.chain_id} too")

    def _check_identity(self, job: AnchorJob | None = None) -> None:
        """The registry must be bound to the configured issuer and list the signing key as active."""
        registry = (job or self.home).registry
        where = "" if job is None else f" on chain {job.config.chain_id}"
        bound = registry.issuer_id()
        issuer_id = self.config.issuer.id
        if bound is None:
            raise InvalidInput(
                f"registry {registry.address}{where} binds no issuer (deployed before issuer binding): deploy a new "
                "registry (remove its registry from the config, then `credanchor deploy` or `chain up`)"
            )
        if bound != issuer_id:
            raise InvalidInput(
                f"the config names issuer {issuer_id!r}, but registry {registry.address}{where} is bound to "
                f"{bound!r}; credentials naming another issuer would fail verification"
            )
        status = registry.signing_key(to_hex(decode_multikey(self.signer.multikey)))
        if status.added_block == 0 or status.revoked_block != 0:
            state = "is not listed" if status.added_block == 0 else f"was revoked in block {status.revoked_block}"
            raise InvalidInput(
                f"signing key {self.signer.multikey} {state} in registry {registry.address}{where}: register a key "
                "with `credanchor key register` (key-admin role)"
            )

    def _refuse_reissue(self, plan: Plan) -> None:
        achievement_id = plan.template.achievement_id(self.config.issuer.id)
        held = self.store.issued_emails(achievement_id, [r.email for r in plan.records])
        if not held:
            return
        problems = [f"row {r.row}: {r.email} already holds {held[r.email]}" for r in plan.records if r.email in held]
        lines = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        unfinished = [str(b.id) for b in self.store.batches(unfinished=True)]
        if unfinished:
            lines.append(
                f"(unfinished batches count too: {', '.join(unfinished)}; finish with `credanchor resume`, "
                "or drop one that was never sent with `credanchor discard N`)"
            )
        body = "\n  ".join(lines)
        raise InvalidInput(
            f"{plan.source}: {len(problems)} recipient(s) already hold this achievement, nothing was issued "
            f"(pass --allow-reissue to issue again):\n  {body}"
        )

    # prepared: credentials and root in the database, nothing sent.
    def _prepare(self, plan: Plan, out_dir: Path | None, *, recheck: bool = True) -> Batch:
        """Build, sign and hash every credential (on every core, a chunk at a time, streamed into one database
        transaction), then the Merkle tree; the batch and its credentials are committed together."""
        issuer = self.config.issuer
        issued_at = datetime.now(UTC).replace(microsecond=0)
        job = BatchJob(
            plan.records,
            plan.template,
            issuer,
            plan.template.achievement(issuer.id),
            issued_at,
            self.signer.spec(issued_at),
        )
        digests: list[bytes] = []
        leaves: list[bytes] = []
        made: list[bytes] = []

        def rows() -> Iterator[list[dict[str, Any]]]:
            self.progress.stage(f"building and signing ({self.config.signing.cryptosuite})", len(plan.records))
            for chunk in build_chunks(job):
                records = plan.records[chunk.start : chunk.start + len(chunk.ids)]
                yield [
                    {
                        "id": credential_id,
                        "position": chunk.start + i,
                        "row": record.row,
                        "email": record.email,
                        "name": record.name,
                        "digest": to_hex(chunk.digest(i)),
                        "leaf": to_hex(chunk.leaf(i)),
                        "document": document,
                    }
                    for i, (credential_id, record, document) in enumerate(
                        zip(chunk.ids, records, chunk.documents, strict=True)
                    )
                ]
                digests.append(chunk.digests)
                leaves.append(chunk.leaves)
                made.append(chunk.made)
                self.progress.advance(len(chunk.ids))
                if 2 * (chunk.start + len(chunk.ids)) >= len(plan.records):
                    fault("building-half")  # a crash here rolls the whole batch back: nothing was sent

        def complete() -> dict[str, Any]:
            self.progress.stage("building the Merkle tree")
            blob = b"".join(digests)
            tree = MerkleTree.build([blob[o : o + 32] for o in range(0, len(blob), 32)])
            root = to_hex(tree.root)
            self._trees = {root: tree}  # delivery in this process needs it again
            self._signed = {root: (job.spec.private_key, b"".join(made))}
            self._hashed = {root: (blob, b"".join(leaves))}  # and the pairs the store holds, not read back
            self.progress.stage("saving the batch")
            folder = out_dir or self.workspace.receipts_dir / f"{plan.template.key}-{root[2:10]}"
            return {"root": root, "out_dir": str(folder.resolve())}

        batch = Batch(
            input_key=plan.input_key,
            achievement=plan.template.key,
            achievement_id=plan.template.achievement_id(issuer.id),
            root=f"pending:{plan.input_key}",  # unique until `complete` sets the root, in the same transaction
            count=len(plan.records),
            chain_id=self.home.config.chain_id,
            registry_address=self.registry.address,
            out_dir="",
        )
        also_on = [(c.chain_id, c.registry) for c in self.config.additional_chains if c.registry]
        # Another run may have issued this achievement to one of these earners since the first check: look
        # again, with the check and the insert made one at a time per achievement (by every process).
        with self.locks.achievement(batch.achievement_id):
            if recheck:
                self._refuse_reissue(plan)
            batch = self.store.add_batch_chunks(batch, rows(), also_on, complete)
        fault("prepared")
        return batch

    # delivered: receipts and manifest written, every receipt verified.
    def _deliver(self, batch: Batch) -> Batch:
        stored = self._stored(batch)  # (digest, leaf) in batch order, once per delivery
        tree = self._tree(batch, stored)
        leaves = [leaf for _, leaf in stored]
        anchors: list[AnchorSection] = []
        evidences: list[BatchEvidence | None] = []
        asked: list[tuple[Chain, str]] = []  # the chains the self-check reads the anchors from
        home = home_record(batch)
        if home.state == State.CONFIRMED and not self.home.still_anchored(home):
            # A reorganisation deeper than the configured confirmations moved or dropped the anchor.
            self.progress.note(
                f"the anchor of batch {batch.id} is no longer in block {batch.block_number}; confirming again"
            )
            if batch.state != State.DELIVERED:
                return self.store.update_batch(batch.id or 0, state=State.SUBMITTED)
            update_record(self.store, home, block_number=None, block_hash=None, block_timestamp=None)
            self._pending[home.chain_id] = "reorganised away after its confirmations"
        elif home.state == State.CONFIRMED:
            anchors.append(anchor_section(home))
            evidences.append(self._evidence(self.home, batch, leaves))
            asked.append((self.home.chain, self.home.config.registry))
        included: list[int] = []
        for record in self._other_records(batch):
            if record.state != State.CONFIRMED:
                continue
            job = self._reachable(record.chain_id)
            if job is not None and not job.still_anchored(record):
                self.progress.note(f"the anchor of {record.label} was reorganised away; confirming it again later")
                update_record(self.store, record, state=State.SUBMITTED, delivered=False)
                self._pending[record.chain_id] = "reorganised away after its confirmations"
                continue
            if job is not None and not record_delivered(self.store, record):
                self._catch_up_revocations(job, record)  # before its receipts say it holds
            anchors.append(anchor_section(record))
            included.append(record.anchor_id or 0)
            evidences.append(self._evidence(job, batch, leaves) if job is not None else None)
            if job is not None:
                asked.append((job.chain, job.config.registry))
        if not anchors:
            return self.store.batch(batch.id or 0)  # nothing confirmed to deliver with: left for `resume`
        out_dir = Path(batch.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.progress.stage("writing receipts, each checked against the chain", len(leaves))
        every = [e for e in evidences if e is not None]
        # The form the batch was issued with (on `resume` too); one delivered before forms existed: files.
        form = check_form(
            batch.receipts or ("dir" if batch.delivered_at is not None else chosen_form(self.receipts, batch.count))
        )
        if batch.receipts is None:
            batch = self.store.update_batch(batch.id or 0, receipts=form)
        manifest = write_manifest(self.workspace, batch, tree, anchors, [digest for digest, _ in stored], evidences)
        del stored, leaves  # a million (digest, leaf) pairs are not needed by what follows
        signed = self._signed.get(batch.root)  # known here: its signatures are checked by their tags
        own = OwnSignatures(*signed) if signed is not None else None
        blocks = {e.chain_id: e.block_number() for e in every}
        # Who gets which receipt, written as the receipts are; put in place once every receipt checks out.
        listing = DeliveryListWriter(out_dir / DELIVERY_NAME, self.config.share.base_url)
        # Where each receipt is, recorded as the chunks come back; committed once they are all written and flushed.
        with listing, self.store.receipt_locations(batch.id or 0) as located:
            # Each receipt is verified by the worker that made it, from the bytes it wrote.
            with self.self_check.checking(batch.root, asked, own, blocks) as check:
                root, progress = batch.root, self.progress
                rows = listing.receipt_rows(self.store, batch.id or 0)

                def chunk_written(locations: dict[str, str]) -> None:
                    listing.written(locations)
                    located.add(locations)

                documents = self.store.documents(batch.id or 0)
                written = write_batch_receipts(
                    out_dir, rows, documents, tree, root, anchors, every, progress, form, check, chunk_written
                )
            del every, evidences
            fault("receipts-written")
            paths = written.locations
            located.commit()
            if written.failures:
                raise check_failed(written.failures, len(paths))
            # What the store now says of each receipt's place, read back as a verifier reads it, for a sample.
            sample = read_back_sample(list(paths.items()))
            self.progress.stage("reading receipts back from their locations", len(sample))
            self.self_check([location for _, location in sample], batch.root, asked, own)
            check_sample_ids(sample)
            fault("checked")
            if self.bake:
                bake_batch(self.workspace, batch.achievement, paths, self.bake, self.progress)
            if self.pdf:  # before `delivered`: a crash here leaves the batch for `resume`, which makes the rest
                from issuer.certificates import batch_certificates

                self.progress.stage("writing certificate PDFs", len(paths))
                batch_certificates(self.workspace, self.store, batch, advance=self.progress.advance)
            listing.commit()
        mark_delivered(self.store, included)
        return self.store.update_batch(
            batch.id or 0, state=State.DELIVERED, delivered_at=now(), manifest_path=str(manifest)
        )

    def _reachable(self, chain_id: int) -> AnchorJob | None:
        """The additional chain's job, or None (and why, noted) when it cannot be reached now."""
        try:
            return self._job(chain_id)
        except (ChainUnavailable, TransactionFailed, InvalidInput) as exc:
            self.progress.note(f"chain {chain_id}: {exc}; its anchor goes in the receipts without evidence")
            return None

    def _stored(self, batch: Batch) -> list[tuple[str, str]]:
        """The batch's (digest, leaf) pairs in batch order, as the store holds them: from the hashes `_prepare`
        stored in this process (a million read back took 1.5-2.8 s, with both cores otherwise idle), else from
        the store."""
        hashed = self._hashed.pop(batch.root, None)
        if hashed is None:
            return self.store.leaves(batch.id or 0)
        digests, leaves = (blob.hex() for blob in hashed)
        return [("0x" + digests[at : at + 64], "0x" + leaves[at : at + 64]) for at in range(0, len(digests), 64)]

    def _tree(self, batch: Batch, stored: list[tuple[str, str]]) -> MerkleTree:
        """The batch's Merkle tree: the one `_prepare` built in this process, or built again from its stored
        (digest, leaf) pairs."""
        tree = self._trees.get(batch.root)
        if tree is None:
            self.progress.stage("building the Merkle tree")
            tree = MerkleTree.build([bytes.fromhex(d[2:]) for d, _ in stored])
            if to_hex(tree.root) != batch.root:
                raise CredanchorError(
                    f"batch {batch.id}: stored credentials give root {to_hex(tree.root)}, not {batch.root}"
                )
            self._trees = {batch.root: tree}  # one batch's tree at a time: a million leaves weigh ~300 MB
        return tree

    def _evidence(self, job: AnchorJob, batch: Batch, leaves: list[str]) -> BatchEvidence | None:
        if not job.config.evidence:
            return None
        where = "" if job.home else f" on chain {job.config.chain_id}"
        self.progress.stage(f"collecting the anchor's chain evidence{where}", len(leaves))
        document = self.store.first_document(batch.id or 0)
        try:
            evidence = gather(job.chain, job.registry, batch.root, leaves, document, self.progress.advance)
        except ChainUnavailable as exc:
            if job.home:
                raise
            # Another chain's node failing now costs its evidence, not the delivery: the anchor is listed.
            self._pending[job.config.chain_id] = f"its evidence could not be collected: {exc}"
            return None
        if evidence is not None and evidence.fallback_note:
            self.progress.note(evidence.fallback_note)
        return evidence

    def _outcome(self, batch: Batch, *, resumed: bool, already: bool) -> Outcome:
        manifest = (
            Path(batch.manifest_path) if batch.manifest_path else self.workspace.manifests_dir / manifest_name(batch)
        )
        delivery = Path(batch.out_dir) / DELIVERY_NAME
        records = (home_record(batch), *self._other_records(batch))
        pending = tuple(
            f"anchor on chain {r.chain_id}: {self._pending.get(r.chain_id, r.state)}; `credanchor resume` adds it"
            for r in records
            if (r.state != State.CONFIRMED or r.chain_id in self._pending) and batch.state == State.DELIVERED
        )
        anchored_on = {r.chain_id for r in records}
        undeployed = tuple(
            f"chain {c.chain_id} has no registry yet, so this batch is not anchored there; deploy one for the "
            f"next batches (`credanchor deploy --chain-id {c.chain_id}`, or `chain up` for a local chain)"
            for c in self.config.additional_chains
            if not c.registry and c.chain_id not in anchored_on and not already
        )
        found = delivery if delivery.exists() else None
        return Outcome(batch, batch.count, manifest, resumed, already, found, records, pending + undeployed)
