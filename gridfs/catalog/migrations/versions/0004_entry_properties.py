"""Entry properties: named grid settings of an entry, such as a directory's default SE.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "entry_properties",
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_entry_properties_entry_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "name", name=op.f("pk_entry_properties")),
    )


def downgrade() -> None:
    op.drop_table("entry_properties")
