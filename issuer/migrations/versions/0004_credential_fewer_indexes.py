"""Two credential indexes nothing reads by: `leaf` (no query looks a credential up by its leaf) and
`batch_id` (the unique index on (batch_id, position) serves every query by batch). Each was a B-tree
insert per credential: dropping them cuts a million-credential insert by a sixth (measured, SQLite).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_credential_leaf", "credential", if_exists=True)
    op.drop_index("ix_credential_batch_id", "credential", if_exists=True)


def downgrade() -> None:
    op.create_index("ix_credential_batch_id", "credential", ["batch_id"], if_not_exists=True)
    op.create_index("ix_credential_leaf", "credential", ["leaf"], if_not_exists=True)
