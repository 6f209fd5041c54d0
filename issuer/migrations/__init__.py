"""Schema migrations (Alembic, run from code: no alembic.ini): `upgrade(engine)` brings a database to `HEAD`.

Invariants: opening a store at the newest revision costs one query (alembic is not even imported); any
other database is migrated under a lock (SQLite's write lock, or a PostgreSQL advisory lock taken in the
migrating transaction), so processes opening one database at once migrate it once. A database made before
migrations (tables from `create_all`, no `alembic_version`) needs no special path: the baseline creates only
the tables and indexes missing, then later revisions run as on any other. A database at a revision this
code does not know (written by a newer credanchor) is refused, not touched.

New revision: write `versions/NNNN_what.py` (down_revision the previous head), move `HEAD`, and let
tests/integration/test_migrations.py check it against the models on both databases.
"""

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

HEAD = "0006"
FOLDER = Path(__file__).parent
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key: the first 8 bytes of sha256("credanchor:migrate"), as a signed 64-bit number.
LOCK_KEY = 0x4D0C5E3A11F2B7C9


class UnknownRevision(Exception):
    """The database is at a revision this code has no script for."""


def current(connection: Connection) -> str | None:
    """The database's revision, or None (empty, or made before migrations)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    row = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()  # noqa: S608 (a constant)
    return None if row is None else str(row[0])


def upgrade(engine: Engine) -> None:
    with engine.connect() as connection:
        if current(connection) == HEAD:
            return
    with engine.connect() as connection:
        _lock(connection)
        _run(connection)
        connection.commit()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before the revision is read
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _run(connection: Connection) -> None:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    script = ScriptDirectory.from_config(config)
    found = current(connection)
    if found is not None and found not in {r.revision for r in script.walk_revisions()}:
        raise UnknownRevision(
            f"the database is at schema revision {found}, which this credanchor does not know "
            f"(its newest is {HEAD}): upgrade credanchor"
        )

    def steps(revision: object, _context: object) -> object:
        return script._upgrade_revs(HEAD, revision)  # type: ignore[arg-type]

    with EnvironmentContext(config, script, fn=steps, destination_rev=HEAD) as environment:
        environment.configure(connection=connection, render_as_batch=True)
        with environment.begin_transaction():
            environment.run_migrations()
