"""The file and replica catalog: LFN namespace, GUIDs, aliases, replicas, permissions.

:class:`Catalog` is put together from one part per concern, each standing on
the shared :class:`~gridfs.catalog.store.CatalogStore`: lookups here,
:mod:`~gridfs.catalog.namespace`, :mod:`~gridfs.catalog.bulk`,
:mod:`~gridfs.catalog.replicas` and :mod:`~gridfs.catalog.acls`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gridfs.catalog import coreways
from gridfs.catalog.acls import AclCalls
from gridfs.catalog.api import CatalogAPI
from gridfs.catalog.bulk import BulkCalls
from gridfs.catalog.engine import open_catalog_engine
from gridfs.catalog.identity import Identity
from gridfs.catalog.models import EntryModel
from gridfs.catalog.namespace import NamespaceCalls
from gridfs.catalog.permissions import EXECUTE, READ
from gridfs.catalog.queries import CHILD_BY_NAME, CHILDREN
from gridfs.catalog.records import EntryId, EntryKind, Stat
from gridfs.catalog.replicas import ReplicaCalls
from gridfs.catalog.store import ROOT_ID, CatalogStore
from gridfs.errors import InvalidArgument, IsADirectory, NotADirectory, NotFound

__all__ = ["ROOT_ID", "Catalog"]


class Catalog(NamespaceCalls, BulkCalls, ReplicaCalls, AclCalls):
    """An LFC-style file catalog over an injected SQLAlchemy engine.

    Thread-safe. Each public method runs in its own short transaction, unless
    the caller holds one open with :meth:`transaction`. Every call runs as
    ``identity`` and is checked against mode bits and POSIX ACLs, search
    permission on every ancestor included; denials raise
    :class:`PermissionDenied` (EACCES) or :class:`NotPermitted` (EPERM) as
    POSIX does.
    """

    def __init__(
        self, engine: Engine, identity: Identity, *, page_size: int = 1000, read_cache: bool = True
    ) -> None:
        self.store = CatalogStore(engine, identity, read_cache=read_cache)
        self.page_size = page_size

    @classmethod
    def _over(cls, store: CatalogStore, *, page_size: int) -> Catalog:
        """The catalog over an existing store (its identity and open transaction)."""
        catalog = cls.__new__(cls)
        catalog.store = store
        catalog.page_size = page_size
        return catalog

    @classmethod
    def from_url(
        cls,
        url: str,
        identity: Identity | None = None,
        *,
        page_size: int = 1000,
        create: bool = False,
        connections: int = 5,
        read_cache: bool = True,
    ) -> Catalog:
        """Open the catalog at ``url``, upgrading its schema as needed.

        A missing catalog raises :class:`NotFound` unless ``create`` (as
        ``gridfs init`` does), which makes a new one. ``connections`` are kept
        open for as many threads calling at once (a server's threads).
        ``read_cache=False`` turns off the cache of resolved paths
        (:mod:`~gridfs.catalog.readcache`), for comparison.
        """
        engine = open_catalog_engine(url, create=create, connections=connections)
        return cls(engine, identity or Identity.local(), page_size=page_size, read_cache=read_cache)

    @property
    def identity(self) -> Identity:
        """Who the calls run as."""
        return self.store.identity

    def as_identity(self, identity: Identity) -> Catalog:
        """The same catalog (sharing connections) acting as another identity."""
        return Catalog._over(self.store.as_identity(identity), page_size=self.page_size)

    def close(self) -> None:
        """Close the database connections."""
        self.store.close()

    def transaction(self) -> AbstractContextManager[None]:
        """Run the catalog calls inside the block as one transaction.

        Committed when the block ends, rolled back if it raises. Nested blocks
        join the outer one. The transaction belongs to the calling thread. Not
        part of :class:`~gridfs.catalog.api.CatalogAPI`: a remote catalog
        offers named operations instead.
        """
        return self.store.transaction()

    # -- lookups -----------------------------------------------------------

    def stat(self, lfn: str, *, follow_symlinks: bool = True) -> Stat:
        """The entry at ``lfn``; with ``follow_symlinks=False``, a link itself."""
        found = self.store.cached_stat(lfn, follow_last=follow_symlinks)
        if found is not None:
            return found
        with self.store.single_read() as connection:
            found = self.store.walk_stat(connection, lfn, follow_last=follow_symlinks)
        if found is not None:
            return found
        with self.store.session() as session:  # links to follow, ACLs on the way
            found = self.store.walk_stat(session, lfn, follow_last=follow_symlinks)
            if found is not None:
                return found
            return self.store.to_stat(self.store.resolve(session, lfn, follow_last=follow_symlinks))

    def stat_id(self, entry_id: EntryId) -> Stat:
        """The entry with id ``entry_id`` (as a filesystem's inode: no path check)."""
        with self.store.session() as session:
            return self.store.to_stat(self.store.by_id(session, entry_id))

    def lookup(self, parent_id: EntryId, name: str) -> Stat:
        """The child ``name`` of directory ``parent_id`` (not following links).

        Search permission is checked on the directory and on each of its
        ancestors, as a path walk from the root would.
        """
        fast = coreways.lookup(self.store, parent_id, name)
        if fast is None:
            raise NotFound(f"no such LFN: {name}", name)
        if not isinstance(fast, coreways.Fallback):
            return fast
        with self.store.session() as session:
            parent = self._searchable(session, parent_id, name)
            row = session.execute(CHILD_BY_NAME, {"parent": parent.id, "name": name}).first()
            if row is None:
                raise NotFound(f"no such LFN: {name}", name)
            return self.store.to_stat(row)

    def children(self, directory_id: EntryId, *, after: int = 0, limit: int) -> list[Stat]:
        """Up to ``limit`` children of a directory with ids above ``after``, in id order.

        What :meth:`lookup` of each of their names would give, in one query:
        it needs what a lookup needs (search permission on the directory and
        its ancestors), not read permission. A filesystem fetches a directory's
        entries with it on its first lookup there, and answers the next ones itself.
        """
        fast = coreways.children(self.store, directory_id, after, limit)
        if not isinstance(fast, coreways.Fallback):
            return fast
        with self.store.session() as session:
            parent = self._searchable(session, directory_id, str(directory_id))
            rows = session.execute(
                CHILDREN, {"parent": parent.id, "after": after, "limit": limit}
            ).all()
            return self.store.stats_of(rows)

    def _searchable(self, session: Session, directory_id: EntryId, lfn: str) -> EntryModel:
        """Directory ``directory_id``, checked searchable, and its ancestors too."""
        parent = self.store.by_id(session, directory_id)
        if parent.kind != EntryKind.DIRECTORY:
            raise NotADirectory(f"not a directory: {lfn}", lfn)
        self.store.require_reachable(
            session, parent, self.store.name_of(session, parent, directory_id)
        )
        self.store.require(session, parent, EXECUTE, lfn)
        return parent

    def lfn_of(self, entry_id: EntryId) -> str:
        """The LFN of an entry, found by walking up to the root."""
        fast = coreways.lfn_of(self.store, entry_id)
        if not isinstance(fast, coreways.Fallback):
            return fast
        with self.store.session() as session:
            return self.store.lfn_of(session, self.store.by_id(session, entry_id))

    def readlink(self, lfn_or_id: str | EntryId) -> str:
        """The target of a symbolic link."""
        with self.store.session() as session:
            entry = self.store.entry(session, lfn_or_id, follow=False)
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
        with self.store.session() as session:
            entry = self.store.entry(session, directory, follow=True)
            if entry.kind != EntryKind.DIRECTORY:
                raise NotADirectory(f"not a directory: {directory}", str(directory))
            self.store.require(session, entry, READ, str(directory))
            directory_id = EntryId(entry.id)
        return self._pages(directory_id, after)

    def _pages(self, directory_id: EntryId, after: int) -> Iterator[Stat]:
        while True:
            page = self.list_page(directory_id, after=after, limit=self.page_size)
            yield from page
            if len(page) < self.page_size:
                return
            after = page[-1].id

    def list_page(self, directory_id: EntryId, *, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` entries of a directory with ids above ``after``, in id order."""
        with self.store.session() as session:
            directory = self.store.by_id(session, directory_id)
            self.store.require(session, directory, READ, directory.name or "/")
            rows = session.execute(
                CHILDREN, {"parent": directory_id, "after": after, "limit": limit}
            ).all()
            return self.store.stats_of(rows)

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
        with self.store.session() as session:
            entry = self.store.by_guid(session, guid)
            primary = self.store.lfn_checked(session, entry)
            aliases = session.scalars(
                select(EntryModel)
                .where(EntryModel.kind == EntryKind.SYMLINK.value, EntryModel.target == primary)
                .order_by(EntryModel.id)
            )
            return [primary, *(self.store.lfn_of(session, alias) for alias in aliases)]


def _satisfies_api(catalog: Catalog) -> CatalogAPI:
    """Checked by mypy: the SQL catalog is a :class:`CatalogAPI`."""
    return catalog
