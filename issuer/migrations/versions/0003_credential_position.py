"""Credentials of a batch are read in position order a chunk at a time: index (batch_id, position).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_credential_batch_position", "credential", ["batch_id", "position"], unique=True, if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index("ix_credential_batch_position", "credential")
