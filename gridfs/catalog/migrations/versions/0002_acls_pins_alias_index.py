"""POSIX ACLs, replica pin expiry, and a partial index to find aliases by their target.

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
    # Plain ALTERs, never batch mode: recreating "entries" on SQLite would drop
    # its AUTOINCREMENT and, with foreign keys on, cascade into the replicas.
    op.create_table(
        "acl_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("tag", sa.String(length=16), nullable=False),
        sa.Column("qualifier", sa.String(length=255), nullable=False),
        sa.Column("perms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_acl_entries_entry_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acl_entries")),
        sa.UniqueConstraint(
            "entry_id", "is_default", "tag", "qualifier", name=op.f("uq_acl_entries_entry_id")
        ),
    )
    op.create_index(op.f("ix_acl_entries_entry_id"), "acl_entries", ["entry_id"])
    op.add_column(
        "entries", sa.Column("has_acl", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    links_only = sa.text("kind = 'l'")
    op.create_index(
        "ix_entries_links",
        "entries",
        ["target"],
        sqlite_where=links_only,
        postgresql_where=links_only,
    )
    op.add_column("replicas", sa.Column("pin_expiry_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("replicas", "pin_expiry_ns")
    op.drop_index("ix_entries_links", "entries")
    op.drop_column("entries", "has_acl")
    op.drop_index(op.f("ix_acl_entries_entry_id"), "acl_entries")
    op.drop_table("acl_entries")
