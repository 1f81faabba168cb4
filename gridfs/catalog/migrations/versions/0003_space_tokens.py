"""Space tokens: which reserved space of its SE a replica occupies.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("replicas", sa.Column("space_token", sa.String(length=64), nullable=True))
    op.create_index("ix_replicas_se_space_token", "replicas", ["se", "space_token"])


def downgrade() -> None:
    op.drop_index("ix_replicas_se_space_token", "replicas")
    op.drop_column("replicas", "space_token")
