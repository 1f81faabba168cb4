"""Registering many files at once: one transaction, a few queries per directory, rows in batches.

``add_file`` costs a transaction, a path walk and an ORM flush per file
(3.5 ms on SQLite). :meth:`BulkCalls.add_files` checks the files given
against the catalog with one query per directory and per few thousand
SURLs or GUIDs, then inserts the new entries and replicas as multi-row
INSERTs (on SQLite, by the driver's ``executemany`` with the ids, GUIDs
and every column's value given). A file that cannot be registered is
refused with its reason while the others are registered; one already
registered with the same size and checksum counts as present (its missing
replicas added), so that running the same registration again changes
nothing.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, column, func, insert, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridfs.catalog.acls import store_acl
from gridfs.catalog.guids import new_guids, parse_guid
from gridfs.catalog.lfn import join_lfn, split_lfn
from gridfs.catalog.models import EntryModel, ReplicaModel
from gridfs.catalog.namespace import new_entry_attributes
from gridfs.catalog.permissions import EXECUTE, WRITE
from gridfs.catalog.records import (
    EntryKind,
    FileStatus,
    NewFile,
    Registration,
    ReplicaStatus,
)
from gridfs.catalog.replicas import check_checksum
from gridfs.catalog.store import BULK_CHUNK, CatalogStore, retry_on_conflict
from gridfs.errors import AlreadyExists, GridError, InvalidArgument, NotADirectory

__all__ = ["BulkCalls"]

_ENTRIES = cast(Table, EntryModel.__table__)
_REPLICAS = cast(Table, ReplicaModel.__table__)
_SQLITE_SEQUENCE = table("sqlite_sequence", column("name"), column("seq"))


@dataclass
class _Pending:
    """A file given, checked on its own, waiting for the catalog's word."""

    index: int
    lfn: str
    parts: tuple[str, ...]
    file: NewFile
    guid: str | None


@dataclass
class _Batch:
    """What is to be inserted, and what was found or refused on the way."""

    now: int
    registered: dict[str, int] = field(default_factory=dict)  # SURL -> its entry's id
    taken_guids: set[str] = field(default_factory=set)
    entries: list[dict[str, Any]] = field(default_factory=list)
    owners: list[_Pending] = field(default_factory=list)  # the file of each entry row
    replicas: list[dict[str, Any]] = field(default_factory=list)  # of existing entries
    acls: dict[int, list[Any]] = field(default_factory=dict)  # entry row index -> ACL
    present: int = 0
    refused: dict[int, str] = field(default_factory=dict)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), BULK_CHUNK):
        yield values[start : start + BULK_CHUNK]


class BulkCalls:
    """The bulk part of :class:`~gridfs.catalog.Catalog`."""

    store: CatalogStore

    @retry_on_conflict
    def add_files(
        self, files: Sequence[NewFile], *, space_token: str | None = None
    ) -> Registration:
        """Register ``files`` and their replicas in one transaction.

        Each file needs what :meth:`add_file` needs (its directory exists and
        is writable and searchable; its LFN, GUID and SURLs are nobody's); one
        that has not is refused, with its reason, and the rest are registered.
        A file registered already with the same size and checksum is present,
        not refused: those of its SURLs not registered yet are added to it
        (as :meth:`add_replica` would: it needs write permission on the file). The
        replicas occupy ``space_token`` of their SE, if given. Files are
        registered READY.
        """
        batch = _Batch(now=time.time_ns())
        by_directory: dict[tuple[str, ...], list[_Pending]] = defaultdict(list)
        seen_lfns: set[str] = set()
        surls: dict[str, int] = {}  # surl -> index of the file giving it
        guids: dict[str, int] = {}
        for index, file in enumerate(files):
            try:
                pending = _checked(index, file)
                if pending.lfn in seen_lfns:
                    raise InvalidArgument(f"{pending.lfn} is given twice", pending.lfn)
                for _, surl in file.replicas:
                    if surl in surls:
                        raise InvalidArgument(f"{surl} is given twice", surl)
                if pending.guid is not None and pending.guid in guids:
                    raise InvalidArgument(f"GUID {pending.guid} is given twice", pending.guid)
            except GridError as exc:
                batch.refused[index] = str(exc)
                continue
            seen_lfns.add(pending.lfn)
            surls.update((surl, index) for _, surl in file.replicas)
            if pending.guid is not None:
                guids[pending.guid] = index
            by_directory[pending.parts[:-1]].append(pending)
        try:
            with self.store.session(write=True) as session:
                batch.registered = _registered_surls(session, list(surls))
                batch.taken_guids = _taken_guids(session, list(guids))
                for directory, waiting in by_directory.items():
                    self._directory(session, directory, waiting, batch)
                _insert(session, batch, space_token)
        except IntegrityError as exc:
            raise AlreadyExists(
                "cannot register the files: an LFN, a GUID or a replica SURL was registered "
                "meanwhile",
                files[0].lfn if files else "/",
            ) from exc
        return Registration(
            added=len(batch.entries),
            present=batch.present,
            refused=tuple(sorted(batch.refused.items())),
        )

    def _directory(
        self,
        session: Session,
        directory: tuple[str, ...],
        pending: list[_Pending],
        batch: _Batch,
    ) -> None:
        """Check the files of one directory against it; queue those to insert."""
        where = join_lfn(directory)
        try:
            parent = self.store.resolve(session, where)
            if parent.kind != EntryKind.DIRECTORY:
                raise NotADirectory(f"not a directory: {where}", where)
            self.store.require(session, parent, WRITE | EXECUTE, where)
        except GridError as exc:
            batch.refused.update((p.index, f"{p.lfn}: {exc}") for p in pending)
            return
        existing = _children(session, parent.id, [p.parts[-1] for p in pending])
        acls = self.store.acls_of(session, [row for row in existing.values() if row.has_acl])
        mode_of: dict[int, tuple[int, str, list[Any]]] = {}
        before = len(batch.entries)
        for item in pending:
            file = item.file
            found = existing.get(item.parts[-1])
            theirs = {surl: batch.registered.get(surl) for _, surl in file.replicas}
            if found is not None:
                reason = _differs(found, file)
                if reason is None and any(e not in (None, found.id) for e in theirs.values()):
                    reason = "a SURL given is another file's replica"
                if reason is not None:
                    batch.refused[item.index] = f"{item.lfn} exists: {reason}"
                    continue
                new = [(se, surl) for se, surl in file.replicas if theirs[surl] is None]
                # A replica joins a file only with write permission on it, as add_replica checks.
                if new and not self.store.allows(found, acls.get(found.id, []), WRITE):
                    batch.refused[item.index] = f"{item.lfn}: permission denied: {item.lfn}"
                    continue
                batch.present += 1
                batch.replicas.extend(
                    _replica_row(found.id, se, surl, batch.now) for se, surl in new
                )
                continue
            if any(e is not None for e in theirs.values()):
                batch.refused[item.index] = f"{item.lfn}: a SURL given is another file's replica"
                continue
            if item.guid is not None and item.guid in batch.taken_guids:
                batch.refused[item.index] = f"{item.lfn}: GUID {item.guid} is taken"
                continue
            if file.mode not in mode_of:
                mode_of[file.mode] = new_entry_attributes(
                    self.store, session, parent, EntryKind.FILE, file.mode
                )
            mode, group, acl = mode_of[file.mode]
            if acl:
                batch.acls[len(batch.entries)] = acl
            batch.entries.append(
                {
                    "parent_id": parent.id,
                    "name": item.parts[-1],
                    "kind": EntryKind.FILE.value,
                    "mode": mode,
                    "owner": self.store.identity.user,
                    "group_name": group,
                    "size": file.size,
                    "atime_ns": batch.now,
                    "mtime_ns": batch.now,
                    "ctime_ns": batch.now,
                    "guid": item.guid,  # or a fresh one, all made at once by _insert
                    "checksum_type": file.checksum_type if file.checksum is not None else None,
                    "checksum": file.checksum,
                    "status": FileStatus.READY.value,
                    "has_acl": False,
                }
            )
            batch.owners.append(item)
        if len(batch.entries) > before:
            parent.mtime_ns = parent.ctime_ns = batch.now  # the directory changed


def _checked(index: int, file: NewFile) -> _Pending:
    """The file's own checks, before the catalog is asked: its LFN, size, checksum, GUID."""
    parts = split_lfn(file.lfn)
    if not parts:
        raise AlreadyExists("the root directory exists", file.lfn)
    lfn = join_lfn(parts)
    if file.size < 0:
        raise InvalidArgument(f"negative size for {lfn}", lfn)
    check_checksum(file.checksum_type, file.checksum, lfn)
    guid = parse_guid(file.guid) if file.guid is not None else None
    return _Pending(index, lfn, parts, file, guid)


def _differs(found: Any, file: NewFile) -> str | None:
    """Why the registered entry ``found`` is not the file given, or None if it is."""
    if found.kind != EntryKind.FILE.value:
        return "it is not a file"
    if found.status != FileStatus.READY.value:
        return "it is being written"
    if found.size != file.size:
        return f"size {found.size}, not {file.size}"
    given = (file.checksum_type if file.checksum is not None else None, file.checksum)
    if (found.checksum_type, found.checksum) != given:
        theirs = f"{found.checksum_type} {found.checksum}" if found.checksum else "no checksum"
        ours = f"{file.checksum_type} {file.checksum}" if file.checksum else "no checksum"
        return f"{theirs}, not {ours}"
    return None


def _among(session: Session, column: Any, values: Sequence[str]) -> Any:
    """``column IN values``: on SQLite one JSON parameter, not one bound parameter per value.

    Rendering and binding thousands of parameters costs SQLAlchemy more than
    SQLite takes to run the query; ``json_each`` gives the same set.
    """
    if session.get_bind().dialect.name != "sqlite":
        return column.in_(values)
    given = func.json_each(json.dumps(list(values))).table_valued("value")
    return column.in_(select(given.c.value))


def _children(session: Session, parent_id: int, names: Sequence[str]) -> dict[str, Any]:
    """The entries of directory ``parent_id`` among ``names``, by name, with their modes."""
    found: dict[str, Any] = {}
    for chunk in _chunks(sorted(set(names))):
        rows = session.execute(
            select(
                _ENTRIES.c.id,
                _ENTRIES.c.name,
                _ENTRIES.c.kind,
                _ENTRIES.c.status,
                _ENTRIES.c.size,
                _ENTRIES.c.checksum_type,
                _ENTRIES.c.checksum,
                _ENTRIES.c.mode,
                _ENTRIES.c.owner,
                _ENTRIES.c.group_name,
                _ENTRIES.c.has_acl,
            ).where(_ENTRIES.c.parent_id == parent_id, _among(session, _ENTRIES.c.name, chunk))
        )
        found.update((row.name, row) for row in rows)
    return found


def _registered_surls(session: Session, surls: Sequence[str]) -> dict[str, int]:
    """The entry ids whose replicas the registered ``surls`` are, by SURL."""
    found: dict[str, int] = {}
    for chunk in _chunks(surls):
        rows = session.execute(
            select(_REPLICAS.c.surl, _REPLICAS.c.entry_id).where(
                _among(session, _REPLICAS.c.surl, chunk)
            )
        )
        found.update((row.surl, row.entry_id) for row in rows)
    return found


def _taken_guids(session: Session, guids: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    for chunk in _chunks(guids):
        taken.update(
            session.scalars(select(_ENTRIES.c.guid).where(_among(session, _ENTRIES.c.guid, chunk)))
        )
    return taken


def _new_ids(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """The ids of the entry ``rows`` just inserted, in their order (by parent and name)."""
    by_parent: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        by_parent[row["parent_id"]].append(row["name"])
    ids: dict[tuple[int, str], int] = {}
    for parent_id, names in by_parent.items():
        for chunk in _chunks(names):
            found = session.execute(
                select(_ENTRIES.c.id, _ENTRIES.c.name).where(
                    _ENTRIES.c.parent_id == parent_id, _ENTRIES.c.name.in_(chunk)
                )
            )
            ids.update(((parent_id, name), entry_id) for entry_id, name in found)
    return [ids[row["parent_id"], row["name"]] for row in rows]


def _replica_row(entry_id: int, se: str, surl: str, now: int) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "se": se,
        "surl": surl,
        "status": ReplicaStatus.AVAILABLE.value,
        "ctime_ns": now,
        "atime_ns": now,
        "pin_expiry_ns": None,
        "space_token": None,
    }


def _column_defaults(table: Table) -> dict[str, Any]:
    """Every column of ``table`` by name, with the value an INSERT that omits it would give.

    A row given to :func:`_sqlite_insert` must name every column: a driver's
    ``executemany`` knows nothing of the Table's defaults (``rdev``, ``has_acl``).
    """
    defaults: dict[str, Any] = {}
    for each in table.columns:
        default = each.default
        if default is not None and not getattr(default, "is_scalar", False):
            raise TypeError(f"{table.name}.{each.name}: only scalar defaults can be filled in")
        defaults[each.name] = getattr(default, "arg", None)
    return defaults


_ENTRY_DEFAULTS = _column_defaults(_ENTRIES)
_REPLICA_DEFAULTS = _column_defaults(_REPLICAS)


def _sqlite_next_id(session: Session, table: Table) -> int:
    """The first id after every id ``table`` has ever had (AUTOINCREMENT never reuses one).

    The transaction writes, so no other writer can take ids until it ends.
    """
    used = session.execute(
        select(
            func.coalesce(func.max(table.c.id), 0),
            select(func.coalesce(func.max(_SQLITE_SEQUENCE.c.seq), 0))
            .where(_SQLITE_SEQUENCE.c.name == table.name)
            .scalar_subquery(),
        )
    ).one()
    return int(max(used)) + 1


def _sqlite_insert(
    session: Session, table: Table, defaults: dict[str, Any], rows: Sequence[dict[str, Any]]
) -> None:
    """``rows`` into ``table`` by the driver's ``executemany`` of one prepared INSERT.

    SQLAlchemy's own executemany processes each row's parameters in Python,
    which is most of the time of a bulk INSERT on SQLite; the values here are
    already what the driver takes (ints, strings, None, bools).
    """
    columns = list(defaults)
    statement = insert(table).compile(dialect=session.get_bind().dialect, column_keys=columns)
    order = statement.positiontup
    assert order is not None
    assert list(order) == columns, "qmark parameters in column order"
    values = [tuple({**defaults, **row}.values()) for row in rows]
    session.connection().exec_driver_sql(str(statement), values)


def _insert_entries(session: Session, entries: list[dict[str, Any]], sqlite: bool) -> list[int]:
    """Insert the new entry rows, each given a GUID if it has none; their ids, in order."""
    fresh = iter(new_guids(sum(1 for row in entries if row["guid"] is None)))
    for row in entries:
        if row["guid"] is None:
            row["guid"] = next(fresh)
    if not sqlite:
        # No RETURNING: SQLite would insert row by row to give the ids in order.
        session.execute(insert(_ENTRIES), entries)
        return _new_ids(session, entries)
    # Ids given, not looked up afterwards: a query and an index walk per row fewer.
    first = _sqlite_next_id(session, _ENTRIES)
    ids = list(range(first, first + len(entries)))
    for entry_id, row in zip(ids, entries, strict=True):
        row["id"] = entry_id
    _sqlite_insert(session, _ENTRIES, _ENTRY_DEFAULTS, entries)
    return ids


def _insert(session: Session, batch: _Batch, space_token: str | None) -> None:
    """The new entries, then every new replica, as multi-row INSERTs."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    replicas = batch.replicas
    if batch.entries:
        ids = _insert_entries(session, batch.entries, sqlite)
        for entry_id, owner in zip(ids, batch.owners, strict=True):
            replicas.extend(
                _replica_row(entry_id, se, surl, batch.now) for se, surl in owner.file.replicas
            )
        for position, acl in batch.acls.items():
            entry = session.get(EntryModel, ids[position])
            assert entry is not None
            store_acl(session, entry, acl)
    if space_token is not None:
        for row in replicas:
            row["space_token"] = space_token
    if not replicas:
        return
    if sqlite:
        _sqlite_insert(session, _REPLICAS, _REPLICA_DEFAULTS, replicas)
    else:
        session.execute(insert(_REPLICAS), replicas)
