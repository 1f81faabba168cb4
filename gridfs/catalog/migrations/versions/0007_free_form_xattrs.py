"""Free-form user.* extended attributes: any name in no schema, binary-safe values.

Revision ID: 0007
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meta_xattrs",
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_meta_xattrs_entry_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("entry_id", "name", name=op.f("pk_meta_xattrs")),
    )


def downgrade() -> None:
    op.drop_table("meta_xattrs")
