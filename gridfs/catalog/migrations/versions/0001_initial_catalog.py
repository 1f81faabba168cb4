"""Initial catalog: the LFN namespace and replicas.

Revision ID: 0001
Revises:
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("mode", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("atime_ns", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("ctime_ns", sa.BigInteger(), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=True),
        sa.Column("checksum_type", sa.String(length=16), nullable=True),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["entries.id"], name=op.f("fk_entries_parent_id"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint("guid", name=op.f("uq_entries_guid")),
        sa.UniqueConstraint("parent_id", "name", name=op.f("uq_entries_parent_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_parent_id", ["parent_id", "id"], unique=False)

    # The root directory, owned by the superuser: the first row, so id 1 on every dialect.
    now = time.time_ns()
    entries = sa.table(
        "entries",
        *(
            sa.column(name)
            for name in (
                "id",
                "parent_id",
                "name",
                "kind",
                "mode",
                "owner",
                "group_name",
                "size",
                "atime_ns",
                "mtime_ns",
                "ctime_ns",
            )
        ),
    )
    op.bulk_insert(
        entries,
        [
            {
                "parent_id": None,
                "name": "",
                "kind": "d",
                "mode": 0o755,
                "owner": "root",
                "group_name": "root",
                "size": 0,
                "atime_ns": now,
                "mtime_ns": now,
                "ctime_ns": now,
            }
        ],
    )

    op.create_table(
        "replicas",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("se", sa.String(length=255), nullable=False),
        sa.Column("surl", sa.String(length=1023), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ctime_ns", sa.BigInteger(), nullable=False),
        sa.Column("atime_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_replicas_entry_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replicas")),
        sa.UniqueConstraint("surl", name=op.f("uq_replicas_surl")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replicas_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_replicas_se"), ["se"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replicas_se"))
        batch_op.drop_index(batch_op.f("ix_replicas_entry_id"))

    op.drop_table("replicas")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_parent_id")

    op.drop_table("entries")
