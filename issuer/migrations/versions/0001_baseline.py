"""Baseline: the schema as `SQLModel.metadata.create_all` made it before migrations existed.

Every table and index is created only if missing, so a database made before migrations (some or all of these
tables present, no `alembic_version`) is adopted by running this revision like any other database.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
STATE = sa.Enum("PREPARED", "SUBMITTED", "CONFIRMED", "DELIVERED", name="state", native_enum=False)
MESSAGE_STATE = sa.Enum("QUEUED", "SENDING", "SENT", "FAILED", "UNKNOWN", name="messagestate", native_enum=False)


def _attempt_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("tx_hash", sa.String(), nullable=False),
        sa.Column("nonce", BIG, nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("max_fee", sa.String(), nullable=False),
        sa.Column("priority_fee", sa.String(), nullable=False),
        sa.Column("raw", sa.String(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    ]


def _index(table: str, column: str, *, unique: bool = False) -> None:
    op.create_index(f"ix_{table}_{column}", table, [column], unique=unique, if_not_exists=True)


def upgrade() -> None:
    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("input_key", sa.String(), nullable=False),
        sa.Column("achievement", sa.String(), nullable=False),
        sa.Column("achievement_id", sa.String(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("root", sa.String(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("chain_id", BIG, nullable=False),
        sa.Column("registry_address", sa.String(), nullable=False),
        sa.Column("out_dir", sa.String(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=True),
        sa.Column("block_number", BIG, nullable=True),
        sa.Column("block_hash", sa.String(), nullable=True),
        sa.Column("block_timestamp", BIG, nullable=True),
        sa.Column("confirmed_at", TIME, nullable=True),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("manifest_path", sa.String(), nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("revoke_reason", sa.String(), nullable=True),
        sa.Column("revoke_tx", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
        if_not_exists=True,
    )
    _index("batch", "input_key", unique=True)
    _index("batch", "root", unique=True)
    _index("batch", "state")
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
        sa.Column("document", sa.String(), nullable=False),
        sa.Column("receipt_path", sa.String(), nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("revoke_reason", sa.String(), nullable=True),
        sa.Column("revoke_tx", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        if_not_exists=True,
    )
    _index("credential", "batch_id")
    _index("credential", "email")
    _index("credential", "leaf")
    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        *_attempt_columns(),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash"),
        if_not_exists=True,
    )
    _index("attempt", "batch_id")
    op.create_table(
        "chainanchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("chain_id", BIG, nullable=False),
        sa.Column("registry_address", sa.String(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=True),
        sa.Column("block_number", BIG, nullable=True),
        sa.Column("block_hash", sa.String(), nullable=True),
        sa.Column("block_timestamp", BIG, nullable=True),
        sa.Column("confirmed_at", TIME, nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "chain_id"),
        if_not_exists=True,
    )
    _index("chainanchor", "batch_id")
    op.create_table(
        "chainattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("anchor_id", sa.Integer(), nullable=False),
        *_attempt_columns(),
        sa.ForeignKeyConstraint(["anchor_id"], ["chainanchor.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash"),
        if_not_exists=True,
    )
    _index("chainattempt", "anchor_id")
    op.create_table(
        "pagewithdrawal",
        sa.Column("credential_id", sa.String(), nullable=False),
        sa.Column("withdrawn_at", TIME, nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"]),
        sa.PrimaryKeyConstraint("credential_id"),
        if_not_exists=True,
    )
    op.create_table(
        "dailycount",
        sa.Column("day", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("credential_id", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"]),
        sa.PrimaryKeyConstraint("day", "kind", "credential_id"),
        if_not_exists=True,
    )
    _index("dailycount", "batch_id")
    op.create_table(
        "message",
        sa.Column("credential_id", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("state", MESSAGE_STATE, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queued_at", TIME, nullable=False),
        sa.Column("changed_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("reply_code", sa.Integer(), nullable=True),
        sa.Column("reply", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"]),
        sa.PrimaryKeyConstraint("credential_id"),
        sa.UniqueConstraint("message_id"),
        if_not_exists=True,
    )
    _index("message", "batch_id")
    _index("message", "state")


def downgrade() -> None:
    for table in ("message", "dailycount", "pagewithdrawal", "chainattempt", "chainanchor", "attempt", "credential"):
        op.drop_table(table)
    op.drop_table("batch")
