"""An entry found by id and its way up to the root, in one Core query: LFN, checks, properties.

A filesystem addresses entries by id (inode). Through the ORM, the LFN of one
(:meth:`~gridfs.catalog.Catalog.lfn_of`), the check that its ancestors are
searchable (:meth:`~gridfs.catalog.Catalog.stat_walked`) and a property
inherited from above (:meth:`~gridfs.catalog.Catalog.inherited_property`, the
default SE) cost a session and an entity per level. Here each is one
recursive statement, compiled once (:class:`~gridfs.catalog.prepared.Prepared`),
run as a single read: the entry and every ancestor, with the columns of a
:class:`~gridfs.catalog.Stat`. A directory's children and one child by name
(:meth:`~gridfs.catalog.Catalog.children`, :meth:`~gridfs.catalog.Catalog.lookup`)
are the same walk of the directory, then one read of its rows; a new version
(:meth:`~gridfs.catalog.Catalog.commit_version`) the walk and its writes.

As in :mod:`~gridfs.catalog.corewrites`, only the plain case is taken: no
outer transaction, no ACL where a permission is checked, the way up ending
at the root. Any other case, and every check that fails, returns
:data:`FALLBACK` (this module's own marker: corewrites imports the replicas
module, which imports this one) and the caller runs its ORM path, which
decides and raises the documented error.
"""

from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, literal, select, update

from gridfs.catalog.lfn import join_lfn
from gridfs.catalog.models import EntryModel, PropertyModel, ReplicaModel
from gridfs.catalog.permissions import EXECUTE, READ, WRITE
from gridfs.catalog.prepared import Prepared
from gridfs.catalog.queries import CHILDREN, STAT_BY_NAME, STAT_COLUMNS
from gridfs.catalog.records import EntryId, EntryKind, FileStatus, Replica, ReplicaStatus, Stat
from gridfs.catalog.store import CatalogStore

__all__ = [
    "FALLBACK",
    "Fallback",
    "Version",
    "children",
    "commit_version",
    "inherited_property",
    "lfn_of",
    "lookup",
    "stat_walked",
    "write_connection",
]

_ENTRIES = cast(Table, EntryModel.__table__)
_PROPERTIES = cast(Table, PropertyModel.__table__)
_REPLICAS = cast(Table, ReplicaModel.__table__)
_MAX_DEPTH = 256  # as the ORM walks: deeper is a loop


class Fallback:
    """The marker of a case these paths leave to the ORM path."""


FALLBACK = Fallback()

_up = (
    select(*(_ENTRIES.c[name] for name in STAT_COLUMNS), literal(0).label("depth"))
    .where(_ENTRIES.c.id == bindparam("entry"))
    .cte("up", recursive=True)
)
_up = _up.union_all(
    select(*(_ENTRIES.c[name] for name in STAT_COLUMNS), (_up.c.depth + 1).label("depth")).where(
        _ENTRIES.c.id == _up.c.parent_id, _up.c.depth < _MAX_DEPTH
    )
)
_WAY_UP = Prepared(select(*(_up.c[name] for name in STAT_COLUMNS)).order_by(_up.c.depth))
_Row = namedtuple("_Row", STAT_COLUMNS)  # type: ignore[misc]
# The way up with each entry's property ``name`` (NULL where it has none): one snapshot.
_WAY_UP_WITH = Prepared(
    select(*(_up.c[name] for name in STAT_COLUMNS), _PROPERTIES.c.value)
    .select_from(
        _up.outerjoin(
            _PROPERTIES,
            (_PROPERTIES.c.entry_id == _up.c.id) & (_PROPERTIES.c.name == bindparam("name")),
        )
    )
    .order_by(_up.c.depth)
)


def _way_up(
    store: CatalogStore,
    entry_id: int,
    name: str | None = None,
    *,
    connection: Connection | None = None,
) -> list[tuple[Any, Any]] | Fallback:
    """The entry and its ancestors, the root last; FALLBACK in a transaction, if none, or a loop.

    Each row with the entry's property ``name`` (None where it has none, or
    without ``name``). On ``connection`` if given, else as a single read.
    """
    if connection is None:
        with store.single_read() as reading:
            if not isinstance(reading, Connection):  # an outer transaction's session
                return FALLBACK
            return _way_up(store, entry_id, name, connection=reading)
    rows: list[tuple[Any, Any]]
    if name is None:
        cursor = _WAY_UP.run(connection, {"entry": entry_id})
        rows = [(_Row(*row), None) for row in cursor.fetchall()]
    else:
        cursor = _WAY_UP_WITH.run(connection, {"entry": entry_id, "name": name})
        rows = [(_Row(*row[:-1]), row[-1]) for row in cursor.fetchall()]
    cursor.close()
    if not rows or rows[-1][0].parent_id is not None:
        return FALLBACK
    return rows


def _searchable(store: CatalogStore, ancestors: Sequence[Any]) -> bool:
    """Whether every ancestor is plainly searchable: a directory, no ACL, its mode bits allow."""
    return all(
        row.kind == EntryKind.DIRECTORY.value and not row.has_acl and store.allows(row, (), EXECUTE)
        for row in ancestors
    )


def lfn_of(store: CatalogStore, entry_id: EntryId) -> str | Fallback:
    """The LFN of entry ``entry_id`` (no permission is checked, as the ORM path)."""
    rows = _way_up(store, entry_id)
    if isinstance(rows, Fallback):
        return FALLBACK
    return join_lfn([row.name for row, _ in reversed(rows[:-1])])


def stat_walked(store: CatalogStore, entry_id: EntryId, mode: int) -> Stat | Fallback:
    """Entry ``entry_id``, its ancestors searchable and ``mode`` allowed on it, plainly."""
    rows = _way_up(store, entry_id)
    if isinstance(rows, Fallback) or not _searchable(store, [row for row, _ in rows[1:]]):
        return FALLBACK
    entry = rows[0][0]
    want = mode & (READ | WRITE | EXECUTE)
    if want and (entry.has_acl or not store.allows(entry, (), want)):
        return FALLBACK
    return store.stats_of([entry])[0]


def inherited_property(store: CatalogStore, entry_id: EntryId, name: str) -> str | Fallback | None:
    """Property ``name`` of the entry, else of its nearest ancestor that has it and may be read.

    As the ORM path, an entry the identity may not read is passed over; one
    with an ACL is left to it. None if no entry on the way has it.
    """
    rows = _way_up(store, entry_id, name)
    if isinstance(rows, Fallback):
        return FALLBACK
    for row, value in rows:
        if value is None:
            continue
        if row.has_acl:
            return FALLBACK
        if store.allows(row, (), READ):
            return cast(str, value)
    return None


_REPLICA_COLUMNS = tuple(column.name for column in _REPLICAS.c if column.name != "id")
_REPLICAS_OF = Prepared(
    select(*(_REPLICAS.c[name] for name in _REPLICA_COLUMNS))
    .where(_REPLICAS.c.entry_id == bindparam("entry"))
    .order_by(_REPLICAS.c.id)
)
_ReplicaRow = namedtuple("_ReplicaRow", _REPLICA_COLUMNS)  # type: ignore[misc]
_STALE_ALL = Prepared(
    update(_REPLICAS)
    .where(_REPLICAS.c.entry_id == bindparam("entry"))
    .values(status=ReplicaStatus.STALE.value)
)
_INSERT_REPLICA = Prepared(
    insert(_REPLICAS).values({name: bindparam(name) for name in _REPLICA_COLUMNS})
)
_NEW_VERSION = Prepared(
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("entry"))
    .values(
        size=bindparam("size"),
        checksum_type=bindparam("checksum_type"),
        checksum=bindparam("checksum"),
        status=FileStatus.READY.value,
        mtime_ns=bindparam("now"),
        ctime_ns=bindparam("now"),
    )
)


@dataclass(frozen=True)
class Version:
    """What :func:`commit_version` stores: the new content's size, checksum and copy."""

    size: int
    checksum: str
    checksum_type: str
    se: str
    surl: str
    space_token: str | None = None


@contextmanager
def write_connection(store: CatalogStore) -> Iterator[Connection]:
    """A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite), committed at the end."""
    with store.database_errors(), store.engine.connect() as connection:
        connection.execution_options(gridfs_write=True)
        with connection.begin():
            yield connection


def commit_version(
    store: CatalogStore, connection: Connection, entry_id: EntryId, version: Version
) -> tuple[Stat, list[Replica]] | Fallback:
    """:meth:`~gridfs.catalog.Catalog.commit_version` on ``connection`` (a write transaction).

    FALLBACK where the ORM path must decide: no such entry, not a file, an
    ancestor not plainly searchable, or (but for a new file's first version
    stored by its owner) the file not plainly writable.
    """
    rows = _way_up(store, entry_id, connection=connection)
    if isinstance(rows, Fallback) or not _searchable(store, [row for row, _ in rows[1:]]):
        return FALLBACK
    entry = rows[0][0]
    if entry.kind != EntryKind.FILE.value:
        return FALLBACK
    # Its creator stores a new file's first version whatever mode it was made with.
    creating = entry.status == FileStatus.WRITING.value and entry.owner == store.identity.user
    if not creating and (entry.has_acl or not store.allows(entry, (), WRITE)):
        return FALLBACK
    guid = entry.guid or ""
    cursor = _REPLICAS_OF.run(connection, {"entry": entry.id})
    found: list[Any] = [_ReplicaRow(*values) for values in cursor.fetchall()]
    cursor.close()
    stale = [  # as they are after the update below
        Replica(
            entry_id,
            guid,
            row.se,
            row.surl,
            ReplicaStatus.STALE,
            row.ctime_ns,
            row.atime_ns,
            row.pin_expiry_ns,
            row.space_token,
        )
        for row in found
    ]
    if stale:
        _STALE_ALL.run(connection, {"entry": entry.id}).close()
    now = time.time_ns()
    replica = {
        "entry_id": entry.id,
        "se": version.se,
        "surl": version.surl,
        "status": ReplicaStatus.AVAILABLE.value,
        "ctime_ns": now,
        "atime_ns": now,
        "pin_expiry_ns": None,
        "space_token": version.space_token,
    }
    _INSERT_REPLICA.run(connection, replica).close()
    changed = {
        "size": version.size,
        "checksum_type": version.checksum_type,
        "checksum": version.checksum,
    }
    _NEW_VERSION.run(connection, {"entry": entry.id, "now": now, **changed}).close()
    stored = entry._replace(status=FileStatus.READY.value, mtime_ns=now, ctime_ns=now, **changed)
    return store.stats_of([stored])[0], stale


_CHILDREN = Prepared(CHILDREN)
_CHILD = Prepared(STAT_BY_NAME)


def _searched(store: CatalogStore, connection: Connection, directory_id: EntryId) -> bool:
    """Whether directory ``directory_id`` and its ancestors are all plainly searchable."""
    rows = _way_up(store, directory_id, connection=connection)
    return not isinstance(rows, Fallback) and _searchable(store, [row for row, _ in rows])


def children(
    store: CatalogStore, directory_id: EntryId, after: int, limit: int
) -> list[Stat] | Fallback:
    """Up to ``limit`` children of a plainly searchable directory after id ``after``, in id order.

    As :meth:`~gridfs.catalog.Catalog.children`: the way checked first, then
    the children read, each statement its own snapshot.
    """
    with store.single_read() as connection:
        if not isinstance(connection, Connection) or not _searched(store, connection, directory_id):
            return FALLBACK
        cursor = _CHILDREN.run(connection, {"parent": directory_id, "after": after, "limit": limit})
        rows = cursor.fetchall()
        cursor.close()
    return store.stats_of(rows)


def lookup(store: CatalogStore, directory_id: EntryId, name: str) -> Stat | Fallback | None:
    """Child ``name`` of a plainly searchable directory (not followed), None if there is none."""
    with store.single_read() as connection:
        if not isinstance(connection, Connection) or not _searched(store, connection, directory_id):
            return FALLBACK
        cursor = _CHILD.run(connection, {"parent": directory_id, "name": name})
        row = cursor.fetchone()
        cursor.close()
    return None if row is None else store.stats_of([row])[0]
