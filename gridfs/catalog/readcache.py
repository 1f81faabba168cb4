"""An in-process cache of resolved directories and entries, checked on every call (SQLite).

``stat`` of an LFN costs a walk from the root: a query, permission checks per
level, a :class:`~gridfs.catalog.Stat` built from the row. Most of that is the
same from one call to the next. This cache keeps, per reader, the directories
an identity may search (by path) and the entries read in them (by directory
and name), and answers from them while the database is unchanged.

The rule, on SQLite: each call reads through a reader, a connection that never
writes and that no other call uses meanwhile, and asks it ``PRAGMA
data_version`` before every cached answer. SQLite changes that number whenever
another connection — of this process (the catalog's writes all go through the
pool's connections) or of any other process — has committed to the database
since the last ask; then the whole cache is dropped. So a chmod, an ACL
change, a rename or an unlink is seen by the next call, wherever it was made.
The version is read before the cache is filled, so a change committed while it
is being filled drops it at the next call.

On PostgreSQL nothing is cached: no statement tells cheaply and exactly that
nothing was committed since, so every call reads the database (the one-query
walk of :meth:`~gridfs.catalog.store.CatalogStore.walk_stat`). Nor inside a
:meth:`~gridfs.catalog.store.CatalogStore.transaction`, whose own changes
only its session sees.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, literal_column

from gridfs.catalog.identity import Identity
from gridfs.catalog.queries import STAT_BY_NAME
from gridfs.catalog.records import Stat

__all__ = ["ReadCache", "Reader", "Stale"]

# Entries kept per reader before the cache starts afresh: bounded memory, and a
# refill costs one indexed query per entry.
MAX_ENTRIES = 100_000
MAX_DIRECTORIES = 10_000

# Rows of STAT_BY_NAME to Stats (CatalogStore.stats_of).
Convert = Callable[[Sequence[Any]], list[Stat]]


class Stale(Exception):
    """The database changed since the reader's cache was filled: it is empty now."""


class Reader:
    """A read-only connection, used by one call at a time, and what it has resolved."""

    def __init__(self, engine: Engine, convert: Convert) -> None:
        fairy = engine.raw_connection()
        connection: Any = fairy.driver_connection
        fairy.detach()  # ours for good: it never returns to the pool, nor counts in it
        self._fairy = fairy
        self._connection: sqlite3.Connection = connection
        self._child = _child_sql(engine)
        self._convert = convert
        self.pid = os.getpid()
        self.closed = False
        self._version: int | None = None
        # (identity, parts of a directory's LFN) -> its id: searchable all the way, and itself.
        self.directories: dict[tuple[Identity, tuple[str, ...]], int] = {}
        # (directory id, name) -> the entry's Stat.
        self._entries: dict[tuple[int, str], Stat] = {}

    def validate(self) -> None:
        """Empty the cache if another connection has committed since it was filled.

        Raises :class:`Stale` when it did, so that what the caller took from
        the cache before is not used.
        """
        version = self._connection.execute("PRAGMA data_version").fetchone()[0]
        self._check(version)

    def _check(self, version: int) -> None:
        if version != self._version:
            self.directories.clear()
            self._entries.clear()
            stale = self._version is not None
            self._version = version
            if stale:
                raise Stale

    def remember_directory(self, key: tuple[Identity, tuple[str, ...]], directory_id: int) -> None:
        """Keep a directory the identity may search, all the way from the root."""
        if len(self.directories) >= MAX_DIRECTORIES:
            self.directories.clear()
        self.directories[key] = directory_id

    def child(self, directory_id: int, name: str) -> Stat | None:
        """The entry ``name`` of cached directory ``directory_id``, if any; validated.

        Raises :class:`Stale` if the database has changed since the directory
        was cached. A new entry is read in the statement that reads the
        version (one snapshot, one read transaction).
        """
        key = (directory_id, name)
        found = self._entries.get(key)
        if found is not None:
            self.validate()
            return found
        row = self._connection.execute(self._child, (directory_id, name)).fetchone()
        if row is None:
            self.validate()  # is it gone, or was the directory's id stale?
            return None
        self._check(row[-1])
        found = self._convert([row[:-1]])[0]
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = found
        return found

    def close(self) -> None:
        """Close the connection (in the process that opened it only)."""
        self.closed = True
        if self.pid == os.getpid():
            self._fairy.close()


def _child_sql(engine: Engine) -> str:
    """:data:`STAT_BY_NAME` as the driver's SQL, and the data version last, compiled once."""
    compiled = STAT_BY_NAME.add_columns(
        literal_column("(SELECT data_version FROM pragma_data_version)")
    ).compile(dialect=engine.dialect)
    if list(compiled.positiontup or ()) != ["parent", "name"]:
        raise AssertionError(f"unexpected parameters of STAT_BY_NAME: {compiled.positiontup}")
    return str(compiled)


class ReadCache:
    """The :class:`Reader` objects of one engine; disabled but on a SQLite file."""

    def __init__(self, engine: Engine, convert: Convert, *, enabled: bool = True) -> None:
        database = engine.url.database
        self.engine = engine
        self._convert = convert
        self.enabled = (
            enabled
            and engine.dialect.name == "sqlite"
            and bool(database)
            and database != ":memory:"
            and "mode=memory" not in str(engine.url)
        )
        # Readers not in use, and all of them: a call takes one and gives it back, so
        # there are as many as calls ever ran at once, whatever threads come and go.
        self._idle: list[Reader] = []
        self._all: list[Reader] = []
        self._lock = threading.Lock()

    def acquire(self) -> Reader | None:
        """A reader for the caller alone, until :meth:`release`; None where nothing is cached."""
        if not self.enabled:
            return None
        try:
            reader = self._idle.pop()  # atomic: no lock on the way of every stat
        except IndexError:
            reader = None
        if reader is None or reader.pid != os.getpid():  # none idle, or inherited by a fork
            reader = Reader(self.engine, self._convert)
            with self._lock:
                self._all.append(reader)
        return reader

    def release(self, reader: Reader) -> None:
        """Give back a reader from :meth:`acquire` (one closed meanwhile is dropped)."""
        if not reader.closed:
            self._idle.append(reader)

    def discard(self, reader: Reader) -> None:
        """Close a reader from :meth:`acquire` that failed: it is not used again."""
        with self._lock:
            if reader in self._all:
                self._all.remove(reader)
        reader.close()

    def close(self) -> None:
        """Close every reader; a later call opens a new one."""
        with self._lock:
            readers, self._all, self._idle = self._all, [], []
        for reader in readers:
            reader.close()
