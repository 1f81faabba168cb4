"""The file and replica catalog: LFN namespace, GUIDs, aliases, replicas, permissions."""

from __future__ import annotations

import contextlib
import functools
import logging
import posixpath
import random
import stat as _stat
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, delete, exists, func, literal, or_, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gridfs.catalog.engine import database_errors, open_catalog_engine
from gridfs.catalog.guids import new_guid, parse_guid
from gridfs.catalog.identity import Identity
from gridfs.catalog.lfn import MAX_LFN_BYTES, join_lfn, split_lfn
from gridfs.catalog.models import AclModel, EntryModel, PropertyModel, ReplicaModel
from gridfs.catalog.permissions import (
    EXECUTE,
    READ,
    WRITE,
    AclEntry,
    AclTag,
    inherit,
    is_allowed,
    with_mask,
)
from gridfs.catalog.records import (
    EntryId,
    EntryKind,
    FileStatus,
    Replica,
    ReplicaStatus,
    Stat,
)
from gridfs.errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    GridError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    NotPermitted,
    PermissionDenied,
    SymlinkLoop,
)

__all__ = ["ROOT_ID", "Catalog"]

log = logging.getLogger(__name__)

ROOT_ID = EntryId(1)  # the first row the first migration writes
_MAX_SYMLINK_HOPS = 40  # Linux's limit
_BULK_CHUNK = 5000  # pairs per IN (...): under every dialect's parameter limit
_CONFLICT_ATTEMPTS = 10
_RENAME_LOCK = 0x72656E  # "ren": the advisory lock of directory moves (PostgreSQL)
_MAX_DEPTH = 4096  # far beyond any real tree: a walk that goes further is a loop

P = ParamSpec("P")
T = TypeVar("T")


def _is_conflict(error: BaseException | None) -> bool:
    """A failure that running the transaction again can cure: a lock or serialisation clash."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in ("40001", "40P01"):  # PostgreSQL
        return True
    return isinstance(error, OperationalError) and (
        "locked" in str(error.orig) or "busy" in str(error.orig)  # SQLite
    )


def _retried(method: Callable[P, T]) -> Callable[P, T]:
    """Run a write again, with jittered backoff, when the database reports a conflict.

    Not inside :meth:`Catalog.transaction`: that block is the caller's to repeat.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        catalog = args[0]
        assert isinstance(catalog, Catalog)
        # SQLite has waited its busy timeout already before reporting a lock.
        attempts = 3 if catalog._sqlite else _CONFLICT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                return method(*args, **kwargs)
            except IntegrityError as exc:
                # A concurrent change took a name, GUID or SURL first.
                raise AlreadyExists(
                    f"{method.__name__}: a conflicting change won: {exc.orig}"
                ) from exc
            except GridError as exc:
                last = attempt == attempts or catalog._open.get() is not None
                if last or not _is_conflict(exc.__cause__):
                    raise
                log.info("retrying %s after a conflict: %s", method.__name__, exc)
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper


class Catalog:
    """An LFC-style file catalog over an injected SQLAlchemy engine.

    Thread-safe. Each public method runs in its own short transaction, unless
    the caller holds one open with :meth:`transaction`. Every call runs as
    ``identity`` and is checked against mode bits and POSIX ACLs, search
    permission on every ancestor included; denials raise
    :class:`PermissionDenied` (EACCES) or :class:`NotPermitted` (EPERM) as
    POSIX does.
    """

    def __init__(
        self,
        engine: Engine,
        identity: Identity,
        *,
        page_size: int = 1000,
        _open: ContextVar[Session | None] | None = None,
    ) -> None:
        self._engine = engine
        self.identity = identity
        self._page_size = page_size
        self._sqlite = engine.dialect.name == "sqlite"
        # The session of a transaction() in progress, per thread or task; shared
        # with the as_identity() views, which must join it rather than wait for it.
        self._open = _open or ContextVar(f"catalog-{id(self)}", default=None)

    @classmethod
    def from_url(
        cls, url: str, identity: Identity | None = None, *, page_size: int = 1000
    ) -> Catalog:
        """Open (creating or upgrading the schema as needed) the catalog at ``url``."""
        engine = open_catalog_engine(url)
        return cls(engine, identity or Identity.local(), page_size=page_size)

    def as_identity(self, identity: Identity) -> Catalog:
        """The same catalog (sharing connections) acting as another identity."""
        return Catalog(self._engine, identity, page_size=self._page_size, _open=self._open)

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()

    # -- transactions ------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the catalog calls inside the block as one transaction.

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

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        session = self._open.get()
        if session is not None:
            with database_errors(self._engine):
                yield session
                session.flush()
            return
        with self._new_session(write=write) as session:
            yield session

    @contextmanager
    def _new_session(self, *, write: bool) -> Iterator[Session]:
        with database_errors(self._engine), self._engine.connect() as connection:
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

    # -- lookups -----------------------------------------------------------

    def stat(self, lfn: str, *, follow_symlinks: bool = True) -> Stat:
        """The entry at ``lfn``; with ``follow_symlinks=False``, a link itself."""
        with self._session() as session:
            return _to_stat(self._resolve(session, lfn, follow_last=follow_symlinks))

    def stat_id(self, entry_id: EntryId) -> Stat:
        """The entry with id ``entry_id`` (as a filesystem's inode: no path check)."""
        with self._session() as session:
            return _to_stat(_by_id(session, entry_id))

    def lookup(self, parent_id: EntryId, name: str) -> Stat:
        """The child ``name`` of directory ``parent_id`` (not following links)."""
        with self._session() as session:
            parent = _by_id(session, parent_id)
            return _to_stat(self._child(session, parent, name, name))

    def stat_guid(self, guid: str) -> Stat:
        """The file whose GUID is ``guid``; its ancestors must be searchable."""
        with self._session() as session:
            entry = _by_guid(session, guid)
            self._lfn_checked(session, entry)
            return _to_stat(entry)

    def lfn_of(self, entry_id: EntryId) -> str:
        """The LFN of an entry, found by walking up to the root."""
        with self._session() as session:
            return _lfn(session, _by_id(session, entry_id))

    def readlink(self, lfn_or_id: str | EntryId) -> str:
        """The target of a symbolic link."""
        with self._session() as session:
            entry = self._entry(session, lfn_or_id, follow=False)
            if entry.kind != EntryKind.SYMLINK or entry.target is None:
                raise InvalidArgument(f"not a symbolic link: {lfn_or_id}", str(lfn_or_id))
            return entry.target

    def iterdir(self, directory: str | EntryId, *, after: int = 0) -> Iterator[Stat]:
        """The entries of a directory, in id order, starting after id ``after``.

        The id of the last entry seen is a stable resume key: entries added or
        removed meanwhile never make a listing repeat or skip another entry.
        Rows are fetched a page at a time, each page in its own transaction,
        so memory stays bounded and no transaction is held between pages.
        Needs read permission on the directory.
        """
        with self._session() as session:
            entry = self._entry(session, directory, follow=True)
            if entry.kind != EntryKind.DIRECTORY:
                raise NotADirectory(f"not a directory: {directory}", str(directory))
            self._require(session, entry, READ, str(directory))
            directory_id = EntryId(entry.id)
        return self._pages(directory_id, after)

    def _pages(self, directory_id: EntryId, after: int) -> Iterator[Stat]:
        while True:
            page = self.list_page(directory_id, after=after, limit=self._page_size)
            yield from page
            if len(page) < self._page_size:
                return
            after = page[-1].id

    def list_page(self, directory_id: EntryId, *, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` entries of a directory with ids above ``after``, in id order."""
        with self._session() as session:
            directory = _by_id(session, directory_id)
            self._require(session, directory, READ, directory.name or "/")
            rows = session.scalars(
                select(EntryModel)
                .where(EntryModel.parent_id == directory_id, EntryModel.id > after)
                .order_by(EntryModel.id)
                .limit(limit)
            ).all()
            return [_to_stat(row) for row in rows]

    def replicas(self, lfn_or_id: str | EntryId) -> list[Replica]:
        """The replicas of a file, oldest first; needs read permission on it."""
        with self._session() as session:
            entry = self._entry(session, lfn_or_id, follow=True)
            _require_file(entry, str(lfn_or_id))
            self._require(session, entry, READ, str(lfn_or_id))
            return _replicas(session, entry)

    def replicas_many(self, lfns: Sequence[str]) -> dict[str, list[Replica]]:
        """The replicas of many files at once: a few queries, whatever their number.

        Directories are resolved a level at a time (one query per directory
        on the way, for all LFNs in it together), then the replicas in bulk. LFNs that
        do not exist, or that the identity may not read, are left out of the
        result; links on the way are followed one by one.
        """
        result: dict[str, list[Replica]] = {}
        with self._session() as session:
            entries = self._resolve_many(session, lfns)
            acls = _acls_of(session, [e for e in entries.values() if e.has_acl])
            readable = {
                lfn: entry
                for lfn, entry in entries.items()
                if entry.kind == EntryKind.FILE
                and self._allowed(entry, acls.get(entry.id, []), READ)
            }
            by_entry: dict[int, list[Replica]] = defaultdict(list)
            ids = sorted({entry.id for entry in readable.values()})
            guids = {entry.id: entry.guid or "" for entry in readable.values()}
            for start in range(0, len(ids), _BULK_CHUNK):
                rows = session.scalars(
                    select(ReplicaModel)
                    .where(ReplicaModel.entry_id.in_(ids[start : start + _BULK_CHUNK]))
                    .order_by(ReplicaModel.id)
                )
                for row in rows:
                    by_entry[row.entry_id].append(_to_replica(row, guids[row.entry_id]))
            for lfn, entry in readable.items():
                result[lfn] = by_entry.get(entry.id, [])
        return result

    def guid_of(self, lfn: str) -> str:
        """The GUID of file ``lfn`` (lcg-lg)."""
        entry = self.stat(lfn)
        if not entry.is_file() or entry.guid is None:
            raise (
                IsADirectory(f"not a file: {lfn}", lfn)
                if entry.is_dir()
                else InvalidArgument(f"not a file: {lfn}", lfn)
            )
        return entry.guid

    def lfns_of(self, guid: str) -> list[str]:
        """The LFNs of a GUID: the primary one first, then its aliases (lcg-la)."""
        with self._session() as session:
            entry = _by_guid(session, guid)
            primary = self._lfn_checked(session, entry)
            aliases = session.scalars(
                select(EntryModel)
                .where(EntryModel.kind == EntryKind.SYMLINK.value, EntryModel.target == primary)
                .order_by(EntryModel.id)
            )
            return [primary, *(_lfn(session, alias) for alias in aliases)]

    def surls_of(self, guid: str) -> list[str]:
        """The SURLs of the replicas of a GUID."""
        with self._session() as session:
            entry = _by_guid(session, guid)
            self._lfn_checked(session, entry)
            self._require(session, entry, READ, guid)
            return [replica.surl for replica in _replicas(session, entry)]

    def space_used(self, se: str, space_token: str) -> int:
        """Bytes that the replicas in ``space_token`` of SE ``se`` occupy (an SE's accounting)."""
        with self._session() as session:
            used = session.scalar(
                select(func.coalesce(func.sum(EntryModel.size), 0))
                .select_from(ReplicaModel)
                .join(EntryModel, EntryModel.id == ReplicaModel.entry_id)
                .where(ReplicaModel.se == se, ReplicaModel.space_token == space_token)
            )
            return int(used or 0)

    def getacl(self, lfn: str) -> list[AclEntry]:
        """The whole ACL of ``lfn``: owner, group and other from the mode, plus extended entries."""
        with self._session() as session:
            entry = self._resolve(session, lfn, follow_last=True)
            extended = _acl(session, entry)
            access = {e.tag for e in extended if not e.default}
            entries = [
                AclEntry(False, AclTag.USER_OBJ, "", (entry.mode >> 6) & 7),
                AclEntry(False, AclTag.OTHER, "", entry.mode & 7),
                *extended,
            ]
            if AclTag.GROUP_OBJ not in access:
                entries.append(AclEntry(False, AclTag.GROUP_OBJ, "", (entry.mode >> 3) & 7))
            return sorted(entries)

    # -- namespace changes -------------------------------------------------

    @_retried
    def mkdir(
        self, lfn: str, mode: int = 0o775, *, parents: bool = False, exist_ok: bool = False
    ) -> Stat:
        """Create directory ``lfn`` (and, with ``parents``, its missing ancestors).

        With ``exist_ok``, an existing directory (or a link to one) is returned
        instead of raising :class:`AlreadyExists`.
        """
        parts = split_lfn(lfn)
        for attempt in (1, 2):
            try:
                with self._session(write=True) as session:
                    made = self._mkdir(
                        session, parts, lfn, mode, parents=parents, exist_ok=exist_ok
                    )
                    return _to_stat(made)
            except IntegrityError as exc:
                # Another writer made an entry between our check and our insert:
                # with exist_ok, look again (once); it may be what we wanted.
                if not exist_ok or attempt == 2 or self._open.get() is not None:
                    raise AlreadyExists(f"LFN exists: {lfn}", lfn) from exc
        raise AssertionError("unreachable")

    def _mkdir(
        self,
        session: Session,
        parts: tuple[str, ...],
        lfn: str,
        mode: int,
        *,
        parents: bool,
        exist_ok: bool,
    ) -> EntryModel:
        if not parts:
            if exist_ok:
                return _by_id(session, ROOT_ID)
            raise AlreadyExists("the root directory exists", lfn)
        if parents:
            parent = _by_id(session, ROOT_ID)
            for index, name in enumerate(parts[:-1]):
                sub = join_lfn(parts[: index + 1])
                self._require(session, parent, EXECUTE, sub)
                child = _child_or_none(session, parent, name)
                if child is None:
                    self._require(session, parent, WRITE, sub)
                    # As os.makedirs: the mode is the leaf's; ancestors get the usual one.
                    child = self._insert(session, parent, name, EntryKind.DIRECTORY, 0o775)
                elif child.kind == EntryKind.SYMLINK:
                    child = self._resolve(session, sub, follow_last=True)
                if child.kind != EntryKind.DIRECTORY:
                    raise NotADirectory(f"not a directory: {sub}", lfn)
                parent = child
        else:
            parent = self._resolve_parent(session, parts, lfn)
        self._require(session, parent, EXECUTE, lfn)
        existing = _child_or_none(session, parent, parts[-1])
        if existing is None:
            self._require(session, parent, WRITE, lfn)
            return self._insert(session, parent, parts[-1], EntryKind.DIRECTORY, mode)
        if exist_ok:
            with contextlib.suppress(NotFound):  # a dangling link is just "exists"
                target = self._resolve(session, lfn, follow_last=True)
                if target.kind == EntryKind.DIRECTORY:
                    return target
        raise AlreadyExists(f"LFN exists: {lfn}", lfn)

    @_retried
    def symlink(self, target: str, lfn: str, *, alias: bool = False) -> Stat:
        """Create ``lfn`` as a symbolic link to ``target``.

        An ``alias`` (lcg-aa) is a link that stays with its file: it follows
        the file when the file is renamed and goes when the file is removed. A
        plain link keeps its target, as POSIX links do.
        """
        if not target or "\0" in target or len(target.encode("utf-8")) > MAX_LFN_BYTES:
            raise InvalidArgument(f"invalid symbolic link target {target!r}", lfn)
        with self._creating(lfn) as (session, parent, name):
            entry = self._insert(
                session,
                parent,
                name,
                EntryKind.SYMLINK,
                0o777,
                target=target,
                size=len(target.encode("utf-8")),
                status=FileStatus.ALIAS.value if alias else None,
            )
            return _to_stat(entry)

    @_retried
    def add_file(
        self,
        lfn: str,
        *,
        size: int,
        checksum: str | None = None,
        checksum_type: str = "adler32",
        replicas: Sequence[tuple[str, str]] = (),
        guid: str | None = None,
        mode: int = 0o664,
        space_token: str | None = None,
        status: FileStatus = FileStatus.READY,
    ) -> Stat:
        """Register file ``lfn`` and its ``(se, surl)`` replicas in one transaction.

        A new GUID is made unless ``guid`` is given; the replicas occupy
        ``space_token`` of their SE, if given. A file opened for writing is
        registered with ``status`` WRITING and no replica until its first
        :meth:`commit_version`. Raises :class:`AlreadyExists` if the LFN, the
        GUID or one of the SURLs is registered already.
        """
        if size < 0:
            raise InvalidArgument(f"negative size for {lfn}", lfn)
        _check_checksum(checksum_type, checksum, lfn)
        guid = parse_guid(guid) if guid is not None else new_guid()
        with self._creating(lfn) as (session, parent, name):
            entry = self._insert(
                session,
                parent,
                name,
                EntryKind.FILE,
                mode,
                guid=guid,
                size=size,
                checksum_type=checksum_type if checksum is not None else None,
                checksum=checksum,
                status=status.value,
            )
            for se, surl in replicas:
                session.add(_new_replica(entry.id, se, surl, space_token=space_token))
            session.flush()
            return _to_stat(entry)

    @contextmanager
    def _creating(self, lfn: str) -> Iterator[tuple[Session, EntryModel, str]]:
        """A write session, the parent directory, and the free name of a new entry."""
        parts = split_lfn(lfn)
        try:
            with self._session(write=True) as session:
                parent = self._resolve_parent(session, parts, lfn)
                self._require(session, parent, WRITE | EXECUTE, lfn)
                if _child_or_none(session, parent, parts[-1]) is not None:
                    raise AlreadyExists(f"LFN exists: {lfn}", lfn)
                yield session, parent, parts[-1]
        except IntegrityError as exc:
            raise AlreadyExists(
                f"cannot create {lfn}: the LFN, its GUID or a replica SURL is registered already",
                lfn,
            ) from exc

    @_retried
    def unlink(self, lfn: str) -> list[Replica]:
        """Remove file or link ``lfn``; returns the replicas it unregistered.

        The stored copies are the caller's to delete (the catalog knows no storage).
        """
        with self._session(write=True) as session:
            parent, entry = self._removable(session, lfn)
            if entry.kind == EntryKind.DIRECTORY:
                raise IsADirectory(f"is a directory: {lfn}", lfn)
            replicas = _replicas(session, entry) if entry.kind == EntryKind.FILE else []
            if entry.kind == EntryKind.FILE:
                _drop_aliases(session, _lfn(session, entry))
            session.delete(entry)
            _touch(parent)
            return replicas

    def replicas_for_removal(self, lfn: str) -> list[Replica]:
        """The replicas of file ``lfn``, if the identity may remove it (else the error).

        Removal needs write and search permission on the directory (and the
        sticky-bit rule), not on the file, as unlink(2).
        """
        with self._session() as session:
            _, entry = self._removable(session, lfn)
            _require_file(entry, lfn)
            return _replicas(session, entry)

    @_retried
    def drop_replicas(self, lfn: str, surls: Sequence[str]) -> None:
        """Unregister replicas of file ``lfn`` whose copies are gone, under removal permission."""
        with self._session(write=True) as session:
            _, entry = self._removable(session, lfn)
            _require_file(entry, lfn)
            session.execute(
                delete(ReplicaModel).where(
                    ReplicaModel.entry_id == entry.id, ReplicaModel.surl.in_(list(surls))
                )
            )

    @_retried
    def rmdir(self, lfn: str) -> None:
        """Remove the empty directory ``lfn``."""
        with self._session(write=True) as session:
            parent, entry = self._removable(session, lfn)
            if entry.kind != EntryKind.DIRECTORY:
                raise NotADirectory(f"not a directory: {lfn}", lfn)
            if session.scalar(select(exists().where(EntryModel.parent_id == entry.id))):
                raise DirectoryNotEmpty(f"directory not empty: {lfn}", lfn)
            session.delete(entry)
            _touch(parent)

    @_retried
    def rename(self, source: str, destination: str) -> list[Replica]:
        """Move ``source`` to ``destination`` atomically, as rename(2) does.

        An existing destination is replaced (a file by a file, an empty
        directory by a directory); the replicas of a replaced file are
        unregistered and returned. The GUID stays with the file. Moving a
        directory into its own subtree raises :class:`InvalidArgument`.
        """
        parts = split_lfn(destination)
        with self._session(write=True) as session:
            old_parent, entry = self._removable(session, source)
            old_lfn = _lfn(session, entry)
            new_parent = self._resolve_parent(session, parts, destination)
            destination_lfn = f"{_lfn(session, new_parent).rstrip('/')}/{parts[-1]}"
            self._require(session, new_parent, WRITE | EXECUTE, destination)
            if entry.kind == EntryKind.DIRECTORY:
                if new_parent.id != old_parent.id and not self._sqlite:
                    # As Linux's rename mutex: two directory moves checked one at a
                    # time, or crossing moves could both pass and make a loop.
                    session.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RENAME_LOCK}
                    )
                if _is_within(session, new_parent, entry):
                    raise InvalidArgument(
                        f"cannot move {source} into its own subtree ({destination})", destination
                    )
                if new_parent.id != old_parent.id:
                    self._require(session, entry, WRITE, source)  # its ".." changes
            replaced: list[Replica] = []
            existing = _child_or_none(session, new_parent, parts[-1])
            if existing is not None:
                if existing.id == entry.id:
                    return []
                self._sticky_check(session, new_parent, existing, destination)
                replaced = _replace(session, entry, existing, destination)
                if existing.kind == EntryKind.FILE:
                    _drop_aliases(session, destination_lfn)
                session.flush()
            entry.parent_id = new_parent.id
            entry.name = parts[-1]
            entry.ctime_ns = time.time_ns()
            _touch(old_parent)
            _touch(new_parent)
            session.flush()
            _retarget_aliases(session, old_lfn, _lfn(session, entry))
            return replaced

    @_retried
    def chmod(self, lfn: str, mode: int) -> Stat:
        """Change the permission bits (and set-id and sticky bits); owner or superuser."""
        if not 0 <= mode <= 0o7777:
            raise InvalidArgument(f"invalid mode {mode:o} for {lfn}", lfn)
        with self._session(write=True) as session:
            entry = self._resolve(session, lfn, follow_last=True)
            self._require_owner(entry, lfn)
            foreign_group = entry.group_name not in self.identity.groups
            if entry.kind == EntryKind.FILE and foreign_group and not self.identity.superuser:
                mode &= ~_stat.S_ISGID  # as Linux: not for a group you are not in
            entry.mode = mode
            if entry.has_acl:
                # With an extended ACL, the group bits are the mask.
                session.execute(
                    AclModel.__table__.update()
                    .where(
                        AclModel.entry_id == entry.id,
                        AclModel.is_default.is_(False),
                        AclModel.tag == AclTag.MASK.value,
                    )
                    .values(perms=(mode >> 3) & 7)
                )
            entry.ctime_ns = time.time_ns()
            return _to_stat(entry)

    @_retried
    def chown(self, lfn: str, owner: str | None = None, group: str | None = None) -> Stat:
        """Change owner (superuser only) and/or group (the owner, to one of their groups)."""
        with self._session(write=True) as session:
            entry = self._resolve(session, lfn, follow_last=True)
            if not self.identity.superuser:
                if owner is not None and owner != entry.owner:
                    raise NotPermitted(f"only the superuser may give {lfn} away", lfn)
                if entry.owner != self.identity.user:
                    raise NotPermitted(f"not the owner of {lfn}", lfn)
                if group is not None and group not in self.identity.groups:
                    raise NotPermitted(f"not a member of group {group}", lfn)
            if owner is not None:
                entry.owner = owner
            if group is not None:
                entry.group_name = group
            entry.ctime_ns = time.time_ns()
            return _to_stat(entry)

    @_retried
    def utime(self, lfn: str, atime_ns: int | None = None, mtime_ns: int | None = None) -> Stat:
        """Set access and modification times; both ``None`` means now.

        The owner may set any time; others with write permission only "now".
        """
        with self._session(write=True) as session:
            entry = self._resolve(session, lfn, follow_last=True)
            now = time.time_ns()
            if atime_ns is None and mtime_ns is None:
                if entry.owner != self.identity.user:
                    self._require(session, entry, WRITE, lfn)
            else:
                self._require_owner(entry, lfn)
            entry.atime_ns = now if atime_ns is None else atime_ns
            entry.mtime_ns = now if mtime_ns is None else mtime_ns
            entry.ctime_ns = now
            return _to_stat(entry)

    @_retried
    def set_size(
        self, lfn: str, size: int, *, checksum_type: str = "adler32", checksum: str | None = None
    ) -> Stat:
        """Set a file's size and (with ``checksum``) its checksum; needs write permission."""
        if size < 0:
            raise InvalidArgument(f"negative size for {lfn}", lfn)
        _check_checksum(checksum_type, checksum, lfn)
        with self._session(write=True) as session:
            entry = self._resolve(session, lfn, follow_last=True)
            _require_file(entry, lfn)
            self._require(session, entry, WRITE, lfn)
            entry.size = size
            if checksum is not None:
                entry.checksum_type, entry.checksum = checksum_type, checksum
            entry.mtime_ns = entry.ctime_ns = time.time_ns()
            return _to_stat(entry)

    @_retried
    def commit_version(
        self,
        entry_id: EntryId,
        *,
        size: int,
        checksum: str,
        checksum_type: str,
        se: str,
        surl: str,
        space_token: str | None = None,
    ) -> tuple[Stat, list[Replica]]:
        """Make the stored copy ``surl`` the new content of file ``entry_id``.

        In one transaction: the size and checksum change, ``surl`` on ``se``
        becomes the only available replica, and every other replica becomes
        STALE, so that no reader is handed old bytes for the new checksum.
        The GUID stays. Returns the new entry and the stale replicas, whose
        stored copies are the caller's to delete (then :meth:`remove_replica`).
        Needs write permission on the file.
        """
        if size < 0:
            raise InvalidArgument(f"negative size for entry {entry_id}", str(entry_id))
        _check_checksum(checksum_type, checksum, surl)
        try:
            with self._session(write=True) as session:
                entry = _by_id(session, entry_id)
                lfn = self._lfn_checked(session, entry)
                _require_file(entry, lfn)
                self._require(session, entry, WRITE, lfn)
                stale = []
                for row in session.scalars(
                    select(ReplicaModel).where(ReplicaModel.entry_id == entry.id)
                ):
                    row.status = ReplicaStatus.STALE.value
                    stale.append(_to_replica(row, entry.guid or ""))
                session.add(_new_replica(entry.id, se, surl, space_token=space_token))
                entry.size = size
                entry.checksum_type, entry.checksum = checksum_type, checksum
                entry.status = FileStatus.READY.value
                entry.mtime_ns = entry.ctime_ns = time.time_ns()
                session.flush()
                return _to_stat(entry), stale
        except IntegrityError as exc:
            raise AlreadyExists(f"replica is registered already: {surl}", surl) from exc

    def access(self, lfn: str, mode: int) -> bool:
        """Whether ``lfn`` exists (``os.F_OK``) and allows ``mode`` (``os.R_OK|W_OK|X_OK``).

        As :func:`os.access`: links are followed, a missing entry or an
        ancestor without search permission gives False, not an error.
        """
        want = mode & (READ | WRITE | EXECUTE)
        try:
            with self._session() as session:
                entry = self._resolve(session, lfn, follow_last=True)
                return self._allowed(entry, _acl(session, entry), want) if want else True
        except (NotFound, PermissionDenied, NotADirectory, SymlinkLoop):
            return False

    def properties(self, lfn_or_id: str | EntryId) -> dict[str, str]:
        """The grid properties of an entry (such as ``default_se``); needs read permission."""
        with self._session() as session:
            entry = self._entry(session, lfn_or_id, follow=True)
            self._require(session, entry, READ, _name_of(session, entry, lfn_or_id))
            rows = session.scalars(select(PropertyModel).where(PropertyModel.entry_id == entry.id))
            return {row.name: row.value for row in rows}

    @_retried
    def set_property(self, lfn_or_id: str | EntryId, name: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a grid property; needs write permission.

        Removing a property that is not set raises :class:`NotFound`.
        """
        if not name or len(name) > 255:
            raise InvalidArgument(f"invalid property name {name!r}", name)
        with self._session(write=True) as session:
            entry = self._entry(session, lfn_or_id, follow=True)
            self._require(session, entry, WRITE, _name_of(session, entry, lfn_or_id))
            row = session.get(PropertyModel, (entry.id, name))
            if value is None:
                if row is None:
                    where = _name_of(session, entry, lfn_or_id)
                    raise NotFound(f"no property {name} on {where}", name)
                session.delete(row)
            elif row is None:
                session.add(PropertyModel(entry_id=entry.id, name=name, value=value))
            else:
                row.value = value
            entry.ctime_ns = time.time_ns()

    @_retried
    def set_comment(self, lfn: str, comment: str | None) -> None:
        """Set (or with ``None`` delete) the comment of ``lfn``; owner or write permission."""
        if comment is not None and len(comment) > 255:
            raise InvalidArgument(f"a comment is at most 255 characters ({lfn})", lfn)
        with self._session(write=True) as session:
            entry = self._resolve(session, lfn, follow_last=True)
            if entry.owner != self.identity.user:
                self._require(session, entry, WRITE, lfn)
            entry.comment = comment

    @_retried
    def setacl(self, lfn: str, entries: Sequence[AclEntry]) -> list[AclEntry]:
        """Replace the ACL of ``lfn`` (access entries, and default ones on a directory).

        The owner, group and other entries set the mode bits; with named
        entries a mask is kept (computed if not given). Owner or superuser.
        """
        access = [e for e in entries if not e.default]
        default = [e for e in entries if e.default]
        access = with_mask(access, default=False)
        if default:
            default = with_mask(default, default=True)
        with self._session(write=True) as session:
            entry = self._resolve(session, lfn, follow_last=True)
            self._require_owner(entry, lfn)
            if default and entry.kind != EntryKind.DIRECTORY:
                raise InvalidArgument(f"only a directory has a default ACL ({lfn})", lfn)
            by_tag = {e.tag: e.perms for e in access if e.tag not in (AclTag.USER, AclTag.GROUP)}
            group_bits = by_tag.get(AclTag.MASK, by_tag[AclTag.GROUP_OBJ])
            entry.mode = (entry.mode & 0o7000) | (
                by_tag[AclTag.USER_OBJ] << 6 | group_bits << 3 | by_tag[AclTag.OTHER]
            )
            extended = len(access) > 3
            stored = [
                e for e in access if extended and e.tag not in (AclTag.USER_OBJ, AclTag.OTHER)
            ]
            _store_acl(session, entry, stored + default)
            entry.ctime_ns = time.time_ns()
        return self.getacl(lfn)

    # -- replicas ----------------------------------------------------------

    @_retried
    def add_replica(
        self,
        guid: str,
        se: str,
        surl: str,
        status: ReplicaStatus = ReplicaStatus.AVAILABLE,
        *,
        pin_expiry_ns: int | None = None,
        space_token: str | None = None,
    ) -> Replica:
        """Register one more replica of the file with GUID ``guid``; needs write permission."""
        try:
            with self._session(write=True) as session:
                entry = _by_guid(session, guid)
                lfn = self._lfn_checked(session, entry)
                self._require(session, entry, WRITE, lfn)
                row = _new_replica(
                    entry.id, se, surl, status, pin_expiry_ns=pin_expiry_ns, space_token=space_token
                )
                session.add(row)
                session.flush()
                return _to_replica(row, guid)
        except IntegrityError as exc:
            raise AlreadyExists(f"replica is registered already: {surl}", surl) from exc

    @_retried
    def remove_replica(self, guid: str, surl: str) -> Replica:
        """Unregister one replica of a GUID (the stored copy stays: the caller's to delete)."""
        with self._session(write=True) as session:
            entry = _by_guid(session, guid)
            lfn = self._lfn_checked(session, entry)
            self._require(session, entry, WRITE, lfn)
            row = session.scalar(
                select(ReplicaModel).where(
                    ReplicaModel.entry_id == entry.id, ReplicaModel.surl == surl
                )
            )
            if row is None:
                raise NotFound(f"{lfn} has no replica {surl}", surl)
            replica = _to_replica(row, guid)
            session.delete(row)
            return replica

    @_retried
    def set_replica_status(
        self, surl: str, status: ReplicaStatus, *, pin_expiry_ns: int | None = None
    ) -> Replica:
        """Change a replica's status (and pin expiry); needs write permission on its file."""
        with self._session(write=True) as session:
            row = session.scalar(select(ReplicaModel).where(ReplicaModel.surl == surl))
            if row is None:
                raise NotFound(f"no replica {surl}", surl)
            entry = _by_id(session, row.entry_id)
            lfn = self._lfn_checked(session, entry)
            self._require(session, entry, WRITE, lfn)
            row.status = status.value
            row.pin_expiry_ns = pin_expiry_ns
            return _to_replica(row, entry.guid or "")

    # -- aliases -----------------------------------------------------------

    @_retried
    def add_alias(self, lfn: str, alias: str) -> Stat:
        """Make ``alias`` a symbolic link to the primary LFN of file ``lfn`` (lcg-aa)."""
        with self.transaction(), self._session() as session:
            entry = self._resolve(session, lfn, follow_last=True)
            _require_file(entry, lfn)
            return self.symlink(_lfn(session, entry), alias, alias=True)

    @_retried
    def remove_alias(self, alias: str) -> None:
        """Remove alias ``alias``; refuses anything that is not a symbolic link (lcg-ra)."""
        with self.transaction():
            if not self.stat(alias, follow_symlinks=False).is_symlink():
                raise InvalidArgument(f"not an alias (symbolic link): {alias}", alias)
            self.unlink(alias)

    # -- helpers that need the identity ------------------------------------

    def _allowed(self, entry: EntryModel, acl: Sequence[AclEntry], want: int) -> bool:
        return is_allowed(
            self.identity,
            owner=entry.owner,
            group=entry.group_name,
            mode=entry.mode,
            acl=acl,
            want=want,
            is_directory=entry.kind == EntryKind.DIRECTORY,
        )

    def _require(self, session: Session, entry: EntryModel, want: int, lfn: str) -> None:
        if not self._allowed(entry, _acl(session, entry), want):
            raise PermissionDenied(f"permission denied: {lfn}", lfn)

    def _require_owner(self, entry: EntryModel, lfn: str) -> None:
        if not self.identity.superuser and entry.owner != self.identity.user:
            raise NotPermitted(f"not the owner of {lfn}", lfn)

    def _sticky_check(
        self, session: Session, parent: EntryModel, entry: EntryModel, lfn: str
    ) -> None:
        """In a sticky directory only the entry's or directory's owner may remove it."""
        if not parent.mode & _stat.S_ISVTX or self.identity.superuser:
            return
        if self.identity.user not in (entry.owner, parent.owner):
            raise NotPermitted(f"sticky directory: only the owner may remove {lfn}", lfn)

    def _removable(self, session: Session, lfn: str) -> tuple[EntryModel, EntryModel]:
        """The parent and the entry of ``lfn`` (not following it), checked for removal."""
        parts = split_lfn(lfn)
        if not parts:
            raise NotPermitted("the root directory cannot be removed or moved", lfn)
        parent = self._resolve_parent(session, parts, lfn)
        self._require(session, parent, WRITE | EXECUTE, lfn)
        entry = self._child(session, parent, parts[-1], lfn)
        self._sticky_check(session, parent, entry, lfn)
        return parent, entry

    def _entry(self, session: Session, lfn_or_id: str | EntryId, *, follow: bool) -> EntryModel:
        if isinstance(lfn_or_id, int):
            return _by_id(session, lfn_or_id)
        return self._resolve(session, lfn_or_id, follow_last=follow)

    def _child(self, session: Session, parent: EntryModel, name: str, lfn: str) -> EntryModel:
        if parent.kind != EntryKind.DIRECTORY:
            raise NotADirectory(f"not a directory: {lfn}", lfn)
        self._require(session, parent, EXECUTE, lfn)
        child = _child_or_none(session, parent, name)
        if child is None:
            raise NotFound(f"no such LFN: {lfn}", lfn)
        return child

    def _resolve(self, session: Session, lfn: str, *, follow_last: bool) -> EntryModel:
        """Walk ``lfn`` from the root, checking search permission and following links."""
        pending = list(split_lfn(lfn))
        walked: list[str] = []
        node = _by_id(session, ROOT_ID)
        hops = 0
        while pending:
            name = pending.pop(0)
            child = self._child(session, node, name, lfn)
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
                node = _by_id(session, ROOT_ID)
                continue
            walked.append(name)
            node = child
        return node

    def _resolve_parent(self, session: Session, parts: tuple[str, ...], lfn: str) -> EntryModel:
        if not parts:
            raise AlreadyExists("the root directory exists", lfn)
        parent = self._resolve(session, join_lfn(parts[:-1]), follow_last=True)
        if parent.kind != EntryKind.DIRECTORY:
            raise NotADirectory(f"not a directory: {join_lfn(parts[:-1])}", lfn)
        return parent

    def _resolve_many(self, session: Session, lfns: Sequence[str]) -> dict[str, EntryModel]:
        """Entries of many LFNs, a directory level at a time; missing or denied ones left out."""
        known: dict[tuple[str, ...], EntryModel] = {(): _by_id(session, ROOT_ID)}
        split = {lfn: split_lfn(lfn) for lfn in lfns}
        depth = max((len(parts) for parts in split.values()), default=0)
        for level in range(1, depth + 1):
            wanted: dict[tuple[int, str], list[tuple[str, ...]]] = defaultdict(list)
            for parts in split.values():
                prefix = parts[:level]
                parent = known.get(parts[: level - 1])
                if (
                    len(parts) >= level
                    and prefix not in known
                    and parent is not None
                    and parent.kind == EntryKind.DIRECTORY
                ):
                    wanted[(parent.id, prefix[-1])].append(prefix)
            parents = {known[prefix[:-1]] for prefixes in wanted.values() for prefix in prefixes}
            acls = _acls_of(session, [p for p in parents if p.has_acl])
            searchable = {p.id for p in parents if self._allowed(p, acls.get(p.id, []), EXECUTE)}
            by_parent: dict[int, list[str]] = defaultdict(list)
            for parent_id, name in wanted:
                if parent_id in searchable:
                    by_parent[parent_id].append(name)
            # One query per directory: (parent_id, name) row-value lists defeat
            # SQLite's index, "parent_id = ? AND name IN (...)" does not.
            for parent_id, names in by_parent.items():
                for start in range(0, len(names), _BULK_CHUNK):
                    rows = session.scalars(
                        select(EntryModel).where(
                            EntryModel.parent_id == parent_id,
                            EntryModel.name.in_(names[start : start + _BULK_CHUNK]),
                        )
                    )
                    for row in rows:
                        for prefix in wanted[(parent_id, row.name)]:
                            known[prefix] = row
            for prefix, entry in list(known.items()):
                if len(prefix) == level and entry.kind == EntryKind.SYMLINK:
                    # Rare: a link on the way; resolve it on its own.
                    try:
                        known[prefix] = self._resolve(session, join_lfn(prefix), follow_last=True)
                    except GridError:
                        del known[prefix]
        return {lfn: known[parts] for lfn, parts in split.items() if parts in known}

    def _lfn_checked(self, session: Session, entry: EntryModel) -> str:
        """The LFN of ``entry``, checking search permission on each ancestor."""
        ancestors = []
        node = entry
        while node.parent_id is not None:
            node = _by_id(session, node.parent_id)
            ancestors.append(node)
        lfn = _lfn(session, entry)
        for directory in ancestors:
            self._require(session, directory, EXECUTE, lfn)
        return lfn

    def _insert(
        self,
        session: Session,
        parent: EntryModel,
        name: str,
        kind: EntryKind,
        mode: int,
        **fields: object,
    ) -> EntryModel:
        """Add a child to ``parent`` in one INSERT; ``fields`` are further column values."""
        now = time.time_ns()
        default_acl = [e for e in _acl(session, parent) if e.default]
        mode, acl = (
            inherit(default_acl, mode & 0o7777, is_directory=kind == EntryKind.DIRECTORY)
            if kind != EntryKind.SYMLINK
            else (mode, [])
        )
        group = self.identity.group
        if parent.mode & _stat.S_ISGID:
            group = parent.group_name  # BSD group semantics of setgid directories
            if kind == EntryKind.DIRECTORY:
                mode |= _stat.S_ISGID
        entry = EntryModel(
            parent_id=parent.id,
            name=name,
            kind=kind.value,
            mode=mode & 0o7777,
            owner=self.identity.user,
            group_name=group,
            atime_ns=now,
            mtime_ns=now,
            ctime_ns=now,
            has_acl=False,
            **{"size": 0, **fields},
        )
        session.add(entry)
        _touch(parent, now)
        session.flush()
        if acl:
            _store_acl(session, entry, acl)
        return entry


# -- helpers that take the session -------------------------------------------


def _by_id(session: Session, entry_id: int) -> EntryModel:
    entry = session.get(EntryModel, entry_id)
    if entry is None:
        raise NotFound(f"no catalog entry has id {entry_id}", str(entry_id))
    return entry


def _by_guid(session: Session, guid: str) -> EntryModel:
    entry = session.scalar(select(EntryModel).where(EntryModel.guid == parse_guid(guid)))
    if entry is None:
        raise NotFound(f"no file has GUID {guid}", guid)
    return entry


def _child_or_none(session: Session, parent: EntryModel, name: str) -> EntryModel | None:
    return session.scalar(
        select(EntryModel).where(EntryModel.parent_id == parent.id, EntryModel.name == name)
    )


def _lfn(session: Session, entry: EntryModel) -> str:
    parts: list[str] = []
    while entry.parent_id is not None:
        parts.append(entry.name)
        if len(parts) > _MAX_DEPTH:
            raise GridError(f"catalog corrupt: entry {entry.id} is in a directory loop")
        entry = _by_id(session, entry.parent_id)
    return join_lfn(parts[::-1])


def _name_of(session: Session, entry: EntryModel, lfn_or_id: str | EntryId) -> str:
    """The LFN to name ``entry`` by in messages, when it was asked for by id."""
    return lfn_or_id if isinstance(lfn_or_id, str) else _lfn(session, entry)


def _is_within(session: Session, node: EntryModel, ancestor: EntryModel) -> bool:
    """True if ``node`` is ``ancestor`` or lies below it."""
    for _ in range(_MAX_DEPTH):
        if node.id == ancestor.id:
            return True
        if node.parent_id is None:
            return False
        node = _by_id(session, node.parent_id)
    raise GridError(f"catalog corrupt: entry {node.id} is in a directory loop")


def _replace(session: Session, entry: EntryModel, existing: EntryModel, lfn: str) -> list[Replica]:
    """Delete ``existing`` so that ``entry`` can take its name, as rename(2) allows."""
    moving_dir = entry.kind == EntryKind.DIRECTORY
    if existing.kind == EntryKind.DIRECTORY:
        if not moving_dir:
            raise IsADirectory(f"is a directory: {lfn}", lfn)
        if session.scalar(select(exists().where(EntryModel.parent_id == existing.id))):
            raise DirectoryNotEmpty(f"directory not empty: {lfn}", lfn)
    elif moving_dir:
        raise NotADirectory(f"not a directory: {lfn}", lfn)
    replaced = _replicas(session, existing) if existing.kind == EntryKind.FILE else []
    session.delete(existing)
    return replaced


def _retarget_aliases(session: Session, old: str, new: str) -> None:
    """Keep aliases pointing at what moved: aliases of ``old`` or below it follow to ``new``.

    Exact, case-sensitive prefix matching (LIKE is neither on SQLite), over the
    partial index of links only, so a rename never scans the files. Plain
    links keep their target, as POSIX links do.
    """
    target = EntryModel.target
    prefix = old.rstrip("/") + "/"
    session.execute(
        EntryModel.__table__.update()
        .where(
            EntryModel.kind == EntryKind.SYMLINK.value,
            EntryModel.status == FileStatus.ALIAS.value,
            or_(target == old, func.substr(target, 1, len(prefix)) == prefix),
        )
        .values(target=literal(new) + func.substr(target, len(old) + 1))
        .execution_options(synchronize_session=False)
    )


def _drop_aliases(session: Session, lfn: str) -> None:
    """Remove the aliases of the file at ``lfn``, which is going away."""
    session.execute(
        delete(EntryModel)
        .where(
            EntryModel.kind == EntryKind.SYMLINK.value,
            EntryModel.status == FileStatus.ALIAS.value,
            EntryModel.target == lfn,
        )
        .execution_options(synchronize_session=False)
    )


def _touch(directory: EntryModel, now: int | None = None) -> None:
    directory.mtime_ns = directory.ctime_ns = now or time.time_ns()


def _acl(session: Session, entry: EntryModel) -> list[AclEntry]:
    if not entry.has_acl:
        return []
    return _acls_of(session, [entry]).get(entry.id, [])


def _acls_of(session: Session, entries: Sequence[EntryModel]) -> dict[int, list[AclEntry]]:
    result: dict[int, list[AclEntry]] = defaultdict(list)
    ids = [entry.id for entry in entries]
    for start in range(0, len(ids), _BULK_CHUNK):
        rows = session.scalars(
            select(AclModel).where(AclModel.entry_id.in_(ids[start : start + _BULK_CHUNK]))
        )
        for row in rows:
            result[row.entry_id].append(
                AclEntry(row.is_default, AclTag(row.tag), row.qualifier, row.perms)
            )
    return result


def _store_acl(session: Session, entry: EntryModel, entries: Sequence[AclEntry]) -> None:
    session.execute(delete(AclModel).where(AclModel.entry_id == entry.id))
    for acl_entry in entries:
        session.add(
            AclModel(
                entry_id=entry.id,
                is_default=acl_entry.default,
                tag=acl_entry.tag.value,
                qualifier=acl_entry.qualifier,
                perms=acl_entry.perms,
            )
        )
    entry.has_acl = bool(entries)
    session.flush()


def _replicas(session: Session, entry: EntryModel) -> list[Replica]:
    rows = session.scalars(
        select(ReplicaModel).where(ReplicaModel.entry_id == entry.id).order_by(ReplicaModel.id)
    )
    return [_to_replica(row, entry.guid or "") for row in rows]


def _require_file(entry: EntryModel, lfn: str) -> None:
    if entry.kind == EntryKind.DIRECTORY:
        raise IsADirectory(f"is a directory: {lfn}", lfn)
    if entry.kind != EntryKind.FILE:
        raise InvalidArgument(f"not a file: {lfn}", lfn)


_CHECKSUM_LENGTHS = {"adler32": 8, "md5": 32}


def _check_checksum(checksum_type: str, checksum: str | None, lfn: str) -> None:
    if checksum is None:
        return
    length = _CHECKSUM_LENGTHS.get(checksum_type)
    if length is None:
        raise InvalidArgument(f"unknown checksum type {checksum_type!r} (adler32 or md5)", lfn)
    if len(checksum) != length or any(c not in "0123456789abcdef" for c in checksum):
        raise InvalidArgument(
            f"invalid {checksum_type} checksum {checksum!r}: {length} lowercase hex digits", lfn
        )


def _new_replica(
    entry_id: int,
    se: str,
    surl: str,
    status: ReplicaStatus = ReplicaStatus.AVAILABLE,
    *,
    pin_expiry_ns: int | None = None,
    space_token: str | None = None,
) -> ReplicaModel:
    now = time.time_ns()
    return ReplicaModel(
        entry_id=entry_id,
        se=se,
        surl=surl,
        status=status.value,
        ctime_ns=now,
        atime_ns=now,
        pin_expiry_ns=pin_expiry_ns,
        space_token=space_token,
    )


def _to_stat(entry: EntryModel) -> Stat:
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
        has_acl=entry.has_acl,
    )


def _to_replica(row: ReplicaModel, guid: str) -> Replica:
    return Replica(
        entry_id=EntryId(row.entry_id),
        guid=guid,
        se=row.se,
        surl=row.surl,
        status=ReplicaStatus(row.status),
        ctime_ns=row.ctime_ns,
        atime_ns=row.atime_ns,
        pin_expiry_ns=row.pin_expiry_ns,
        space_token=row.space_token,
    )
