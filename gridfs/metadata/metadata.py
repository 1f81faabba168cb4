"""AMGA-style metadata on catalog directories: schemas and typed values (queries: queries.py)."""

from __future__ import annotations

import functools
import stat
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridfs.catalog import Catalog, EntryId, EntryKind, Identity, Stat, corewrites
from gridfs.catalog.lfn import split_lfn
from gridfs.catalog.models import EntryModel
from gridfs.catalog.permissions import EXECUTE, READ, WRITE
from gridfs.catalog.prepared import Executor, Prepared
from gridfs.catalog.store import retry_on_conflict
from gridfs.errors import AlreadyExists, InvalidArgument, NotPermitted, UnknownAttribute
from gridfs.metadata import freeform
from gridfs.metadata.api import MetadataAPI
from gridfs.metadata.lookups import Lookups, Target, check_name, kind_of, schema_of
from gridfs.metadata.models import AttributeModel, ValueModel
from gridfs.metadata.queries import FoundEntry, Queries, SavedQuery
from gridfs.metadata.rows import Rows
from gridfs.metadata.types import (
    STORAGE_COLUMNS,
    AttributeType,
    Storage,
    Value,
    check_value,
    format_value,
    from_stored,
    parse_type,
    storage_of,
    to_stored,
)

__all__ = ["Metadata"]

_VALUE_COLUMNS = tuple(storage.value for storage in Storage)
_NO_VALUES: dict[str, Any] = dict.fromkeys(_VALUE_COLUMNS)


class Metadata:
    """The metadata catalog over a :class:`~gridfs.catalog.Catalog`, acting as its identity.

    A directory's schema names typed attributes; its children (files and
    subdirectories) are the entries that hold values for them. Entries are
    named by LFN or, for a filesystem, by entry id. Permissions are the
    catalog's: reading values needs read permission on the entry, writing
    them write permission, and changing a schema write permission on the
    directory. Calls inside :meth:`Catalog.transaction` join that transaction.
    An attribute that is not in the schema concerned raises
    :class:`~gridfs.errors.UnknownAttribute`.

    Queries (:meth:`find`, :meth:`selectattr`, :meth:`select_query`) return
    :class:`~gridfs.metadata.rows.Rows`: executed when called, streamed as read.
    Entries whose values the identity may not read are left out of results.
    """

    def __init__(self, catalog: Catalog, *, page_size: int = 1000) -> None:
        self.catalog = catalog
        self.store = catalog.store
        self._on = Lookups(self.store, page_size)
        self._queries = Queries(self._on)

    @property
    def identity(self) -> Identity:
        """Who the calls run as."""
        return self.store.identity

    def as_identity(self, identity: Identity) -> Metadata:
        """The same metadata catalog acting as another identity."""
        return Metadata(self.catalog.as_identity(identity), page_size=self._on.page_size)

    @retry_on_conflict
    def add_entry(
        self, lfn: str, values: Mapping[str, object], *, size: int = 0, mode: int = 0o644
    ) -> Stat:
        """Register file ``lfn`` and set its ``values``, in one transaction (AMGA addEntry).

        All or nothing: a value the schema refuses leaves no file behind.
        """
        if size >= 0 and not self.store.in_transaction():
            added = self._add_entry_fast(lfn, values, size, mode)
            if added is not None:
                return added
        with self.store.transaction():
            entry = self.catalog.add_file(lfn, size=size, mode=mode)
            self.setattr(entry.id, values)
            return entry

    def _add_entry_fast(
        self, lfn: str, values: Mapping[str, object], size: int, mode: int
    ) -> Stat | None:
        """:meth:`add_entry` in Core, in one transaction (corewrites.py); None: the ORM path."""
        if values and not mode & stat.S_IWUSR:
            # Setting values needs write permission on the new file (its owner's
            # bits): the ORM path judges and refuses that as setattr does.
            return None
        parts = split_lfn(lfn)
        try:
            with corewrites.write_connection(self.store) as connection:
                added = corewrites.add_file(
                    self.store, connection, parts, {"size": size, "mode": mode}
                )
                if isinstance(added, corewrites.Fallback):
                    return None
                assert added.parent_id is not None
                schema = _schema(connection, added.parent_id)
                rows, _ = _value_rows(schema, added.id, values, lfn)
                if rows:  # a new entry: nothing to replace
                    _INSERT_VALUES.run_many(connection, rows)
                return added
        except IntegrityError as exc:
            raise AlreadyExists(f"cannot create {lfn}: its LFN is registered already", lfn) from exc

    # -- schemas -----------------------------------------------------------------

    def addattr(self, directory: Target, name: str, type_name: str) -> AttributeType:
        """Add attribute ``name`` of type ``type_name`` to the schema of ``directory``.

        Raises :class:`AlreadyExists` if the schema has it already.
        """
        self.addattrs(directory, {name: type_name})
        return parse_type(type_name)

    @retry_on_conflict
    def addattrs(self, directory: Target, attributes: Mapping[str, str]) -> None:
        """Add attributes (name -> type name) to ``directory``'s schema: all or none.

        Raises :class:`AlreadyExists` if the schema has one of them already.
        """
        kinds = {name: parse_type(type_name) for name, type_name in attributes.items()}
        for name in kinds:
            check_name(name)
        with self.store.session(write=True) as session:
            entry = self._on.directory(session, directory, WRITE | EXECUTE)
            for name, kind in kinds.items():
                if _attribute_row(session, entry.id, name) is not None:
                    raise AlreadyExists(
                        f"{directory} has attribute {name!r} already", str(directory)
                    )
                session.add(AttributeModel(directory_id=entry.id, name=name, type=str(kind)))

    def removeattr(self, directory: Target, name: str) -> None:
        """Remove attribute ``name`` from the schema of ``directory``, and its values."""
        self.removeattrs(directory, [name])

    @retry_on_conflict
    def removeattrs(self, directory: Target, names: Sequence[str]) -> None:
        """Remove attributes (and their values) from ``directory``'s schema: all or none."""
        with self.store.session(write=True) as session:
            entry = self._on.directory(session, directory, WRITE | EXECUTE)
            for name in names:
                row = _attribute_row(session, entry.id, name)
                if row is None:
                    raise UnknownAttribute(f"{directory} has no attribute {name!r}", str(directory))
                session.delete(row)
            children = select(EntryModel.id).where(EntryModel.parent_id == entry.id)
            session.execute(
                delete(ValueModel).where(
                    ValueModel.name.in_(list(names)), ValueModel.entry_id.in_(children)
                )
            )

    def listattr(self, directory: Target) -> dict[str, AttributeType]:
        """The schema of ``directory``: attribute names and types, in the order added."""
        with self.store.session() as session:
            entry = self._on.directory(session, directory, READ | EXECUTE)
            return schema_of(session, entry.id)

    def entry_schema(self, entry: Target) -> dict[str, AttributeType]:
        """The schema whose attributes ``entry`` holds: its directory's. Needs read permission."""
        with self.store.session() as session:
            row = self._on.entry(session, entry, READ)
            return dict(self._on.schema_of_parent(session, row, {}, entry))

    # -- values ------------------------------------------------------------------

    @retry_on_conflict
    def setattr(self, entries: Target | Sequence[Target], values: Mapping[str, object]) -> None:
        """Set attributes of one entry, or of each of several, in one transaction.

        Each value is checked against the type in the schema of the entry's
        directory (a string for a non-string type is parsed as its text);
        :class:`InvalidArgument` names the attribute, the value and the type.
        ``None`` clears a value. Needs write permission on every entry.
        """
        targets = [entries] if isinstance(entries, str | int) else list(entries)
        if not values:
            return
        if len(targets) == 1 and not self.store.in_transaction():
            with corewrites.write_connection(self.store) as connection:
                if self._setattr_fast(connection, targets[0], values):
                    return
        with self.store.session(write=True) as session:
            rows: list[dict[str, Any]] = []
            cleared: list[tuple[int, list[str]]] = []
            schemas: dict[int, dict[str, AttributeType]] = {}
            done: set[int] = set()
            for target in targets:
                entry = self._on.entry(session, target, WRITE)
                if entry.kind == EntryKind.SYMLINK.value:  # by id: as Linux, no user.* on links
                    raise NotPermitted(
                        f"{target} is a symbolic link: it has no values", str(target)
                    )
                if entry.id in done:  # named twice (or by a link): one row, or the upsert fails
                    continue
                done.add(entry.id)
                schema = self._on.schema_of_parent(session, entry, schemas, target)
                new_rows, empty = _value_rows(schema, entry.id, values, target)
                rows.extend(new_rows)
                if empty:
                    cleared.append((entry.id, empty))
            for entry_id, names in cleared:
                _delete_values(session, entry_id, names)
            if rows:
                self._upsert(session, rows)

    def _setattr_fast(
        self, connection: corewrites.WriteConnection, target: Target, values: Mapping[str, object]
    ) -> bool:
        """:meth:`setattr` of one plain entry in Core; False (nothing written): the ORM path."""
        if isinstance(target, str):
            found = corewrites.walked(self.store, connection, split_lfn(target))
            if isinstance(found, corewrites.Fallback):
                return False
            entry: Any = found.entry
        else:
            cursor = _ENTRY_BY_ID.run(connection, {"entry": target})
            found_row = cursor.fetchone()
            cursor.close()
            entry = None if found_row is None else _EntryRow(*found_row)
        if entry is None or entry.id is None or entry.parent_id is None:
            return False
        if entry.kind == EntryKind.SYMLINK.value or entry.has_acl:
            return False
        if not self.store.allows(entry, (), WRITE):
            return False
        rows, empty = _value_rows(_schema(connection, entry.parent_id), entry.id, values, target)
        if empty:
            _DELETE_VALUE.run_many(connection, [{"entry": entry.id, "name": n} for n in empty])
        if rows:
            _upsert(self.store.dialect).run_many(connection, rows)
        return True

    def _upsert(self, session: Session, rows: list[dict[str, Any]]) -> None:
        session.flush()  # the driver's cursor is not the session's: its changes first
        _upsert(self.store.dialect).run_many(session.connection(), rows)

    def getattr(self, entry: Target, names: Sequence[str] | None = None) -> dict[str, Value | None]:
        """The values of ``entry`` (all of its directory's schema, or ``names``), as Python values.

        An attribute without a value is ``None``. Needs read permission on the entry.
        """
        with self.store.session() as session:
            row = self._on.entry(session, entry, READ)
            schema = self._on.schema_of_parent(session, row, {}, entry)
            wanted = list(schema) if names is None else list(names)
            kinds = {name: kind_of(schema, name, entry) for name in wanted}
            stored = session.execute(
                select(ValueModel).where(ValueModel.entry_id == row.id, ValueModel.name.in_(wanted))
            ).scalars()
            found = {value.name: value for value in stored}
            return {name: _value_of(found.get(name), kind) for name, kind in kinds.items()}

    @retry_on_conflict
    def clearattr(self, entry: Target, names: Sequence[str] | None = None) -> None:
        """Remove the values of ``names`` (default: all) from ``entry``; needs write permission."""
        with self.store.session(write=True) as session:
            row = self._on.entry(session, entry, WRITE)
            if names is None:
                session.execute(delete(ValueModel).where(ValueModel.entry_id == row.id))
                return
            schema = self._on.schema_of_parent(session, row, {}, entry)
            for name in names:
                kind_of(schema, name, entry)
            _delete_values(session, row.id, list(names))

    def list_entries(self, directory: Target) -> Rows[tuple[str, dict[str, Value | None]]]:
        """Each entry of ``directory`` (name, values of its schema), in id order (listEntries)."""
        with self.store.session() as session:
            entry = self._on.directory(session, directory, READ | EXECUTE)
            directory_id, schema = entry.id, schema_of(session, entry.id)

        def execute(session: Session) -> Iterator[tuple[str, dict[str, Value | None]]]:
            entries = EntryModel.__table__
            values = ValueModel.__table__
            statement = (
                select(entries, values.c.name.label("attribute"), *values.c[_VALUE_COLUMNS])
                .select_from(
                    entries.outerjoin(
                        values,
                        and_(values.c.entry_id == entries.c.id, values.c.name.in_(list(schema))),
                    )
                )
                .where(entries.c.parent_id == directory_id)
                .order_by(entries.c.id)
            )
            result = self._on.execute(session, statement)
            return self._grouped(session, result, schema)

        return self._on.stream(execute)

    def _grouped(
        self, session: Session, result: Iterator[Any], schema: Mapping[str, AttributeType]
    ) -> Iterator[tuple[str, dict[str, Value | None]]]:
        current: Any = None
        found: dict[str, Value | None] = {}
        for row in result:  # one row per (entry, value), in entry order
            if current is None or row.id != current.id:
                if current is not None and self.store.allowed(session, [current], READ)[0]:
                    yield current.name, found
                current = row
                found = dict.fromkeys(schema)
            if row.attribute is not None:
                kind = schema[row.attribute]
                found[row.attribute] = _stored_in(row, kind)
        if current is not None and self.store.allowed(session, [current], READ)[0]:
            yield current.name, found

    # -- user.* extended attributes: typed when in the schema, else free-form ----

    def get_xattr(self, entry: Target, name: str) -> bytes:
        """The value of extended attribute ``user.<name>`` of ``entry``, as bytes.

        A name in the schema of the entry's directory is its typed value as
        text (:func:`~gridfs.metadata.format_value`); any other is the
        free-form value, the bytes that were set. A name without a value
        raises ENODATA. Needs read permission on the entry.
        """
        with self.store.session() as session:
            row = self._on.entry(session, entry, READ)
            if row.kind == EntryKind.SYMLINK.value:
                raise freeform.no_data(entry, name)
            kind = self._user_schema(session, row).get(name)
            if kind is None:
                found = freeform.value(session, row.id, name)
            else:
                stored = session.get(ValueModel, (row.id, name))
                typed = None if stored is None else _stored_in(stored, kind)
                found = None if typed is None else format_value(kind, typed).encode()
            if found is None:
                raise freeform.no_data(entry, name)
            return found

    @retry_on_conflict
    def set_xattr(self, entry: Target, name: str, value: bytes) -> None:
        """Set extended attribute ``user.<name>`` of ``entry`` (see :meth:`get_xattr`).

        A typed one takes the value's UTF-8 text, checked against its type
        (:class:`InvalidArgument` otherwise); a free-form one any bytes up to
        64 KiB. A symbolic link has none (EPERM, as Linux). Needs write permission.
        """
        freeform.check(name, value)
        with self.store.session(write=True) as session:
            row = self._on.entry(session, entry, WRITE)
            if row.kind == EntryKind.SYMLINK.value:
                raise NotPermitted(f"{entry} is a symbolic link: it has no user.* attributes")
            kind = self._user_schema(session, row).get(name)
            if kind is None:
                freeform.put(session, self.store.dialect, row.id, name, value)
                return
            try:
                text = value.decode()
            except UnicodeDecodeError:
                raise InvalidArgument(
                    f"user.{name} of {entry} is a {kind} attribute: its value is UTF-8 text",
                    str(entry),
                ) from None
            stored: dict[str, Any] = dict.fromkeys(_VALUE_COLUMNS)
            stored.update(entry_id=row.id, name=name)
            stored[storage_of(kind).value] = to_stored(kind, check_value(kind, text, name))
            self._upsert(session, [stored])

    def xattr_names(self, entry: Target) -> list[str]:
        """The names (without ``user.``) of the typed and free-form values ``entry`` has.

        Typed ones first, in schema order, then the free-form ones by name; a
        free-form value named like an attribute of the schema is hidden by it.
        """
        with self.store.session() as session:
            row = self._on.entry(session, entry, READ)
            if row.kind == EntryKind.SYMLINK.value:
                return []
            schema = self._user_schema(session, row)
            typed = set(
                session.scalars(
                    select(ValueModel.name).where(
                        ValueModel.entry_id == row.id, ValueModel.name.in_(list(schema))
                    )
                )
            )
            names = [name for name in schema if name in typed]
            return names + [n for n in freeform.names(session, row.id) if n not in schema]

    @retry_on_conflict
    def remove_xattr(self, entry: Target, name: str) -> None:
        """Remove extended attribute ``user.<name>`` of ``entry``; ENODATA if it has no value."""
        with self.store.session(write=True) as session:
            row = self._on.entry(session, entry, WRITE)
            if row.kind == EntryKind.SYMLINK.value:
                raise NotPermitted(f"{entry} is a symbolic link: it has no user.* attributes")
            if name in self._user_schema(session, row):
                removed = session.execute(
                    delete(ValueModel).where(ValueModel.entry_id == row.id, ValueModel.name == name)
                )
                gone = bool(getattr(removed, "rowcount", 0))
            else:
                gone = freeform.remove(session, row.id, name)
            if not gone:
                raise freeform.no_data(entry, name)

    @staticmethod
    def _user_schema(session: Session, row: EntryModel) -> dict[str, AttributeType]:
        """The typed names of an entry: its directory's schema (the root is in none)."""
        return {} if row.parent_id is None else schema_of(session, row.parent_id)

    # -- queries (see queries.py) ------------------------------------------------

    def find(self, directory: str, condition: str, *, recursive: bool = False) -> Rows[str]:
        """The LFNs of the entries of ``directory`` that match ``condition`` (AMGA find).

        With ``recursive``, entries of its subdirectories too (bare attribute
        names keep the types of ``directory``'s schema). In no particular
        order. Needs read and search permission on each directory searched.
        """
        return self._queries.find(directory, condition, recursive=recursive)

    def find_ids(
        self, directory_id: EntryId, condition: str, *, recursive: bool = False
    ) -> Rows[FoundEntry]:
        """As :meth:`find`, for a filesystem: the directory by id, each match with its place.

        Each :class:`FoundEntry` holds the match and the directories from just
        below ``directory_id`` down to its parent, so no ancestor needs a stat.
        """
        return self._queries.find_ids(directory_id, condition, recursive=recursive)

    def selectattr(
        self, attributes: Sequence[str], condition: str | None = None
    ) -> Rows[tuple[Value | None, ...]]:
        """Values of ``attributes`` (each ``/collection:name``) for entries matching ``condition``.

        AMGA selectattr; see :meth:`Queries.selectattr`.
        """
        return self._queries.selectattr(attributes, condition)

    def select_query(self, query: str) -> Rows[tuple[Value | None, ...]]:
        """The rows of ``SELECT attrs [FROM dirs] [WHERE cond] [ORDER BY attrs] [LIMIT n]``."""
        return self._queries.select_query(query)

    def save_query(
        self, directory: Target, name: str, condition: str, *, recursive: bool = False
    ) -> SavedQuery:
        """Store ``condition`` on ``directory`` as query ``name``; needs write permission on it."""
        return self._queries.save_query(directory, name, condition, recursive=recursive)

    def saved_queries(self, directory: Target) -> list[SavedQuery]:
        """The queries saved on ``directory``, by name."""
        return self._queries.saved_queries(directory)

    def remove_query(self, directory: Target, name: str) -> None:
        """Delete saved query ``name`` of ``directory``; needs write permission on it."""
        self._queries.remove_query(directory, name)

    def run_saved_query(self, directory: str, name: str) -> Rows[str]:
        """The LFNs that saved query ``name`` of ``directory`` finds now."""
        return self._queries.run_saved_query(directory, name)


_VALUE_BINDS: dict[str, Any] = {
    name: bindparam(name) for name in ("entry_id", "name", *_VALUE_COLUMNS)
}
_INSERT_VALUES = Prepared(insert(ValueModel).values(_VALUE_BINDS))
_DELETE_VALUE = Prepared(
    delete(ValueModel).where(
        ValueModel.entry_id == bindparam("entry"), ValueModel.name == bindparam("name")
    )
)


@functools.cache
def _upsert(dialect: str) -> Prepared:
    """INSERT of value rows that replaces an entry's value already there (built once)."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_for(ValueModel).values(_VALUE_BINDS)
    return Prepared(
        statement.on_conflict_do_update(
            index_elements=["entry_id", "name"],
            set_={column: statement.excluded[column] for column in _VALUE_COLUMNS},
        )
    )


_ENTRY_BY_ID_STATEMENT = select(EntryModel.__table__).where(EntryModel.id == bindparam("entry"))
_ENTRY_BY_ID = Prepared(_ENTRY_BY_ID_STATEMENT)
_EntryRow = namedtuple("_EntryRow", list(_ENTRY_BY_ID_STATEMENT.selected_columns.keys()))  # type: ignore[misc]
_SCHEMA = Prepared(
    select(AttributeModel.name, AttributeModel.type)
    .where(AttributeModel.directory_id == bindparam("directory"))
    .order_by(AttributeModel.id)
)


def _schema(connection: Executor, directory_id: int) -> dict[str, AttributeType]:
    """The schema of a directory, read in Core (what :func:`schema_of` gives)."""
    cursor = _SCHEMA.run(connection, {"directory": directory_id})
    rows = cursor.fetchall()
    cursor.close()
    return {name: _parsed(type_name) for name, type_name in rows}


_parsed = functools.lru_cache(maxsize=256)(parse_type)  # a schema's types, parsed once each


def _value_rows(
    schema: Mapping[str, AttributeType], entry_id: int, values: Mapping[str, object], target: Target
) -> tuple[list[dict[str, Any]], list[str]]:
    """The value rows to store for ``entry_id``, and the names whose value ``None`` clears.

    Each value is checked against its type in ``schema`` (raising as
    :meth:`Metadata.setattr` documents) before anything is written.
    """
    rows: list[dict[str, Any]] = []
    empty: list[str] = []
    for name, value in values.items():
        kind = schema.get(name) or kind_of(schema, name, target)  # kind_of raises
        if value is None:
            empty.append(name)
            continue
        row: dict[str, Any] = {"entry_id": entry_id, "name": name, **_NO_VALUES}
        row[STORAGE_COLUMNS[kind.base]] = to_stored(kind, check_value(kind, value, name))
        rows.append(row)
    return rows, empty


def _attribute_row(session: Session, directory_id: int, name: str) -> AttributeModel | None:
    return session.scalar(
        select(AttributeModel).where(
            AttributeModel.directory_id == directory_id, AttributeModel.name == name
        )
    )


def _delete_values(session: Session, entry_id: int, names: list[str]) -> None:
    session.execute(
        delete(ValueModel).where(ValueModel.entry_id == entry_id, ValueModel.name.in_(names))
    )


def _stored_in(row: Any, kind: AttributeType) -> Value | None:
    stored = getattr(row, storage_of(kind).value)
    return None if stored is None else from_stored(kind, stored)


def _value_of(row: ValueModel | None, kind: AttributeType) -> Value | None:
    return None if row is None else _stored_in(row, kind)


def _satisfies_api(metadata: Metadata) -> MetadataAPI:
    """Checked by mypy: the SQL metadata catalog is a :class:`MetadataAPI`."""
    return metadata
