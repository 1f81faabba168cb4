"""Replicas: where the copies of a file are, new versions, and replica status changes."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridfs.catalog import coreways
from gridfs.catalog.lfn import join_lfn, split_lfn
from gridfs.catalog.models import EntryModel, ReplicaModel
from gridfs.catalog.permissions import EXECUTE, READ, WRITE
from gridfs.catalog.records import EntryId, EntryKind, FileStatus, Replica, ReplicaStatus, Stat
from gridfs.catalog.store import BULK_CHUNK, ROOT_ID, CatalogStore, retry_on_conflict
from gridfs.errors import AlreadyExists, ChecksumMismatch, GridError, InvalidArgument, NotFound

__all__ = ["ReplicaCalls", "check_checksum", "new_replica", "replicas_of", "to_replica"]

log = logging.getLogger(__name__)

_CHECKSUM_LENGTHS = {"adler32": 8, "md5": 32}

# The bulk lookups of replicas_many in SQLAlchemy Core, built once: thousands of rows
# come back as plain rows, without the ORM's identity map and instrumented instances.
_ENTRIES = EntryModel.__table__
_REPLICAS = ReplicaModel.__table__
_NAMED_COLUMNS = ("id", "name", "kind", "mode", "owner", "group_name", "has_acl", "guid")
_NAMED_CHILDREN = select(*(_ENTRIES.c[name] for name in _NAMED_COLUMNS)).where(
    _ENTRIES.c.parent_id == bindparam("parent"),
    _ENTRIES.c.name.in_(bindparam("names", expanding=True)),
)
_REPLICAS_OF = (
    select(_REPLICAS)
    .where(_REPLICAS.c.entry_id.in_(bindparam("ids", expanding=True)))
    .order_by(_REPLICAS.c.id)
)
# On SQLite each list is one JSON parameter: rendering and binding thousands of
# parameters costs SQLAlchemy more than the query costs SQLite (bulk.py does the same).
_NAMED_CHILDREN_SQLITE = select(*(_ENTRIES.c[name] for name in _NAMED_COLUMNS)).where(
    _ENTRIES.c.parent_id == bindparam("parent"),
    _ENTRIES.c.name.in_(select(func.json_each(bindparam("names")).table_valued("value").c.value)),
)
_REPLICAS_OF_SQLITE = (
    select(_REPLICAS)
    .where(
        _REPLICAS.c.entry_id.in_(
            select(func.json_each(bindparam("ids")).table_valued("value").c.value)
        )
    )
    .order_by(_REPLICAS.c.id)
)
_STATUSES = {status.value: status for status in ReplicaStatus}  # a dict: 10x an Enum call


class ReplicaCalls:
    """The replica part of :class:`~gridfs.catalog.Catalog`: each call one transaction."""

    store: CatalogStore

    def replicas(self, lfn_or_id: str | EntryId) -> list[Replica]:
        """The replicas of a file, oldest first, stale ones included; needs read permission."""
        with self.store.session() as session:
            entry = self.store.entry(session, lfn_or_id, follow=True)
            name = self.store.name_of(session, entry, lfn_or_id)
            self.store.require_file(entry, name)
            self.store.require(session, entry, READ, name)
            return replicas_of(session, entry)

    def stat_replicas(self, lfn_or_id: str | EntryId) -> tuple[Stat, list[Replica]]:
        """The entry (links followed for an LFN), checked for reading, and its replicas.

        One transaction: what an open needs. The replicas are oldest first,
        stale ones included; an entry that is not a file has none. By id, the
        search permission of each ancestor is checked too, as for an LFN.
        """
        with self.store.session() as session:
            entry = self.store.entry(session, lfn_or_id, follow=True)
            name = self.store.name_of(session, entry, lfn_or_id)
            if not isinstance(lfn_or_id, str):
                self.store.require_reachable(session, entry, name)
            self.store.require(session, entry, READ, name)
            found = replicas_of(session, entry) if entry.kind == EntryKind.FILE else []
            return self.store.to_stat(entry), found

    def replicas_to_replace(self, entry_id: EntryId) -> list[Replica]:
        """The replicas of file ``entry_id`` as its writer sees them: needs write permission.

        A writer that may not read still learns where the file's new version goes.
        """
        with self.store.session() as session:
            entry = self.store.by_id(session, entry_id)
            name = self.store.name_of(session, entry, entry_id)
            self.store.require_file(entry, name)
            self.store.require(session, entry, WRITE, name)
            return replicas_of(session, entry)

    def replicas_many(self, lfns: Sequence[str]) -> dict[str, list[Replica]]:
        """The replicas of many files at once: a few queries, whatever their number.

        Directories are resolved a level at a time (one query per directory
        on the way, for all LFNs in it together), then the replicas in bulk. LFNs that
        do not exist, or that the identity may not read, are left out of the
        result; links on the way are followed one by one.
        """
        result: dict[str, list[Replica]] = {}
        with self.store.session() as session:
            entries = self._resolve_many(session, lfns)
            files = [e for e in entries.items() if e[1].kind == EntryKind.FILE]
            allowed = self.store.allowed(session, [entry for _, entry in files], READ)
            readable = {lfn: entry for (lfn, entry), ok in zip(files, allowed, strict=True) if ok}
            by_entry: dict[int, list[Replica]] = defaultdict(list)
            ids = sorted({entry.id for entry in readable.values()})
            guids = {entry.id: entry.guid or "" for entry in readable.values()}
            for start in range(0, len(ids), BULK_CHUNK):
                chunk = ids[start : start + BULK_CHUNK]
                rows = session.execute(
                    *self._listed(_REPLICAS_OF, _REPLICAS_OF_SQLITE, "ids", chunk)
                )
                for row in rows:
                    by_entry[row.entry_id].append(to_replica(row, guids[row.entry_id]))
            for lfn, entry in readable.items():
                result[lfn] = by_entry.get(entry.id, [])
        return result

    def _listed(
        self, statement: Any, on_sqlite: Any, name: str, values: Sequence[object]
    ) -> tuple[Any, dict[str, object]]:
        """The statement for this database, and its list parameter ``name`` bound to ``values``."""
        if self.store.sqlite:
            return on_sqlite, {name: json.dumps(list(values))}
        return statement, {name: list(values)}

    def _resolve_many(self, session: Session, lfns: Sequence[str]) -> dict[str, Any]:
        """Entries of many LFNs, a directory level at a time; missing or denied ones left out.

        The directories on the way are resolved first (there are few), then the
        LFNs themselves, each as one more level below its directory. The entries
        are rows with the columns that permissions and replicas need.
        """
        known: dict[tuple[str, ...], Any] = {(): self.store.by_id(session, ROOT_ID)}
        split = {lfn: split_lfn(lfn) for lfn in lfns}
        directories = {parts[:-1] for parts in split.values() if parts}
        for level in range(1, max(map(len, directories), default=0) + 1):
            self._resolve_level(session, known, directories, level)
        by_depth: dict[int, list[tuple[str, ...]]] = defaultdict(list)
        for parts in split.values():
            by_depth[len(parts)].append(parts)
        for depth, paths in by_depth.items():
            if depth:
                self._resolve_level(session, known, paths, depth)
        return {lfn: known[parts] for lfn, parts in split.items() if parts in known}

    def _resolve_level(
        self,
        session: Session,
        known: dict[tuple[str, ...], Any],
        paths: Iterable[tuple[str, ...]],
        level: int,
    ) -> None:
        """Add to ``known`` the entries of the ``level``-name prefixes of ``paths``.

        Their parents must be in ``known`` already; a prefix that is missing, or
        whose parent the identity may not search, stays out.
        """
        wanted: dict[tuple[int, str], list[tuple[str, ...]]] = defaultdict(list)
        for parts in paths:
            if len(parts) < level:
                continue
            prefix = parts[:level]
            parent = known.get(prefix[:-1])
            if prefix not in known and parent is not None and parent.kind == EntryKind.DIRECTORY:
                wanted[(parent.id, prefix[-1])].append(prefix)
        parents = list(
            {
                known[prefix[:-1]].id: known[prefix[:-1]]
                for prefixes in wanted.values()
                for prefix in prefixes
            }.values()
        )
        allowed = self.store.allowed(session, parents, EXECUTE)
        searchable = {p.id for p, ok in zip(parents, allowed, strict=True) if ok}
        by_parent: dict[int, list[str]] = defaultdict(list)
        for parent_id, name in wanted:
            if parent_id in searchable:
                by_parent[parent_id].append(name)
        # One query per directory: (parent_id, name) row-value lists defeat
        # SQLite's index, "parent_id = ? AND name IN (...)" does not.
        links = []
        for parent_id, names in by_parent.items():
            for start in range(0, len(names), BULK_CHUNK):
                chunk = names[start : start + BULK_CHUNK]
                statement, values = self._listed(
                    _NAMED_CHILDREN, _NAMED_CHILDREN_SQLITE, "names", chunk
                )
                rows = session.execute(statement, {"parent": parent_id, **values})
                for row in rows:
                    for prefix in wanted[(parent_id, row.name)]:
                        known[prefix] = row
                        if row.kind == EntryKind.SYMLINK:
                            links.append(prefix)
        for prefix in links:  # rare: a link on the way, resolved on its own
            try:
                known[prefix] = self.store.resolve(session, join_lfn(prefix))
            except GridError:
                del known[prefix]

    def surls_of(self, guid: str) -> list[str]:
        """The SURLs of the replicas of a GUID."""
        with self.store.session() as session:
            entry = self.store.by_guid(session, guid)
            self.store.lfn_checked(session, entry)
            self.store.require(session, entry, READ, guid)
            return [replica.surl for replica in replicas_of(session, entry)]

    def space_used(self, se: str, space_token: str) -> int:
        """Bytes that the replicas in ``space_token`` of SE ``se`` occupy (an SE's accounting)."""
        with self.store.session() as session:
            used = session.scalar(
                select(func.coalesce(func.sum(EntryModel.size), 0))
                .select_from(ReplicaModel)
                .join(EntryModel, EntryModel.id == ReplicaModel.entry_id)
                .where(ReplicaModel.se == se, ReplicaModel.space_token == space_token)
            )
            return int(used or 0)

    def replicas_for_removal(self, lfn: str) -> list[Replica]:
        """The replicas of file ``lfn``, if the identity may remove it (else the error).

        Removal needs write and search permission on the directory (and the
        sticky-bit rule), not on the file, as unlink(2).
        """
        with self.store.session() as session:
            entry = self._removable_file(session, lfn)
            return replicas_of(session, entry)

    @retry_on_conflict
    def drop_replicas(self, lfn: str, surls: Sequence[str]) -> None:
        """Unregister replicas of file ``lfn`` whose copies are gone, under removal permission."""
        with self.store.session(write=True) as session:
            entry = self._removable_file(session, lfn)
            session.execute(
                delete(ReplicaModel).where(
                    ReplicaModel.entry_id == entry.id, ReplicaModel.surl.in_(list(surls))
                )
            )

    def _removable_file(self, session: Session, lfn: str) -> EntryModel:
        """The file ``lfn`` (not following it), checked as :meth:`unlink` checks."""
        _, entry = self.store.removable(session, lfn)
        self.store.require_file(entry, lfn)
        return entry

    @retry_on_conflict
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
        Needs write permission on the file, but for a new file's first version
        stored by its owner (a file created read-only is written once).
        """
        if size < 0:
            raise InvalidArgument(f"negative size for entry {entry_id}", str(entry_id))
        check_checksum(checksum_type, checksum, surl)
        version = coreways.Version(size, checksum, checksum_type, se, surl, space_token)
        try:
            if not self.store.in_transaction():
                with coreways.write_connection(self.store) as connection:
                    fast = coreways.commit_version(self.store, connection, entry_id, version)
                if not isinstance(fast, coreways.Fallback):
                    return fast
            with self.store.session(write=True) as session:
                entry = self.store.by_id(session, entry_id)
                lfn = self.store.lfn_checked(session, entry)
                self.store.require_file(entry, lfn)
                # Its creator stores a new file's first version whatever mode it was
                # made with: open(O_CREAT) grants writing through that descriptor.
                creating = entry.status == FileStatus.WRITING.value
                if not (creating and entry.owner == self.store.identity.user):
                    self.store.require(session, entry, WRITE, lfn)
                stale = []
                for row in session.scalars(
                    select(ReplicaModel).where(ReplicaModel.entry_id == entry.id)
                ):
                    row.status = ReplicaStatus.STALE.value
                    stale.append(to_replica(row, entry.guid or ""))
                session.add(new_replica(entry.id, se, surl, space_token=space_token))
                entry.size = size
                entry.checksum_type, entry.checksum = checksum_type, checksum
                entry.status = FileStatus.READY.value
                entry.mtime_ns = entry.ctime_ns = time.time_ns()
                session.flush()
                return self.store.to_stat(entry), stale
        except IntegrityError as exc:
            raise AlreadyExists(f"replica is registered already: {surl}", surl) from exc

    @retry_on_conflict
    def add_replica(
        self,
        guid: str,
        se: str,
        surl: str,
        status: ReplicaStatus = ReplicaStatus.AVAILABLE,
        *,
        pin_expiry_ns: int | None = None,
        space_token: str | None = None,
        checksum: str | None = None,
    ) -> Replica:
        """Register one more replica of the file with GUID ``guid``; needs write permission.

        With ``checksum``, only if the file still has that checksum: a copy of
        an older version must not join the replicas of a newer one
        (:class:`ChecksumMismatch` otherwise).
        """
        try:
            with self.store.session(write=True) as session:
                entry = self.store.by_guid(session, guid)
                lfn = self.store.lfn_checked(session, entry)
                self.store.require(session, entry, WRITE, lfn)
                if checksum is not None and entry.checksum != checksum:
                    raise ChecksumMismatch(
                        f"{lfn} changed while it was copied: the copy {surl} holds an older "
                        "version",
                        lfn,
                    )
                row = new_replica(
                    entry.id, se, surl, status, pin_expiry_ns=pin_expiry_ns, space_token=space_token
                )
                session.add(row)
                session.flush()
                return to_replica(row, guid)
        except IntegrityError as exc:
            raise AlreadyExists(f"replica is registered already: {surl}", surl) from exc

    @retry_on_conflict
    def remove_replica(self, guid: str, surl: str) -> Replica:
        """Unregister one replica of a GUID (the stored copy stays: the caller's to delete)."""
        with self.store.session(write=True) as session:
            entry = self.store.by_guid(session, guid)
            lfn = self.store.lfn_checked(session, entry)
            self.store.require(session, entry, WRITE, lfn)
            row = self._replica_of(session, entry, surl, lfn)
            replica = to_replica(row, guid)
            session.delete(row)
            return replica

    @retry_on_conflict
    def set_replica_status(
        self, surl: str, status: ReplicaStatus, *, pin_expiry_ns: int | None = None
    ) -> Replica:
        """Change a replica's status (and pin expiry); needs write permission on its file."""
        with self.store.session(write=True) as session:
            row, guid = self._writable_replica(session, surl)
            row.status = status.value
            row.pin_expiry_ns = pin_expiry_ns
            return to_replica(row, guid)

    @retry_on_conflict
    def mark_replica_bad(self, entry_id: EntryId, surl: str, reason: str) -> Replica:
        """Mark replica ``surl`` of file ``entry_id`` BAD: a read found its bytes wrong.

        Readers are no longer sent to it; its stored copy stays until it is
        deleted. Needs read permission only: whoever reads a file may report a
        corrupt copy (``reason`` says what was found, for the log). Only an
        AVAILABLE replica changes: a stale, bad or departing one is returned
        as it is.
        """
        with self.store.session(write=True) as session:
            entry = self.store.by_id(session, entry_id)
            lfn = self.store.lfn_checked(session, entry)
            self.store.require_file(entry, lfn)
            self.store.require(session, entry, READ, lfn)
            row = self._replica_of(session, entry, surl, lfn)
            if row.status == ReplicaStatus.AVAILABLE.value:
                row.status = ReplicaStatus.BAD.value
                log.info(
                    "replica %s of %s marked bad by %s: %s",
                    surl,
                    lfn,
                    self.store.identity.user,
                    reason,
                )
            return to_replica(row, entry.guid or "")

    @retry_on_conflict
    def begin_replica_deletion(self, surl: str) -> Replica:
        """Mark replica ``surl`` UNAVAILABLE while its copy is deleted; returns it as it was.

        Readers are no longer sent to it. Needs write permission on its file.
        Hand the result to :meth:`undo_replica_deletion` if the deletion fails.
        """
        with self.store.session(write=True) as session:
            row, guid = self._writable_replica(session, surl)
            before = to_replica(row, guid)
            row.status = ReplicaStatus.UNAVAILABLE.value
            row.pin_expiry_ns = None
            return before

    @retry_on_conflict
    def undo_replica_deletion(self, replica: Replica) -> None:
        """Put back the status and pin expiry of ``replica`` after a failed deletion.

        Only while it is still UNAVAILABLE: a replica a new version has made
        STALE meanwhile stays so (:class:`InvalidArgument`, no change).
        """
        with self.store.session(write=True) as session:
            row, _ = self._writable_replica(session, replica.surl)
            if row.status != ReplicaStatus.UNAVAILABLE.value:
                raise InvalidArgument(
                    f"replica {replica.surl} is {row.status}, not "
                    f"{ReplicaStatus.UNAVAILABLE.value}: left as it is",
                    replica.surl,
                )
            row.status = replica.status.value
            row.pin_expiry_ns = replica.pin_expiry_ns

    @staticmethod
    def _replica_of(session: Session, entry: EntryModel, surl: str, lfn: str) -> ReplicaModel:
        """The row of replica ``surl`` of file ``entry`` (at ``lfn``); NotFound if none."""
        row = session.scalar(
            select(ReplicaModel).where(ReplicaModel.entry_id == entry.id, ReplicaModel.surl == surl)
        )
        if row is None:
            raise NotFound(f"{lfn} has no replica {surl}", surl)
        return row

    def _writable_replica(self, session: Session, surl: str) -> tuple[ReplicaModel, str]:
        """The replica row of ``surl`` and its file's GUID, checked for write permission."""
        row = session.scalar(select(ReplicaModel).where(ReplicaModel.surl == surl))
        if row is None:
            raise NotFound(f"no replica {surl}", surl)
        entry = self.store.by_id(session, row.entry_id)
        lfn = self.store.lfn_checked(session, entry)
        self.store.require(session, entry, WRITE, lfn)
        return row, entry.guid or ""


def replicas_of(session: Session, entry: EntryModel) -> list[Replica]:
    """The replicas of file ``entry``, oldest first."""
    rows = session.scalars(
        select(ReplicaModel).where(ReplicaModel.entry_id == entry.id).order_by(ReplicaModel.id)
    )
    return [to_replica(row, entry.guid or "") for row in rows]


def check_checksum(checksum_type: str, checksum: str | None, lfn: str) -> None:
    """Raise :class:`InvalidArgument` unless ``checksum`` is a valid ``checksum_type`` digest."""
    if checksum is None:
        return
    length = _CHECKSUM_LENGTHS.get(checksum_type)
    if length is None:
        raise InvalidArgument(f"unknown checksum type {checksum_type!r} (adler32 or md5)", lfn)
    if len(checksum) != length or any(c not in "0123456789abcdef" for c in checksum):
        raise InvalidArgument(
            f"invalid {checksum_type} checksum {checksum!r}: {length} lowercase hex digits", lfn
        )


def new_replica(
    entry_id: int,
    se: str,
    surl: str,
    status: ReplicaStatus = ReplicaStatus.AVAILABLE,
    *,
    pin_expiry_ns: int | None = None,
    space_token: str | None = None,
) -> ReplicaModel:
    """A new replica row of entry ``entry_id``, made now."""
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


def to_replica(row: Any, guid: str) -> Replica:
    """The :class:`Replica` of a replica (a model, or a row with its columns) of file ``guid``."""
    return Replica(  # positional: thousands of them for a bulk lookup
        EntryId(row.entry_id),
        guid,
        row.se,
        row.surl,
        _STATUSES[row.status],
        row.ctime_ns,
        row.atime_ns,
        row.pin_expiry_ns,
        row.space_token,
    )
