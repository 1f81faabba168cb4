"""AMGA-style metadata on catalog directories: schemas, typed values, queries, datasets."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gridfs.catalog import Catalog, EntryId, EntryKind, Identity, Stat, join_lfn, split_lfn
from gridfs.catalog.models import EntryModel
from gridfs.catalog.permissions import EXECUTE, READ, WRITE
from gridfs.errors import AlreadyExists, InvalidArgument, NotADirectory, NotFound
from gridfs.metadata.access import CatalogAccess, retried
from gridfs.metadata.compiler import FILE, Collection, QueryCompiler, attributes_of
from gridfs.metadata.models import AttributeModel, SavedQueryModel, ValueModel
from gridfs.metadata.parser import KEYWORDS, parse_attribute, parse_condition, parse_select
from gridfs.metadata.rows import Rows, closing, stream
from gridfs.metadata.syntax import Attribute, Condition, QueryError, SelectQuery
from gridfs.metadata.types import (
    AttributeType,
    Storage,
    Value,
    check_value,
    from_stored,
    parse_type,
    storage_of,
    to_stored,
)

__all__ = ["Metadata", "SavedQuery"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_VALUE_COLUMNS = tuple(storage.value for storage in Storage)
_PERMISSION_COLUMNS = ("id", "owner", "group_name", "mode", "kind", "has_acl")
_MAX_DIRECTORIES_PER_QUERY = 10_000  # parent ids per IN (...): under every dialect's limit

Target = str | EntryId
T = TypeVar("T")


@dataclass(frozen=True)
class SavedQuery:
    """A named condition stored on a directory: a dataset."""

    directory: str
    name: str
    condition: str
    recursive: bool
    owner: str


@dataclass(frozen=True)
class _PermissionRow:
    id: int
    owner: str
    group_name: str
    mode: int
    kind: str
    has_acl: bool


class Metadata:
    """The metadata catalog over a :class:`~gridfs.catalog.Catalog`, acting as its identity.

    A directory's schema names typed attributes; its children (files and
    subdirectories) are the entries that hold values for them. Entries are
    named by LFN or, for a filesystem, by entry id. Permissions are the
    catalog's: reading values needs read permission on the entry, writing
    them write permission, and changing a schema write permission on the
    directory. Calls inside :meth:`Catalog.transaction` join that transaction.

    Queries (:meth:`find`, :meth:`selectattr`, :meth:`select_query`) return
    :class:`~gridfs.metadata.rows.Rows`: executed when called, streamed as read.
    Entries whose values the identity may not read are left out of results.
    """

    def __init__(self, catalog: Catalog, *, page_size: int = 1000) -> None:
        self.catalog = catalog
        self._access = CatalogAccess(catalog)
        self._page_size = page_size

    def as_identity(self, identity: Identity) -> Metadata:
        """The same metadata catalog acting as another identity."""
        return Metadata(self.catalog.as_identity(identity), page_size=self._page_size)

    @retried
    def atomically(self, call: Callable[[], T]) -> T:
        """Run ``call`` (catalog and metadata calls) as one transaction, again after a conflict.

        A lock or serialisation conflict rolls the transaction back and runs
        ``call`` again from the start (up to 10 times, with jittered backoff),
        so ``call`` must do nothing else that it cannot repeat. Inside a
        transaction the caller holds open, ``call`` simply joins it.
        """
        with self.catalog.transaction():
            return call()

    # -- schemas -----------------------------------------------------------------

    @retried
    def addattr(self, directory: Target, name: str, type_name: str) -> AttributeType:
        """Add attribute ``name`` of type ``type_name`` to the schema of ``directory``.

        Raises :class:`AlreadyExists` if the schema has it already.
        """
        kind = parse_type(type_name)
        _check_name(name)
        with self._access.session(write=True) as session:
            entry = self._directory(session, directory, WRITE | EXECUTE)
            if _attribute_row(session, entry.id, name) is not None:
                raise AlreadyExists(f"{directory} has attribute {name!r} already", str(directory))
            session.add(AttributeModel(directory_id=entry.id, name=name, type=str(kind)))
        return kind

    @retried
    def addattrs(self, directory: Target, attributes: Mapping[str, str]) -> None:
        """Add several attributes (name -> type name) to ``directory``'s schema, all or none."""
        with self.catalog.transaction():
            for name, type_name in attributes.items():
                self.addattr(directory, name, type_name)

    @retried
    def removeattrs(self, directory: Target, names: Sequence[str]) -> None:
        """Remove several attributes (and their values) from ``directory``'s schema, all or none."""
        with self.catalog.transaction():
            for name in names:
                self.removeattr(directory, name)

    @retried
    def removeattr(self, directory: Target, name: str) -> None:
        """Remove attribute ``name`` from the schema of ``directory``, and its values."""
        with self._access.session(write=True) as session:
            entry = self._directory(session, directory, WRITE | EXECUTE)
            row = _attribute_row(session, entry.id, name)
            if row is None:
                raise NotFound(f"{directory} has no attribute {name!r}", str(directory))
            session.delete(row)
            children = select(EntryModel.id).where(EntryModel.parent_id == entry.id)
            session.execute(
                delete(ValueModel).where(ValueModel.name == name, ValueModel.entry_id.in_(children))
            )

    def listattr(self, directory: Target) -> dict[str, AttributeType]:
        """The schema of ``directory``: attribute names and types, in the order added."""
        with self._access.session() as session:
            entry = self._directory(session, directory, READ | EXECUTE)
            return _schema(session, entry.id)

    def entry_schema(self, entry: Target) -> dict[str, AttributeType]:
        """The schema whose attributes ``entry`` holds: its directory's. Needs read permission."""
        with self._access.session() as session:
            row = self._entry(session, entry, READ)
            return dict(self._schema_of_parent(session, row, {}, entry))

    # -- values ------------------------------------------------------------------

    @retried
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
        with self._access.session(write=True) as session:
            rows: list[dict[str, Any]] = []
            cleared: list[tuple[int, list[str]]] = []
            schemas: dict[int, dict[str, AttributeType]] = {}
            done: set[int] = set()
            for target in targets:
                entry = self._entry(session, target, WRITE)
                if entry.id in done:  # named twice (or by a link): one row, or the upsert fails
                    continue
                done.add(entry.id)
                schema = self._schema_of_parent(session, entry, schemas, target)
                empty = []
                for name, value in values.items():
                    kind = _kind(schema, name, target)
                    if value is None:
                        empty.append(name)
                        continue
                    stored = to_stored(kind, check_value(kind, value, name))
                    row: dict[str, Any] = dict.fromkeys(_VALUE_COLUMNS)
                    row.update(entry_id=entry.id, name=name)
                    row[storage_of(kind).value] = stored
                    rows.append(row)
                if empty:
                    cleared.append((entry.id, empty))
            for entry_id, names in cleared:
                _delete_values(session, entry_id, names)
            if rows:
                self._upsert(session, rows)

    def _upsert(self, session: Session, rows: list[dict[str, Any]]) -> None:
        insert = postgresql.insert if self._access.dialect == "postgresql" else sqlite.insert
        statement = insert(ValueModel)
        statement = statement.on_conflict_do_update(
            index_elements=["entry_id", "name"],
            set_={column: statement.excluded[column] for column in _VALUE_COLUMNS},
        )
        session.execute(statement, rows)

    def getattr(self, entry: Target, names: Sequence[str] | None = None) -> dict[str, Value | None]:
        """The values of ``entry`` (all of its directory's schema, or ``names``), as Python values.

        An attribute without a value is ``None``. Needs read permission on the entry.
        """
        with self._access.session() as session:
            row = self._entry(session, entry, READ)
            schema = self._schema_of_parent(session, row, {}, entry)
            wanted = list(schema) if names is None else list(names)
            kinds = {name: _kind(schema, name, entry) for name in wanted}
            stored = session.execute(
                select(ValueModel).where(ValueModel.entry_id == row.id, ValueModel.name.in_(wanted))
            ).scalars()
            found = {value.name: value for value in stored}
            return {name: _value_of(found.get(name), kind) for name, kind in kinds.items()}

    @retried
    def clearattr(self, entry: Target, names: Sequence[str] | None = None) -> None:
        """Remove the values of ``names`` (default: all) from ``entry``; needs write permission."""
        with self._access.session(write=True) as session:
            row = self._entry(session, entry, WRITE)
            if names is None:
                session.execute(delete(ValueModel).where(ValueModel.entry_id == row.id))
                return
            schema = self._schema_of_parent(session, row, {}, entry)
            for name in names:
                _kind(schema, name, entry)
            _delete_values(session, row.id, list(names))

    def list_entries(self, directory: Target) -> Rows[tuple[str, dict[str, Value | None]]]:
        """Each entry of ``directory`` (name, values of its schema), in id order (listEntries)."""
        with self._access.session() as session:
            entry = self._directory(session, directory, READ | EXECUTE)
            directory_id, schema = entry.id, _schema(session, entry.id)

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
            result = self._execute(session, statement)
            return self._grouped(session, result, schema)

        return self._stream(execute)

    def _grouped(
        self, session: Session, result: Iterator[Any], schema: Mapping[str, AttributeType]
    ) -> Iterator[tuple[str, dict[str, Value | None]]]:
        current: Any = None
        found: dict[str, Value | None] = {}
        for row in result:  # one row per (entry, value), in entry order
            if current is None or row.id != current.id:
                if current is not None and self._access.allowed(session, [current], READ)[0]:
                    yield current.name, found
                current = row
                found = dict.fromkeys(schema)
            if row.attribute is not None:
                kind = schema[row.attribute]
                found[row.attribute] = _stored_in(row, kind)
        if current is not None and self._access.allowed(session, [current], READ)[0]:
            yield current.name, found

    # -- queries -----------------------------------------------------------------

    def find(self, directory: str, condition: str, *, recursive: bool = False) -> Rows[str]:
        """The LFNs of the entries of ``directory`` that match ``condition`` (AMGA find).

        With ``recursive``, entries of its subdirectories too (bare attribute
        names keep the types of ``directory``'s schema). In no particular
        order. Needs read and search permission on each directory searched.
        """
        return self._find(directory, condition, recursive=recursive, stats=False)

    def find_ids(
        self, directory_id: EntryId, condition: str, *, recursive: bool = False
    ) -> Rows[Stat]:
        """As :meth:`find`, for a filesystem: the directory by id, the matches as :class:`Stat`."""
        return self._find(directory_id, condition, recursive=recursive, stats=True)

    def _find(self, directory: Target, text: str, *, recursive: bool, stats: bool) -> Rows[Any]:
        """The matches of ``text`` in ``directory``: :class:`Stat` records, or else LFNs."""
        condition = parse_condition(text)
        with self._access.session() as session:
            entry = self._directory(session, directory, READ | EXECUTE)
            lfn = self._lfn(session, directory, entry)
            collections = self._collections(
                session, text, condition, None, {None: lfn}, known={lfn: entry}
            )
            default = collections[None]
            tree = self._tree(session, entry, lfn) if recursive else {entry.id: lfn}
        compiler = QueryCompiler(text, collections, dialect=self._access.dialect)
        where = compiler.condition(condition)
        entries = compiler.entries(default)
        if len(compiler.used_entries()) > 1:
            raise QueryError("find searches one collection; use selectattr to join", text, 1)
        parents = list(tree)

        def execute(session: Session) -> Iterator[Any]:
            results = []
            for start in range(0, len(parents), _MAX_DIRECTORIES_PER_QUERY):
                chunk = parents[start : start + _MAX_DIRECTORIES_PER_QUERY]
                scope = (
                    entries.c.parent_id == chunk[0]
                    if len(chunk) == 1
                    else entries.c.parent_id.in_(chunk)
                )
                statement = select(entries).select_from(compiler.from_clause()).where(scope, where)
                results.append(self._execute(session, statement))
            return self._readable_entries(session, results, tree, stats=stats)

        return self._stream(execute)

    def _readable_entries(
        self,
        session: Session,
        results: list[Iterator[Any]],
        tree: Mapping[int, str],
        *,
        stats: bool,
    ) -> Iterator[Any]:
        for result in results:
            for page in _pages(result, self._page_size):
                for row, allowed in zip(
                    page, self._access.allowed(session, page, READ), strict=True
                ):
                    if not allowed:
                        continue
                    if stats:
                        yield self._access.to_stat(row)
                    else:
                        yield f"{tree[row.parent_id].rstrip('/')}/{row.name}"

    def selectattr(
        self, attributes: Sequence[str], condition: str | None = None
    ) -> Rows[tuple[Value | None, ...]]:
        """Values of ``attributes`` (each ``/collection:name``) for entries matching ``condition``.

        One row per combination of entries of the collections named that
        satisfies the condition: name two collections and a condition such as
        ``/a:FILE = /b:FILE`` to join them (AMGA selectattr). When all the
        attributes are of one collection, the condition may name its attributes bare.
        """
        refs = tuple(parse_attribute(text) for text in attributes)
        for ref in refs:
            if ref.collection is None:
                raise QueryError(
                    "selectattr names each attribute with its collection (/dir:attr)",
                    ref.name,
                    ref.column,
                )
        where = parse_condition(condition) if condition else None
        named = {ref.collection for ref in refs}
        # As in a SELECT with one directory in FROM: bare names in the condition are its own.
        collections = tuple(named) if len(named) == 1 else ()
        return self._select(SelectQuery(refs, collections, where), condition or "")

    def select_query(self, query: str) -> Rows[tuple[Value | None, ...]]:
        """The rows of ``SELECT attrs [FROM dirs] [WHERE cond] [ORDER BY attrs] [LIMIT n]``.

        AMGA's selectQuery.

        With a single directory in FROM, attributes may be named bare.
        """
        return self._select(parse_select(query), query)

    def _select(self, query: SelectQuery, text: str) -> Rows[tuple[Value | None, ...]]:
        default = query.collections[0] if len(query.collections) == 1 else None
        with self._access.session() as session:
            named = {path: path for path in query.collections}
            if default is not None:
                named[None] = default
            collections = self._collections(session, text, query.where, query, named)
        compiler = QueryCompiler(text, collections, dialect=self._access.dialect)
        where = compiler.condition(query.where) if query.where is not None else None
        for path in query.collections:
            compiler.entries(collections[path])
        columns = [compiler.column(ref) for ref in query.attributes]
        order = []
        for key in query.order_by:
            column, _ = compiler.column(key.attribute)
            order.append(column.desc() if key.descending else column.asc())
        sources = compiler.used_entries()
        hidden = [
            alias.c[name].label(f"p{index}_{name}")
            for index, (_, alias) in enumerate(sources)
            for name in _PERMISSION_COLUMNS
        ]
        statement = select(*(column for column, _ in columns), *hidden).select_from(
            compiler.from_clause()
        )
        if where is not None:
            statement = statement.where(where)
        for directory_id, alias in sources:
            statement = statement.where(alias.c.parent_id == directory_id)
        statement = statement.order_by(*order)
        kinds = [kind for _, kind in columns]
        width = len(columns)

        def execute(session: Session) -> Iterator[tuple[Value | None, ...]]:
            result = self._execute(session, statement)
            return self._readable_rows(
                session,
                result=result,
                kinds=kinds,
                width=width,
                sources=len(sources),
                limit=query.limit,
            )

        return self._stream(execute)

    def _readable_rows(
        self,
        session: Session,
        *,
        result: Iterator[Any],
        kinds: Sequence[AttributeType],
        width: int,
        sources: int,
        limit: int | None,
    ) -> Iterator[tuple[Value | None, ...]]:
        remaining = limit
        for page in _pages(result, self._page_size):
            checks = []
            for index in range(sources):
                owners = [
                    _PermissionRow(*row[width + index * 6 : width + index * 6 + 6]) for row in page
                ]
                checks.append(self._access.allowed(session, owners, READ))
            for position, row in enumerate(page):
                if remaining == 0:
                    return
                if all(check[position] for check in checks):
                    if remaining is not None:
                        remaining -= 1
                    yield tuple(
                        None if value is None else from_stored(kind, value)
                        for value, kind in zip(row[:width], kinds, strict=True)
                    )

    # -- saved queries (datasets) ------------------------------------------------

    @retried
    def save_query(
        self, directory: Target, name: str, condition: str, *, recursive: bool = False
    ) -> SavedQuery:
        """Store ``condition`` on ``directory`` as query ``name``; needs write permission on it.

        The condition is checked against the schema now; a name taken already
        raises :class:`AlreadyExists`.
        """
        _check_name(name)
        parsed = parse_condition(condition)
        with self._access.session(write=True) as session:
            entry = self._directory(session, directory, WRITE | EXECUTE)
            lfn = self._lfn(session, directory, entry)
            collections = self._collections(session, condition, parsed, None, {None: lfn})
            QueryCompiler(condition, collections, dialect=self._access.dialect).condition(parsed)
            exists = session.scalar(
                select(func.count())
                .select_from(SavedQueryModel)
                .where(SavedQueryModel.directory_id == entry.id, SavedQueryModel.name == name)
            )
            if exists:
                raise AlreadyExists(
                    f"{directory} has a saved query {name!r} already", str(directory)
                )
            session.add(
                SavedQueryModel(
                    directory_id=entry.id,
                    name=name,
                    condition=condition,
                    recursive=recursive,
                    owner=self._access.identity.user,
                )
            )
            return SavedQuery(lfn, name, condition, recursive, self._access.identity.user)

    def saved_queries(self, directory: Target) -> list[SavedQuery]:
        """The queries saved on ``directory``, by name."""
        with self._access.session() as session:
            entry = self._directory(session, directory, READ | EXECUTE)
            lfn = self._lfn(session, directory, entry)
            rows = session.scalars(
                select(SavedQueryModel)
                .where(SavedQueryModel.directory_id == entry.id)
                .order_by(SavedQueryModel.name)
            )
            return [SavedQuery(lfn, r.name, r.condition, r.recursive, r.owner) for r in rows]

    @retried
    def remove_query(self, directory: Target, name: str) -> None:
        """Delete saved query ``name`` of ``directory``; needs write permission on it."""
        with self._access.session(write=True) as session:
            entry = self._directory(session, directory, WRITE | EXECUTE)
            row = _saved_row(session, entry.id, name, directory)
            session.delete(row)

    def run_saved_query(self, directory: str, name: str) -> Rows[str]:
        """The LFNs that saved query ``name`` of ``directory`` finds now."""
        with self._access.session() as session:
            entry = self._directory(session, directory, READ | EXECUTE)
            row = _saved_row(session, entry.id, name, directory)
            condition, recursive = row.condition, row.recursive
        return self.find(directory, condition, recursive=recursive)

    # -- helpers -----------------------------------------------------------------

    def _stream(self, execute: Any) -> Rows[Any]:
        return stream(self._access.session(), self._access.database_errors, execute)

    def _execute(self, session: Session, statement: Select[Any]) -> Iterator[Any]:
        # yield_per streams: a server-side cursor on PostgreSQL, sqlite3's own stepping on SQLite.
        return closing(
            session.execute(
                statement, execution_options={"yield_per": self._page_size, "stream_results": True}
            )
        )

    def _entry(self, session: Session, target: Target, want: int) -> EntryModel:
        if isinstance(target, int):
            return self._access.by_id(session, target, want)
        return self._access.resolve(session, target, want)

    def _directory(self, session: Session, target: Target, want: int) -> EntryModel:
        entry = self._entry(session, target, 0)
        if entry.kind != EntryKind.DIRECTORY.value:
            raise NotADirectory(f"not a directory: {target}", str(target))
        self._access.require(session, entry, want, str(target))
        return entry

    def _lfn(self, session: Session, target: Target, entry: EntryModel) -> str:
        if isinstance(target, str):
            return (
                join_lfn(split_lfn(target)) if entry.kind == EntryKind.DIRECTORY.value else target
            )
        return self._access.lfn_of(session, entry)

    def _schema_of_parent(
        self,
        session: Session,
        entry: EntryModel,
        cache: dict[int, dict[str, AttributeType]],
        target: Target,
    ) -> dict[str, AttributeType]:
        if entry.parent_id is None:
            raise InvalidArgument(f"the root directory holds no metadata ({target})", str(target))
        if entry.parent_id not in cache:
            cache[entry.parent_id] = _schema(session, entry.parent_id)
        return cache[entry.parent_id]

    def _collections(
        self,
        session: Session,
        text: str,
        condition: Condition | None,
        query: SelectQuery | None,
        named: Mapping[str | None, str],
        *,
        known: Mapping[str, EntryModel] | None = None,
    ) -> dict[str | None, Collection]:
        """Each collection the query names, with its schema (read and search permission).

        ``known`` holds directories resolved and checked already, by path.
        """
        refs: list[Attribute] = list(attributes_of(condition)) if condition is not None else []
        if query is not None:
            refs += list(query.attributes) + [key.attribute for key in query.order_by]
        paths: dict[str | None, tuple[str, int]] = {key: (path, 1) for key, path in named.items()}
        for ref in refs:
            if ref.collection is not None:
                paths.setdefault(ref.collection, (ref.collection, ref.column))
            elif None not in paths:
                raise QueryError(
                    f"attribute {ref.name!r} needs its collection (/dir:{ref.name})",
                    text,
                    ref.column,
                )
        by_id: dict[int, Collection] = {}
        result: dict[str | None, Collection] = {}
        for key, (path, column) in paths.items():
            entry = (known or {}).get(path)
            if entry is None:
                try:
                    entry = self._directory(session, path, READ | EXECUTE)
                except InvalidArgument as exc:
                    raise QueryError(str(exc), text, column) from exc
            if entry.id not in by_id:
                by_id[entry.id] = Collection(path, entry.id, _schema(session, entry.id))
            result[key] = by_id[entry.id]
        return result

    def _tree(self, session: Session, root: EntryModel, lfn: str) -> dict[int, str]:
        """The LFNs of ``root`` and the directories below it that the identity may list."""
        entries = EntryModel.__table__
        level = select(*entries.c[_PERMISSION_COLUMNS], entries.c.parent_id, entries.c.name).where(
            entries.c.id == root.id
        )
        tree = level.cte("tree", recursive=True)
        below = select(*entries.c[_PERMISSION_COLUMNS], entries.c.parent_id, entries.c.name).where(
            entries.c.parent_id == tree.c.id, entries.c.kind == EntryKind.DIRECTORY.value
        )
        tree = tree.union_all(below)
        rows = session.execute(select(tree)).all()
        allowed = self._access.allowed(session, rows, READ | EXECUTE)
        permitted = {row.id for row, ok in zip(rows, allowed, strict=True) if ok}
        lfns: dict[int, str] = {root.id: lfn}
        children: dict[int, list[Any]] = {}
        for row in rows:
            if row.id != root.id:
                children.setdefault(row.parent_id, []).append(row)
        pending = [root.id]
        while pending:
            parent = pending.pop()
            for child in children.get(parent, []):
                if child.id in permitted:
                    lfns[child.id] = f"{lfns[parent].rstrip('/')}/{child.name}"
                    pending.append(child.id)
        return lfns


def _pages(result: Iterator[Any], size: int) -> Iterator[list[Any]]:
    page: list[Any] = []
    for row in result:
        page.append(row)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"invalid name {name!r}: a letter or _, then up to 63 letters, digits or _"
        )
    if name.lower() in KEYWORDS or name == FILE:
        raise InvalidArgument(f"invalid name {name!r}: it is a word of the query language")


def _schema(session: Session, directory_id: int) -> dict[str, AttributeType]:
    rows = session.scalars(
        select(AttributeModel)
        .where(AttributeModel.directory_id == directory_id)
        .order_by(AttributeModel.id)
    )
    return {row.name: parse_type(row.type) for row in rows}


def _attribute_row(session: Session, directory_id: int, name: str) -> AttributeModel | None:
    return session.scalar(
        select(AttributeModel).where(
            AttributeModel.directory_id == directory_id, AttributeModel.name == name
        )
    )


def _saved_row(
    session: Session, directory_id: int, name: str, directory: Target
) -> SavedQueryModel:
    row = session.scalar(
        select(SavedQueryModel).where(
            SavedQueryModel.directory_id == directory_id, SavedQueryModel.name == name
        )
    )
    if row is None:
        raise NotFound(f"{directory} has no saved query {name!r}", str(directory))
    return row


def _kind(schema: Mapping[str, AttributeType], name: str, target: Target) -> AttributeType:
    kind = schema.get(name)
    if kind is None:
        raise NotFound(
            f"the directory of {target} has no attribute {name!r} in its schema", str(target)
        )
    return kind


def _delete_values(session: Session, entry_id: int, names: list[str]) -> None:
    session.execute(
        delete(ValueModel).where(ValueModel.entry_id == entry_id, ValueModel.name.in_(names))
    )


def _stored_in(row: Any, kind: AttributeType) -> Value | None:
    stored = getattr(row, storage_of(kind).value)
    return None if stored is None else from_stored(kind, stored)


def _value_of(row: ValueModel | None, kind: AttributeType) -> Value | None:
    return None if row is None else _stored_in(row, kind)
