"""A grid addressed by catalog entry id, for filesystems that keep ids as inode numbers.

:class:`Nodes` holds the ``*_id`` twins of the :class:`~gridfs.gfal.Grid`
calls that the mount needs. They take the entry (or its id) at once and
compute an LFN only where a message or an LFN-addressed call needs one,
so that the hot paths (open, stat, setxattr) cost one catalog request.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from gridfs.catalog import EntryId, Identity, Stat
from gridfs.errors import PermissionDenied
from gridfs.gfal import xattrs
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.grid import Grid
from gridfs.gfal.services import CallerCatalogs, caller_catalogs
from gridfs.gfal.writer import StagedFile, open_existing
from gridfs.metadata import FoundEntry, Rows

__all__ = ["CallerNodes", "LazyLFN", "Nodes"]


class LazyLFN:
    """The LFN of an entry, looked up the first time its text is asked for (messages)."""

    def __init__(self, grid: Grid, entry_id: EntryId) -> None:
        self._grid = grid
        self._entry_id = entry_id
        self._lfn: str | None = None

    def __str__(self) -> str:
        if self._lfn is None:
            self._lfn = self._grid.catalog.lfn_of(self._entry_id)
        return self._lfn


class Nodes:
    """The calls of a grid by entry id; thread-safe, as the grid is."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid

    @property
    def identity(self) -> Identity:
        """Who the calls run as."""
        return self.grid.identity

    def stat(self, entry_id: EntryId, mode: int = 0) -> Stat:
        """The entry with id ``entry_id``, checked as the path walk to it (and for ``mode``).

        ``mode`` is ``os.R_OK|W_OK|X_OK``; a denial raises :class:`PermissionDenied`.
        """
        return self.grid.catalog.stat_walked(entry_id, mode)

    def access(self, entry_id: EntryId, mode: int) -> bool:
        """Whether the identity reaches entry ``entry_id`` and may ``mode`` on it (access(2))."""
        try:
            self.stat(entry_id, mode)
        except PermissionDenied:
            return False
        return True

    def lookup(self, parent_id: EntryId, name: str) -> Stat:
        """The child ``name`` of directory ``parent_id``, the way to it searchable."""
        return self.grid.catalog.lookup(parent_id, name)

    def children(self, directory_id: EntryId, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` children of a directory after id ``after``, as lookups would give them.

        One catalog request; needs search permission on the way, not read permission.
        """
        return self.grid.catalog.children(directory_id, after=after, limit=limit)

    def list_page(self, directory_id: EntryId, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` entries of a directory in id order, resuming after id ``after``."""
        return self.grid.catalog.list_page(directory_id, after=after, limit=limit)

    def lfn(self, entry_id: EntryId) -> str:
        """The LFN of an entry."""
        return self.grid.catalog.lfn_of(entry_id)

    def open(
        self, entry_id: EntryId, protocols: Sequence[str] | None = None
    ) -> tuple[Stat, FailoverReader]:
        """The file and a reader of its best working replica (the caller closes it).

        One catalog request: the entry and its replicas together.
        """
        entry, replicas = self.grid.catalog.stat_replicas(entry_id)
        name = LazyLFN(self.grid, entry_id)
        return entry, self.grid.storage.open_best(
            entry, replicas, name, protocols, on_corrupt=self.grid.mark_bad
        )

    def open_staged(
        self, entry_id: EntryId, *, truncate: bool = False, read: bool = False
    ) -> StagedFile:
        """Open the existing file ``entry_id`` for writing (see :meth:`Grid.open_staged`)."""
        entry = self.stat(entry_id)
        lfn = self.lfn(entry_id)
        return open_existing(self.grid.write_target, entry, lfn, truncate=truncate, read=read)

    def find(
        self, directory_id: EntryId, condition: str, *, recursive: bool = False
    ) -> Rows[FoundEntry]:
        """The entries below directory ``directory_id`` matching metadata ``condition``."""
        return self.grid.metadata.find_ids(directory_id, condition, recursive=recursive)

    # -- extended attributes ----------------------------------------------------

    def _target(self, entry_id: EntryId) -> xattrs.Target:
        return xattrs.Target(self.grid, self.stat(entry_id), LazyLFN(self.grid, entry_id))

    def getxattr(self, entry_id: EntryId, name: str) -> bytes:
        """:meth:`Grid.getxattr` of the entry ``entry_id``."""
        return xattrs.get(self._target(entry_id), name)

    def setxattr(self, entry_id: EntryId, name: str, value: bytes, flags: int = 0) -> None:
        """:meth:`Grid.setxattr` of the entry ``entry_id``; a metadata value in one request."""
        if flags == 0 and xattrs.is_metadata_value(name):
            xattrs.set_metadata_value(self.grid, entry_id, name, value)
            return
        xattrs.set_value(self._target(entry_id), name, value, flags=flags)

    def listxattr(self, entry_id: EntryId) -> list[str]:
        """:meth:`Grid.listxattr` of the entry ``entry_id``."""
        return xattrs.listing(self._target(entry_id))

    def removexattr(self, entry_id: EntryId, name: str) -> None:
        """:meth:`Grid.removexattr` of the entry ``entry_id``."""
        xattrs.remove(self._target(entry_id), name)


class CallerNodes:
    """The grid as each local caller, for a catalog that decides who its callers are.

    A shared mount over a catalog service acts for each local uid with that
    uid's own credential (:func:`~gridfs.gfal.services.caller_catalogs`), never
    with the mounting user's. Thread-safe.
    """

    def __init__(self, grid: Grid, catalogs: CallerCatalogs) -> None:
        self._grid = grid
        self._catalogs = catalogs
        self._nodes: dict[int, tuple[object, Nodes]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_url(cls, grid: Grid, url: str) -> CallerNodes | None:
        """The callers' grids of catalog ``url``; None if it takes the identity it is given."""
        catalogs = caller_catalogs(url)
        return None if catalogs is None else cls(grid, catalogs)

    def of(self, uid: int) -> Nodes:
        """Local user ``uid``'s grid; :class:`PermissionDenied` if it has no usable credential."""
        catalog, metadata = self._catalogs.of(uid)
        known = self._nodes.get(uid)
        if known is not None and known[0] is catalog:
            return known[1]
        nodes = Nodes(self._grid.with_catalog(catalog, metadata))
        with self._lock:
            self._nodes[uid] = (catalog, nodes)
        return nodes

    def close(self) -> None:
        """Close every caller's connections."""
        self._catalogs.close()
