"""Special files: FIFOs, sockets and devices are entries (kinds p, s, c, b) with a device number.

Revision ID: 0006
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The kinds are one-letter strings with no constraint: the new ones need no change.
    op.add_column(
        "entries", sa.Column("rdev", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
    )


def downgrade() -> None:
    # An older gridfs knows no such kinds: the special files go (their ACLs with them).
    special = "(SELECT id FROM entries WHERE kind IN ('p', 's', 'c', 'b'))"
    for referring in ("acl_entries", "entry_properties", "meta_values", "meta_xattrs"):
        op.execute(f"DELETE FROM {referring} WHERE entry_id IN {special}")
    op.execute("DELETE FROM entries WHERE kind IN ('p', 's', 'c', 'b')")
    op.drop_column("entries", "rdev")
