"""Transfer tombstones: the STALE entries an agent registers over a dead agent's copy.

Each is swept (the STALE replica unregistered, once its copy is seen gone) at
``sweep_at``: its making plus the agents' tombstone horizon.

Revision ID: 0010_tombstones
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_tombstones"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "transfer_tombstones",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("file_id", _ID, nullable=True),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("lfn", sa.Text(), nullable=False),
        sa.Column("dest_se", sa.String(length=255), nullable=False),
        sa.Column("surl", sa.Text(), nullable=False),
        sa.Column("submitter", sa.String(length=255), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("made", sa.Double(), nullable=False),
        sa.Column("sweep_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_tombstones")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_transfer_tombstones_sweep_at"), "transfer_tombstones", ["sweep_at"], unique=False
    )


def downgrade() -> None:
    # The STALE entries stay in the catalog, as they did before they were swept.
    op.drop_index(op.f("ix_transfer_tombstones_sweep_at"), table_name="transfer_tombstones")
    op.drop_table("transfer_tombstones")
