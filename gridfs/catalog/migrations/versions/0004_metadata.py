"""Metadata: directory schemas, typed attribute values, saved queries.

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
        "meta_attributes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("directory_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["entries.id"],
            name=op.f("fk_meta_attributes_directory_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meta_attributes")),
        sa.UniqueConstraint("directory_id", "name", name=op.f("uq_meta_attributes_directory_id")),
    )
    op.create_table(
        "meta_values",
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("float_value", sa.Double(), nullable=True),
        sa.Column("str_value", sa.String(length=512), nullable=True),
        sa.Column("text_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_meta_values_entry_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("entry_id", "name", name=op.f("pk_meta_values")),
    )
    for column in ("int", "float", "str"):
        op.create_index(
            f"ix_meta_values_{column}", "meta_values", ["name", f"{column}_value", "entry_id"]
        )
    op.create_table(
        "meta_queries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("directory_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("recursive", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["entries.id"],
            name=op.f("fk_meta_queries_directory_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meta_queries")),
        sa.UniqueConstraint("directory_id", "name", name=op.f("uq_meta_queries_directory_id")),
    )


def downgrade() -> None:
    op.drop_table("meta_queries")
    for column in ("int", "float", "str"):
        op.drop_index(f"ix_meta_values_{column}", "meta_values")
    op.drop_table("meta_values")
    op.drop_table("meta_attributes")
