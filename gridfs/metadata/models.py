"""The metadata tables, on the catalog's declarative base (migration 0004 creates them).

Entry-attribute-value, with one typed column per storage kind:

* ``meta_attributes``: a directory's schema, one row per (directory, attribute name).
* ``meta_values``: one row per (entry, attribute name) that holds a value, in
  ``int_value`` (int, bool, timestamp as microseconds), ``float_value``,
  ``str_value`` (varchar) or ``text_value`` (text, not indexed). Keyed by the
  entry id and the attribute *name*, so a renamed or moved entry keeps its
  values; the foreign key removes them with the entry.
* ``meta_queries``: saved queries (datasets) of a directory.
* ``meta_xattrs`` (migration 0007): free-form ``user.*`` extended attributes,
  one row per (entry, name): any name that is in no schema, its value bytes
  (up to 64 KiB, the Linux limit) and, when they are UTF-8, their ``text``,
  which queries compare as strings. Keyed by entry id like the values, so
  they move with the entry and go with it.

Each indexed column has an index (name, value, entry_id): an equality or
range condition on an attribute is an index range scan that yields entry
ids directly, whatever the size of the directory.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridfs.catalog.models import Base

__all__ = ["AttributeModel", "SavedQueryModel", "ValueModel", "XattrModel"]

_Id = BigInteger().with_variant(Integer(), "sqlite")


class AttributeModel(Base):
    """One attribute of a directory's schema."""

    __tablename__ = "meta_attributes"
    __table_args__ = (UniqueConstraint("directory_id", "name"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    directory_id: Mapped[int] = mapped_column(_Id, ForeignKey("entries.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))


class ValueModel(Base):
    """The value of one attribute of one entry, in the column of its type."""

    __tablename__ = "meta_values"
    __table_args__ = (
        Index("ix_meta_values_int", "name", "int_value", "entry_id"),
        Index("ix_meta_values_float", "name", "float_value", "entry_id"),
        Index("ix_meta_values_str", "name", "str_value", "entry_id"),
    )

    entry_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    int_value: Mapped[int | None] = mapped_column(BigInteger)
    float_value: Mapped[float | None] = mapped_column(Double)
    str_value: Mapped[str | None] = mapped_column(String(512))
    text_value: Mapped[str | None] = mapped_column(Text)


class SavedQueryModel(Base):
    """A named condition stored on a directory (a dataset, in DIRAC's words)."""

    __tablename__ = "meta_queries"
    __table_args__ = (UniqueConstraint("directory_id", "name"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    directory_id: Mapped[int] = mapped_column(_Id, ForeignKey("entries.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    condition: Mapped[str] = mapped_column(Text)
    recursive: Mapped[bool] = mapped_column(Boolean)
    owner: Mapped[str] = mapped_column(String(255))


class XattrModel(Base):
    """A free-form ``user.<name>`` attribute of one entry: a name in no schema, any bytes."""

    __tablename__ = "meta_xattrs"

    entry_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    text: Mapped[str | None] = mapped_column(Text)  # the value as text, if it is UTF-8
