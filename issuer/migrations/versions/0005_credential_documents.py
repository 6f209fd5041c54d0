"""Credentials' signed documents move to a table of their own, keyed by (batch_id, position): a credential's
row stays about 200 bytes, so setting a million receipt locations no longer rewrites a million 2-3 KB documents,
and reading a batch's rows reads no document. The documents are copied over, then the column dropped.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each step only if needed, like the baseline: a database that `create_all` made from these models has the
    # table already and no document column.
    inspector = sa.inspect(op.get_bind())
    if "credentialdocument" not in inspector.get_table_names():
        op.create_table(
            "credentialdocument",
            sa.Column("batch_id", sa.Integer(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("document", sa.String(), nullable=False),
            sa.ForeignKeyConstraint(["batch_id", "position"], ["credential.batch_id", "credential.position"]),
            sa.PrimaryKeyConstraint("batch_id", "position"),
        )
    if "document" in {column["name"] for column in inspector.get_columns("credential")}:
        op.execute(
            "INSERT INTO credentialdocument (batch_id, position, document) "
            "SELECT batch_id, position, document FROM credential"
        )
        op.drop_column("credential", "document")


def downgrade() -> None:
    op.add_column("credential", sa.Column("document", sa.String(), nullable=False, server_default=""))
    op.execute(
        "UPDATE credential SET document = (SELECT d.document FROM credentialdocument d "
        "WHERE d.batch_id = credential.batch_id AND d.position = credential.position)"
    )
    op.drop_table("credentialdocument")
