"""The issuer's database: batches, their credentials, anchoring attempts and revocations (sqlmodel).

Invariants: a batch's state only moves forward (prepared -> submitted -> confirmed -> delivered) and each
move is committed before the next external effect (a transaction sent, receipts written), so a crash never
loses track of what reached the chain. SQLite runs in WAL mode with foreign keys on; every write is one
transaction. PostgreSQL (`postgresql+psycopg://` URLs) holds the same tables; sessions there run in UTC, so
the naive timestamps read back mean the same instant on both. The schema is Alembic's (issuer/migrations):
opening a store brings its database to the newest revision. This is the only module that defines tables.
"""

import ctypes
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    ForeignKeyConstraint,
    Index,
    Integer,
    UniqueConstraint,
    event,
    func,
    insert,
    make_url,
    or_,
    text,
)
from sqlalchemy import Enum as SaEnum
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DatabaseError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from anchoring.errors import CredanchorError


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class State(StrEnum):
    PREPARED = "prepared"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    DELIVERED = "delivered"


# Chain ids, block numbers and times, and nonces can pass 2**31: 64-bit on PostgreSQL (SQLite's INTEGER is already).
BIG = BigInteger().with_variant(Integer(), "sqlite")


def _states(kind: type[StrEnum]) -> Any:
    """An enum column as the names in a VARCHAR (what SQLite always had), not a PostgreSQL enum type."""
    return SaEnum(kind, native_enum=False)


class Batch(SQLModel, table=True):
    __table_args__ = {"sqlite_autoincrement": True}  # a discarded batch's number is never given out again

    id: int | None = Field(default=None, primary_key=True)
    input_key: str = Field(unique=True, index=True)
    achievement: str
    achievement_id: str
    state: State = Field(default=State.PREPARED, index=True, sa_type=_states(State))
    root: str = Field(unique=True, index=True)
    count: int
    chain_id: int = Field(sa_type=BIG)
    registry_address: str
    out_dir: str
    created_at: datetime = Field(default_factory=now)
    tx_hash: str | None = None
    block_number: int | None = Field(default=None, sa_type=BIG)
    block_hash: str | None = None
    block_timestamp: int | None = Field(default=None, sa_type=BIG)
    confirmed_at: datetime | None = None
    delivered_at: datetime | None = None
    manifest_path: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    revoke_tx: str | None = None
    receipts: str | None = None
    """The form its receipts are written in: dir, jsonl or zip (None: dir, from before the choice existed)."""


class Credential(SQLModel, table=True):
    # A batch's credentials are read in position order, a chunk at a time.
    __table_args__ = (Index("ix_credential_batch_position", "batch_id", "position", unique=True),)

    id: str = Field(primary_key=True)
    batch_id: int = Field(foreign_key="batch.id")  # queries by batch use ix_credential_batch_position
    position: int
    row: int
    email: str = Field(index=True)
    name: str
    digest: str  # not indexed: no query reads by it, and the id (the primary key) is inside what it hashes
    leaf: str
    receipt_path: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    revoke_tx: str | None = None


class CredentialDocument(SQLModel, table=True):
    """A credential's signed document (its JSON text, 2-3 KB), in a table of its own: the credential's row
    stays small, so setting its receipt location or revocation rewrites 200 bytes, not the document with it,
    and listing a batch reads no document (measured at 200,000 credentials: those updates 5x faster, the
    insert a fifth faster)."""

    __table_args__ = (ForeignKeyConstraint(["batch_id", "position"], ["credential.batch_id", "credential.position"]),)

    batch_id: int = Field(primary_key=True)
    position: int = Field(primary_key=True)
    document: str


class SignedTransaction(SQLModel):
    """What is recorded of a signed anchoring transaction before it is sent (a table each for the home chain
    and the other chains); replacements of a stuck one share its nonce."""

    tx_hash: str = Field(unique=True)
    nonce: int = Field(sa_type=BIG)
    sender: str
    max_fee: str
    priority_fee: str
    raw: str
    created_at: datetime = Field(default_factory=now)


class Attempt(SignedTransaction, table=True):
    """One signed anchoring transaction of a batch on its home chain."""

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)


class StoreError(CredanchorError):
    pass


_BATCH_CREDENTIAL = ("batch_id", "id", "position", "row", "email", "name", "digest", "leaf")
"""The columns of a credential `add_batch_chunks` inserts (its row dicts give all but the batch's id)."""


class _InsertMany:
    """Rows (tuples of `columns`) inserted into `model`'s table with the driver's `executemany`, straight.

    A batch's million credentials are stored by the one process the signing workers feed, and the ORM's
    bulk insert cost about as much again as SQLite's own work (measured at 300,000 credentials: 17.8 s
    through the ORM, 10.6 s straight). The values are plain strings and integers, as the columns take them."""

    def __init__(self, connection: Connection, model: type[SQLModel], columns: Sequence[str]) -> None:
        quote = connection.dialect.identifier_preparer.quote
        table = model.__table__.name  # type: ignore[attr-defined]
        marks = ", ".join([_placeholder(connection)] * len(columns))
        # Names from the model, quoted by the dialect; every value a parameter.
        self._sql = f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) VALUES ({marks})"  # noqa: S608
        self._connection = connection

    def __call__(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._connection.exec_driver_sql(self._sql, rows)


ISSUED_CHUNK = 900
"""Addresses asked about in one query by `issued_emails`: under SQLite's oldest limit on parameters (999)."""


class ReceiptLocations:
    """A batch's receipt locations recorded as its receipts are written (`add`, each chunk's locations by
    credential id in batch order), in one transaction that `commit` ends: every location names the credential
    at its place in the batch, or none is recorded. Each row is found by position, which reads the batch's index
    and rows in order (a million by id, at random: 9.97-10.45 s; by position: 3.97-4.12 s, measured on SQLite),
    and its id checked with it. Leaving the `with` block uncommitted records none.

    Issuing gives each chunk as the workers hand it back, so the million updates run while the workers write
    and check the chunks after (profiled at a million credentials, all at once after the last chunk: about 7 s
    with both cores otherwise idle). The transaction holds SQLite's write lock from the first chunk to the
    commit, as the batch's insert does while it is built; PostgreSQL locks the batch's rows alone. Rows are
    sent `chunk` at a time (a million rows' parameters are not built at once)."""

    def __init__(self, engine: Engine, batch_id: int, chunk: int) -> None:
        self._connection = engine.connect()
        self._transaction = self._connection.begin()
        mark = _placeholder(self._connection)
        self._update = (
            f"UPDATE credential SET receipt_path = {mark} "  # noqa: S608 (no value in it)
            f"WHERE batch_id = {mark} AND position = {mark} AND id = {mark}"
        )
        self._batch_id, self._chunk = batch_id, chunk
        self._given = self._updated = 0

    def add(self, paths: dict[str, str]) -> None:
        items = iter(paths.items())
        while rows := [
            (path, self._batch_id, self._given + i, cid) for i, (cid, path) in enumerate(islice(items, self._chunk))
        ]:
            self._updated += self._connection.exec_driver_sql(self._update, rows).rowcount
            self._given += len(rows)

    def commit(self) -> None:
        if self._updated != self._given:
            self._transaction.rollback()
            raise StoreError(
                f"batch {self._batch_id}: {self._given - self._updated} of {self._given} receipt locations name no "
                "credential at their place in the batch; none was recorded"
            )
        self._transaction.commit()

    def __enter__(self) -> "ReceiptLocations":
        return self

    def __exit__(self, *_: object) -> None:
        self._connection.close()  # a transaction not committed is rolled back


class BatchDocuments:
    """A batch's signed documents by position (`documents(position, count)`), read in the process that needs
    them: the workers that write a batch's receipts read each chunk's documents themselves, instead of the
    issuing process reading them and sending them down a pipe (2.3 GB at a million credentials, pickled once
    and unpickled once). Measured at 300,000 credentials on SQLite: 3.2-3.6 s to read them with the other
    columns and move them through pickles, against 1.0-1.2 s for the other columns alone in the issuing process
    and 0.7 s of reads in the workers. A process forked from the one that made it opens its own engine on first
    use: a connection is never shared across a fork.

    Each read is one range of the documents' primary key, straight through the driver: a document for every
    position from `position` to `position + count - 1`, in order, or `StoreError`."""

    def __init__(self, store: "Store", batch_id: int) -> None:
        self._url = store.url
        self._engine, self._pid = store.engine, os.getpid()
        self._batch_id = batch_id
        quote, mark = store.engine.dialect.identifier_preparer.quote, _placeholder(store.engine)
        table = quote(CredentialDocument.__table__.name)  # type: ignore[attr-defined]
        batch, position = quote("batch_id"), quote("position")
        self._sql = (
            f"SELECT {position}, {quote('document')} FROM {table} "  # noqa: S608 (names from the model, quoted)
            f"WHERE {batch} = {mark} AND {position} >= {mark} AND {position} < {mark} ORDER BY {position}"
        )

    def __call__(self, position: int, count: int) -> list[str]:
        if os.getpid() != self._pid:
            self._engine, self._pid = engine_for(self._url), os.getpid()
        with self._engine.connect() as connection:
            cursor = connection.connection.cursor()  # the driver's own: plain tuples, no result objects
            try:
                cursor.execute(self._sql, (self._batch_id, position, position + count))
                found = cursor.fetchall()
            finally:
                cursor.close()
        if len(found) != count:  # positions are unique in a batch: `count` of them in the range are all of it
            raise StoreError(
                f"batch {self._batch_id}: {len(found)} signed documents stored for positions {position} to "
                f"{position + count - 1}, not {count}"
            )
        return [document for _, document in found]


def _placeholder(bind: Connection | Engine) -> str:
    """A positional parameter in the driver's own SQL: `?` for sqlite3, `%s` for psycopg."""
    style = bind.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise StoreError(f"no positional parameters for the database driver's style {style!r}")


def _with_documents(*columns: Any) -> Any:
    """A query of credentials' `columns`, then each one's signed document (kept in a table of its own)."""
    joined = (CredentialDocument.batch_id == Credential.batch_id) & (CredentialDocument.position == Credential.position)
    return sa_select(*columns, col(CredentialDocument.document)).join(CredentialDocument, joined)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Issued:
    """A credential as a listing shows it (its document left in the database), beside its batch."""

    id: str
    row: int
    email: str
    name: str
    receipt_path: str | None
    revoked_at: datetime | None
    revoke_reason: str | None
    revoke_tx: str | None
    batch: Batch


WAL_AUTOCHECKPOINT = 1000
"""SQLite's default: a commit that leaves the write-ahead log over this many pages copies it into the database."""


PAGE_BYTES = 16384
"""The page size of a database SQLite creates (its default is 4096). A signed document (2.3-3.5 KB) takes a
4 KiB page nearly to itself, leaving the rest empty, where a 16 KiB page holds four to seven of them (measured,
300,000 credentials straight with sqlite3: 1,284 MiB of write-ahead log and 6.6-7.8 s against 771 MiB and
4.3-4.6 s). An existing database keeps the page size it was made with."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size={PAGE_BYTES}")  # only a database still empty takes it: before WAL makes it
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    # Up to 64 MiB of pages, taken only as used (the default is 2 MiB): an insert touches the indexes on id and
    # e-mail at random, and with 2 MiB most of those touches read a page again.
    cursor.execute(f"PRAGMA cache_size={CACHE_KIB}")
    cursor.close()


BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite connection waits for another's write lock before its statement fails."""
CACHE_KIB = -65536
"""SQLite's page cache for each connection (negative: KiB), taken only as used."""
BATCH_CACHE_KIB = -262144
"""The page cache of a batch's insert, while it lasts: a million credentials' indexes outgrow 64 MiB, and each
insert then reads pages back from the file (measured, a million rows straight with sqlite3, when digests were
indexed too: 47-48 s with 64 MiB, 30-36.5 s with 256 MiB, 33.8 s with 512 MiB; with 256 MiB and no digest
index, 27.7-29.7 s against 30.2-31.4 s with it, alternated)."""


def return_freed_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc's `malloc_trim`); False where there is none.

    A batch's insert grows SQLite's page cache to `BATCH_CACHE_KIB`; the pages it frees when the cache shrinks
    at check-in stay in the heap, counted in this process (and in each worker forked from it) for the rest of
    the run: about 190 MB at a million credentials, measured."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


def _sqlite_checkin(dbapi_connection: Any, _record: Any) -> None:
    """Every connection goes back to the pool with SQLite's automatic checkpoint and foreign keys on and its
    usual page cache (a big insert changes them for its own transaction, and a failure must not leave them so):
    a smaller cache size gives the pages over it back at once."""
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    dbapi_connection.execute("PRAGMA foreign_keys=ON")
    dbapi_connection.execute(f"PRAGMA cache_size={CACHE_KIB}")


DATABASE_BUSY = (
    "the database is busy: another credanchor process has held its write lock for 30 s (on SQLite, a large batch "
    "holds it while it is stored and while its receipts are written); run the command again once it is done"
)


def _sqlite_busy(context: ExceptionContext) -> None:
    """SQLite's write lock held by another connection past `BUSY_TIMEOUT_MS`: a `StoreError` that says so, for
    every caller (a command prints it as one line), instead of the driver's `database is locked`."""
    if "database is locked" in str(context.original_exception):
        raise StoreError(DATABASE_BUSY) from context.original_exception


def engine_for(url: str) -> Engine:
    """An engine with the settings every connection needs: SQLite's pragmas; UTC sessions on PostgreSQL
    (a bare `postgresql://` URL means psycopg 3, the driver installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "postgresql":
        connect_args = {"options": "-c timezone=UTC", "application_name": "credanchor"}
        return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    engine = create_engine(parsed)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", _sqlite_checkin)
        event.listen(engine, "handle_error", _sqlite_busy)
    return engine


class Store:
    def __init__(self, url: str) -> None:
        from issuer.migrations import UnknownRevision, upgrade

        self.url = url
        self.engine: Engine = engine_for(url)
        self.dialect = self.engine.dialect.name
        self._checkpoints: list[threading.Thread] = []
        shown = make_url(url).render_as_string(hide_password=True)
        try:
            upgrade(self.engine)
        except DatabaseError as exc:
            raise StoreError(f"cannot open database {shown}: {' '.join(str(exc.orig).split())}") from None
        except UnknownRevision as exc:
            raise StoreError(f"cannot open database {shown}: {exc}") from None

    def close(self) -> None:
        self.settle()
        self.engine.dispose()

    def settle(self) -> None:
        """Wait for the checkpoints running behind (`_checkpoint_behind`) to finish."""
        for thread in self._checkpoints:
            thread.join()

    def _checkpoint_behind(self) -> None:
        """Copy SQLite's write-ahead log into the database file on a thread of its own, while the caller goes
        on (the thread releases the interpreter lock inside SQLite). A big batch's insert leaves about 2.4 GB
        of pages in the log at a million credentials; copied by the commit itself, as SQLite's automatic
        checkpoint does, that held up anchoring for about 10 s. What is committed is durable in the log
        either way: the copy only moves it, and a crash in the middle of it loses nothing. A commit on another
        connection meanwhile finds the checkpoint busy and skips its own automatic one."""
        started = threading.Event()

        def run() -> None:
            with suppress(DatabaseError), self.engine.connect() as connection:
                started.set()
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            started.set()

        thread = threading.Thread(target=run, name="credanchor-checkpoint", daemon=True)
        self._checkpoints = [t for t in self._checkpoints if t.is_alive()] + [thread]
        thread.start()
        started.wait(5)  # so the caller's next commit finds the checkpoint under way

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def batch_by_key(self, input_key: str) -> Batch | None:
        with self.session() as s:
            return s.exec(select(Batch).where(Batch.input_key == input_key)).first()

    def batch(self, batch_id: int) -> Batch:
        with self.session() as s:
            found = s.get(Batch, batch_id)
        if found is None:
            raise StoreError(f"no batch {batch_id}")
        return found

    def batch_by_root(self, root: str) -> Batch | None:
        with self.session() as s:
            return s.exec(select(Batch).where(Batch.root == root)).first()

    def batches(self, *, unfinished: bool = False) -> Sequence[Batch]:
        """Every batch; with `unfinished`, those not delivered or with an anchor on another chain to finish
        (not confirmed yet, or confirmed but not yet in the receipts)."""
        with self.session() as s:
            query = select(Batch).order_by(col(Batch.id))
            if unfinished:
                pending = select(ChainAnchor.batch_id).where(
                    or_(col(ChainAnchor.state) != State.CONFIRMED, col(ChainAnchor.delivered).is_(False))
                )
                query = query.where(
                    or_(
                        col(Batch.state) != State.DELIVERED,
                        col(Batch.block_number).is_(None),  # delivered with other chains' anchors, home pending
                        col(Batch.delivered_at).is_(None),  # its receipts are to be written again
                        col(Batch.id).in_(pending),
                    )
                )
            return s.exec(query).all()

    def credentials(self, batch_id: int) -> Sequence[Credential]:
        with self.session() as s:
            query = select(Credential).where(Credential.batch_id == batch_id).order_by(col(Credential.position))
            return s.exec(query).all()

    def _pages(
        self, batch_id: int, columns: Sequence[str], size: int, *, documents: bool = False
    ) -> Iterator[Sequence[Any]]:
        """(position, *`columns`[, document]) of a batch's credentials (`columns` of the credential table, then
        the signed document when `documents`), `size` at a time in position order, as the driver's tuples.

        Keyset paging: each page starts after the last position seen, so no page re-reads the ones before it
        and a million rows need not be in memory at once; each page in a read of its own, so a long walk holds
        no transaction open. Straight to the driver, as `_InsertMany` inserts them: the ORM's rows cost as much
        again as the database's own work (measured at 300,000 credentials: 1.4-1.6 s through the ORM for the
        delivery list's columns, 0.8-1.0 s straight; with the documents 2.7-2.9 s against 1.7-1.9 s)."""
        after = -1
        quote, mark = self.engine.dialect.identifier_preparer.quote, _placeholder(self.engine)
        credential = quote(Credential.__table__.name)  # type: ignore[attr-defined]
        document = quote(CredentialDocument.__table__.name)  # type: ignore[attr-defined]
        batch, position = quote("batch_id"), quote("position")
        names = [f"{credential}.{quote(name)}" for name in ("position", *columns)]
        source = credential
        if documents:
            names.append(f"{document}.{quote('document')}")
            source += (
                f" JOIN {document} ON {document}.{batch} = {credential}.{batch}"
                f" AND {document}.{position} = {credential}.{position}"
            )
        # Names from the model, quoted by the dialect; every value a parameter.
        sql = (
            f"SELECT {', '.join(names)} FROM {source} WHERE {credential}.{batch} = {mark} "  # noqa: S608
            f"AND {credential}.{position} > {mark} ORDER BY {credential}.{position} LIMIT {mark}"
        )
        while True:
            with self.session() as s:
                cursor = s.connection().connection.cursor()  # the driver's own: plain tuples, no result objects
                try:
                    cursor.execute(sql, (batch_id, after, size))
                    found = cursor.fetchall()
                finally:
                    cursor.close()
            if not found:
                return
            after = found[-1][0]
            yield found

    def credential_chunks(self, batch_id: int, size: int = 2000) -> Iterator[list[tuple[str, str, str, str]]]:
        """(id, digest, leaf, document) of a batch's credentials in batch order, `size` at a time: the columns
        receipts need, without building ORM objects."""
        for page in self._pages(batch_id, ("id", "digest", "leaf"), size, documents=True):
            yield [(r[1], r[2], r[3], r[4]) for r in page]

    def receipt_chunks(
        self, batch_id: int, size: int = 2000, *, documents: bool = False
    ) -> Iterator[list[tuple[str, str, str, str | None, int, str, str]]]:
        """(id, digest, leaf, document, row, email, name) of a batch's credentials in batch order, `size` at a
        time: what receipts and the delivery list need, written together. The document only with `documents`
        (the delivery list's links need it); None otherwise: the workers that write the receipts read theirs
        (`BatchDocuments`)."""
        columns = ("id", "digest", "leaf", "row", "email", "name")
        for page in self._pages(batch_id, columns, size, documents=documents):
            yield [(r[1], r[2], r[3], r[7] if documents else None, r[4], r[5], r[6]) for r in page]

    def documents(self, batch_id: int) -> BatchDocuments:
        """What reads the batch's signed documents by position, in this process or in one forked from it."""
        return BatchDocuments(self, batch_id)

    def leaves(self, batch_id: int) -> list[tuple[str, str]]:
        """(digest, leaf) of a batch's credentials in batch order (straight from the driver, as `_pages` reads:
        measured at 300,000 credentials, 0.38-0.40 s against 0.72-0.86 s through SQLAlchemy's rows)."""
        return [(row[1], row[2]) for page in self._pages(batch_id, ("digest", "leaf"), 50_000) for row in page]

    def first_document(self, batch_id: int) -> str:
        with self.session() as s:
            query = sa_select(col(CredentialDocument.document)).where(
                col(CredentialDocument.batch_id) == batch_id, col(CredentialDocument.position) == 0
            )
            return str(s.execute(query).scalar_one())

    def document(self, credential_id: str) -> str | None:
        """A credential's signed document (JSON text), or None if there is no such credential."""
        with self.session() as s:
            found = s.execute(_with_documents(col(Credential.id)).where(col(Credential.id) == credential_id)).first()
            return None if found is None else str(found[1])

    def delivery_chunks(
        self, batch_id: int, *, documents: bool = False, size: int = 5000
    ) -> Iterator[list[tuple[int, str, str, str, str | None, str | None]]]:
        """(records row, email, name, credential id, receipt path, document) of a batch's credentials in batch
        order, `size` at a time; the signed document only when `documents` is true (else None)."""
        columns = ("row", "email", "name", "id", "receipt_path")
        for page in self._pages(batch_id, columns, size, documents=documents):
            yield [(r[1], r[2], r[3], r[4], r[5], r[6] if documents else None) for r in page]

    def digests(self, batch_id: int) -> list[str]:
        """The batch's credential digests in batch order."""
        with self.session() as s:
            query = select(Credential.digest).where(Credential.batch_id == batch_id).order_by(col(Credential.position))
            return list(s.exec(query).all())

    def receipt_paths(self, batch_id: int) -> list[tuple[str, str | None]]:
        with self.session() as s:
            query = select(Credential.id, Credential.receipt_path).where(Credential.batch_id == batch_id)
            return [(cid, path) for cid, path in s.exec(query).all()]

    def revoked_leaves(self, batch_id: int) -> list[tuple[str, str]]:
        """(credential id, leaf) of the batch's credentials revoked one by one."""
        with self.session() as s:
            query = select(Credential.id, Credential.leaf).where(
                Credential.batch_id == batch_id, col(Credential.revoked_at).is_not(None)
            )
            return [(cid, leaf) for cid, leaf in s.exec(query).all()]

    def find_credentials(
        self, *, email: str | None = None, credential_id: str | None = None, batch_id: int | None = None
    ) -> list[Issued]:
        """Credentials with this (normalised) email, id and batch, each given; in batch, then records, order."""
        query = sa_select(
            col(Credential.id),
            col(Credential.row),
            col(Credential.email),
            col(Credential.name),
            col(Credential.receipt_path),
            col(Credential.revoked_at),
            col(Credential.revoke_reason),
            col(Credential.revoke_tx),
            Batch,
        ).join(Batch, col(Batch.id) == col(Credential.batch_id))
        if email is not None:
            query = query.where(col(Credential.email) == email)
        if credential_id is not None:
            query = query.where(col(Credential.id) == credential_id)
        if batch_id is not None:
            query = query.where(col(Credential.batch_id) == batch_id)
        with self.session() as s:
            rows = s.execute(query.order_by(col(Credential.batch_id), col(Credential.position))).all()
            return [Issued(*row) for row in rows]

    def credential(self, credential_id: str) -> Credential | None:
        with self.session() as s:
            return s.get(Credential, credential_id)

    def issued_emails(self, achievement_id: str, emails: Sequence[str]) -> dict[str, str]:
        """Of `emails`, those already holding an unrevoked credential for the achievement: email -> credential id.

        Asked `ISSUED_CHUNK` addresses at a time, in the driver's own SQL (as `_pages` reads): through the ORM,
        rendering each chunk's parameters cost several times the database's lookups (measured, a million
        addresses: 2.3-2.8 s through the ORM, 0.39-0.42 s straight, 0.53-0.63 s straight in chunks of 5,000).
        PostgreSQL takes each chunk as one array parameter."""
        quote, mark = self.engine.dialect.identifier_preparer.quote, _placeholder(self.engine)
        credential = quote(Credential.__table__.name)  # type: ignore[attr-defined]
        batch = quote(Batch.__table__.name)  # type: ignore[attr-defined]
        email, revoked = quote("email"), quote("revoked_at")
        # Names from the model, quoted by the dialect; every value a parameter.
        sql = (
            f"SELECT c.{email}, c.{quote('id')} FROM {credential} AS c JOIN {batch} AS b ON b.{quote('id')} = "  # noqa: S608
            f"c.{quote('batch_id')} WHERE b.{quote('achievement_id')} = {mark} AND c.{revoked} IS NULL "
            f"AND b.{revoked} IS NULL AND c.{email} "
        )
        array = self.dialect == "postgresql"
        found: dict[str, str] = {}
        with self.session() as s:
            cursor = s.connection().connection.cursor()
            try:
                for start in range(0, len(emails), ISSUED_CHUNK):
                    chunk = list(emails[start : start + ISSUED_CHUNK])
                    if array:
                        cursor.execute(sql + f"= ANY({mark})", (achievement_id, chunk))
                    else:
                        cursor.execute(sql + f"IN ({', '.join([mark] * len(chunk))})", (achievement_id, *chunk))
                    found.update(cursor.fetchall())
            finally:
                cursor.close()
        return found

    def add_batch(
        self, batch: Batch, credentials: list[dict[str, Any]], also_on: Sequence[tuple[int, str]] = ()
    ) -> Batch:
        """Insert a prepared batch, all its credentials and its anchors on the other chains `also_on` (chain id,
        registry) in one transaction."""
        return self.add_batch_chunks(batch, iter([credentials]), also_on)

    def add_batch_chunks(
        self,
        batch: Batch,
        chunks: Iterator[list[dict[str, Any]]],
        also_on: Sequence[tuple[int, str]] = (),
        complete: Callable[[], dict[str, Any]] | None = None,
    ) -> Batch:
        """`add_batch` with the credentials arriving in chunks as they are made (a million need not be in
        memory at once), still in one transaction; `complete()`, called after the last chunk, gives the batch
        columns known only then (its root), set before the commit."""
        existing = self.batch_by_key(batch.input_key)
        if existing is not None:  # another process prepared it a moment ago (callers lock, this is the backstop)
            raise StoreError(f"batch {existing.id} for these records exists already; run the command again")
        sqlite = self.dialect == "sqlite"
        with self.session() as s:
            if sqlite:  # until the connection goes back to the pool:
                # the batch's pages are copied into the database file after the commit, on a thread;
                s.execute(text("PRAGMA wal_autocheckpoint = 0"))
                # and no row is looked up for its references: each document refers to the credential inserted
                # just before it, each credential and chain to the batch just flushed (a million lookups cost
                # a quarter of the insert, in the one process that stores what the workers sign).
                s.execute(text("PRAGMA foreign_keys = OFF"))
                # and its indexes are kept in memory as they grow (`BATCH_CACHE_KIB`).
                s.execute(text(f"PRAGMA cache_size = {BATCH_CACHE_KIB}"))
            s.add(batch)
            s.flush()
            for chain_id, registry in also_on:
                s.add(ChainAnchor(batch_id=batch.id or 0, chain_id=chain_id, registry_address=registry))
            connection, batch_id = s.connection(), batch.id
            credentials = _InsertMany(connection, Credential, _BATCH_CREDENTIAL)
            documents = _InsertMany(connection, CredentialDocument, ("batch_id", "position", "document"))
            values = itemgetter(*_BATCH_CREDENTIAL[1:])
            for rows in chunks:
                credentials([(batch_id, *values(row)) for row in rows])
                documents([(batch_id, row["position"], row["document"]) for row in rows])
            for key, value in (complete() if complete else {}).items():
                setattr(batch, key, value)
            s.add(batch)
            s.commit()
            s.refresh(batch)
        if sqlite:  # the connection is back in the pool, its page cache shrunk to the usual size
            return_freed_memory()
            self._checkpoint_behind()
        return batch

    def update_batch(self, batch_id: int, **changes: Any) -> Batch:
        with self.session() as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                raise StoreError(f"no batch {batch_id}")
            for key, value in changes.items():
                setattr(batch, key, value)
            s.add(batch)
            s.commit()
            s.refresh(batch)
            return batch

    def discard(self, batch_id: int) -> Batch:
        """Delete a prepared batch that never reached the chain (no transaction was ever signed for it)."""
        with self.session() as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                raise StoreError(f"no batch {batch_id}")
            signed = s.exec(select(Attempt).where(Attempt.batch_id == batch_id)).first()
            if batch.state in (State.CONFIRMED, State.DELIVERED):
                raise StoreError(
                    f"batch {batch_id} is anchored ({batch.state}); to withdraw it, "
                    f"`credanchor revoke --batch {batch.root} --reason ...`"
                )
            if batch.state != State.PREPARED or signed is not None:
                raise StoreError(
                    f"batch {batch_id} is {batch.state}: a transaction was signed for it, so it may reach the chain; "
                    "finish it with `credanchor resume` (and revoke it with `credanchor revoke --batch` if unwanted)"
                )
            sent = select(ChainAnchor).where(ChainAnchor.batch_id == batch_id, col(ChainAnchor.tx_hash).is_not(None))
            if s.exec(sent).first() is not None:
                raise StoreError(
                    f"batch {batch_id} was sent to another chain, so it may be anchored there; finish it with "
                    "`credanchor resume`"
                )
            s.execute(text("DELETE FROM chainanchor WHERE batch_id = :id"), {"id": batch_id})
            s.execute(text("DELETE FROM credentialdocument WHERE batch_id = :id"), {"id": batch_id})
            s.execute(text("DELETE FROM credential WHERE batch_id = :id"), {"id": batch_id})
            s.delete(batch)
            s.commit()
            return batch

    def record_attempt(self, batch_id: int, attempt: Attempt) -> Batch:
        """Record a signed transaction and mark the batch submitted, in one commit (before it is sent)."""
        with self.session() as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                raise StoreError(f"no batch {batch_id}")
            s.add(attempt)
            batch.tx_hash = attempt.tx_hash
            if batch.state != State.DELIVERED:  # a late home anchor of a batch delivered with other chains' ones
                batch.state = State.SUBMITTED
            s.add(batch)
            s.commit()
            s.refresh(batch)
            return batch

    def attempts(self, batch_id: int) -> Sequence[Attempt]:
        with self.session() as s:
            return s.exec(select(Attempt).where(Attempt.batch_id == batch_id).order_by(col(Attempt.id))).all()

    def receipt_locations(self, batch_id: int, *, chunk: int = 10_000) -> "ReceiptLocations":
        """A writer of the batch's receipt locations a chunk at a time, as its receipts are written."""
        return ReceiptLocations(self.engine, batch_id, chunk)

    def mark_credential_revoked(self, credential_id: str, reason: str, tx_hash: str) -> None:
        with self.session() as s:
            credential = s.get(Credential, credential_id)
            if credential is None:
                raise StoreError(f"no credential {credential_id}")
            credential.revoked_at, credential.revoke_reason, credential.revoke_tx = now(), reason, tx_hash
            s.add(credential)
            s.commit()


# --- Anchors on additional chains ([[chain]] entries after the first): the same states, one row per chain ---


class ChainAnchor(SQLModel, table=True):
    """A batch root's anchor on an additional chain; the home chain's anchor is kept on the batch row.

    `state` moves prepared -> submitted -> confirmed like a batch's, each move committed before the next
    external effect; `delivered` says the receipts on disk list this anchor."""

    __table_args__ = (UniqueConstraint("batch_id", "chain_id"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    chain_id: int = Field(sa_type=BIG)
    registry_address: str
    state: State = Field(default=State.PREPARED, sa_type=_states(State))
    tx_hash: str | None = None
    block_number: int | None = Field(default=None, sa_type=BIG)
    block_hash: str | None = None
    block_timestamp: int | None = Field(default=None, sa_type=BIG)
    confirmed_at: datetime | None = None
    delivered: bool = False


class ChainAttempt(SignedTransaction, table=True):
    """One signed anchoring transaction on an additional chain."""

    id: int | None = Field(default=None, primary_key=True)
    anchor_id: int = Field(foreign_key="chainanchor.id", index=True)


@dataclass(frozen=True)
class AnchorRecord:
    """One anchor of a batch's root as the database has it: the home chain's (on the batch row, `anchor_id`
    None) or an additional chain's (a `ChainAnchor` row)."""

    batch_id: int
    anchor_id: int | None
    chain_id: int
    registry: str
    root: str
    count: int
    state: State
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    block_timestamp: int | None

    @property
    def label(self) -> str:
        return f"batch {self.batch_id}" if self.anchor_id is None else f"batch {self.batch_id} on chain {self.chain_id}"


def home_record(batch: Batch) -> AnchorRecord:
    """The home chain's anchor. Until delivery it is the batch's state; a batch delivered with other chains'
    anchors while the home chain was down has its home anchor's state in its columns: confirmed once the
    block is recorded, submitted once a transaction is."""
    state = batch.state
    if state == State.DELIVERED:
        state = State.CONFIRMED if batch.block_number else State.SUBMITTED if batch.tx_hash else State.PREPARED
    return AnchorRecord(
        batch.id or 0,
        None,
        batch.chain_id,
        batch.registry_address,
        batch.root,
        batch.count,
        state,
        batch.tx_hash,
        batch.block_number,
        batch.block_hash,
        batch.block_timestamp,
    )


def _chain_record(row: ChainAnchor, batch: Batch) -> AnchorRecord:
    return AnchorRecord(
        row.batch_id,
        row.id,
        row.chain_id,
        row.registry_address,
        batch.root,
        batch.count,
        row.state,
        row.tx_hash,
        row.block_number,
        row.block_hash,
        row.block_timestamp,
    )


def chain_anchors(store: Store, batch_id: int) -> list[ChainAnchor]:
    """The batch's anchors on additional chains, in the order they were configured."""
    with store.session() as s:
        query = select(ChainAnchor).where(ChainAnchor.batch_id == batch_id).order_by(col(ChainAnchor.id))
        return list(s.exec(query).all())


def anchor_records(store: Store, batch: Batch) -> list[AnchorRecord]:
    """Every anchor of the batch: the home chain's first."""
    return [home_record(batch), *(_chain_record(row, batch) for row in chain_anchors(store, batch.id or 0))]


def reload_record(store: Store, record: AnchorRecord) -> AnchorRecord:
    batch = store.batch(record.batch_id)
    if record.anchor_id is None:
        return home_record(batch)
    with store.session() as s:
        row = s.get(ChainAnchor, record.anchor_id)
    if row is None:
        raise StoreError(f"no anchor {record.anchor_id} of batch {record.batch_id}")
    return _chain_record(row, batch)


def update_record(store: Store, record: AnchorRecord, **changes: Any) -> AnchorRecord:
    """Change the anchor's columns (`state`, `tx_hash`, block fields, `confirmed_at`) in one commit."""
    if record.anchor_id is None:
        batch = store.batch(record.batch_id)
        if batch.state != State.DELIVERED:
            return home_record(store.update_batch(record.batch_id, **changes))
        # Delivered already (with other chains' anchors): the batch stays delivered; a home anchor confirmed
        # now, or moved by a reorganisation, means its receipts are to be written again (delivered_at unset).
        state = changes.pop("state", None)
        if "block_number" in changes:
            changes["delivered_at"] = None
        updated = home_record(store.update_batch(record.batch_id, **changes))
        return replace(updated, state=state) if state is not None else updated
    with store.session() as s:
        row = s.get(ChainAnchor, record.anchor_id)
        if row is None:
            raise StoreError(f"no anchor {record.anchor_id} of batch {record.batch_id}")
        for key, value in changes.items():
            setattr(row, key, value)
        s.add(row)
        s.commit()
    return reload_record(store, record)


def record_anchor_attempt(store: Store, record: AnchorRecord, attempt: Attempt) -> AnchorRecord:
    """Record a signed transaction and mark the anchor submitted, in one commit (before it is sent)."""
    if record.anchor_id is None:
        return home_record(store.record_attempt(record.batch_id, attempt))
    with store.session() as s:
        row = s.get(ChainAnchor, record.anchor_id)
        if row is None:
            raise StoreError(f"no anchor {record.anchor_id} of batch {record.batch_id}")
        fields = attempt.model_dump(exclude={"id", "batch_id"})
        s.add(ChainAttempt(anchor_id=record.anchor_id, **fields))
        row.state, row.tx_hash = State.SUBMITTED, attempt.tx_hash
        s.add(row)
        s.commit()
    return reload_record(store, record)


def anchor_attempts(store: Store, record: AnchorRecord) -> list[Attempt]:
    """The anchor's signed transactions, oldest first (as `Attempt`s, whichever table holds them)."""
    if record.anchor_id is None:
        return list(store.attempts(record.batch_id))
    with store.session() as s:
        query = select(ChainAttempt).where(ChainAttempt.anchor_id == record.anchor_id).order_by(col(ChainAttempt.id))
        rows = s.exec(query).all()
    return [Attempt(batch_id=record.batch_id, **row.model_dump(exclude={"id", "anchor_id"})) for row in rows]


def record_delivered(store: Store, record: AnchorRecord) -> bool:
    """Whether the receipts on disk list this additional chain's anchor."""
    with store.session() as s:
        row = s.get(ChainAnchor, record.anchor_id)
    return row is not None and row.delivered


def mark_delivered(store: Store, anchor_ids: Sequence[int]) -> None:
    """The receipts on disk now list these additional anchors."""
    if not anchor_ids:
        return
    with store.session() as s:
        s.execute(sa_update(ChainAnchor).where(col(ChainAnchor.id).in_(anchor_ids)).values(delivered=True))
        s.commit()


# --- Web verifier: page withdrawals and earner-respecting analytics (counts by day; no IPs, no cookies) ---


class PageWithdrawal(SQLModel, table=True):
    """A credential whose public page the issuer took down (`credanchor page withdraw`): it answers 410."""

    credential_id: str = Field(primary_key=True, foreign_key="credential.id")
    withdrawn_at: datetime = Field(default_factory=now)
    reason: str = ""


class DailyCount(SQLModel, table=True):
    """How often a credential's page was viewed, or one of its files verified, on one UTC day."""

    day: str = Field(primary_key=True)
    """YYYY-MM-DD."""
    kind: str = Field(primary_key=True)
    """"view" (its public page) or "verify" (its receipt or file checked on the verification page or API)."""
    credential_id: str = Field(primary_key=True, foreign_key="credential.id")
    batch_id: int = Field(foreign_key="batch.id", index=True)
    count: int = 0


def withdraw_page(store: Store, credential_id: str, reason: str) -> PageWithdrawal:
    with store.session() as s:
        if s.get(Credential, credential_id) is None:
            raise StoreError(f"no credential {credential_id}")
        found = s.get(PageWithdrawal, credential_id)
        if found is not None:
            raise StoreError(f"the page of {credential_id} was withdrawn already on {found.withdrawn_at:%Y-%m-%d}")
        withdrawal = PageWithdrawal(credential_id=credential_id, reason=reason)
        s.add(withdrawal)
        s.commit()
        s.refresh(withdrawal)
        return withdrawal


def restore_page(store: Store, credential_id: str) -> None:
    with store.session() as s:
        found = s.get(PageWithdrawal, credential_id)
        if found is None:
            raise StoreError(f"the page of {credential_id} is not withdrawn")
        s.delete(found)
        s.commit()


def page_withdrawal(store: Store, credential_id: str) -> PageWithdrawal | None:
    with store.session() as s:
        return s.get(PageWithdrawal, credential_id)


def add_counts(store: Store, counts: dict[tuple[str, str, str, int], int]) -> None:
    """Add {(day, kind, credential id, batch id): n} to the daily counts, in one transaction."""
    if not counts:
        return
    with store.session() as s:
        s.execute(
            text(
                "INSERT INTO dailycount (day, kind, credential_id, batch_id, count) "
                "VALUES (:day, :kind, :cid, :batch, :n) "
                "ON CONFLICT (day, kind, credential_id) DO UPDATE SET count = dailycount.count + excluded.count"
            ),
            [
                {"day": day, "kind": kind, "cid": cid, "batch": batch, "n": n}
                for (day, kind, cid, batch), n in counts.items()
            ],
        )
        s.commit()


def daily_counts(store: Store, since: str, *, batch_id: int | None = None) -> Sequence[DailyCount]:
    """Every count from the day `since` (YYYY-MM-DD) on, optionally of one batch; by day, then credential."""
    with store.session() as s:
        query = select(DailyCount).where(DailyCount.day >= since)
        if batch_id is not None:
            query = query.where(DailyCount.batch_id == batch_id)
        return s.exec(query.order_by(col(DailyCount.day), col(DailyCount.credential_id))).all()


def credential_digest(store: Store, credential_id: str) -> tuple[str, int] | None:
    """(digest, batch id) of a credential, or None: one light query, for a web request's counting."""
    with store.engine.connect() as connection:
        row = connection.execute(
            text("SELECT digest, batch_id FROM credential WHERE id = :id"), {"id": credential_id}
        ).first()
    return (str(row[0]), int(row[1])) if row is not None else None


# E-mail to earners (`credanchor notify`): one message per credential, its state moving
# queued -> sending -> sent | failed | unknown. `sending` is committed before the SMTP transaction starts and
# its outcome right after the server's reply, so a crash leaves at most the messages in flight in `sending`.
# The recipient's address is not copied here: it is read from the credential when the message is sent.
class MessageState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # the server refused it (its reply kept): certainly not delivered
    UNKNOWN = "unknown"  # cut off after the message was handed over: possibly delivered


class Message(SQLModel, table=True):
    credential_id: str = Field(primary_key=True, foreign_key="credential.id")
    batch_id: int = Field(foreign_key="batch.id", index=True)
    message_id: str = Field(unique=True)
    state: MessageState = Field(default=MessageState.QUEUED, index=True, sa_type=_states(MessageState))
    attempts: int = 0
    queued_at: datetime = Field(default_factory=now)
    changed_at: datetime = Field(default_factory=now)
    sent_at: datetime | None = None
    reply_code: int | None = None
    reply: str | None = None


class Mailbox:
    """The message table of one store: what `notify` has sent, is sending, or must still send."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def queue(self, batch_id: int, message_ids: dict[str, str]) -> None:
        """Add a queued message for each credential id not yet known (credential id -> Message-ID)."""
        with self.store.session() as s:
            known = set(s.exec(select(Message.credential_id).where(Message.batch_id == batch_id)).all())
            rows = [
                {"credential_id": cid, "batch_id": batch_id, "message_id": mid, "queued_at": now(), "changed_at": now()}
                for cid, mid in message_ids.items()
                if cid not in known
            ]
            for start in range(0, len(rows), 5000):
                s.execute(insert(Message), rows[start : start + 5000])
            s.commit()

    def messages(self, batch_id: int) -> dict[str, Message]:
        with self.store.session() as s:
            found = s.exec(select(Message).where(Message.batch_id == batch_id)).all()
            return {m.credential_id: m for m in found}

    def move(self, credential_id: str, to: MessageState, *, only_from: Sequence[MessageState], **changes: Any) -> bool:
        """Move one message to `to` if it is in one of `only_from` (one conditional UPDATE, so two processes
        can never both claim it); whether it moved."""
        query = (
            sa_update(Message)
            .where(col(Message.credential_id) == credential_id, col(Message.state).in_(only_from))
            .values(state=to, changed_at=now(), **changes)
        )
        with self.store.session() as s:
            moved = s.execute(query)
            s.commit()
            return bool(moved.rowcount)  # type: ignore[attr-defined]

    def interrupted(self, batch_id: int, reason: str) -> int:
        """Messages left in `sending` by a run that stopped (the caller holds the batch's notify lock, so no
        live run owns them) become unknown; how many."""
        query = (
            sa_update(Message)
            .where(col(Message.batch_id) == batch_id, col(Message.state) == MessageState.SENDING)
            .values(state=MessageState.UNKNOWN, reply=reason, changed_at=now())
        )
        with self.store.session() as s:
            moved = s.execute(query)
            s.commit()
            return int(moved.rowcount)  # type: ignore[attr-defined]

    def forget_addresses(self, batch_id: int, addresses: Sequence[str]) -> int:
        """Blank the e-mail address of every credential of the batch, and remove the addresses from the
        server replies kept for its messages, in one transaction; how many credentials had one. On SQLite the
        old bytes are overwritten too (secure_delete, then the write-ahead log checkpointed and emptied), so
        the addresses do not linger in free pages of the database file; on PostgreSQL both tables are
        rewritten (VACUUM FULL; the server's write-ahead log and backups are its operator's to expire)."""
        sqlite = self.store.dialect == "sqlite"
        with self.store.session() as s:
            if sqlite:
                s.execute(text("PRAGMA secure_delete = ON"))
            for address in addresses:
                s.execute(
                    text(
                        "UPDATE message SET reply = replace(reply, :address, '<address forgotten>') "
                        "WHERE batch_id = :batch AND reply IS NOT NULL"
                    ),
                    {"address": address, "batch": batch_id},
                )
            moved = s.execute(
                text("UPDATE credential SET email = '' WHERE batch_id = :batch AND email != ''"), {"batch": batch_id}
            )
            s.commit()
            if sqlite:
                s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            forgotten = int(moved.rowcount)  # type: ignore[attr-defined]
        if self.store.dialect == "postgresql":
            # PostgreSQL keeps the old row versions (and their index entries) in the table files until they
            # are rewritten: VACUUM FULL writes both tables anew without them.
            with self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM (FULL) credential, message")
        return forgotten

    def unsent(self) -> dict[int, int]:
        """Delivered, unrevoked batches with live credentials not yet e-mailed: batch id -> how many."""
        query = (
            sa_select(col(Credential.batch_id), func.count())
            .join(Batch, col(Batch.id) == col(Credential.batch_id))
            .outerjoin(Message, col(Message.credential_id) == col(Credential.id))
            .where(col(Batch.state) == State.DELIVERED, col(Batch.revoked_at).is_(None))
            .where(col(Credential.revoked_at).is_(None), col(Credential.email) != "")
            .where(or_(col(Message.state).is_(None), col(Message.state) != MessageState.SENT))
            .group_by(col(Credential.batch_id))
            .order_by(col(Credential.batch_id))
        )
        with self.store.session() as s:
            return {int(batch): int(count) for batch, count in s.execute(query).all()}
