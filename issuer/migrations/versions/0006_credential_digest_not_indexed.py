"""The unique constraint on `credential.digest` goes: no query reads a credential by its digest, and two
credentials cannot share one anyway (the digest hashes the whole credential, its id included, and the id is
the primary key). Its index was one of the three B-trees a credential's insert touches at random: without it
a million-credential insert takes 35-36 s instead of 47-48 s (sqlite3 alone, 64 MiB page cache, measured).

PostgreSQL drops the constraint. SQLite cannot drop a table constraint in place: the table is rebuilt, in
the migration's transaction, with the foreign keys that refer to it (documents, messages, page withdrawals,
daily counts) deferred to the commit: the old rows are copied aside, the table dropped (which leaves those
rows pointing nowhere, counted), made again and filled (which points them back, counted down), so the commit
checks that every reference holds again.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = 'id, batch_id, position, "row", email, name, digest, leaf, receipt_path, revoked_at, revoke_reason, revoke_tx'
ASIDE = "_credential_before_0006"


def _digest_constraints() -> list[str | None]:
    """The names of the unique constraints on exactly (digest); SQLite's are unnamed (None)."""
    found = sa.inspect(op.get_bind()).get_unique_constraints("credential")
    return [unique["name"] for unique in found if unique["column_names"] == ["digest"]]


def _credential_table(*extra: sa.schema.SchemaItem) -> None:
    op.create_table(
        "credential",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("leaf", sa.String(), nullable=False),
        sa.Column("receipt_path", sa.String(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(), nullable=True),
        sa.Column("revoke_tx", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.PrimaryKeyConstraint("id"),
        *extra,
    )


def _rebuild_sqlite(*extra: sa.schema.SchemaItem) -> None:
    """The credential table made again (with `extra` constraints), its rows and indexes as they were."""
    op.execute("PRAGMA defer_foreign_keys = ON")  # until this transaction commits
    op.execute(f"CREATE TABLE {ASIDE} AS SELECT {COLUMNS} FROM credential")  # noqa: S608 (constants)
    op.execute("DROP TABLE credential")
    _credential_table(*extra)
    # Before the rows: the references by (batch_id, position) need the parent's unique index to be counted back.
    op.create_index("ix_credential_batch_position", "credential", ["batch_id", "position"], unique=True)
    op.execute(f"INSERT INTO credential ({COLUMNS}) SELECT {COLUMNS} FROM {ASIDE} ORDER BY batch_id, position")  # noqa: S608
    op.execute(f"DROP TABLE {ASIDE}")
    op.create_index("ix_credential_email", "credential", ["email"])


def upgrade() -> None:
    names = _digest_constraints()
    if not names:  # made by `create_all` from these models
        return
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite()
        return
    for name in names:
        op.drop_constraint(name or "credential_digest_key", "credential", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(sa.UniqueConstraint("digest"))
    else:
        op.create_unique_constraint("credential_digest_key", "credential", ["digest"])
