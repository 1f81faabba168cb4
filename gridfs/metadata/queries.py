"""Metadata queries: find, selectattr and selectQuery, and saved queries (datasets)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridfs.catalog import EntryId, EntryKind, Stat
from gridfs.catalog.models import EntryModel
from gridfs.catalog.permissions import EXECUTE, READ, WRITE
from gridfs.catalog.store import CatalogStore, retry_on_conflict
from gridfs.errors import AlreadyExists, InvalidArgument, NotFound
from gridfs.metadata.compiler import Collection, QueryCompiler, attributes_of
from gridfs.metadata.lookups import Lookups, Target, check_name, pages, schema_of
from gridfs.metadata.models import SavedQueryModel
from gridfs.metadata.parser import parse_attribute, parse_condition, parse_select
from gridfs.metadata.rows import Rows
from gridfs.metadata.syntax import Attribute, Condition, QueryError, SelectQuery
from gridfs.metadata.types import AttributeType, Value, from_stored

__all__ = ["FoundEntry", "Queries", "SavedQuery"]

_PERMISSION_COLUMNS = ("id", "owner", "group_name", "mode", "kind", "has_acl")
_MAX_DIRECTORIES_PER_QUERY = 10_000  # parent ids per IN (...): under every dialect's limit


@dataclass(frozen=True)
class SavedQuery:
    """A named condition stored on a directory: a dataset."""

    directory: str
    name: str
    condition: str
    recursive: bool
    owner: str


@dataclass(frozen=True)
class FoundEntry:
    """A match of :meth:`Metadata.find_ids`, with the directories that lead to it.

    ``directories`` runs from the subdirectory just below the directory
    searched down to the match's parent: empty for a direct child.
    """

    directories: tuple[Stat, ...]
    entry: Stat


@dataclass(frozen=True)
class _PermissionRow:
    id: int
    owner: str
    group_name: str
    mode: int
    kind: str
    has_acl: bool


@dataclass(frozen=True)
class _Directory:
    """A directory searched: its LFN and the directories from below the top down to it."""

    lfn: str
    path: tuple[Stat, ...]


class Queries:
    """The query part of :class:`~gridfs.metadata.Metadata`."""

    def __init__(self, lookups: Lookups) -> None:
        self._on = lookups

    @property
    def store(self) -> CatalogStore:
        """The store the queries run on."""
        return self._on.store

    def find(self, directory: str, condition: str, *, recursive: bool = False) -> Rows[str]:
        """The LFNs of the entries of ``directory`` that match ``condition`` (AMGA find).

        With ``recursive``, entries of its subdirectories too (bare attribute
        names keep the types of ``directory``'s schema). In no particular
        order. Needs read and search permission on each directory searched.
        """
        return self._find(directory, condition, recursive=recursive, stats=False)

    def find_ids(
        self, directory_id: EntryId, condition: str, *, recursive: bool = False
    ) -> Rows[FoundEntry]:
        """As :meth:`find`, for a filesystem: the directory by id, each match with its place."""
        return self._find(directory_id, condition, recursive=recursive, stats=True)

    def _find(self, directory: Target, text: str, *, recursive: bool, stats: bool) -> Rows[Any]:
        """The matches of ``text`` in ``directory``: :class:`FoundEntry` records, or else LFNs."""
        condition = parse_condition(text)
        with self._on.store.session() as session:
            entry = self._on.directory(session, directory, READ | EXECUTE)
            lfn = self._on.lfn(session, directory, entry)
            collections = self._collections(
                session, text, condition, None, {None: lfn}, known={lfn: entry}
            )
            default = collections[None]
            top = _Directory(lfn, ())
            tree = self._tree(session, entry, top) if recursive else {entry.id: top}
        compiler = QueryCompiler(text, collections, dialect=self._on.store.dialect)
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
                results.append(self._on.execute(session, statement))
            return self._readable_entries(session, results, tree, stats=stats)

        return self._on.stream(execute)

    def _readable_entries(
        self,
        session: Session,
        results: list[Iterator[Any]],
        tree: Mapping[int, _Directory],
        *,
        stats: bool,
    ) -> Iterator[Any]:
        store = self._on.store
        for result in results:
            for page in pages(result, self._on.page_size):
                for row, allowed in zip(page, store.allowed(session, page, READ), strict=True):
                    if not allowed:
                        continue
                    parent = tree[row.parent_id]
                    if stats:
                        yield FoundEntry(parent.path, store.to_stat(row))
                    else:
                        yield f"{parent.lfn.rstrip('/')}/{row.name}"

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
        named = {ref.collection for ref in refs if ref.collection is not None}
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
        with self._on.store.session() as session:
            named: dict[str | None, str] = {path: path for path in query.collections}
            if default is not None:
                named[None] = default
            collections = self._collections(session, text, query.where, query, named)
        compiler = QueryCompiler(text, collections, dialect=self._on.store.dialect)
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
            result = self._on.execute(session, statement)
            return self._readable_rows(
                session,
                result=result,
                kinds=kinds,
                width=width,
                sources=len(sources),
                limit=query.limit,
            )

        return self._on.stream(execute)

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
        for page in pages(result, self._on.page_size):
            checks = []
            for index in range(sources):
                owners = [
                    _PermissionRow(*row[width + index * 6 : width + index * 6 + 6]) for row in page
                ]
                checks.append(self._on.store.allowed(session, owners, READ))
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

    @retry_on_conflict
    def save_query(
        self, directory: Target, name: str, condition: str, *, recursive: bool = False
    ) -> SavedQuery:
        """Store ``condition`` on ``directory`` as query ``name``; needs write permission on it.

        The condition is checked against the schema now; a name taken already
        raises :class:`AlreadyExists`.
        """
        check_name(name)
        parsed = parse_condition(condition)
        with self._on.store.session(write=True) as session:
            entry = self._on.directory(session, directory, WRITE | EXECUTE)
            lfn = self._on.lfn(session, directory, entry)
            collections = self._collections(session, condition, parsed, None, {None: lfn})
            QueryCompiler(condition, collections, dialect=self._on.store.dialect).condition(parsed)
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
                    owner=self._on.store.identity.user,
                )
            )
            return SavedQuery(lfn, name, condition, recursive, self._on.store.identity.user)

    def saved_queries(self, directory: Target) -> list[SavedQuery]:
        """The queries saved on ``directory``, by name."""
        with self._on.store.session() as session:
            entry = self._on.directory(session, directory, READ | EXECUTE)
            lfn = self._on.lfn(session, directory, entry)
            rows = session.scalars(
                select(SavedQueryModel)
                .where(SavedQueryModel.directory_id == entry.id)
                .order_by(SavedQueryModel.name)
            )
            return [SavedQuery(lfn, r.name, r.condition, r.recursive, r.owner) for r in rows]

    @retry_on_conflict
    def remove_query(self, directory: Target, name: str) -> None:
        """Delete saved query ``name`` of ``directory``; needs write permission on it."""
        with self._on.store.session(write=True) as session:
            entry = self._on.directory(session, directory, WRITE | EXECUTE)
            row = _saved_row(session, entry.id, name, directory)
            session.delete(row)

    def run_saved_query(self, directory: str, name: str) -> Rows[str]:
        """The LFNs that saved query ``name`` of ``directory`` finds now."""
        with self._on.store.session() as session:
            entry = self._on.directory(session, directory, READ | EXECUTE)
            row = _saved_row(session, entry.id, name, directory)
            condition, recursive = row.condition, row.recursive
        return self.find(directory, condition, recursive=recursive)

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
                    entry = self._on.directory(session, path, READ | EXECUTE)
                except InvalidArgument as exc:
                    raise QueryError(str(exc), text, column) from exc
            if entry.id not in by_id:
                by_id[entry.id] = Collection(path, entry.id, schema_of(session, entry.id))
            result[key] = by_id[entry.id]
        return result

    def _tree(self, session: Session, root: EntryModel, top: _Directory) -> dict[int, _Directory]:
        """``root`` and the directories below it that the identity may list, by id."""
        entries = EntryModel.__table__
        level = select(entries).where(entries.c.id == root.id)
        tree = level.cte("tree", recursive=True)
        below = select(entries).where(
            entries.c.parent_id == tree.c.id, entries.c.kind == EntryKind.DIRECTORY.value
        )
        tree = tree.union_all(below)
        rows = session.execute(select(tree)).all()
        allowed = self._on.store.allowed(session, rows, READ | EXECUTE)
        permitted = {row.id for row, ok in zip(rows, allowed, strict=True) if ok}
        found: dict[int, _Directory] = {root.id: top}
        children: dict[int, list[Any]] = {}
        for row in rows:
            if row.id != root.id:
                children.setdefault(row.parent_id, []).append(row)
        pending = [root.id]
        while pending:
            parent_id = pending.pop()
            parent = found[parent_id]
            for child in children.get(parent_id, []):
                if child.id in permitted:
                    found[child.id] = _Directory(
                        f"{parent.lfn.rstrip('/')}/{child.name}",
                        (*parent.path, self._on.store.to_stat(child)),
                    )
                    pending.append(child.id)
        return found


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
