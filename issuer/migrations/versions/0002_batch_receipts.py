"""The form a batch's receipts are written in (`issue --receipts dir|jsonl|zip`), so `resume` writes them in
the same form; NULL for batches issued before (written as a folder of files). Added only if missing, as the
baseline creates only what is missing.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only if missing, like the baseline: a database made by `create_all` from these models has it already.
    if "receipts" in {column["name"] for column in sa.inspect(op.get_bind()).get_columns("batch")}:
        return
    with op.batch_alter_table("batch") as batch:
        batch.add_column(sa.Column("receipts", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.drop_column("receipts")
