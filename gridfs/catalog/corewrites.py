"""The common writes in SQLAlchemy Core: one transaction, one walk, no ORM objects.

Creating a file, removing one, and (in the metadata catalog) setting its values
are what a bookkeeping load does all day. Through the ORM each costs a session,
an entity per path level and a flush; here each is one connection in one write
transaction, the path walked in one query (:func:`~gridfs.catalog.queries.walk`),
and a few statements compiled once.

These paths take only the plain case: every directory on the way searchable
by its mode bits (no ACL on it), no symbolic link on the way, and no outer
:meth:`~gridfs.catalog.store.CatalogStore.transaction`. Any other case, and
every check that fails, returns :data:`FALLBACK` *before anything is written*:
the caller then runs its ORM path, which handles it and raises the documented
error. So the two paths cannot disagree on what is allowed.
"""

from __future__ import annotations

import functools
import stat as _stat
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Dialect, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from gridfs.catalog.guids import new_guid
from gridfs.catalog.lfn import join_lfn
from gridfs.catalog.models import EntryModel, ReplicaModel
from gridfs.catalog.permissions import EXECUTE, WRITE
from gridfs.catalog.prepared import Executor, Prepared, wrapped
from gridfs.catalog.queries import WALK_COLUMNS, WalkLevel, walk
from gridfs.catalog.records import EntryKind, FileStatus, Replica, ReplicaStatus, Stat
from gridfs.catalog.replicas import to_replica
from gridfs.catalog.store import CatalogStore

__all__ = [
    "FALLBACK",
    "Fallback",
    "Walked",
    "WriteConnection",
    "add_file",
    "remove",
    "walked",
    "write_connection",
]

_ENTRIES = cast(Table, EntryModel.__table__)
_REPLICAS = cast(Table, ReplicaModel.__table__)
_FAST_DEPTH = 32  # as CatalogStore.walk_stat


class Fallback:
    """The marker of a case these paths leave to the ORM path."""


FALLBACK: Final = Fallback()
_DIRECTORY = EntryKind.DIRECTORY.value

_ENTRY_COLUMNS = tuple(column.name for column in _ENTRIES.c if column.name != "id")
_INSERT_ENTRY = Prepared(
    insert(_ENTRIES)
    .values({name: bindparam(name) for name in _ENTRY_COLUMNS})
    .returning(_ENTRIES.c.id)
)
_REPLICA_COLUMNS = tuple(column.name for column in _REPLICAS.c if column.name != "id")
_INSERT_REPLICA = Prepared(
    insert(_REPLICAS).values({name: bindparam(name) for name in _REPLICA_COLUMNS})
)
_TOUCH = Prepared(
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("directory"))
    .values(mtime_ns=bindparam("now"), ctime_ns=bindparam("now"))
)
_REPLICAS_OF = (
    select(_REPLICAS).where(_REPLICAS.c.entry_id == bindparam("entry")).order_by(_REPLICAS.c.id)
)
_REPLICAS_OF_RUN = Prepared(_REPLICAS_OF)
_ReplicaRow = namedtuple("_ReplicaRow", list(_REPLICAS_OF.selected_columns.keys()))  # type: ignore[misc]
_DROP_ALIASES = Prepared(
    delete(_ENTRIES).where(
        _ENTRIES.c.kind == EntryKind.SYMLINK.value,
        _ENTRIES.c.status == FileStatus.ALIAS.value,
        _ENTRIES.c.target == bindparam("lfn"),
    )
)
_DELETE_ENTRY = Prepared(delete(_ENTRIES).where(_ENTRIES.c.id == bindparam("entry")))


_ENTRY_NAMES = [column.name for column in _ENTRIES.c]
_Entry = namedtuple("_Entry", _ENTRY_NAMES)  # type: ignore[misc]


_LEVEL = len(WALK_COLUMNS)  # the walk's columns per level


@functools.cache
def _walk(depth: int) -> tuple[Prepared, tuple[str, ...], int]:
    """The walk of ``depth`` names prepared, its parameters' names, and its levels' columns."""
    statement = walk(depth)
    width = _LEVEL * (depth + 1)
    assert WalkLevel._fields == WALK_COLUMNS
    assert list(statement.selected_columns.keys())[width:] == _ENTRY_NAMES
    return Prepared(statement), ("root", *(f"n{k}" for k in range(1, depth + 1))), width


class WriteConnection:
    """A pooled DBAPI connection in a write transaction, where :class:`Prepared` statements run.

    The pool's connection itself, with no SQLAlchemy ``Connection`` around it:
    its begin, commit and checkout bookkeeping cost more than the statements
    of a bookkeeping write.
    """

    __slots__ = ("connection", "dialect")

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self.connection = connection  # the driver's own (its cursor() is the driver's)
        self.dialect = dialect


@contextmanager
def write_connection(store: CatalogStore) -> Iterator[WriteConnection]:
    """A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite), committed at the end.

    Rolled back if the block raises; a connection the database dropped is
    invalidated (the pool opens a new one), as SQLAlchemy's ``Connection`` does.
    """
    dialect = store.engine.dialect
    with store.database_errors():
        fairy = store.engine.raw_connection()
        try:
            if store.sqlite:
                # What the engine's "begin" event emits for a write (engine.py).
                cursor = fairy.cursor()
                try:
                    _driver(dialect, "BEGIN IMMEDIATE", cursor.execute)
                finally:
                    cursor.close()
            yield WriteConnection(fairy.driver_connection, dialect)
            _driver(dialect, "COMMIT", lambda _sql: fairy.commit())
        except BaseException as exc:
            _abandon(fairy, dialect, exc)
            raise
        finally:
            fairy.close()


def _driver(dialect: Dialect, sql: str, call: Callable[[str], object]) -> None:
    """``call(sql)``, a driver error raised as SQLAlchemy's (see prepared.py)."""
    try:
        call(sql)
    except dialect.loaded_dbapi.Error as exc:
        raise wrapped(dialect, sql, (), exc) from exc


def _abandon(fairy: Any, dialect: Dialect, error: BaseException) -> None:
    """Roll the failed transaction back; drop a connection that is gone or broken."""
    cause: Any = error.orig if isinstance(error, DBAPIError) else None
    if cause is not None and dialect.is_disconnect(cause, fairy.dbapi_connection, None):
        fairy.invalidate(cause)
        return
    try:
        fairy.rollback()
    except dialect.loaded_dbapi.Error as exc:
        fairy.invalidate(exc)


@dataclass(frozen=True)
class Walked:
    """A path walked in one query: its directories checked searchable, and its last entry."""

    parent: Any  # the directory that holds the entry: WALK_COLUMNS
    entry: Any  # the row of the last name: every column, id None if there is no such entry


def walked(store: CatalogStore, connection: Executor, parts: tuple[str, ...]) -> Walked | Fallback:
    """The path ``parts`` walked; FALLBACK unless every directory on it is plainly searchable.

    Plainly: a directory, no ACL, and search permission by its mode bits for
    the store's identity. The last name is not followed (it may be a link).
    """
    if not parts or len(parts) > _FAST_DEPTH:
        return FALLBACK
    prepared, names, width = _walk(len(parts))
    cursor = prepared.run(connection, dict(zip(names, (1, *parts), strict=True)))
    row = cursor.fetchone()
    cursor.close()
    parent: Any = None
    for start in range(0, width - _LEVEL, _LEVEL):  # the root and each directory below it
        level = WalkLevel(*row[start : start + _LEVEL])
        if level.id is None or level.kind != _DIRECTORY or level.has_acl:
            return FALLBACK
        if not store.allows(level, (), EXECUTE):
            return FALLBACK
        parent = level
    return Walked(parent, _Entry(*row[width:]))


def add_file(
    store: CatalogStore,
    connection: Executor,
    parts: tuple[str, ...],
    fields: dict[str, Any],
    *,
    replicas: Sequence[tuple[str, str]] = (),
    space_token: str | None = None,
) -> Stat | Fallback:
    """Insert file ``parts`` with ``fields`` (size, mode, checksum, status...) and its replicas.

    FALLBACK where :meth:`~gridfs.catalog.Catalog.add_file` must decide: the
    name taken, the directory not plainly writable, a default ACL or a
    set-group-ID bit on it. A new GUID unless ``fields`` has one.
    """
    found = walked(store, connection, parts)
    if isinstance(found, Fallback) or found.entry.id is not None:
        return FALLBACK
    parent = found.parent
    if parent.mode & _stat.S_ISGID or not store.allows(parent, (), WRITE | EXECUTE):
        return FALLBACK
    now = time.time_ns()
    values: dict[str, Any] = {
        "parent_id": parent.id,
        "name": parts[-1],
        "kind": EntryKind.FILE.value,
        "owner": store.identity.user,
        "group_name": store.identity.group,
        "atime_ns": now,
        "mtime_ns": now,
        "ctime_ns": now,
        "guid": new_guid(),
        "checksum_type": None,
        "checksum": None,
        "status": FileStatus.READY.value,
        "target": None,
        "comment": None,
        "has_acl": False,
        "rdev": 0,
        "size": 0,
        **fields,
    }
    values["mode"] &= 0o7777
    cursor = _INSERT_ENTRY.run(connection, values)
    entry_id = cursor.fetchone()[0]
    cursor.close()
    _TOUCH.run(connection, {"directory": parent.id, "now": now}).close()
    if replicas:
        _INSERT_REPLICA.run_many(
            connection,
            [
                {
                    "entry_id": entry_id,
                    "se": se,
                    "surl": surl,
                    "status": ReplicaStatus.AVAILABLE.value,
                    "ctime_ns": now,
                    "atime_ns": now,
                    "pin_expiry_ns": None,
                    "space_token": space_token,
                }
                for se, surl in replicas
            ],
        )
    return store.to_stat(_Row(id=entry_id, **values))


class _Row:
    """An entry's columns as attributes, for :meth:`CatalogStore.to_stat`."""

    def __init__(self, **columns: Any) -> None:
        self.__dict__.update(columns)


def remove(
    store: CatalogStore, connection: Executor, parts: tuple[str, ...]
) -> list[Replica] | Fallback:
    """Remove the file, link or special file ``parts``; the replicas it had.

    FALLBACK where :meth:`~gridfs.catalog.Catalog.unlink` must decide: no such
    entry, a directory, the directory not plainly writable, or the sticky bit
    in the way.
    """
    found = walked(store, connection, parts)
    if isinstance(found, Fallback):
        return FALLBACK
    parent, entry = found.parent, found.entry
    if entry.id is None or entry.kind == EntryKind.DIRECTORY.value:
        return FALLBACK
    if not store.allows(parent, (), WRITE | EXECUTE):
        return FALLBACK
    identity = store.identity
    sticky = parent.mode & _stat.S_ISVTX and not identity.superuser
    if sticky and identity.user not in (entry.owner, parent.owner):
        return FALLBACK
    replicas: list[Replica] = []
    if entry.kind == EntryKind.FILE.value:
        guid = entry.guid or ""
        cursor = _REPLICAS_OF_RUN.run(connection, {"entry": entry.id})
        replicas = [to_replica(_ReplicaRow(*row), guid) for row in cursor.fetchall()]
        cursor.close()
        _DROP_ALIASES.run(connection, {"lfn": join_lfn(parts)}).close()
    _DELETE_ENTRY.run(connection, {"entry": entry.id}).close()
    _TOUCH.run(connection, {"directory": parent.id, "now": time.time_ns()}).close()
    return replicas
