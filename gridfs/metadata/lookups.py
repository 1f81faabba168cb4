"""What every metadata call looks up: entries, directories and their schemas, row streams."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gridfs.catalog import EntryId, EntryKind, join_lfn, split_lfn
from gridfs.catalog.models import EntryModel
from gridfs.catalog.store import CatalogStore
from gridfs.errors import InvalidArgument, NotADirectory, UnknownAttribute
from gridfs.metadata.compiler import FILE
from gridfs.metadata.models import AttributeModel
from gridfs.metadata.parser import KEYWORDS
from gridfs.metadata.rows import Rows, closing, stream
from gridfs.metadata.types import AttributeType, parse_type

__all__ = ["Lookups", "Target", "check_name", "kind_of", "pages", "schema_of"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

Target = str | EntryId


class Lookups:
    """Entries and schemas in a session of ``store``, and results streamed a page at a time."""

    def __init__(self, store: CatalogStore, page_size: int) -> None:
        self.store = store
        self.page_size = page_size

    def entry(self, session: Session, target: Target, want: int) -> EntryModel:
        """The entry named by LFN (links followed) or id, with ``want`` checked on it."""
        if isinstance(target, int):
            return self.store.by_id(session, target, want)
        return self.store.resolve(session, target, want=want)

    def directory(self, session: Session, target: Target, want: int) -> EntryModel:
        """The directory named by ``target``, with ``want`` checked on it."""
        entry = self.entry(session, target, 0)
        if entry.kind != EntryKind.DIRECTORY.value:
            raise NotADirectory(f"not a directory: {target}", str(target))
        self.store.require(session, entry, want, str(target))
        return entry

    def lfn(self, session: Session, target: Target, entry: EntryModel) -> str:
        """The LFN to report ``entry`` by: the normalised one asked for, or its own."""
        if isinstance(target, str):
            return (
                join_lfn(split_lfn(target)) if entry.kind == EntryKind.DIRECTORY.value else target
            )
        return self.store.lfn_of(session, entry)

    def schema_of_parent(
        self,
        session: Session,
        entry: EntryModel,
        cache: dict[int, dict[str, AttributeType]],
        target: Target,
    ) -> dict[str, AttributeType]:
        """The schema of the directory that holds ``entry`` (kept in ``cache`` by directory)."""
        if entry.parent_id is None:
            raise InvalidArgument(f"the root directory holds no metadata ({target})", str(target))
        if entry.parent_id not in cache:
            cache[entry.parent_id] = schema_of(session, entry.parent_id)
        return cache[entry.parent_id]

    def stream(self, execute: Callable[[Session], Iterator[Any]]) -> Rows[Any]:
        """The rows ``execute`` yields, in a session held until they are read or closed."""
        return stream(self.store.session(), self.store.database_errors, execute)

    def execute(self, session: Session, statement: Select[Any]) -> Iterator[Any]:
        """The rows of ``statement``, streamed (closed when read to the end or abandoned)."""
        # yield_per streams: a server-side cursor on PostgreSQL, sqlite3's own stepping on SQLite.
        return closing(
            session.execute(
                statement, execution_options={"yield_per": self.page_size, "stream_results": True}
            )
        )


def schema_of(session: Session, directory_id: int) -> dict[str, AttributeType]:
    """The schema of directory ``directory_id``, in the order its attributes were added."""
    rows = session.scalars(
        select(AttributeModel)
        .where(AttributeModel.directory_id == directory_id)
        .order_by(AttributeModel.id)
    )
    return {row.name: parse_type(row.type) for row in rows}


def kind_of(schema: Mapping[str, AttributeType], name: str, target: Target) -> AttributeType:
    """The type of attribute ``name`` in ``schema``, or :class:`UnknownAttribute`."""
    kind = schema.get(name)
    if kind is None:
        raise UnknownAttribute(
            f"the directory of {target} has no attribute {name!r} in its schema", str(target)
        )
    return kind


def check_name(name: str) -> None:
    """Raise :class:`InvalidArgument` unless ``name`` may name an attribute or a saved query."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"invalid name {name!r}: a letter or _, then up to 63 letters, digits or _"
        )
    if name.lower() in KEYWORDS or name == FILE:
        raise InvalidArgument(f"invalid name {name!r}: it is a word of the query language")


def pages(result: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """The rows of ``result`` in lists of ``size`` (the last one shorter)."""
    page: list[Any] = []
    for row in result:
        page.append(row)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
