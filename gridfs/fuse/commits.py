"""Opening files for writing and storing what was written: the mount's commits.

A mixin of :class:`~gridfs.fuse.operations.GridOperations`. A file opened
for writing is a :class:`WriteFile` over a staged copy; FLUSH, FSYNC and
RELEASE store it (:meth:`Commits.upload`, in threads of their own so that a
slow upload never stalls lookups and reads), unless other descriptors still
write to the same open (:mod:`gridfs.fuse.holders`). What it needs of the
operations is declared in :mod:`gridfs.fuse.hooks`.
"""

from __future__ import annotations

import copy
import errno
import functools
import logging
import os

import pyfuse3
import trio

from gridfs.errors import GridError
from gridfs.fuse.changes import child_lfn
from gridfs.fuse.holders import pid_mark, writers_holding
from gridfs.fuse.hooks import OperationHooks
from gridfs.fuse.writing import WriteFile
from gridfs.gfal import EntryId, Nodes

__all__ = ["Commits"]

log = logging.getLogger(__name__)


class Commits(OperationHooks):
    """Files opened for writing or created, and the storing of them."""

    def open_for_writing(
        self, nodes: Nodes, entry_id: EntryId, flags: int, *, opener: int | None = None
    ) -> WriteFile:
        """Open an existing file for writing (``O_TRUNC`` and ``O_APPEND`` as given).

        ``opener`` is the calling process (the request's pid), where the
        descriptors of this open are to be looked for (:meth:`held_elsewhere`).
        """
        since = pid_mark()  # before the reply: a fork that shares this open comes later
        staged = nodes.open_staged(entry_id, truncate=bool(flags & os.O_TRUNC))
        return WriteFile(staged, append=bool(flags & os.O_APPEND), opener=opener, since=since)

    def create_file(
        self,
        nodes: Nodes,
        parent_id: EntryId,
        name: str,
        mode: int,
        flags: int,
        *,
        opener: int | None = None,
    ) -> tuple[WriteFile, pyfuse3.EntryAttributes]:
        """Create ``name`` in ``parent_id`` open for writing, with its attributes (CREATE).

        ``opener`` as for :meth:`open_for_writing`.
        """
        since = pid_mark()
        staged = nodes.grid.open_staged(
            child_lfn(nodes, parent_id, name),
            create=True,
            exclusive=bool(flags & os.O_EXCL),
            truncate=bool(flags & os.O_TRUNC),
            mode=mode,
            expect_new=True,  # the kernel creates only a name it looked up in vain
        )
        opened = WriteFile(staged, append=bool(flags & os.O_APPEND), opener=opener, since=since)
        catalogued = self._attributes(staged.entry)
        self._added(staged.entry, catalogued)
        attributes = copy.copy(catalogued)
        attributes.st_size = opened.size
        return opened, attributes

    def commit(self, opened: WriteFile) -> None:
        """Store and register a file's changes; any failure is EIO for close(2)."""
        try:
            entry = opened.commit()
        except GridError as exc:
            log.warning("storing %s failed: %s", opened, exc)
            self._changed(opened.entry.parent_id)  # a new file is unregistered: gone
            raise GridError(f"storing {opened.staged.lfn} failed: {exc}", errno=errno.EIO) from exc
        if entry is not None:
            self._updated(entry)
            self._invalidate(self._inode(entry.id))

    async def upload(self, opened: WriteFile) -> None:
        """:meth:`commit` in an upload thread (never one that lookups and reads wait for)."""
        await trio.to_thread.run_sync(
            functools.partial(self.commit, opened), limiter=self._upload_limiter
        )

    async def upload_at_close(self, opened: WriteFile) -> None:
        """FLUSH: :meth:`commit` unless other descriptors still write to this open.

        Both in one upload thread: one hop for the close(2) that waits.
        """
        others = self.other_writers(opened)

        def store_unless_held() -> None:
            if not self.held_elsewhere(opened, others):
                self.commit(opened)

        await trio.to_thread.run_sync(store_unless_held, limiter=self._upload_limiter)

    def other_writers(self, opened: WriteFile) -> int:
        """The other opens for writing of the same file on this mount (in the trio thread)."""
        return sum(
            isinstance(f, WriteFile) and f is not opened and f.entry.id == opened.entry.id
            for f in self._open.values()
        )

    def held_elsewhere(self, opened: WriteFile, others: int) -> bool:
        """Whether other descriptors still write to this open, so that its FLUSH must not commit.

        See :mod:`gridfs.fuse.holders`. Descriptors of the file beyond one
        for each of the ``others`` opens of it on this mount (separate
        writers) belong to this open; the last of them to close commits.
        """
        if self._mountpoint is None or not opened.pending:
            return False
        inode = self._inode(opened.entry.id)
        if others:
            holders = writers_holding(self._mountpoint, inode)
        else:  # the file's only open: its descriptors are in its opener or processes made since
            holders = writers_holding(
                self._mountpoint, inode, opener=opened.opener, since=opened.since
            )
        if holders > others:
            log.debug(
                "%s: %d descriptors still write to it; stored at the last close", opened, holders
            )
            return True
        return False
