"""The pyfuse3 request handlers: the LFN tree under one root.

Inode numbers are catalog entry ids (stable across renames, never reused),
except that the mount's root entry is shown as ``pyfuse3.ROOT_INODE``. Every
catalog or storage call, and every user or group lookup, runs in a worker
thread through one capacity limiter, so the trio loop never waits on the
database, a storage element or a name service. Answers that need none of
them (the kernel's own xattr namespaces, reads of a local replica that the
page cache holds) are given in the loop itself, without a thread hop.

Listings carry each entry's attributes (READDIRPLUS), valid for the
configured entry and attribute timeouts, so ``ls -l`` does not look each
entry up again. A directory's children are fetched whole, in one catalog
request, on the first lookup or listing there, and kept per identity for the
entry timeout (:mod:`gridfs.fuse.directories`): the lookups, ``getattr`` and
``readdir`` that follow are answered from memory in the loop itself.

Each request acts as its caller: the local uid and gid the kernel gives map
to a grid identity (:class:`IdMapper`), and the catalog checks that
identity's permissions (ACLs included) through a :class:`Grid` acting as it,
one per identity, kept for the life of the mount. Over a catalog that decides
itself who its caller is (a catalog service), another local caller acts with
its own credential instead (:class:`CallerNodes`), never the mounting user's.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import functools
import itertools
import logging
import os
import posixpath
import stat
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import pyfuse3
import trio

from gridfs.config import MountSettings
from gridfs.errors import (
    GridError,
    InvalidArgument,
    NoReplicaAvailable,
    NotFound,
    PermissionDenied,
    ReadOnly,
)
from gridfs.fuse.blockcache import BlockCache
from gridfs.fuse.changes import NamespaceChanges, name_text
from gridfs.fuse.commits import Commits
from gridfs.fuse.directories import Directory, DirectoryCache
from gridfs.fuse.errno_boundary import errno_boundary
from gridfs.fuse.ids import IdMapper
from gridfs.fuse.listings import ListingCache
from gridfs.fuse.queries import QUERY_DIR, QueryDirectories, VirtualEntry
from gridfs.fuse.reading import OpenFile
from gridfs.fuse.tape import Stages, is_staging
from gridfs.fuse.writing import WriteFile
from gridfs.fuse.xattrs import ExtendedAttributes
from gridfs.gfal import CallerNodes, Corrupt, EntryId, Grid, Identity, Nodes, Stat

__all__ = ["GridOperations"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_Listed = tuple[bytes, pyfuse3.EntryAttributes, int]  # name, attributes, entry id

_BLOCK_SIZE = 128 * 1024
_NAME_MAX = 255  # bytes in a name, as the catalog allows
_READDIR_PAGE = 256
_FETCH_PAGE = 5000  # children per catalog request when a directory is fetched whole
_GETATTR = -1  # the walked-stat key of a getattr's answer (modes are 0 to 7)


class GridOperations(NamespaceChanges, Commits, ExtendedAttributes, pyfuse3.Operations):
    """Serves ``grid``'s LFN tree below ``root_id`` to the kernel."""

    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(
        self,
        grid: Grid,
        root_id: EntryId,
        root_lfn: str,
        *,
        settings: MountSettings | None = None,
        cache: BlockCache | None = None,
        threads: int = 8,
        mountpoint: str | None = None,
        callers: CallerNodes | None = None,
    ) -> None:
        super().__init__()
        self.requests: Counter[str] = Counter()  # by handler, counted by errno_boundary
        settings = settings or MountSettings()
        self._grid = grid
        self._root_id = root_id
        self._root_lfn = root_lfn
        self._mountpoint = mountpoint  # None: not mounted, no holders to look for
        self._settings = settings
        self._ids = IdMapper(
            grid.identity,
            users=settings.users,
            groups=settings.groups,
            fallback_uid=settings.fallback_uid,
            fallback_gid=settings.fallback_gid,
        )
        self._root_nodes = Nodes(grid)
        self._grids: dict[Identity, Nodes] = {grid.identity: self._root_nodes}
        self._grids_lock = threading.Lock()
        self._callers = callers
        self._cache = cache
        self._limiter = trio.CapacityLimiter(threads)
        # Uploads on close take their own threads: slow ones must not stall ls and reads.
        self._upload_limiter = trio.CapacityLimiter(threads)
        self._open: dict[int, OpenFile | WriteFile] = {}
        self._writers: dict[EntryId, WriteFile] = {}  # files open for writing, by entry
        self._corrupt_pages: set[EntryId] = set()  # files whose cached pages came from a bad copy
        self._listings: ListingCache[list[_Listed]] = ListingCache(settings.entry_timeout)
        self._directories: DirectoryCache[pyfuse3.EntryAttributes] = DirectoryCache(
            settings.entry_timeout
        )
        self._dirs: dict[int, tuple[EntryId, Nodes]] = {}
        self._handles = itertools.count(1)
        self._stages = Stages(settings.stage_pin)
        self._queries = QueryDirectories()

    # -- plumbing ------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(functools.partial(fn, *args), limiter=self._limiter)

    async def _as(self, ctx: pyfuse3.RequestContext, fn: Callable[..., T], *args: object) -> T:
        """``fn(nodes, *args)`` in a worker thread, with the grid's nodes acting as the caller."""
        uid, gid, pid = ctx.uid, ctx.gid, ctx.pid
        return await self._run(lambda: fn(self._grid_for(uid, gid, pid), *args))

    def _grid_for(self, uid: int, gid: int, pid: int = 0) -> Nodes:
        """The grid acting as local caller ``uid``/``gid``, process ``pid`` (:mod:`.ids`)."""
        if self._callers is not None and uid != self._ids.own_uid:
            return self._callers.of(uid)  # the service decides who: the caller's own credential
        identity = self._ids.caller(uid, gid, pid)
        with self._grids_lock:
            nodes = self._grids.get(identity)
            if nodes is None:
                log.info(
                    "uid %d gid %d acts as grid user %s %s",
                    uid,
                    gid,
                    identity.user,
                    identity.groups,
                )
                nodes = Nodes(self._grid.as_identity(identity))
                self._grids[identity] = nodes
            return nodes

    def _entry_id(self, inode: int) -> EntryId:
        """The catalog entry of ``inode``; the virtual query entries have none (EROFS)."""
        if self._queries.is_virtual(inode):
            raise self._queries.refuse("change it or open it for writing")
        return self._root_id if inode == pyfuse3.ROOT_INODE else EntryId(inode)

    def _inode(self, entry_id: int) -> pyfuse3.InodeT:
        return pyfuse3.ROOT_INODE if entry_id == self._root_id else pyfuse3.InodeT(entry_id)

    def _writable(self) -> None:
        if self._settings.read_only:
            raise ReadOnly("the mount is read-only")

    def close(self) -> None:
        """Close the files still open when the mount ends; log the requests served."""
        served = ", ".join(f"{name} {count}" for name, count in sorted(self.requests.items()))
        log.info("requests served: %s", served or "none")
        while self._open:
            _, opened = self._open.popitem()
            opened.close()

    def _attributes(self, entry: Stat) -> pyfuse3.EntryAttributes:
        """The kernel's view of an entry; called in worker threads (it may look up names)."""
        return self._attributes_of((entry,))[0]

    def _attributes_of(self, entries: Sequence[Stat]) -> list[pyfuse3.EntryAttributes]:
        """The kernel's view of each of ``entries``, in worker threads (it may look up names).

        Kept lean, as a directory fetched whole passes here: pyfuse3's
        attributes start as a regular file with one link, no device and
        generation 0, and only what differs is set.
        """
        entry_timeout, attr_timeout = self._settings.entry_timeout, self._settings.attr_timeout
        uid, gid, root_id = self._ids.uid, self._ids.gid, self._root_id
        shown = []
        for entry in entries:
            attrs = pyfuse3.EntryAttributes()
            attrs.st_ino = pyfuse3.ROOT_INODE if entry.id == root_id else pyfuse3.InodeT(entry.id)
            attrs.entry_timeout = entry_timeout
            attrs.attr_timeout = attr_timeout
            attrs.st_mode = pyfuse3.ModeT(entry.st_mode)
            if entry.is_dir():
                attrs.st_nlink = 2
            attrs.st_uid = uid(entry.owner)
            attrs.st_gid = gid(entry.group)
            if entry.rdev:
                attrs.st_rdev = entry.rdev
            size = entry.size
            attrs.st_size = len(self._link_target(entry)) if entry.is_symlink() else size
            attrs.st_blksize = _BLOCK_SIZE
            attrs.st_blocks = (size + 511) // 512
            attrs.st_atime_ns = entry.atime_ns
            attrs.st_mtime_ns = entry.mtime_ns
            attrs.st_ctime_ns = entry.ctime_ns
            shown.append(attrs)
        return shown

    def _link_target(self, entry: Stat) -> bytes:
        """A link's target as seen through the mount.

        Aliases hold absolute LFNs; one inside the mounted tree is shown
        relative to the link, so that it resolves wherever the tree is mounted.
        """
        target = entry.target or ""
        inside = target == self._root_lfn or target.startswith(self._root_lfn.rstrip("/") + "/")
        if inside and entry.parent_id is not None:
            target = posixpath.relpath(target, self._root_nodes.lfn(entry.parent_id))
        return target.encode("utf-8")

    def _invalidate(self, inode: int) -> None:
        """Make the kernel ask again for attributes the mount itself just changed."""
        try:
            pyfuse3.invalidate_inode(pyfuse3.InodeT(inode), attr_only=True)
        except OSError as exc:  # ENOENT: the kernel holds no such inode any more
            log.debug("invalidating inode %d: %s", inode, exc)

    # -- looking ---------------------------------------------------------------

    def _lookup(self, nodes: Nodes, parent_id: EntryId, name: str) -> pyfuse3.EntryAttributes:
        kept = self._directory(nodes, parent_id)
        try:
            if kept is not None:
                attributes = kept.child(name.encode("utf-8"))
                if attributes is None:
                    raise NotFound(f"no such entry: {name}", name)
                return self._with_writer(attributes)
            entry = nodes.lookup(parent_id, name)
        except NotFound:
            if name != QUERY_DIR:
                raise
            return self._virtual_attributes(self._queries.query_dir(nodes, parent_id))
        return self._shown(entry)

    # -- directories in memory (gridfs.fuse.directories) -------------------------

    def _known(self, ctx: pyfuse3.RequestContext) -> Identity | None:
        """The caller's identity when the loop may answer it from memory (else None).

        The mounting user's only: another caller's identity takes its
        process's groups (``/proc``) or its own service credential, which a
        worker thread reads; what it is kept for is then answered there.
        """
        return self._ids.identity if ctx.uid == self._ids.own_uid else None

    def _directory(
        self, nodes: Nodes, directory_id: EntryId
    ) -> Directory[pyfuse3.EntryAttributes] | None:
        """The children of a directory, kept or fetched whole now; None if not worth it.

        In a worker thread. None also when the caller may not search the
        directory: the request's own path then raises what it should.
        """
        identity = nodes.identity
        kept = self._directories.directory(identity, directory_id)
        if kept is not None or not self._directories.worth_fetching(directory_id):
            return kept
        generation = self._directories.generation()
        children: list[tuple[int, bytes, pyfuse3.EntryAttributes]] = []
        after = 0
        while True:
            try:
                page = nodes.children(directory_id, after, _FETCH_PAGE)
            except PermissionDenied:
                return None
            ids = [e.id for e in page]
            names = [e.name.encode("utf-8") for e in page]
            children += zip(ids, names, self._attributes_of(page), strict=True)
            if len(page) < _FETCH_PAGE:
                break
            if len(children) > self._directories.max_entries // 2:
                self._directories.skip(directory_id)  # too big to keep: looked up by name
                return None
            after = page[-1].id
        return self._directories.put(identity, directory_id, children, generation=generation)

    def warm(self) -> None:
        """Fetch the root directory now, before the mount serves its first request.

        Its children are then answered from memory for the entry timeout, and
        the catalog has prepared the statements that a lookup or a listing
        needs: the first request after mounting does not wait for them.
        """
        self._directory(self._root_nodes, self._root_id)

    def _with_writer(self, attributes: pyfuse3.EntryAttributes) -> pyfuse3.EntryAttributes:
        """Kept attributes, with the size written so far if the file is open for writing."""
        if not self._writers:  # the common case: answered without a look at the inode
            return attributes
        writer = self._writers.get(EntryId(self._entry_id(attributes.st_ino)))
        return attributes if writer is None else self._as_written(attributes, writer)

    # -- the virtual query directories (gridfs.fuse.queries) ---------------------

    def _virtual_attributes(self, entry: VirtualEntry) -> pyfuse3.EntryAttributes:
        """A query directory or link: read-only, looked up afresh each time."""
        attrs = copy.copy(self._attributes(entry.owner_entry))
        attrs.st_ino = pyfuse3.InodeT(entry.inode)
        attrs.st_mode = pyfuse3.ModeT(entry.st_mode)
        attrs.st_nlink = 1 if entry.kind == "link" else 2
        attrs.st_size = len(entry.target.encode("utf-8"))
        attrs.st_blocks = 0
        attrs.entry_timeout = attrs.attr_timeout = 0  # a search's answer may change
        return attrs

    def _child_attributes(self, child: Stat | VirtualEntry) -> pyfuse3.EntryAttributes:
        if isinstance(child, VirtualEntry):
            return self._virtual_attributes(child)
        return self._attributes(child)

    def _lookup_virtual(self, nodes: Nodes, inode: int, name: str) -> pyfuse3.EntryAttributes:
        parent = self._queries.entry(inode)
        return self._child_attributes(self._queries.lookup(nodes, parent, name))

    def _virtual_listing(
        self, nodes: Nodes, inode: int
    ) -> list[tuple[bytes, pyfuse3.EntryAttributes]]:
        listed = self._queries.listing(nodes, self._queries.entry(inode))
        return [(name.encode("utf-8"), self._child_attributes(child)) for name, child in listed]

    def _getattr(self, nodes: Nodes, entry_id: EntryId) -> pyfuse3.EntryAttributes:
        generation = self._directories.generation()
        attributes = self._attributes(nodes.stat(entry_id))
        self._directories.put_walked(
            nodes.identity, entry_id, _GETATTR, attributes, generation=generation
        )
        return self._with_writer(attributes)

    def _stat_walked(self, nodes: Nodes, entry_id: EntryId, mode: int) -> Stat:
        """:meth:`Nodes.stat`, kept per identity for the entry timeout (denials are not kept)."""
        kept = self._directories.walked(nodes.identity, entry_id, mode)
        if isinstance(kept, Stat):
            return kept
        generation = self._directories.generation()
        entry = nodes.stat(entry_id, mode)
        self._directories.put_walked(nodes.identity, entry_id, mode, entry, generation=generation)
        return entry

    def _shown(self, entry: Stat) -> pyfuse3.EntryAttributes:
        """An entry's attributes; a file open for writing with the size written so far."""
        writer = self._writers.get(entry.id)
        attributes = self._attributes(entry)
        return attributes if writer is None else self._as_written(attributes, writer)

    def _readlink(self, nodes: Nodes, entry_id: EntryId) -> bytes:
        entry = nodes.stat(entry_id)
        if not entry.is_symlink():
            raise InvalidArgument("not a symbolic link")
        return self._link_target(entry)

    def _list_page(self, nodes: Nodes, directory_id: EntryId, after: int) -> list[_Listed]:
        identity = nodes.identity
        listed = self._listings.get(identity, directory_id, after)
        if listed is None:
            generation = self._listings.generation(directory_id)
            page = nodes.list_page(directory_id, after, _READDIR_PAGE)
            names = [e.name.encode("utf-8") for e in page]
            ids = [e.id for e in page]
            listed = list(zip(names, self._attributes_of(page), ids, strict=True))
            self._listings.put(
                identity, directory_id, after, listed, len(listed), generation=generation
            )
        return listed

    @staticmethod
    def _as_written(
        attributes: pyfuse3.EntryAttributes, writer: WriteFile
    ) -> pyfuse3.EntryAttributes:
        """A file open for writing shows the size written so far, as a local file does."""
        attributes = copy.copy(attributes)
        attributes.st_size = writer.size
        return attributes

    def _changed(self, *directories: EntryId | None) -> None:
        """The mount changed these directories: their listings must be read again."""
        self._listings.invalidate(*directories)
        self._directories.invalidate(*directories)

    def _added(self, entry: Stat, attributes: pyfuse3.EntryAttributes) -> None:
        """The mount made ``entry`` as ``attributes``: kept copies of its directory hold it."""
        if entry.parent_id is None:
            return
        self._listings.invalidate(entry.parent_id)
        self._directories.added(entry.parent_id, entry.id, entry.name.encode("utf-8"), attributes)

    def _updated(self, entry: Stat) -> pyfuse3.EntryAttributes:
        """The mount changed ``entry`` but not its name: kept copies show it; its attributes."""
        attributes = self._attributes(entry)
        if entry.parent_id is not None:
            self._listings.invalidate(entry.parent_id)
            self._directories.updated(entry.parent_id, entry.id, attributes)
        else:  # the catalog's root, in no directory: only its walked stats are kept
            self._directories.invalidate()
        return attributes

    def _removed(self, parent_id: EntryId, name: str) -> None:
        """The mount removed child ``name`` of ``parent_id``: kept copies know it is gone."""
        self._listings.invalidate(parent_id)
        self._directories.removed(parent_id, name.encode("utf-8"))

    def _made(self, nodes: Nodes, entry: Stat) -> None:
        """The mount made directory ``entry`` as ``nodes``: kept, empty, if its maker may search it.

        Its maker owns it: search permission is the owner's execute bit (an
        inherited ACL's owner entry is that bit too), or the superuser's.
        """
        identity = nodes.identity
        if identity.superuser or (entry.owner == identity.user and entry.mode & stat.S_IXUSR):
            self._directories.made(identity, entry.id)

    def _reshaped(self, *directories: EntryId | None) -> None:
        """The mount changed permissions or moved an entry: what anyone reaches may differ."""
        self._changed(*directories)
        self._directories.clear()

    @errno_boundary
    async def lookup(
        self, parent_inode: pyfuse3.InodeT, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        if len(name) > _NAME_MAX:  # no such entry can exist: the kernel's answer, at once
            raise pyfuse3.FUSEError(errno.ENAMETOOLONG)
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            raise pyfuse3.FUSEError(errno.ENOENT) from None  # LFNs are UTF-8
        if self._queries.is_virtual(parent_inode):
            return await self._as(ctx, self._lookup_virtual, parent_inode, text)
        parent = self._entry_id(parent_inode)
        identity = self._known(ctx)
        kept = None if identity is None else self._directories.directory(identity, parent)
        if kept is not None:  # answered from memory, in the loop
            attributes = kept.child(name)
            if attributes is not None:
                return self._with_writer(attributes)
            if text != QUERY_DIR:
                raise pyfuse3.FUSEError(errno.ENOENT)
        return await self._as(ctx, self._lookup, parent, text)

    @errno_boundary
    async def getattr(
        self, inode: pyfuse3.InodeT, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        if self._queries.is_virtual(inode):
            entry = self._queries.entry(inode)
            return await self._run(self._virtual_attributes, entry)
        entry_id = self._entry_id(inode)
        identity = self._known(ctx)
        if identity is not None:  # answered from memory, in the loop
            kept = self._directories.child(identity, entry_id)
            if kept is None:
                walked = self._directories.walked(identity, entry_id, _GETATTR)
                kept = walked if isinstance(walked, pyfuse3.EntryAttributes) else None
            if kept is not None:
                return self._with_writer(kept)
        return await self._as(ctx, self._getattr, entry_id)

    @errno_boundary
    async def access(
        self, inode: pyfuse3.InodeT, mode: pyfuse3.ModeT, ctx: pyfuse3.RequestContext
    ) -> bool:
        # access(2) and chdir(2) ask here: the kernel leaves every check to the catalog.
        if self._queries.is_virtual(inode):
            return not mode & os.W_OK  # a query's answer: read-only, searchable
        return await self._as(ctx, self._access, self._entry_id(inode), mode)

    def _access(self, nodes: Nodes, entry_id: EntryId, mode: int) -> bool:
        try:
            self._stat_walked(nodes, entry_id, mode)
        except PermissionDenied:
            return False
        return True

    @errno_boundary
    async def readlink(self, inode: pyfuse3.InodeT, ctx: pyfuse3.RequestContext) -> bytes:
        if self._queries.is_virtual(inode):
            entry = self._queries.entry(inode)
            if entry.kind != "link":
                raise InvalidArgument("not a symbolic link")
            return entry.target.encode("utf-8")
        return await self._as(ctx, self._readlink, self._entry_id(inode))

    @errno_boundary
    async def opendir(
        self, inode: pyfuse3.InodeT, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.FileHandleT:
        virtual = self._queries.is_virtual(inode)
        directory = EntryId(inode) if virtual else self._entry_id(inode)
        identity = self._known(ctx)
        if identity is not None and (
            virtual or isinstance(self._directories.walked(identity, directory, os.R_OK), Stat)
        ):
            nodes = self._root_nodes  # the mounting user's, checked lately: in the loop
        else:
            nodes = await self._as(ctx, self._opened_directory, directory, virtual)
        handle = next(self._handles)
        self._dirs[handle] = (directory, nodes)
        return pyfuse3.FileHandleT(handle)

    def _opened_directory(self, nodes: Nodes, directory: EntryId, virtual: bool) -> Nodes:
        """The caller's nodes, once what open(2) of a directory checks passed: read permission."""
        if not virtual:
            self._stat_walked(nodes, directory, os.R_OK)
        return nodes

    @errno_boundary
    async def readdir(
        self, fh: pyfuse3.FileHandleT, start_id: int, token: pyfuse3.ReaddirToken
    ) -> None:
        # start_id is the id of the last entry the kernel took: a stable resume key.
        directory, nodes = self._dirs[fh]
        if self._queries.is_virtual(directory):
            # A query's answer, whole (it is in memory); start_id is a position in it.
            listed = await self._run(self._virtual_listing, nodes, directory)
            for position, (name, attributes) in enumerate(listed[start_id:], start_id + 1):
                if not pyfuse3.readdir_reply(token, name, attributes, position):
                    return
            return
        kept = self._directories.directory(nodes.identity, directory)
        if kept is None:
            kept = await self._run(self._directory, nodes, directory)
        if kept is not None:  # the whole directory in memory: resumed at any id
            ids, names, kept_attributes = kept.ids, kept.names, kept.attributes
            for index in range(kept.after(start_id), len(ids)):
                attributes = self._with_writer(kept_attributes[index])
                if not pyfuse3.readdir_reply(token, names[index], attributes, ids[index]):
                    return
            return
        after = start_id
        while True:
            page = await self._run(self._list_page, nodes, directory, after)
            for name, catalogued, entry_id in page:
                writer = self._writers.get(EntryId(entry_id))
                attributes = catalogued if writer is None else self._as_written(catalogued, writer)
                if not pyfuse3.readdir_reply(token, name, attributes, entry_id):
                    return
            if len(page) < _READDIR_PAGE:
                return
            after = page[-1][2]

    @errno_boundary
    async def releasedir(self, fh: pyfuse3.FileHandleT) -> None:
        del self._dirs[fh]

    @errno_boundary
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = _BLOCK_SIZE
        data.f_frsize = _BLOCK_SIZE
        data.f_namemax = _NAME_MAX
        return data

    # -- opening, reading, writing ---------------------------------------------

    def _open_file(self, nodes: Nodes, entry_id: EntryId) -> OpenFile:
        """Open a file's best replica; a file only on tape is staged and raises EAGAIN."""
        try:
            entry, reader = nodes.open(entry_id)
        except NoReplicaAvailable as exc:
            self._stages.after_failed_open(nodes, entry_id, exc)
        self._stages.opened(entry_id)
        return OpenFile(entry, reader, self._cache)

    async def _open_waiting_for_stage(
        self, ctx: pyfuse3.RequestContext, entry_id: EntryId
    ) -> OpenFile:
        """Open a file; one on tape is staged (see :mod:`gridfs.fuse.tape`)."""
        try:
            return await self._as(ctx, self._open_file, entry_id)
        except GridError as exc:
            if not is_staging(exc) or self._settings.stage_eagain:
                raise
        await self._stages.wait(entry_id, self._settings.stage_timeout)
        return await self._as(ctx, self._open_file, entry_id)  # EAGAIN if not staged yet

    def _register(self, opened: OpenFile | WriteFile) -> pyfuse3.FileInfo:
        handle = next(self._handles)
        self._open[handle] = opened
        if isinstance(opened, WriteFile):
            self._writers[opened.entry.id] = opened
        log.debug("open inode %d as handle %d: %s", opened.entry.id, handle, opened)
        # A file's bytes change only with its size and mtime, and the kernel drops
        # cached pages when those change (libfuse asks for auto_inval_data), so
        # pages cached by an earlier open stay valid; writes through the mount
        # pass through the kernel's cache and keep it right.
        # ...except after a read found a file's bytes wrong: its next open drops them.
        keep_cache = opened.entry.id not in self._corrupt_pages
        self._corrupt_pages.discard(opened.entry.id)
        return pyfuse3.FileInfo(fh=pyfuse3.FileHandleT(handle), keep_cache=keep_cache)

    @errno_boundary
    async def open(
        self, inode: pyfuse3.InodeT, flags: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.FileInfo:
        entry_id = self._entry_id(inode)
        opened: OpenFile | WriteFile
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            self._writable()
            opening = functools.partial(self.open_for_writing, opener=ctx.pid)
            opened = await self._as(ctx, opening, entry_id, flags)
        else:
            opened = await self._open_waiting_for_stage(ctx, entry_id)
        return self._register(opened)

    @errno_boundary
    async def create(
        self,
        parent_inode: pyfuse3.InodeT,
        name: bytes,
        mode: int,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        self._writable()
        parent = self._entry_id(parent_inode)
        permissions = mode & ~ctx.umask & 0o7777
        opened, attributes = await self._as(
            ctx,
            functools.partial(self.create_file, opener=ctx.pid),
            parent,
            name_text(name),
            permissions,
            flags,
        )
        return self._register(opened), attributes

    @errno_boundary
    async def read(self, fh: pyfuse3.FileHandleT, off: int, size: int) -> bytes:
        opened = self._open[fh]
        data = opened.read_now(off, size)
        if data is not None:
            return cast(bytes, data)  # pyfuse3 takes any buffer; a copy would cost a pass
        try:
            return await self._run(opened.read, off, size)
        except Corrupt:
            self._corrupt_pages.add(opened.entry.id)
            raise

    @errno_boundary
    async def write(self, fh: pyfuse3.FileHandleT, off: int, buf: bytes) -> int:
        opened = self._open[fh]
        if not isinstance(opened, WriteFile):
            raise pyfuse3.FUSEError(errno.EBADF)
        # To the local staging file in the loop itself: cheaper than the hop to a
        # thread and back, which was most of a 1 MiB write's time (dd, cp). The
        # loop may wait while the kernel holds back a writer of many dirty pages,
        # as this request would have in a thread. One that would wait for a
        # commit, a fetch of the old content or the size (O_APPEND) goes to a thread.
        count = opened.write_now(off, buf)
        if count is None:
            count = await self._run(opened.write, off, buf)
        return count

    @errno_boundary
    async def flush(self, fh: pyfuse3.FileHandleT) -> None:
        opened = self._open[fh]
        if isinstance(opened, WriteFile):
            await self.upload_at_close(opened)

    @errno_boundary
    async def fsync(self, fh: pyfuse3.FileHandleT, datasync: bool) -> None:
        opened = self._open[fh]
        if isinstance(opened, WriteFile):
            await self.upload(opened)

    @errno_boundary
    async def release(self, fh: pyfuse3.FileHandleT) -> None:
        opened = self._open[fh]
        if isinstance(opened, WriteFile) and opened.untried:
            # No FLUSH tried to store it (the last one saw a holder that closed
            # unseen): stored now, though no close(2) waits; a failure is logged.
            with contextlib.suppress(GridError):
                await self.upload(opened)
        del self._open[fh]
        if isinstance(opened, WriteFile) and self._writers.get(opened.entry.id) is opened:
            del self._writers[opened.entry.id]
        # A file whose staging copy the SE took over has nothing left to wait for
        # at close: done here, without a hop.
        if not (isinstance(opened, WriteFile) and opened.close_now()):
            await self._run(opened.close)
        if isinstance(opened, WriteFile) and not opened.stored:
            # A file this open created and never stored is gone now: what is
            # kept of its directory is dropped.
            self._changed(opened.entry.parent_id)
