"""The file and replica catalog: the LFN namespace, GUIDs and replicas."""

from __future__ import annotations

import contextlib
import posixpath
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridfs.catalog.engine import database_errors, open_catalog_engine
from gridfs.catalog.guids import new_guid, parse_guid
from gridfs.catalog.identity import Identity
from gridfs.catalog.lfn import join_lfn, split_lfn
from gridfs.catalog.models import EntryModel, ReplicaModel
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
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    SymlinkLoop,
)

__all__ = ["ROOT_ID", "Catalog"]

ROOT_ID = EntryId(1)  # created by the first migration
_MAX_SYMLINK_HOPS = 40  # Linux's limit


class Catalog:
    """An LFC-style file catalog over an injected SQLAlchemy engine.

    Thread-safe: each public method runs in its own short transaction. Every
    call runs as ``identity``, which owns what it creates.
    """

    def __init__(self, engine: Engine, identity: Identity, *, page_size: int = 1000) -> None:
        self._engine = engine
        self.identity = identity
        self._page_size = page_size

    @classmethod
    def from_url(
        cls, url: str, identity: Identity | None = None, *, page_size: int = 1000
    ) -> Catalog:
        """Open (creating or upgrading the schema as needed) the catalog at ``url``."""
        engine = open_catalog_engine(url)
        return cls(engine, identity or Identity.local(), page_size=page_size)

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        with database_errors(self._engine), self._engine.connect() as connection:
            if write:
                connection.execution_options(gridfs_write=True)
            with Session(bind=connection) as session, session.begin():
                yield session

    # -- lookups -----------------------------------------------------------

    def stat(self, lfn: str, *, follow_symlinks: bool = True) -> Stat:
        """The entry at ``lfn``; with ``follow_symlinks=False``, a link itself."""
        with self._session() as session:
            return _to_stat(_resolve(session, lfn, follow_last=follow_symlinks))

    def stat_id(self, entry_id: EntryId) -> Stat:
        """The entry with id ``entry_id``."""
        with self._session() as session:
            return _to_stat(_by_id(session, entry_id))

    def lookup(self, parent_id: EntryId, name: str) -> Stat:
        """The child ``name`` of directory ``parent_id`` (not following links)."""
        with self._session() as session:
            parent = _by_id(session, parent_id)
            return _to_stat(_child(session, parent, name, name))

    def stat_guid(self, guid: str) -> Stat:
        """The file whose GUID is ``guid``."""
        with self._session() as session:
            entry = session.scalar(select(EntryModel).where(EntryModel.guid == guid))
            if entry is None:
                raise NotFound(f"no file has GUID {guid}", guid)
            return _to_stat(entry)

    def lfn_of(self, entry_id: EntryId) -> str:
        """The LFN of an entry, found by walking up to the root."""
        parts: list[str] = []
        with self._session() as session:
            entry = _by_id(session, entry_id)
            while entry.parent_id is not None:
                parts.append(entry.name)
                entry = _by_id(session, EntryId(entry.parent_id))
        return join_lfn(parts[::-1])

    def readlink(self, lfn_or_id: str | EntryId) -> str:
        """The target of a symbolic link."""
        with self._session() as session:
            entry = (
                _by_id(session, lfn_or_id)
                if isinstance(lfn_or_id, int)
                else _resolve(session, lfn_or_id, follow_last=False)
            )
            if entry.kind != EntryKind.SYMLINK or entry.target is None:
                raise InvalidArgument(f"not a symbolic link: {lfn_or_id}", str(lfn_or_id))
            return entry.target

    def iterdir(self, directory: str | EntryId, *, after: int = 0) -> Iterator[Stat]:
        """The entries of a directory, in id order, starting after id ``after``.

        The id of the last entry seen is a stable resume key: entries added or
        removed meanwhile never make a listing repeat or skip another entry.
        Rows are fetched a page at a time, each page in its own transaction,
        so memory stays bounded and no transaction is held between pages.
        """
        with self._session() as session:
            entry = (
                _by_id(session, directory)
                if isinstance(directory, int)
                else _resolve(session, directory, follow_last=True)
            )
            if entry.kind != EntryKind.DIRECTORY:
                raise NotADirectory(f"not a directory: {directory}", str(directory))
            directory_id = entry.id
        return self._pages(directory_id, after)

    def _pages(self, directory_id: int, after: int) -> Iterator[Stat]:
        while True:
            page = self.list_page(EntryId(directory_id), after=after, limit=self._page_size)
            yield from page
            if len(page) < self._page_size:
                return
            after = page[-1].id

    def list_page(self, directory_id: EntryId, *, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` entries of a directory with ids above ``after``, in id order."""
        with self._session() as session:
            rows = session.scalars(
                select(EntryModel)
                .where(EntryModel.parent_id == directory_id, EntryModel.id > after)
                .order_by(EntryModel.id)
                .limit(limit)
            ).all()
            return [_to_stat(row) for row in rows]

    def replicas(self, lfn_or_id: str | EntryId) -> list[Replica]:
        """The replicas of a file, oldest first."""
        with self._session() as session:
            entry = (
                _by_id(session, lfn_or_id)
                if isinstance(lfn_or_id, int)
                else _resolve(session, lfn_or_id, follow_last=True)
            )
            _require_file(entry, str(lfn_or_id))
            rows = session.scalars(
                select(ReplicaModel)
                .where(ReplicaModel.entry_id == entry.id)
                .order_by(ReplicaModel.id)
            ).all()
            assert entry.guid is not None
            return [_to_replica(row, entry.guid) for row in rows]

    # -- changes -----------------------------------------------------------

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
                if not exist_ok or attempt == 2:
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
                child = _child_or_none(session, parent, name)
                if child is None:
                    child = self._insert(session, parent, name, EntryKind.DIRECTORY, mode)
                elif child.kind == EntryKind.SYMLINK:
                    child = _resolve(session, join_lfn(parts[: index + 1]), follow_last=True)
                if child.kind != EntryKind.DIRECTORY:
                    raise NotADirectory(f"not a directory: {join_lfn(parts[: index + 1])}", lfn)
                parent = child
        else:
            parent = _resolve_parent(session, parts, lfn)
        existing = _child_or_none(session, parent, parts[-1])
        if existing is None:
            return self._insert(session, parent, parts[-1], EntryKind.DIRECTORY, mode)
        if exist_ok:
            with contextlib.suppress(NotFound):  # a dangling link is just "exists"
                target = _resolve(session, lfn, follow_last=True)
                if target.kind == EntryKind.DIRECTORY:
                    return target
        raise AlreadyExists(f"LFN exists: {lfn}", lfn)

    def symlink(self, target: str, lfn: str) -> Stat:
        """Create ``lfn`` as a symbolic link to ``target`` (an alias when absolute)."""
        if not target or "\0" in target:
            raise InvalidArgument(f"invalid symbolic link target {target!r}", lfn)
        parts = split_lfn(lfn)
        try:
            with self._session(write=True) as session:
                parent = _resolve_parent(session, parts, lfn)
                _require_free(session, parent, parts, lfn)
                entry = self._insert(
                    session, parent, parts[-1], EntryKind.SYMLINK, 0o777, target=target
                )
                entry.size = len(target.encode("utf-8"))
                return _to_stat(entry)
        except IntegrityError as exc:
            raise AlreadyExists(f"LFN exists: {lfn}", lfn) from exc

    def add_file(
        self,
        lfn: str,
        *,
        size: int,
        checksum: str,
        checksum_type: str = "adler32",
        replicas: Sequence[tuple[str, str]] = (),
        guid: str | None = None,
        mode: int = 0o664,
    ) -> Stat:
        """Register file ``lfn`` and its ``(se, surl)`` replicas in one transaction.

        A new GUID is made unless ``guid`` is given. Raises :class:`AlreadyExists`
        if the LFN, the GUID or one of the SURLs is registered already.
        """
        if size < 0:
            raise InvalidArgument(f"negative size for {lfn}", lfn)
        parts = split_lfn(lfn)
        guid = parse_guid(guid) if guid is not None else new_guid()
        try:
            with self._session(write=True) as session:
                parent = _resolve_parent(session, parts, lfn)
                _require_free(session, parent, parts, lfn)
                entry = self._insert(session, parent, parts[-1], EntryKind.FILE, mode)
                entry.guid = guid
                entry.size = size
                entry.checksum_type = checksum_type
                entry.checksum = checksum
                entry.status = FileStatus.READY.value
                for se, surl in replicas:
                    session.add(_new_replica(entry.id, se, surl))
                session.flush()
                return _to_stat(entry)
        except IntegrityError as exc:
            raise AlreadyExists(
                f"cannot register {lfn}: the LFN, its GUID or a replica SURL is registered already",
                lfn,
            ) from exc

    def add_replica(self, guid: str, se: str, surl: str) -> Replica:
        """Register one more replica of the file with GUID ``guid``."""
        try:
            with self._session(write=True) as session:
                entry = session.scalar(select(EntryModel).where(EntryModel.guid == guid))
                if entry is None:
                    raise NotFound(f"no file has GUID {guid}", guid)
                row = _new_replica(entry.id, se, surl)
                session.add(row)
                session.flush()
                return _to_replica(row, guid)
        except IntegrityError as exc:
            raise AlreadyExists(f"replica is registered already: {surl}", surl) from exc

    def _insert(
        self,
        session: Session,
        parent: EntryModel,
        name: str,
        kind: EntryKind,
        mode: int,
        *,
        target: str | None = None,
    ) -> EntryModel:
        now = time.time_ns()
        entry = EntryModel(
            parent_id=parent.id,
            name=name,
            kind=kind.value,
            mode=mode & 0o7777,
            owner=self.identity.user,
            group_name=self.identity.group,
            size=0,
            atime_ns=now,
            mtime_ns=now,
            ctime_ns=now,
            target=target,
        )
        session.add(entry)
        parent.mtime_ns = parent.ctime_ns = now
        session.flush()
        return entry


# -- helpers that take the session -------------------------------------------


def _by_id(session: Session, entry_id: int) -> EntryModel:
    entry = session.get(EntryModel, entry_id)
    if entry is None:
        raise NotFound(f"no catalog entry has id {entry_id}", str(entry_id))
    return entry


def _child_or_none(session: Session, parent: EntryModel, name: str) -> EntryModel | None:
    return session.scalar(
        select(EntryModel).where(EntryModel.parent_id == parent.id, EntryModel.name == name)
    )


def _child(session: Session, parent: EntryModel, name: str, lfn: str) -> EntryModel:
    if parent.kind != EntryKind.DIRECTORY:
        raise NotADirectory(f"not a directory: {lfn}", lfn)
    child = _child_or_none(session, parent, name)
    if child is None:
        raise NotFound(f"no such LFN: {lfn}", lfn)
    return child


def _resolve(session: Session, lfn: str, *, follow_last: bool) -> EntryModel:
    """Walk ``lfn`` from the root, following symbolic links on the way."""
    pending = list(split_lfn(lfn))
    walked: list[str] = []
    node = _by_id(session, ROOT_ID)
    hops = 0
    while pending:
        name = pending.pop(0)
        child = _child(session, node, name, lfn)
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


def _resolve_parent(session: Session, parts: tuple[str, ...], lfn: str) -> EntryModel:
    if not parts:
        raise AlreadyExists("the root directory exists", lfn)
    parent = _resolve(session, join_lfn(parts[:-1]), follow_last=True)
    if parent.kind != EntryKind.DIRECTORY:
        raise NotADirectory(f"not a directory: {join_lfn(parts[:-1])}", lfn)
    return parent


def _require_free(session: Session, parent: EntryModel, parts: tuple[str, ...], lfn: str) -> None:
    if _child_or_none(session, parent, parts[-1]) is not None:
        raise AlreadyExists(f"LFN exists: {lfn}", lfn)


def _require_file(entry: EntryModel, lfn: str) -> None:
    if entry.kind == EntryKind.DIRECTORY:
        raise IsADirectory(f"is a directory: {lfn}", lfn)
    if entry.kind != EntryKind.FILE:
        raise InvalidArgument(f"not a file: {lfn}", lfn)


def _new_replica(entry_id: int, se: str, surl: str) -> ReplicaModel:
    now = time.time_ns()
    return ReplicaModel(
        entry_id=entry_id,
        se=se,
        surl=surl,
        status=ReplicaStatus.AVAILABLE.value,
        ctime_ns=now,
        atime_ns=now,
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
    )
