"""What the metadata layer uses of the catalog: sessions, resolution, permission checks.

The one module that touches the catalog's internals, so that the rest of
``gridfs.metadata`` depends only on this small surface. The metadata tables
live in the catalog's database and every call joins the catalog's
transaction when one is open (:meth:`Catalog.transaction`), so a file and its
metadata change together.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from gridfs.catalog import Catalog, EntryKind, Identity, Stat
from gridfs.catalog.catalog import _acls_of, _is_conflict, _lfn, _to_stat
from gridfs.catalog.engine import database_errors
from gridfs.catalog.models import EntryModel
from gridfs.catalog.permissions import is_allowed
from gridfs.errors import GridError, NotFound

__all__ = ["CatalogAccess", "retried"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_ATTEMPTS = 10


class CatalogAccess:
    """The catalog as the metadata layer needs it, acting as the catalog's identity."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @property
    def identity(self) -> Identity:
        """Who the calls run as."""
        return self.catalog.identity

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.catalog._engine.dialect.name

    def in_transaction(self) -> bool:
        """True inside the caller's :meth:`Catalog.transaction` block."""
        return self.catalog._open.get() is not None

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        """The open transaction's session, or a new one committed at the end of the block."""
        return self.catalog._session(write=write)

    def database_errors(self) -> AbstractContextManager[None]:
        """Turns database errors raised inside the block into gridfs errors."""
        return database_errors(self.catalog._engine)

    def resolve(self, session: Session, lfn: str, want: int = 0) -> EntryModel:
        """The entry at ``lfn`` (links followed), with ``want`` permission checked on it."""
        entry = self.catalog._resolve(session, lfn, follow_last=True)
        if want:
            self.catalog._require(session, entry, want, lfn)
        return entry

    def by_id(self, session: Session, entry_id: int, want: int = 0) -> EntryModel:
        """The entry with id ``entry_id`` (no path check, as a filesystem's inode)."""
        entry = session.get(EntryModel, entry_id)
        if entry is None:
            raise NotFound(f"no catalog entry has id {entry_id}", str(entry_id))
        if want:
            self.catalog._require(session, entry, want, entry.name or "/")
        return entry

    def require(self, session: Session, entry: EntryModel, want: int, lfn: str) -> None:
        """Raise :class:`PermissionDenied` unless the identity has ``want`` on ``entry``."""
        self.catalog._require(session, entry, want, lfn)

    def allowed(self, session: Session, rows: Sequence[Any], want: int) -> list[bool]:
        """Whether the identity has ``want`` on each row (entries or rows with their columns).

        Rows need ``id``, ``owner``, ``group_name``, ``mode``, ``kind`` and
        ``has_acl``; ACLs are fetched only for the rows that have one.
        """
        acls = _acls_of(session, [row for row in rows if row.has_acl])
        return [
            is_allowed(
                self.identity,
                owner=row.owner,
                group=row.group_name,
                mode=row.mode,
                acl=acls.get(row.id, []),
                want=want,
                is_directory=row.kind == EntryKind.DIRECTORY.value,
            )
            for row in rows
        ]

    @staticmethod
    def to_stat(row: Any) -> Stat:
        """The :class:`Stat` of an entry model or of a row with all the entry's columns."""
        return _to_stat(row)

    @staticmethod
    def lfn_of(session: Session, entry: EntryModel) -> str:
        """The LFN of ``entry``, walking up to the root in ``session``."""
        return _lfn(session, entry)


def retried(method: Callable[P, T]) -> Callable[P, T]:
    """Run a metadata write again, with jittered backoff, after a lock or serialisation clash.

    Not inside the caller's :meth:`Catalog.transaction`: that block is the caller's to repeat.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        access = getattr(args[0], "_access")  # noqa: B009 - the instance of the decorated method
        assert isinstance(access, CatalogAccess)
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return method(*args, **kwargs)
            except GridError as exc:
                last = attempt == _ATTEMPTS or access.in_transaction()
                if last or not _is_conflict(exc.__cause__):
                    raise
                log.info("retrying %s after a conflict: %s", method.__name__, exc)
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper
