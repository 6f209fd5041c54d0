"""Schema migrations: the revisions make exactly the models' schema on SQLite and PostgreSQL, a workspace
database made before migrations existed is upgraded in place with its data, processes opening one new
database at once migrate it once, and a database from a newer credanchor is refused."""

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

from issuer.migrations import FOLDER, HEAD
from issuer.store import Attempt, Batch, Credential, Mailbox, MessageState, State, Store, StoreError, daily_counts
from tests.conftest import ASSETS
from tests.integration.storerows import credential_rows

BEFORE_MIGRATIONS = ASSETS / "databases" / "before-migrations.db"
"""Made by the code of main before migrations (`create_all`): one delivered batch of two credentials, an
attempt, an anchor on a second chain with its attempt, a queued message, a page withdrawal, a daily count."""


def url_of(database: str | None, tmp_path: Path) -> str:
    return database or f"sqlite:///{tmp_path / 'credanchor.db'}"


def schema_differences(store: Store) -> list[object]:
    with store.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def digest_constraints(engine: Engine) -> list[dict[str, object]]:
    """The unique constraints and indexes on `credential.digest` (0006 dropped the one there was)."""
    found = inspect(engine)
    uniques = [dict(u) for u in found.get_unique_constraints("credential") if u["column_names"] == ["digest"]]
    return uniques + [dict(i) for i in found.get_indexes("credential") if "digest" in i["column_names"]]


def foreign_key_violations(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as raw:
        return raw.execute("PRAGMA foreign_key_check").fetchall()


def downgrade_sqlite(path: Path, target: str) -> None:
    """Downgrade the SQLite database at `path` to `target`, in one transaction with foreign keys on, as
    `issuer.migrations.upgrade` upgrades."""
    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    script = ScriptDirectory.from_config(config)
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        connection.exec_driver_sql("BEGIN IMMEDIATE")

        def steps(revision: object, _context: object) -> object:
            return script._downgrade_revs(target, revision)  # type: ignore[arg-type]

        with EnvironmentContext(config, script, fn=steps, destination_rev=target) as environment:
            environment.configure(connection=connection)
            with environment.begin_transaction():
                environment.run_migrations()
        connection.commit()
    engine.dispose()


def revision(store: Store) -> str:
    with store.engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def test_head_is_the_newest_script() -> None:
    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_migrations_make_the_models_schema(database: str | None, tmp_path: Path) -> None:
    store = Store(url_of(database, tmp_path))
    assert revision(store) == HEAD
    assert schema_differences(store) == []
    assert digest_constraints(store.engine) == []
    store.close()


def test_a_database_made_before_migrations_is_upgraded_in_place(tmp_path: Path) -> None:
    copy = tmp_path / "credanchor.db"
    shutil.copyfile(BEFORE_MIGRATIONS, copy)
    with sqlite3.connect(copy) as raw:
        assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone() == (0,)
        documents = raw.execute("SELECT id, digest, leaf, document FROM credential ORDER BY position").fetchall()
    store = Store(f"sqlite:///{copy}")
    assert revision(store) == HEAD
    assert schema_differences(store) == []
    assert digest_constraints(store.engine) == []  # its table rebuilt (0006), every reference to it holding
    assert foreign_key_violations(copy) == []
    (batch,) = store.batches()
    assert (batch.state, batch.count, batch.block_number, batch.block_timestamp) == (State.DELIVERED, 2, 12, 1764480000)
    assert batch.delivered_at is not None
    assert [c.email for c in store.credentials(batch.id or 0)] == ["p0@example.org", "p1@example.org"]
    # The signed documents moved to their own table (0005), each still with its credential.
    assert len(documents) == 2
    assert [document for *_, document in documents] == ["{}", "{}"]
    assert credential_rows(store, batch.id or 0) == documents
    assert [store.document(cid) for cid, *_ in documents] == [document for *_, document in documents]
    assert [(a.nonce, a.tx_hash) for a in store.attempts(batch.id or 0)] == [(7, "0x" + "cc" * 32)]
    messages = Mailbox(store).messages(batch.id or 0)
    assert [m.state for m in messages.values()] == [MessageState.QUEUED]
    assert [(c.day, c.count) for c in daily_counts(store, "2026-01-01")] == [("2026-11-29", 3)]
    store.close()
    assert Store(f"sqlite:///{copy}").batches() == [batch]  # opened again: nothing left to do


def test_the_digest_constraint_goes_and_comes_back_with_every_row_and_reference(tmp_path: Path) -> None:
    """0006 rebuilds SQLite's credential table without the unique constraint on digest, and its downgrade
    rebuilds it with it, while documents, messages, page withdrawals and daily counts refer to its rows."""
    copy = tmp_path / "credanchor.db"
    shutil.copyfile(BEFORE_MIGRATIONS, copy)
    Store(f"sqlite:///{copy}").close()

    def rows() -> list[tuple[object, ...]]:
        with sqlite3.connect(copy) as raw:
            tables = ("credential", "credentialdocument", "message", "pagewithdrawal", "dailycount")
            return [row for table in tables for row in raw.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608

    at_head = rows()
    assert len(at_head) == 7
    downgrade_sqlite(copy, "0005")
    engine = create_engine(f"sqlite:///{copy}")  # not a Store, which would upgrade it again
    assert digest_constraints(engine) == [{"name": None, "column_names": ["digest"]}]
    engine.dispose()
    assert rows() == at_head
    assert foreign_key_violations(copy) == []
    with sqlite3.connect(copy) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == ("0005",)
        indexes = {row[1] for row in raw.execute("PRAGMA index_list(credential)")}
    assert {"ix_credential_email", "ix_credential_batch_position"} <= indexes
    store = Store(f"sqlite:///{copy}")  # upgraded again
    assert (revision(store), digest_constraints(store.engine), schema_differences(store)) == (HEAD, [], [])
    store.close()
    assert rows() == at_head
    assert foreign_key_violations(copy) == []


def test_a_database_from_an_older_release_gets_its_missing_tables(tmp_path: Path) -> None:
    """Before e-mail and the web pages, `create_all` made fewer tables: the baseline adds the others."""
    path = tmp_path / "credanchor.db"
    engine = create_engine(f"sqlite:///{path}")
    tables = [Batch.__table__, Credential.__table__, Attempt.__table__]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=tables)
    engine.dispose()
    store = Store(f"sqlite:///{path}")
    assert schema_differences(store) == []
    assert Mailbox(store).unsent() == {}


def test_processes_opening_a_new_database_at_once_migrate_it_once(database: str | None, tmp_path: Path) -> None:
    url = url_of(database, tmp_path)
    code = f"from issuer.store import Store; Store({url!r}).close(); print('opened')"
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [(p.returncode, out) for p, (out, _) in zip(processes, outputs, strict=True)] == [(0, b"opened\n")] * 4, (
        outputs
    )
    store = Store(url)
    assert revision(store) == HEAD
    assert schema_differences(store) == []


def test_a_database_from_a_newer_credanchor_is_refused(database: str | None, tmp_path: Path) -> None:
    url = url_of(database, tmp_path)
    store = Store(url)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError) as raised:
        Store(url)
    assert str(raised.value) == (
        f"cannot open database {url}: the database is at schema revision 9999, which this credanchor does "
        f"not know (its newest is {HEAD}): upgrade credanchor"
    )


def test_an_unreachable_server_is_named_without_its_password() -> None:
    from anchoring.localnode import free_port

    port = free_port()
    with pytest.raises(StoreError) as raised:
        Store(f"postgresql://registrar:secret@127.0.0.1:{port}/credanchor")
    message = str(raised.value)
    assert message == (
        f"cannot open database postgresql://registrar:***@127.0.0.1:{port}/credanchor: connection failed: connection "
        f'to server at "127.0.0.1", port {port} failed: Connection refused Is the server running on that host and '
        "accepting TCP/IP connections?"
    )
