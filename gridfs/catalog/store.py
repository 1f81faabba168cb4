"""The shared store under the catalog and the metadata catalog.

One :class:`CatalogStore` holds what both stand on: the engine, the identity
the calls run as, the session scope and the transaction in progress, the
resolution of LFNs and ids to entries, the permission checks, and the one
conflict-retry decorator :func:`retry_on_conflict`. The metadata tables live
in the catalog's database, so a metadata call joins a transaction the catalog
holds open, and a file and its metadata change together.

Names for error messages are passed as a :data:`Name`: a string, or a
callable that computes it (say, a walk to the root) only when an error needs it.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import random
import sqlite3
import stat as _stat
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection, Engine, literal, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gridfs.catalog import engine as engines
from gridfs.catalog.guids import parse_guid
from gridfs.catalog.identity import Identity
from gridfs.catalog.lfn import join_lfn, split_lfn
from gridfs.catalog.models import AclModel, EntryModel
from gridfs.catalog.permissions import EXECUTE, WRITE, AclEntry, AclTag, is_allowed
from gridfs.catalog.queries import WALK_COLUMNS, WalkLevel, walk
from gridfs.catalog.readcache import ReadCache, Reader, Stale
from gridfs.catalog.records import EntryId, EntryKind, FileStatus, Stat
from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    NotPermitted,
    PermissionDenied,
    SymlinkLoop,
)

__all__ = [
    "BULK_CHUNK",
    "ROOT_ID",
    "CatalogStore",
    "Name",
    "is_conflict",
    "name_text",
    "retry_on_conflict",
]

log = logging.getLogger(__name__)

ROOT_ID = EntryId(1)  # the first row the first migration writes
BULK_CHUNK = 5000  # ids or names per IN (...): under every dialect's parameter limit
_MAX_SYMLINK_HOPS = 40  # Linux's limit
_MAX_DEPTH = 4096  # far beyond any real tree: a walk that goes further is a loop
_FAST_DEPTH = 32  # paths up to this depth are walked in one query (a join per level)
_CONFLICT_ATTEMPTS = 10

Name = str | Callable[[], str]

P = ParamSpec("P")
T = TypeVar("T")


def name_text(name: Name) -> str:
    """The text of a :data:`Name`, computed now if it is deferred."""
    return name if isinstance(name, str) else name()


def is_conflict(error: BaseException | None) -> bool:
    """A failure that running the transaction again can cure: a lock or serialisation clash."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in ("40001", "40P01"):  # PostgreSQL
        return True
    return isinstance(error, OperationalError) and (
        "locked" in str(error.orig) or "busy" in str(error.orig)  # SQLite
    )


class OnStore(Protocol):
    """Anything whose methods run on a :class:`CatalogStore` (the catalog, the metadata)."""

    @property
    def store(self) -> CatalogStore:
        """The store the calls run on."""
        ...


S = TypeVar("S", bound=OnStore)


def retry_on_conflict(method: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """Run a write again, with jittered backoff, when the database reports a conflict.

    Not inside :meth:`CatalogStore.transaction`: that block is the caller's to
    repeat. A unique constraint that a concurrent change took first raises
    :class:`AlreadyExists`.
    """

    @functools.wraps(method)
    def wrapper(owner: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        store = owner.store
        # SQLite has waited its busy timeout already before reporting a lock.
        attempts = 3 if store.sqlite else _CONFLICT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                return method(owner, *args, **kwargs)
            except IntegrityError as exc:
                raise AlreadyExists(
                    f"{method.__name__}: a conflicting change won: {exc.orig}"
                ) from exc
            except GridError as exc:
                last = attempt == attempts or store.in_transaction()
                if last or not is_conflict(exc.__cause__):
                    raise
                log.info("retrying %s after a conflict: %s", method.__name__, exc)
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper


_KINDS = {kind.value: kind for kind in EntryKind}
_STATUSES = {status.value: status for status in FileStatus}


class CatalogStore:
    """The catalog database as one identity sees it: sessions, resolution, permissions.

    Thread-safe. Helpers take the session as their first argument; a session
    comes from :meth:`session`, which joins the :meth:`transaction` in
    progress in the calling thread or task, if any.
    """

    def __init__(
        self,
        engine: Engine,
        identity: Identity,
        *,
        open_session: ContextVar[Session | None] | None = None,
        read_cache: ReadCache | bool = True,
    ) -> None:
        self.engine = engine
        self.identity = identity
        self.dialect = engine.dialect.name
        self.sqlite = self.dialect == "sqlite"
        # The session of a transaction() in progress, per thread or task; shared
        # with the as_identity() views, which must join it rather than wait for it.
        self._open = open_session or ContextVar(f"catalog-{id(self)}", default=None)
        # Resolved directories and entries, shared by the as_identity() views (readcache.py).
        self.read_cache = (
            read_cache
            if isinstance(read_cache, ReadCache)
            else ReadCache(engine, self.stats_of, enabled=read_cache)
        )

    def as_identity(self, identity: Identity) -> CatalogStore:
        """The same store (sharing connections, cache and open transaction) as another identity."""
        return CatalogStore(
            self.engine, identity, open_session=self._open, read_cache=self.read_cache
        )

    def close(self) -> None:
        """Close the database connections."""
        self.read_cache.close()
        self.engine.dispose()

    # -- sessions ----------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the calls inside the block as one transaction.

        Committed when the block ends, rolled back if it raises. Nested blocks
        join the outer one. The transaction belongs to the calling thread.
        """
        if self._open.get() is not None:
            yield
            return
        with self._new_session(write=True) as session:
            token = self._open.set(session)
            try:
                yield
            finally:
                self._open.reset(token)

    def in_transaction(self) -> bool:
        """True inside a :meth:`transaction` block."""
        return self._open.get() is not None

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """The open transaction's session, or a new one committed at the end of the block."""
        session = self._open.get()
        if session is not None:
            with self.database_errors():
                yield session
                session.flush()
            return
        with self._new_session(write=write) as session:
            yield session

    @contextmanager
    def _new_session(self, *, write: bool) -> Iterator[Session]:
        with self.database_errors(), self.engine.connect() as connection:
            if write:
                connection.execution_options(gridfs_write=True)
            transaction = connection.begin()
            with Session(bind=connection) as session:
                try:
                    yield session
                    session.flush()
                except BaseException:
                    if transaction.is_active:  # a failed flush has rolled it back already
                        transaction.rollback()
                    raise
                transaction.commit()

    @contextmanager
    def single_read(self) -> Iterator[Session | Connection]:
        """Where one SELECT runs with no transaction around it: no BEGIN, no COMMIT.

        A single statement is its own snapshot on both databases, so a read
        that is one statement loses nothing; it saves the round trips and the
        ORM session of :meth:`session`. Inside a :meth:`transaction`, its session.
        """
        session = self._open.get()
        if session is not None:
            with self.database_errors():
                yield session
            return
        options: dict[str, Any] = (
            {engines.SINGLE_READ: True} if self.sqlite else {"isolation_level": "AUTOCOMMIT"}
        )
        with self.database_errors(), self.engine.connect() as connection:
            yield connection.execution_options(**options)

    def database_errors(self) -> AbstractContextManager[None]:
        """Turns database errors raised inside the block into gridfs errors."""
        return engines.database_errors(self.engine)

    # -- lookups -----------------------------------------------------------

    def by_id(self, session: Session, entry_id: int, want: int = 0) -> EntryModel:
        """The entry with id ``entry_id`` (as a filesystem's inode: no path check).

        With ``want``, that permission is checked on the entry itself.
        """
        entry = session.get(EntryModel, entry_id)
        if entry is None:
            raise NotFound(f"no catalog entry has id {entry_id}", str(entry_id))
        if want:
            self.require(session, entry, want, entry.name or "/")
        return entry

    @staticmethod
    def by_guid(session: Session, guid: str) -> EntryModel:
        """The file whose GUID is ``guid`` (no path check)."""
        entry = session.scalar(select(EntryModel).where(EntryModel.guid == parse_guid(guid)))
        if entry is None:
            raise NotFound(f"no file has GUID {guid}", guid)
        return entry

    @staticmethod
    def child_or_none(session: Session, parent: EntryModel, name: str) -> EntryModel | None:
        """The child ``name`` of ``parent``, if there is one (no permission check)."""
        return session.scalar(
            select(EntryModel).where(EntryModel.parent_id == parent.id, EntryModel.name == name)
        )

    def child(self, session: Session, parent: EntryModel, name: str, lfn: str) -> EntryModel:
        """The child ``name`` of directory ``parent``, which must be searchable."""
        if parent.kind != EntryKind.DIRECTORY:
            raise NotADirectory(f"not a directory: {lfn}", lfn)
        self.require(session, parent, EXECUTE, lfn)
        child = self.child_or_none(session, parent, name)
        if child is None:
            raise NotFound(f"no such LFN: {lfn}", lfn)
        return child

    def resolve(
        self, session: Session, lfn: str, *, follow_last: bool = True, want: int = 0
    ) -> EntryModel:
        """Walk ``lfn`` from the root, checking search permission and following links.

        With ``want``, that permission is checked on the entry reached too.
        """
        pending = list(split_lfn(lfn))
        walked: list[str] = []
        node = self.by_id(session, ROOT_ID)
        hops = 0
        while pending:
            name = pending.pop(0)
            child = self.child(session, node, name, lfn)
            if child.kind == EntryKind.SYMLINK and (pending or follow_last):
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    raise SymlinkLoop(f"too many levels of symbolic links: {lfn}", lfn)
                assert child.target is not None
                # Targets resolve lexically, relative ones against the link's directory.
                target = posixpath.normpath(posixpath.join(join_lfn(walked), child.target))
                # normpath keeps a leading "//" (POSIX leaves its meaning open); we do not.
                pending = [*split_lfn("/" + target.lstrip("/")), *pending]
                walked = []
                node = self.by_id(session, ROOT_ID)
                continue
            walked.append(name)
            node = child
        if want:
            self.require(session, node, want, lfn)
        return node

    def walk_stat(
        self,
        session: Session | Connection,
        lfn: str,
        *,
        follow_last: bool = True,
    ) -> Stat | None:
        """:meth:`resolve` in one query, as a :class:`Stat`; None where it takes the slow way.

        The whole path is joined level by level in one statement compiled once
        per depth (:func:`~gridfs.catalog.queries.walk`); search permission is
        checked on each directory as :meth:`resolve` does, with the same errors.
        None for the root, a very deep path, or a symbolic link to follow on
        the way: :meth:`resolve` handles those. On a :class:`Connection` of
        :meth:`single_read`, None too when a directory on the way has an ACL (a
        second statement would see another snapshot): a session does it.
        """
        parts = split_lfn(lfn)
        if not parts or len(parts) > _FAST_DEPTH:
            return None
        values: dict[str, object] = {"root": ROOT_ID}
        values.update({f"n{k}": name for k, name in enumerate(parts, 1)})
        row = session.execute(walk(len(parts)), values).one()
        levels = [
            WalkLevel(*(getattr(row, f"k{k}_{name}") for name in WALK_COLUMNS))
            for k in range(len(parts) + 1)
        ]
        # Only the directories on the way are checked (search), not the entry itself.
        with_acl = [level for level in levels[:-1] if level.has_acl]
        acls: dict[int, list[AclEntry]] = {}
        if with_acl:
            if not isinstance(session, Session):
                return None
            acls = self.acls_of(session, with_acl)
        for k, level in enumerate(levels):  # the checks of resolve(), in its order
            if level.id is None:
                raise NotFound(f"no such LFN: {lfn}", lfn)
            last = k == len(parts)
            if level.kind == EntryKind.SYMLINK and (follow_last or not last):
                return None  # links resolve lexically against where they are: resolve() does it
            if last:
                break
            if level.kind != EntryKind.DIRECTORY:
                raise NotADirectory(f"not a directory: {lfn}", lfn)
            if not self.allows(level, acls.get(level.id, []), EXECUTE):
                raise PermissionDenied(f"permission denied: {lfn}", lfn)
        return self.to_stat(row)

    def cached_stat(self, lfn: str, *, follow_last: bool = True) -> Stat | None:
        """:meth:`walk_stat` from the :class:`ReadCache`, if it can answer; else None.

        A directory on the way is resolved (and checked searchable) once per
        identity while the database is unchanged; the entry is then one probe
        of the (parent_id, name) index on a reader's connection, or none
        when read before. None for the root, a link to follow, any error on
        the way to the directory (the slow way reports it), inside a
        :meth:`transaction`, and where nothing is cached.
        """
        parts = split_lfn(lfn)
        if not parts or self._open.get() is not None:
            return None
        reader = self.read_cache.acquire()
        if reader is None:
            return None
        try:
            for _ in range(2):  # a change meanwhile empties the cache: once more, then slowly
                try:
                    found = self._cached_entry(reader, parts, lfn)
                except Stale:
                    continue
                if found is None or (found.kind == EntryKind.SYMLINK and follow_last):
                    return None
                return found
            return None
        except sqlite3.Error:
            # A busy, broken or closed reader: the slow way answers, or reports the
            # error as the catalog's own.
            self.read_cache.discard(reader)
            reader = None
            return None
        finally:
            if reader is not None:
                self.read_cache.release(reader)

    def _cached_entry(self, reader: Reader, parts: tuple[str, ...], lfn: str) -> Stat | None:
        """The entry at ``parts`` through ``reader``; None if the way there is not searchable."""
        key = (self.identity, parts[:-1])
        directory_id = reader.directories.get(key)
        if directory_id is None:
            reader.validate()  # before the directory is read: a change after it drops it
            directory_id = self._searchable_directory(join_lfn(parts[:-1]))
            if directory_id is None:
                return None
            reader.remember_directory(key, directory_id)
        found = reader.child(directory_id, parts[-1])
        if found is None:
            raise NotFound(f"no such LFN: {lfn}", lfn)
        return found

    def _searchable_directory(self, lfn: str) -> int | None:
        """The id of directory ``lfn`` if the identity may search it and its way; else None."""
        try:
            with self.session() as session:
                node = self.resolve(session, lfn)
                if node.kind != EntryKind.DIRECTORY:
                    return None
                if not self.allows(node, self.acl_of(session, node), EXECUTE):
                    return None
                return node.id
        except GridError:
            return None

    def resolve_parent(self, session: Session, parts: tuple[str, ...], lfn: str) -> EntryModel:
        """The directory that holds (or would hold) the entry whose LFN splits into ``parts``."""
        if not parts:
            raise AlreadyExists("the root directory exists", lfn)
        parent = self.resolve(session, join_lfn(parts[:-1]))
        if parent.kind != EntryKind.DIRECTORY:
            raise NotADirectory(f"not a directory: {join_lfn(parts[:-1])}", lfn)
        return parent

    def entry(self, session: Session, lfn_or_id: str | EntryId, *, follow: bool) -> EntryModel:
        """The entry named by LFN (``follow``: links followed) or by id."""
        if isinstance(lfn_or_id, int):
            return self.by_id(session, lfn_or_id)
        return self.resolve(session, lfn_or_id, follow_last=follow)

    def name_of(self, session: Session, entry: EntryModel, lfn_or_id: str | EntryId) -> Name:
        """How to name ``entry`` in messages: as asked for, or (by id) its LFN when needed."""
        if isinstance(lfn_or_id, str):
            return lfn_or_id
        return lambda: self.lfn_of(session, entry)

    def lfn_of(self, session: Session, entry: EntryModel) -> str:
        """The LFN of ``entry``, walking up to the root."""
        parts: list[str] = []
        while entry.parent_id is not None:
            parts.append(entry.name)
            if len(parts) > _MAX_DEPTH:
                raise GridError(f"catalog corrupt: entry {entry.id} is in a directory loop")
            entry = self.by_id(session, entry.parent_id)
        return join_lfn(parts[::-1])

    def lfn_checked(self, session: Session, entry: EntryModel) -> str:
        """The LFN of ``entry``, checking search permission on each ancestor (one walk)."""
        ancestors: list[EntryModel] = []
        parts: list[str] = []
        node = entry
        while node.parent_id is not None:
            parts.append(node.name)
            if len(parts) > _MAX_DEPTH:
                raise GridError(f"catalog corrupt: entry {entry.id} is in a directory loop")
            node = self.by_id(session, node.parent_id)
            ancestors.append(node)
        lfn = join_lfn(parts[::-1])
        for directory in ancestors:
            self.require(session, directory, EXECUTE, lfn)
        return lfn

    def require_reachable(self, session: Session, entry: EntryModel, name: Name) -> None:
        """Raise :class:`PermissionDenied` unless the identity may search every ancestor.

        What a walk from the root checks, for an entry found by id: one query
        for the ancestors whatever the depth (and one for their ACLs, if any).
        """
        if entry.parent_id is None:
            return
        chain = (
            select(EntryModel.id, EntryModel.parent_id, literal(1).label("depth"))
            .where(EntryModel.id == entry.parent_id)
            .cte("chain", recursive=True)
        )
        chain = chain.union_all(
            select(EntryModel.id, EntryModel.parent_id, (chain.c.depth + 1).label("depth")).where(
                EntryModel.id == chain.c.parent_id, chain.c.depth < _MAX_DEPTH
            )
        )
        ancestors = session.execute(
            select(
                EntryModel.id,
                EntryModel.owner,
                EntryModel.group_name,
                EntryModel.mode,
                EntryModel.kind,
                EntryModel.has_acl,
            ).join(chain, EntryModel.id == chain.c.id)
        ).all()
        if not all(self.allowed(session, ancestors, EXECUTE)):
            lfn = name_text(name)
            raise PermissionDenied(f"permission denied: {lfn}", lfn)

    # -- permissions -------------------------------------------------------

    def allows(self, entry: Any, acl: Sequence[AclEntry], want: int) -> bool:
        """Whether the identity has ``want`` on ``entry``, whose extended ACL is ``acl``."""
        return is_allowed(
            self.identity,
            owner=entry.owner,
            group=entry.group_name,
            mode=entry.mode,
            acl=acl,
            want=want,
            is_directory=entry.kind == EntryKind.DIRECTORY.value,
        )

    def allowed(self, session: Session, rows: Sequence[Any], want: int) -> list[bool]:
        """Whether the identity has ``want`` on each row (entries or rows with their columns).

        Rows need ``id``, ``owner``, ``group_name``, ``mode``, ``kind`` and
        ``has_acl``; ACLs are fetched, in bulk, only for the rows that have one.
        """
        acls = self.acls_of(session, [row for row in rows if row.has_acl])
        # Without an ACL the answer depends on owner, group, mode and kind alone: the
        # entries of a directory share them, so each distinct set is checked once.
        plain: dict[tuple[Any, ...], bool] = {}
        answers = []
        for row in rows:
            if row.has_acl:
                answers.append(self.allows(row, acls.get(row.id, []), want))
                continue
            key = (row.owner, row.group_name, row.mode, row.kind)
            answer = plain.get(key)
            if answer is None:
                answer = plain[key] = self.allows(row, (), want)
            answers.append(answer)
        return answers

    def require(self, session: Session, entry: EntryModel, want: int, name: Name) -> None:
        """Raise :class:`PermissionDenied` unless the identity has ``want`` on ``entry``."""
        if not self.allows(entry, self.acl_of(session, entry), want):
            lfn = name_text(name)
            raise PermissionDenied(f"permission denied: {lfn}", lfn)

    def require_owner(self, entry: EntryModel, lfn: str) -> None:
        """Raise :class:`NotPermitted` unless the identity owns ``entry`` or is the superuser."""
        if not self.identity.superuser and entry.owner != self.identity.user:
            raise NotPermitted(f"not the owner of {lfn}", lfn)

    def sticky_check(self, parent: EntryModel, entry: EntryModel, lfn: str) -> None:
        """In a sticky directory only the entry's or directory's owner may remove it."""
        if not parent.mode & _stat.S_ISVTX or self.identity.superuser:
            return
        if self.identity.user not in (entry.owner, parent.owner):
            raise NotPermitted(f"sticky directory: only the owner may remove {lfn}", lfn)

    def removable(self, session: Session, lfn: str) -> tuple[EntryModel, EntryModel]:
        """The parent and the entry of ``lfn`` (not following it), checked for removal.

        Removal needs write and search permission on the directory (and the
        sticky-bit rule), not on the entry, as unlink(2).
        """
        parts = split_lfn(lfn)
        if not parts:
            raise NotPermitted("the root directory cannot be removed or moved", lfn)
        parent = self.resolve_parent(session, parts, lfn)
        self.require(session, parent, WRITE | EXECUTE, lfn)
        entry = self.child(session, parent, parts[-1], lfn)
        self.sticky_check(parent, entry, lfn)
        return parent, entry

    @staticmethod
    def require_file(entry: EntryModel, name: Name) -> None:
        """Raise unless ``entry`` is a regular file (:class:`IsADirectory` for a directory)."""
        if entry.kind == EntryKind.DIRECTORY:
            lfn = name_text(name)
            raise IsADirectory(f"is a directory: {lfn}", lfn)
        if entry.kind != EntryKind.FILE:
            lfn = name_text(name)
            raise InvalidArgument(f"not a file: {lfn}", lfn)

    def acl_of(self, session: Session, entry: EntryModel) -> list[AclEntry]:
        """The extended ACL entries of ``entry`` (none unless it has an ACL)."""
        if not entry.has_acl:
            return []
        return self.acls_of(session, [entry]).get(entry.id, [])

    @staticmethod
    def acls_of(session: Session, entries: Sequence[Any]) -> dict[int, list[AclEntry]]:
        """The extended ACL entries of many entries, by entry id, in a few queries."""
        result: dict[int, list[AclEntry]] = defaultdict(list)
        ids = [entry.id for entry in entries]
        for start in range(0, len(ids), BULK_CHUNK):
            rows = session.scalars(
                select(AclModel).where(AclModel.entry_id.in_(ids[start : start + BULK_CHUNK]))
            )
            for row in rows:
                result[row.entry_id].append(
                    AclEntry(row.is_default, AclTag(row.tag), row.qualifier, row.perms)
                )
        return result

    # -- records -----------------------------------------------------------

    @staticmethod
    def stats_of(rows: Sequence[Any]) -> list[Stat]:
        """The :class:`Stat` of each row of :data:`~gridfs.catalog.queries.STAT_COLUMNS`.

        As :meth:`to_stat` gives them, several times faster: a listing of
        10,000 entries is converted in milliseconds.
        """
        kinds, statuses = _KINDS, _STATUSES
        return [
            Stat(
                i,
                p,
                n,
                kinds[k],
                m,
                o,
                g,
                s,
                at,
                mt,
                ct,
                guid,
                ct_,
                cs,
                None if st is None else statuses[st],
                t,
                c,
                bool(acl),
                rdev,
            )
            for i, p, n, k, m, o, g, s, at, mt, ct, guid, ct_, cs, st, t, c, acl, rdev in rows
        ]

    @staticmethod
    def to_stat(entry: Any) -> Stat:
        """The :class:`Stat` of an entry model or of a row with all the entry's columns."""
        return Stat(
            id=EntryId(entry.id),
            parent_id=EntryId(entry.parent_id) if entry.parent_id is not None else None,
            name=entry.name,
            kind=EntryKind(entry.kind),
            mode=entry.mode,
            owner=entry.owner,
            group=entry.group_name,
            size=entry.size,
            atime_ns=entry.atime_ns,
            mtime_ns=entry.mtime_ns,
            ctime_ns=entry.ctime_ns,
            guid=entry.guid,
            checksum_type=entry.checksum_type,
            checksum=entry.checksum,
            status=FileStatus(entry.status) if entry.status is not None else None,
            target=entry.target,
            comment=entry.comment,
            has_acl=bool(entry.has_acl),  # a raw SQLite row (the Core paths) has 0 or 1
            rdev=entry.rdev,
        )
