"""The form a batch's receipts are written in (`issue --receipts dir|jsonl|zip`), so `resume` writes them in
the same form; NULL for batches issued before (written as a folder of files).

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
    with op.batch_alter_table("batch") as batch:
        batch.add_column(sa.Column("receipts", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.drop_column("receipts")
