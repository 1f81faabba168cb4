"""The transfer service: jobs, their files per destination, attempts, links and decisions.

A file of a job may follow the same copy in another job (``follows``): shared transfers.

Revision ID: 0009
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "transfer_decisions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("source_se", sa.String(length=255), nullable=False),
        sa.Column("dest_se", sa.String(length=255), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("old_concurrency", sa.Integer(), nullable=False),
        sa.Column("new_concurrency", sa.Integer(), nullable=False),
        sa.Column("throughput", sa.Double(), nullable=True),
        sa.Column("ema", sa.Double(), nullable=True),
        sa.Column("success_rate", sa.Double(), nullable=True),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_decisions")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_transfer_decisions_source_se_dest_se_at",
        "transfer_decisions",
        ["source_se", "dest_se", "at"],
        unique=False,
    )
    op.create_table(
        "transfer_jobs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("submitter", sa.String(length=255), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("verify_source", sa.Boolean(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_jobs")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "transfer_links",
        sa.Column("source_se", sa.String(length=255), nullable=False),
        sa.Column("dest_se", sa.String(length=255), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("ema", sa.Double(), nullable=True),
        sa.Column("ramping", sa.Boolean(), nullable=False),
        sa.Column("decided", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("source_se", "dest_se", name=op.f("pk_transfer_links")),
    )
    op.create_table(
        "transfer_files",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("lfn", sa.Text(), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(length=128), nullable=False),
        sa.Column("dest_se", sa.String(length=255), nullable=False),
        sa.Column("source_se", sa.String(length=255), nullable=False),
        sa.Column("source_surl", sa.Text(), nullable=True),
        sa.Column("dest_surl", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("errno", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.Double(), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expiry", sa.Double(), nullable=True),
        sa.Column("started", sa.Double(), nullable=True),
        sa.Column("finished", sa.Double(), nullable=True),
        sa.Column("follows", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["transfer_jobs.id"],
            name=op.f("fk_transfer_files_job_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["follows"],
            ["transfer_files.id"],
            name=op.f("fk_transfer_files_follows"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_files")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_transfer_files_guid"), "transfer_files", ["guid"], unique=False)
    op.create_index(op.f("ix_transfer_files_follows"), "transfer_files", ["follows"], unique=False)
    op.create_index(op.f("ix_transfer_files_job_id"), "transfer_files", ["job_id"], unique=False)
    op.create_index(
        "ix_transfer_files_lease_expiry", "transfer_files", ["lease_expiry"], unique=False
    )
    op.create_index(
        "ix_transfer_files_state_source_se_dest_se",
        "transfer_files",
        ["state", "source_se", "dest_se"],
        unique=False,
    )
    op.create_table(
        "transfer_attempts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=255), nullable=False),
        sa.Column("source_se", sa.String(length=255), nullable=False),
        sa.Column("dest_se", sa.String(length=255), nullable=False),
        sa.Column("source_surl", sa.Text(), nullable=True),
        sa.Column("dest_surl", sa.Text(), nullable=True),
        sa.Column("started", sa.Double(), nullable=False),
        sa.Column("ended", sa.Double(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("recoverable", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("errno", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["transfer_files.id"],
            name=op.f("fk_transfer_attempts_file_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_attempts")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_transfer_attempts_file_id"), "transfer_attempts", ["file_id"], unique=False
    )
    op.create_index(
        "ix_transfer_attempts_source_se_dest_se_ended",
        "transfer_attempts",
        ["source_se", "dest_se", "ended"],
        unique=False,
    )


def downgrade() -> None:
    for table in (
        "transfer_attempts",
        "transfer_files",
        "transfer_links",
        "transfer_jobs",
        "transfer_decisions",
    ):
        op.drop_table(table)
