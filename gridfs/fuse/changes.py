"""The requests that change the namespace: mkdir, symlink, mknod, unlink, rmdir, rename, setattr.

A mixin of :class:`~gridfs.fuse.operations.GridOperations`: each handler
checks the mount is writable and hops to a worker thread, acting as its
caller, where the change is made through the caller's :class:`Grid` and the
directories it touched are dropped from the mount's caches. Errors stay
gridfs errors here; :func:`errno_boundary` makes them errnos. What it needs
of the operations is declared in :mod:`gridfs.fuse.hooks`.
"""

from __future__ import annotations

import copy
import errno
import os
import stat
import time
from typing import TypeVar

import pyfuse3

from gridfs.errors import GridError, InvalidArgument, NotFound
from gridfs.fuse.errno_boundary import errno_boundary
from gridfs.fuse.hooks import OperationHooks
from gridfs.fuse.reading import OpenFile
from gridfs.fuse.writing import WriteFile
from gridfs.gfal import EntryId, Nodes, Stat

__all__ = ["NamespaceChanges", "child_lfn", "name_text"]

T = TypeVar("T")


class NamespaceChanges(OperationHooks):
    """The namespace-changing request handlers of the mount, and their work in threads."""

    def _mkdir(
        self, nodes: Nodes, parent_id: EntryId, name: str, mode: int
    ) -> pyfuse3.EntryAttributes:
        entry = nodes.grid.mkdir(child_lfn(nodes, parent_id, name), mode)
        attributes = self._attributes(entry)
        self._added(entry, attributes)
        self._made(nodes, entry)
        return attributes

    def _symlink(
        self, nodes: Nodes, parent_id: EntryId, name: str, target: str
    ) -> pyfuse3.EntryAttributes:
        entry = nodes.grid.symlink(target, child_lfn(nodes, parent_id, name))
        attributes = self._attributes(entry)
        self._added(entry, attributes)
        return attributes

    def _mknod(
        self, nodes: Nodes, parent_id: EntryId, name: str, mode: int, rdev: int
    ) -> pyfuse3.EntryAttributes:
        lfn = child_lfn(nodes, parent_id, name)
        if stat.S_ISREG(mode):  # mknod(2) of a regular file: an empty one, stored at once
            with nodes.grid.open_staged(
                lfn, create=True, exclusive=True, mode=mode & 0o7777
            ) as staged:
                entry = staged.commit()
        else:
            entry = nodes.grid.mknod(lfn, mode, rdev)
        attributes = self._attributes(entry)
        self._added(entry, attributes)
        return attributes

    def _unlink(self, nodes: Nodes, parent_id: EntryId, name: str) -> None:
        try:
            nodes.grid.unlink(child_lfn(nodes, parent_id, name))
        except BaseException:  # it may have failed halfway: some replicas may be gone
            self._changed(parent_id)
            raise
        self._removed(parent_id, name)

    def _rmdir(self, nodes: Nodes, parent_id: EntryId, name: str) -> None:
        nodes.grid.rmdir(child_lfn(nodes, parent_id, name))
        self._removed(parent_id, name)

    def _rename(self, nodes: Nodes, names: tuple[EntryId, str, EntryId, str], flags: int) -> None:
        old_id, old_name, new_id, new_name = names
        source = child_lfn(nodes, old_id, old_name)
        destination = child_lfn(nodes, new_id, new_name)
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise InvalidArgument("exchanging two entries (RENAME_EXCHANGE) is not supported")
        if flags & pyfuse3.RENAME_NOREPLACE:
            try:
                nodes.grid.lstat(destination)
            except NotFound:
                pass
            else:
                raise GridError(f"{destination} exists", destination, errno=errno.EEXIST)
        nodes.grid.rename(source, destination)
        self._reshaped(old_id, new_id)

    def _setattr(
        self,
        nodes: Nodes,
        entry_id: EntryId,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        opened: OpenFile | WriteFile | None,
    ) -> pyfuse3.EntryAttributes:
        entry = nodes.stat(entry_id)
        lfn = nodes.lfn(entry_id)
        # A link's own owner and times (lchown, lutimes); a link has no mode or size to set.
        link = entry.is_symlink()
        if fields.update_size and not link:
            entry = self._truncate(nodes, entry_id, attr.st_size, opened)
        # Owner before mode: a refused chown changes nothing. The kernel sends
        # chown's clearing of the set-id bits as a mode in the same request.
        if fields.update_uid or fields.update_gid:
            owner = self._ids.owner(attr.st_uid) if fields.update_uid else None
            group = self._ids.group(attr.st_gid) if fields.update_gid else None
            entry = nodes.grid.chown(lfn, owner, group, follow_symlinks=not link)
        if fields.update_mode and not link:
            entry = nodes.grid.chmod(lfn, attr.st_mode & 0o7777)
        if fields.update_atime or fields.update_mtime:
            atime: int | None = attr.st_atime_ns if fields.update_atime else entry.atime_ns
            mtime: int | None = attr.st_mtime_ns if fields.update_mtime else entry.mtime_ns
            if (
                fields.update_atime
                and fields.update_mtime
                and _just_now(attr.st_atime_ns, attr.st_mtime_ns)
            ):
                atime = mtime = None  # "now", which write permission allows, not only the owner
            entry = nodes.grid.utime(lfn, atime, mtime, follow_symlinks=not link)
            # futimens() comes without the file handle: the file's writer, if any.
            writer = opened if isinstance(opened, WriteFile) else self._writers.get(entry_id)
            if writer is not None:
                writer.times_set(atime, mtime)  # kept by the commit at close
        if entry.is_dir() and (fields.update_mode or fields.update_uid or fields.update_gid):
            self._reshaped(entry.parent_id)  # who may search below it may differ
            attributes = self._attributes(entry)
        else:  # only the entry's own attributes changed, and who may open it
            attributes = copy.copy(self._updated(entry))
        # chmod of a file being written keeps the size written, not yet stored
        writer = opened if isinstance(opened, WriteFile) else self._writers.get(entry_id)
        if writer is not None:
            attributes.st_size = writer.size
        return attributes

    def _truncate(
        self, nodes: Nodes, entry_id: EntryId, size: int, opened: OpenFile | WriteFile | None
    ) -> Stat:
        """Set a file's size: in its open staging file, or stored at once (truncate(2))."""
        if isinstance(opened, WriteFile):
            opened.truncate(size)
            return nodes.stat(entry_id)
        entry = nodes.stat(entry_id)
        if entry.size == size:  # nothing to store: no new version
            return entry
        with nodes.open_staged(entry_id, truncate=size == 0) as staged:
            staged.truncate(size)
            return staged.commit()

    @errno_boundary
    async def mkdir(
        self, parent_inode: pyfuse3.InodeT, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        self._writable()
        permissions = mode & ~ctx.umask & 0o7777
        parent = self._entry_id(parent_inode)
        return await self._as(ctx, self._mkdir, parent, name_text(name), permissions)

    @errno_boundary
    async def symlink(
        self,
        parent_inode: pyfuse3.InodeT,
        name: bytes,
        target: bytes,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        self._writable()
        parent = self._entry_id(parent_inode)
        return await self._as(ctx, self._symlink, parent, name_text(name), name_text(target))

    @errno_boundary
    async def mknod(
        self,
        parent_inode: pyfuse3.InodeT,
        name: bytes,
        mode: int,
        rdev: int,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        # FIFOs, sockets and devices are catalog entries only: the kernel serves their I/O.
        self._writable()
        mode = stat.S_IFMT(mode) | (mode & ~ctx.umask & 0o7777)
        parent = self._entry_id(parent_inode)
        return await self._as(ctx, self._mknod, parent, name_text(name), mode, rdev)

    @errno_boundary
    async def unlink(
        self, parent_inode: pyfuse3.InodeT, name: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        self._writable()
        await self._as(ctx, self._unlink, self._entry_id(parent_inode), name_text(name))

    @errno_boundary
    async def rmdir(
        self, parent_inode: pyfuse3.InodeT, name: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        self._writable()
        await self._as(ctx, self._rmdir, self._entry_id(parent_inode), name_text(name))

    @errno_boundary
    async def rename(  # noqa: PLR0917 - pyfuse3's signature
        self,
        parent_inode_old: pyfuse3.InodeT,
        name_old: bytes,
        parent_inode_new: pyfuse3.InodeT,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        self._writable()
        names = (
            self._entry_id(parent_inode_old),
            name_text(name_old),
            self._entry_id(parent_inode_new),
            name_text(name_new),
        )
        await self._as(ctx, self._rename, names, flags)

    @errno_boundary
    async def link(
        self,
        inode: pyfuse3.InodeT,
        new_parent_inode: pyfuse3.InodeT,
        new_name: bytes,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        # A file has one LFN; a second name for it is an alias (a symbolic link).
        # Refused as Linux refuses what it may not do (EPERM), after its checks
        # of the new directory (EACCES), which the kernel leaves to the mount.
        directory = self._entry_id(new_parent_inode)
        if not await self._as(ctx, lambda nodes: nodes.access(directory, os.W_OK | os.X_OK)):
            raise pyfuse3.FUSEError(errno.EACCES)
        raise pyfuse3.FUSEError(errno.EPERM)

    @errno_boundary
    async def setattr(
        self,
        inode: pyfuse3.InodeT,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: pyfuse3.FileHandleT | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        self._writable()
        opened = self._open.get(fh) if fh is not None else None
        return await self._as(ctx, self._setattr, self._entry_id(inode), attr, fields, opened)


def child_lfn(nodes: Nodes, parent_id: EntryId, name: str) -> str:
    """The LFN of ``name`` in directory ``parent_id``."""
    return f"{nodes.lfn(parent_id).rstrip('/')}/{name}"


def _just_now(atime_ns: int, mtime_ns: int) -> bool:
    """Whether SETATTR's times are "now" (utimensat's ``UTIME_NOW``, ``touch``).

    pyfuse3 gives "now" as the time it took on receiving the request, the same
    for both: an equal pair from the last second is taken for it.
    """
    return atime_ns == mtime_ns and 0 <= time.time_ns() - mtime_ns < 1_000_000_000


def name_text(name: bytes) -> str:
    """A name or link target from the kernel as an LFN part; LFNs are UTF-8."""
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"not UTF-8: {name!r}") from None
