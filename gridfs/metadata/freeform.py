"""Free-form ``user.*`` values: the rows of ``meta_xattrs`` and the limits Linux sets.

A name that is in no schema of the entry's directory is stored here, its value
as the bytes given (any bytes, up to 64 KiB). Names are kept without the
``user.`` prefix, as the schema's attribute names are.
"""

from __future__ import annotations

import errno

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gridfs.errors import GridError, InvalidArgument
from gridfs.metadata.models import XattrModel

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_VALUE_BYTES",
    "check",
    "names",
    "no_data",
    "put",
    "remove",
    "value",
]

MAX_VALUE_BYTES = 65536  # XATTR_SIZE_MAX
MAX_NAME_BYTES = 255 - len("user.")  # XATTR_NAME_MAX counts the namespace prefix


def check(name: str, value: bytes | None = None) -> None:
    """Raise unless ``name`` (and ``value``) fit what Linux allows an extended attribute."""
    if not name or "\0" in name:
        raise InvalidArgument(f"invalid attribute name {name!r}")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise GridError(
            f"attribute name user.{name[:40]}... is longer than 255 bytes", errno=errno.ERANGE
        )
    if value is not None and len(value) > MAX_VALUE_BYTES:
        raise GridError(
            f"the value of user.{name} is {len(value)} bytes; at most {MAX_VALUE_BYTES} are kept",
            errno=errno.E2BIG,
        )


def no_data(target: object, name: str) -> GridError:
    """The error for an attribute the entry does not have (ENODATA, as Linux answers)."""
    return GridError(f"{target} has no attribute user.{name}", str(target), errno=errno.ENODATA)


def value(session: Session, entry_id: int, name: str) -> bytes | None:
    """The free-form value ``name`` of an entry, if it has one."""
    return session.scalar(
        select(XattrModel.value).where(XattrModel.entry_id == entry_id, XattrModel.name == name)
    )


def names(session: Session, entry_id: int) -> list[str]:
    """The names of an entry's free-form values, sorted."""
    return list(
        session.scalars(
            select(XattrModel.name).where(XattrModel.entry_id == entry_id).order_by(XattrModel.name)
        )
    )


def put(session: Session, dialect: str, entry_id: int, name: str, data: bytes) -> None:
    """Set (or replace) the free-form value ``name`` of an entry, in one statement."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(XattrModel).values(
        entry_id=entry_id, name=name, value=data, text=_text_of(data)
    )
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["entry_id", "name"],
            set_={"value": excluded.value, "text": excluded.text},
        )
    )


def _text_of(data: bytes) -> str | None:
    """What a query compares: the value as text, if it is UTF-8 without NUL (else none)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text  # PostgreSQL's text cannot hold NUL


def remove(session: Session, entry_id: int, name: str) -> bool:
    """Delete the free-form value ``name`` of an entry; whether there was one."""
    result = session.execute(
        delete(XattrModel).where(XattrModel.entry_id == entry_id, XattrModel.name == name)
    )
    return bool(getattr(result, "rowcount", 0))
