"""What the request mixins need of :class:`~gridfs.fuse.operations.GridOperations`.

The handlers are split by concern over a few modules (:mod:`.changes`,
:mod:`.commits`, :mod:`.xattrs`), each a mixin the operations inherit. They
share the operations' state and plumbing, declared here once, as typed
attributes and abstract methods, and implemented in
:mod:`gridfs.fuse.operations`; a mixin never reaches past them.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import pyfuse3
import trio

from gridfs.fuse.ids import IdMapper
from gridfs.fuse.queries import QueryDirectories
from gridfs.fuse.reading import OpenFile
from gridfs.fuse.writing import WriteFile
from gridfs.gfal import EntryId, Nodes, Stat

__all__ = ["OperationHooks"]

T = TypeVar("T")


class OperationHooks(abc.ABC):
    """The state and plumbing of the mount's operations that the request mixins use."""

    requests: Counter[str]  # by handler, counted by errno_boundary
    _ids: IdMapper
    _queries: QueryDirectories
    _open: dict[int, OpenFile | WriteFile]  # by file handle
    _writers: dict[EntryId, WriteFile]  # files open for writing, by entry
    _mountpoint: str | None  # None: not mounted, no holders to look for
    _upload_limiter: trio.CapacityLimiter

    @abc.abstractmethod
    async def _as(self, ctx: pyfuse3.RequestContext, fn: Callable[..., T], *args: object) -> T:
        """``fn(nodes, *args)`` in a worker thread, the nodes acting as the caller."""

    @abc.abstractmethod
    def _entry_id(self, inode: int) -> EntryId:
        """The catalog entry of ``inode`` (EROFS for a virtual query entry)."""

    @abc.abstractmethod
    def _inode(self, entry_id: int) -> pyfuse3.InodeT:
        """The inode the kernel knows ``entry_id`` by."""

    @abc.abstractmethod
    def _writable(self) -> None:
        """Raise EROFS on a read-only mount."""

    @abc.abstractmethod
    def _attributes(self, entry: Stat) -> pyfuse3.EntryAttributes:
        """The kernel's view of an entry."""

    @abc.abstractmethod
    def _shown(self, entry: Stat) -> pyfuse3.EntryAttributes:
        """An entry's attributes, with the size written so far if open for writing."""

    @abc.abstractmethod
    def _changed(self, *directories: EntryId | None) -> None:
        """The mount changed these directories: drop what is kept of them."""

    @abc.abstractmethod
    def _added(self, entry: Stat, attributes: pyfuse3.EntryAttributes) -> None:
        """The mount made ``entry``: kept copies of its directory know it."""

    @abc.abstractmethod
    def _updated(self, entry: Stat) -> pyfuse3.EntryAttributes:
        """The mount changed ``entry`` but not its name: kept copies show it; its attributes."""

    @abc.abstractmethod
    def _removed(self, parent_id: EntryId, name: str) -> None:
        """The mount removed child ``name`` of ``parent_id``: kept copies know it is gone."""

    @abc.abstractmethod
    def _made(self, nodes: Nodes, entry: Stat) -> None:
        """The mount made directory ``entry`` as ``nodes``: kept empty for its maker."""

    @abc.abstractmethod
    def _reshaped(self, *directories: EntryId | None) -> None:
        """The mount changed permissions or moved an entry: drop everything kept."""

    @abc.abstractmethod
    def _invalidate(self, inode: int) -> None:
        """Make the kernel ask again for the attributes of ``inode``."""
