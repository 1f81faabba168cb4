"""The pyfuse3 request handlers: the LFN tree under one root, read-only.

Inode numbers are catalog entry ids (stable across renames, never reused),
except that the mount's root entry is shown as ``pyfuse3.ROOT_INODE``. Every
catalog or storage call, and every user or group lookup, runs in a worker
thread through one capacity limiter, so the trio loop never waits on the
database, a storage element or a name service.
"""

from __future__ import annotations

import errno
import functools
import itertools
import logging
import os
import posixpath
from collections.abc import Callable
from typing import TypeVar

import pyfuse3
import trio

from gridfs.catalog import EntryId, Stat
from gridfs.fuse.errno_boundary import errno_boundary
from gridfs.fuse.ids import IdMapper
from gridfs.gfal import FailoverReader, Grid

__all__ = ["GridOperations"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_BLOCK_SIZE = 128 * 1024
_READDIR_PAGE = 256


class GridOperations(pyfuse3.Operations):
    """Serves ``grid``'s LFN tree below ``root_id`` to the kernel."""

    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(
        self,
        grid: Grid,
        root_id: EntryId,
        root_lfn: str,
        *,
        threads: int = 8,
        attr_timeout: float = 1.0,
    ) -> None:
        super().__init__()
        self._grid = grid
        self._root_id = root_id
        self._root_lfn = root_lfn
        self._ids = IdMapper(grid.catalog.identity)
        self._limiter = trio.CapacityLimiter(threads)
        self._timeout = attr_timeout
        self._open: dict[int, FailoverReader] = {}
        self._handles = itertools.count(1)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(functools.partial(fn, *args), limiter=self._limiter)

    def _entry_id(self, inode: int) -> EntryId:
        return self._root_id if inode == pyfuse3.ROOT_INODE else EntryId(inode)

    def _inode(self, entry_id: int) -> pyfuse3.InodeT:
        return pyfuse3.ROOT_INODE if entry_id == self._root_id else pyfuse3.InodeT(entry_id)

    def close(self) -> None:
        """Close the replicas of files still open when the mount ends."""
        while self._open:
            _, opened = self._open.popitem()
            opened.close()

    def _attributes(self, entry: Stat) -> pyfuse3.EntryAttributes:
        """The kernel's view of an entry; called in worker threads (it may look up names)."""
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = self._inode(entry.id)
        attrs.generation = 0
        attrs.entry_timeout = self._timeout
        attrs.attr_timeout = self._timeout
        attrs.st_mode = pyfuse3.ModeT(entry.st_mode)
        attrs.st_nlink = 2 if entry.is_dir() else 1
        attrs.st_uid = self._ids.uid(entry.owner)
        attrs.st_gid = self._ids.gid(entry.group)
        attrs.st_rdev = 0
        attrs.st_size = len(self._link_target(entry)) if entry.is_symlink() else entry.size
        attrs.st_blksize = _BLOCK_SIZE
        attrs.st_blocks = (entry.size + 511) // 512
        attrs.st_atime_ns = entry.atime_ns
        attrs.st_mtime_ns = entry.mtime_ns
        attrs.st_ctime_ns = entry.ctime_ns
        return attrs

    def _link_target(self, entry: Stat) -> bytes:
        """A link's target as seen through the mount.

        Aliases hold absolute LFNs; one inside the mounted tree is shown
        relative to the link, so that it resolves wherever the tree is mounted.
        """
        target = entry.target or ""
        inside = target == self._root_lfn or target.startswith(self._root_lfn.rstrip("/") + "/")
        if inside and entry.parent_id is not None:
            target = posixpath.relpath(target, self._grid.lfn_id(entry.parent_id))
        return target.encode("utf-8")

    def _lookup(self, parent_id: EntryId, name: str) -> pyfuse3.EntryAttributes:
        return self._attributes(self._grid.lookup(parent_id, name))

    def _getattr(self, entry_id: EntryId) -> pyfuse3.EntryAttributes:
        return self._attributes(self._grid.stat_id(entry_id))

    def _readlink(self, entry_id: EntryId) -> bytes:
        entry = self._grid.stat_id(entry_id)
        if not entry.is_symlink():
            raise pyfuse3.FUSEError(errno.EINVAL)
        return self._link_target(entry)

    def _list_page(
        self, directory_id: EntryId, after: int
    ) -> list[tuple[bytes, pyfuse3.EntryAttributes, int]]:
        page = self._grid.list_page_id(directory_id, after, _READDIR_PAGE)
        return [(e.name.encode("utf-8"), self._attributes(e), e.id) for e in page]

    @errno_boundary
    async def lookup(
        self, parent_inode: pyfuse3.InodeT, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            raise pyfuse3.FUSEError(errno.ENOENT) from None  # LFNs are UTF-8
        return await self._run(self._lookup, self._entry_id(parent_inode), text)

    @errno_boundary
    async def getattr(
        self, inode: pyfuse3.InodeT, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        return await self._run(self._getattr, self._entry_id(inode))

    @errno_boundary
    async def readlink(self, inode: pyfuse3.InodeT, ctx: pyfuse3.RequestContext) -> bytes:
        return await self._run(self._readlink, self._entry_id(inode))

    @errno_boundary
    async def opendir(
        self, inode: pyfuse3.InodeT, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.FileHandleT:
        return pyfuse3.FileHandleT(inode)

    @errno_boundary
    async def readdir(
        self, fh: pyfuse3.FileHandleT, start_id: int, token: pyfuse3.ReaddirToken
    ) -> None:
        # start_id is the id of the last entry the kernel took: a stable resume key.
        directory = self._entry_id(fh)
        after = start_id
        while True:
            page = await self._run(self._list_page, directory, after)
            for name, attributes, entry_id in page:
                if not pyfuse3.readdir_reply(token, name, attributes, entry_id):
                    return
            if len(page) < _READDIR_PAGE:
                return
            after = page[-1][2]

    @errno_boundary
    async def releasedir(self, fh: pyfuse3.FileHandleT) -> None:
        return None

    @errno_boundary
    async def open(
        self, inode: pyfuse3.InodeT, flags: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.FileInfo:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            raise pyfuse3.FUSEError(errno.EROFS)
        opened = await self._run(self._grid.open_id, self._entry_id(inode))
        handle = next(self._handles)
        self._open[handle] = opened
        log.debug("open inode %d as handle %d from %s", inode, handle, opened.turl)
        # A file's bytes change only with its size and mtime, and the kernel drops
        # cached pages when those change (libfuse asks for auto_inval_data), so
        # pages cached by an earlier open stay valid.
        return pyfuse3.FileInfo(fh=pyfuse3.FileHandleT(handle), keep_cache=True)

    @errno_boundary
    async def read(self, fh: pyfuse3.FileHandleT, off: int, size: int) -> bytes:
        return await self._run(self._open[fh].pread, off, size)

    @errno_boundary
    async def release(self, fh: pyfuse3.FileHandleT) -> None:
        opened = self._open.pop(fh)
        await self._run(opened.close)

    @errno_boundary
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = _BLOCK_SIZE
        data.f_frsize = _BLOCK_SIZE
        data.f_namemax = 255
        return data
