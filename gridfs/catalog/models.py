"""The catalog's tables as SQLAlchemy 2 typed models.

The schema itself is created and upgraded by the Alembic migrations in
``migrations/``; a test checks that they and these models agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["AclModel", "Base", "EntryModel", "PropertyModel", "ReplicaModel"]

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits.
_Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of the catalog tables."""

    # Named constraints, so that later migrations can refer to them on every dialect.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class EntryModel(Base):
    """A directory, file, symbolic link or special file (FIFO, socket, device) of the namespace."""

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        # Directory listings page through (parent_id, id): the stable resume key.
        Index("ix_entries_parent_id", "parent_id", "id"),
        # Aliases are found by the LFN they point to; only links are indexed.
        Index(
            "ix_entries_links",
            "target",
            sqlite_where=text("kind = 'l'"),
            postgresql_where=text("kind = 'l'"),
        ),
        # Ids are inode numbers and resume keys: never hand out a deleted one again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    parent_id: Mapped[int | None] = mapped_column(
        _Id, ForeignKey("entries.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(1))
    mode: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(255))
    group_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    atime_ns: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    ctime_ns: Mapped[int] = mapped_column(BigInteger)
    guid: Mapped[str | None] = mapped_column(String(36), unique=True)
    checksum_type: Mapped[str | None] = mapped_column(String(16))
    checksum: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    # Set when acl_entries holds rows for this entry: most have none, and
    # permission checks on the hot path then need no second query.
    has_acl: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The device number of a character or block device (os.makedev); 0 for the rest.
    rdev: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class ReplicaModel(Base):
    """One physical copy of a file entry on a storage element."""

    __tablename__ = "replicas"
    __table_args__ = (
        # Space accounting sums a token's replicas on one SE.
        Index("ix_replicas_se_space_token", "se", "space_token"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(
        _Id,
        ForeignKey("entries.id", ondelete="CASCADE"),
        index=True,
    )
    se: Mapped[str] = mapped_column(String(255), index=True)
    surl: Mapped[str] = mapped_column(String(1023), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    ctime_ns: Mapped[int] = mapped_column(BigInteger)
    atime_ns: Mapped[int] = mapped_column(BigInteger)
    pin_expiry_ns: Mapped[int | None] = mapped_column(BigInteger)
    space_token: Mapped[str | None] = mapped_column(String(64))


class AclModel(Base):
    """One extended ACL entry (access or default) of a catalog entry."""

    __tablename__ = "acl_entries"
    __table_args__ = (UniqueConstraint("entry_id", "is_default", "tag", "qualifier"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("entries.id", ondelete="CASCADE"), index=True
    )
    is_default: Mapped[bool] = mapped_column(Boolean)
    tag: Mapped[str] = mapped_column(String(16))
    qualifier: Mapped[str] = mapped_column(String(255))
    perms: Mapped[int] = mapped_column(Integer)


class PropertyModel(Base):
    """A named grid property of an entry, e.g. the default SE of a directory."""

    __tablename__ = "entry_properties"

    entry_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
