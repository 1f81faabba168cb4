"""Where catalog and storage meet: POSIX-like calls on LFNs (lcg-utils verbs: replica_calls)."""

from __future__ import annotations

import dataclasses
import errno
import io
import logging
import stat as _stat
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from gridfs.catalog import (
    AclEdit,
    AclEntry,
    Catalog,
    CatalogAPI,
    EntryId,
    Identity,
    Replica,
    Stat,
    kind_of_mode,
)
from gridfs.config import Config, load_config
from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from gridfs.gfal import xattrs
from gridfs.gfal.cancel import CancelToken
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.fileobj import GridFile, GridRawFile, GridRawReader
from gridfs.gfal.metadata_calls import MetadataCalls
from gridfs.gfal.placement import default_se_for
from gridfs.gfal.queue import QueueHolder, TransferQueue
from gridfs.gfal.replica_calls import ReplicaCalls
from gridfs.gfal.replicas import ReplicaAccess
from gridfs.gfal.services import is_service_url, open_catalog, whoami
from gridfs.gfal.writer import StagedFile, WriteTarget, open_existing
from gridfs.metadata import Metadata, MetadataAPI
from gridfs.storage import (
    SERegistry,
)

__all__ = ["Grid"]

log = logging.getLogger(__name__)


class Grid(ReplicaCalls, MetadataCalls):
    """A file catalog, its metadata and the storage elements it refers to, used together.

    The calls take LFNs and follow :mod:`os` in names, return values and
    errors (all :class:`OSError` subclasses from :mod:`gridfs.errors`).
    Thread-safe, and not changed once built: :meth:`as_identity` and
    :meth:`with_options` give other grids. Filesystems that address entries
    by id use :class:`gridfs.gfal.nodes.Nodes` over a grid.
    """

    def __init__(
        self,
        catalog: CatalogAPI,
        storage: ReplicaAccess,
        *,
        metadata: MetadataAPI | None = None,
        staging_dir: str | None = None,
        cancel: CancelToken | None = None,
        transfers: QueueHolder | None = None,
    ) -> None:
        self._catalog = catalog
        self._transfers = transfers  # the transfer service's queue, opened on first use
        if metadata is None:
            if not isinstance(catalog, Catalog):
                raise TypeError("a catalog other than the SQL one comes with its metadata")
            metadata = Metadata(catalog)
        self._metadata = metadata
        self._storage = storage
        self._staging_dir = staging_dir  # files being written; None: the system's temp dir
        self._cancel = cancel or CancelToken()

    @classmethod
    def from_config(cls, config: Config | None = None, *, create: bool = False) -> Grid:
        """The grid that ``config`` (default: :func:`load_config`) describes.

        Its catalog must exist, unless ``create`` (``gridfs init``) makes a new one.
        """
        config = config or load_config()
        catalog, metadata = open_catalog(config.catalog_url, config.identity, create=create)
        storage = ReplicaAccess(
            SERegistry(config.ses),
            local_site=config.local_site,
            local_region=config.local_region,
            default_se=config.default_se,
            protocols=config.protocols,
            backend_options=config.backend_options,
        )
        # The transfer queue lives in the catalog's database: none over a catalog service.
        remote = is_service_url(config.catalog_url)
        transfers = None if remote else QueueHolder(config.catalog_url)
        return cls(catalog, storage, metadata=metadata, transfers=transfers)

    def as_identity(self, identity: Identity) -> Grid:
        """This grid acting as ``identity``: same connections, SEs, health and staging."""
        return Grid(
            self._catalog.as_identity(identity),
            self._storage,
            metadata=self._metadata.as_identity(identity),
            staging_dir=self._staging_dir,
            cancel=self._cancel,
            transfers=self._transfers,
        )

    def with_catalog(self, catalog: CatalogAPI, metadata: MetadataAPI) -> Grid:
        """This grid over another view of its catalog (a caller's own): same SEs and staging."""
        return Grid(
            catalog,
            self._storage,
            metadata=metadata,
            staging_dir=self._staging_dir,
            cancel=self._cancel,
            transfers=self._transfers,
        )

    def with_options(
        self,
        *,
        timeout_s: float | None = None,
        staging_dir: str | None = None,
        cancel: CancelToken | None = None,
    ) -> Grid:
        """This grid with other storage timeouts, staging directory for writes or cancel token."""
        storage = self._storage
        if timeout_s is not None:
            options = dataclasses.replace(storage.backend_options, timeout_s=timeout_s)
            storage = storage.with_options(options)
        return Grid(
            self._catalog,
            storage,
            metadata=self._metadata,
            staging_dir=staging_dir if staging_dir is not None else self._staging_dir,
            cancel=cancel or self._cancel,
            transfers=self._transfers,
        )

    @property
    def cancel(self) -> CancelToken:
        """The token that stops this grid's copies (cr, rep, cp) at their next chunk."""
        return self._cancel

    @property
    def catalog(self) -> CatalogAPI:
        """The file catalog (for the gfal layer's own modules; others use the calls here)."""
        return self._catalog

    @property
    def metadata(self) -> MetadataAPI:
        """The metadata catalog (for the gfal layer's own modules)."""
        return self._metadata

    @property
    def storage(self) -> ReplicaAccess:
        """The SEs and the ways to their replicas (for the gfal layer's own modules)."""
        return self._storage

    @property
    def ses(self) -> SERegistry:
        """The configured storage elements."""
        return self._storage.ses

    @property
    def identity(self) -> Identity:
        """Who this grid's calls run as."""
        return self._catalog.identity

    def whoami(self) -> dict[str, Any]:
        """Who the catalog runs our calls as, and why (a service: what its server granted)."""
        return whoami(self._catalog)

    def close(self) -> None:
        """Release the catalog's connections, the storage backends' and the transfer queue's."""
        self._storage.close()
        self._catalog.close()
        if self._transfers is not None:
            self._transfers.close()

    def __enter__(self) -> Grid:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- namespace ---------------------------------------------------------

    def stat(self, lfn: str) -> Stat:
        """The entry at ``lfn``, following symbolic links."""
        return self._catalog.stat(lfn)

    def lstat(self, lfn: str) -> Stat:
        """The entry at ``lfn``; a symbolic link is not followed."""
        return self._catalog.stat(lfn, follow_symlinks=False)

    def listdir(self, lfn: str) -> list[str]:
        """The names in directory ``lfn`` (in no particular order)."""
        return [entry.name for entry in self._catalog.iterdir(lfn)]

    def scandir(self, lfn: str) -> Iterator[Stat]:
        """The entries of directory ``lfn``, streamed a page at a time."""
        return self._catalog.iterdir(lfn)

    def mkdir(self, lfn: str, mode: int = 0o775) -> Stat:
        """Create directory ``lfn``; its parent must exist."""
        return self._catalog.mkdir(lfn, mode)

    def makedirs(self, lfn: str, mode: int = 0o775, exist_ok: bool = False) -> Stat:
        """Create directory ``lfn`` and any missing ancestors."""
        return self._catalog.mkdir(lfn, mode, parents=True, exist_ok=exist_ok)

    def symlink(self, target: str, lfn: str) -> Stat:
        """Create ``lfn`` as a symbolic link to ``target``."""
        return self._catalog.symlink(target, lfn)

    def mknod(self, lfn: str, mode: int = 0o600 | _stat.S_IFIFO, device: int = 0) -> Stat:
        """Create special file ``lfn``, as :func:`os.mknod`: a FIFO, a socket or a device.

        ``mode`` holds the file type (``S_IFIFO``, ``S_IFSOCK``, ``S_IFCHR``,
        ``S_IFBLK``) and the permission bits; ``device`` is a device's number
        (:func:`os.makedev`). The entry has no replica: the kernel serves its
        I/O on a mount. Other types raise :class:`InvalidArgument`; a device
        made by anyone but the superuser :class:`NotPermitted`.
        """
        kind = kind_of_mode(mode)
        if kind is None or not kind.is_special:
            raise InvalidArgument(f"mknod makes FIFOs, sockets and devices: mode {mode:o}", lfn)
        return self._catalog.mknod(lfn, kind, mode & 0o7777, rdev=device)

    def mkfifo(self, lfn: str, mode: int = 0o666) -> Stat:
        """Create FIFO ``lfn``, as :func:`os.mkfifo`."""
        return self.mknod(lfn, _stat.S_IFIFO | (mode & 0o7777))

    def readlink(self, lfn: str) -> str:
        """The target of symbolic link ``lfn``."""
        return self._catalog.readlink(lfn)

    def rmdir(self, lfn: str) -> None:
        """Remove the empty directory ``lfn``."""
        self._catalog.rmdir(lfn)

    def access(self, lfn: str, mode: int) -> bool:
        """Whether ``lfn`` exists and allows ``mode`` (``os.F_OK``, ``R_OK``...): os.access."""
        return self._catalog.access(lfn, mode)

    def unlink(self, lfn: str) -> None:
        """Remove file or link ``lfn``; a file's stored replicas are deleted first.

        The removal is checked (write on the directory, the sticky bit) before
        anything is deleted. Then each stored copy is deleted; if one cannot be,
        the error says which, the copies already gone are unregistered, and the
        file stays registered with the rest: never a registered replica that is
        not stored, never a stored copy that is registered nowhere.
        """
        deleted: list[str] = []
        if self.lstat(lfn).is_file():
            try:
                for replica in self._catalog.replicas_for_removal(lfn):
                    self._storage.delete_stored(replica)
                    deleted.append(replica.surl)
            except BaseException:
                if deleted:
                    self._catalog.drop_replicas(lfn, deleted)
                raise
        for late in self._catalog.unlink(lfn):  # registered while we were deleting
            if late.surl not in deleted:
                try:
                    self._storage.delete_stored(late)
                except GridError as exc:
                    log.warning("%s stays stored but unregistered: %s", late.surl, exc)

    def rename(self, source: str, destination: str) -> None:
        """Move ``source`` to ``destination`` (see :meth:`Catalog.rename`).

        A replaced file's stored replicas are deleted after the rename.
        """
        for replica in self._catalog.rename(source, destination):
            try:
                self._storage.delete_stored(replica)
            except GridError as exc:
                log.warning(
                    "could not delete %s of the replaced %s: %s", replica.surl, destination, exc
                )

    def chmod(self, lfn: str, mode: int) -> Stat:
        """Change the mode bits of ``lfn``."""
        return self._catalog.chmod(lfn, mode)

    def chown(
        self,
        lfn: str,
        owner: str | None = None,
        group: str | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Change the owner and/or group of ``lfn``; a link's own without ``follow_symlinks``."""
        return self._catalog.chown(lfn, owner, group, follow_symlinks=follow_symlinks)

    def utime(
        self,
        lfn: str,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Set the access and modification times of ``lfn`` (both ``None``: now).

        Without ``follow_symlinks``, a link's own.
        """
        return self._catalog.utime(lfn, atime_ns, mtime_ns, follow_symlinks=follow_symlinks)

    def getacl(self, lfn: str) -> list[AclEntry]:
        """The ACL of ``lfn``."""
        return self._catalog.getacl(lfn)

    def setacl(self, lfn: str, entries: Sequence[AclEntry]) -> list[AclEntry]:
        """Replace the ACL of ``lfn``; returns the ACL as stored."""
        return self._catalog.setacl(lfn, entries)

    def edit_acl(self, lfn: str, edit: AclEdit) -> list[AclEntry]:
        """Change the ACL of ``lfn`` as setfacl ``-b/-k/-x/-m``; returns the ACL as stored."""
        return self._catalog.edit_acl(lfn, edit)

    def set_comment(self, lfn: str, comment: str | None) -> None:
        """Set, or with ``None`` delete, the comment of ``lfn``."""
        self._catalog.set_comment(lfn, comment)

    # -- extended attributes (see gridfs.gfal.xattrs) -----------------------

    def replicate(self, lfn: str, se: str) -> int:
        """Submit a transfer of ``lfn`` to ``se`` to the transfer service; the job's id.

        The agents (``gridfs transfer agent``) copy it; :meth:`transfer_states` tells how
        it goes. Needs a grid opened from a configuration of a catalog database.
        """
        return self._queue().replicate(self, lfn, se)

    def transfer_states(self, lfn: str) -> list[str]:
        """A line per transfer of ``lfn`` (``JOB SE STATE[: reason]``), newest first.

        Empty on a grid without the transfer service (not opened from a configuration).
        """
        if self._transfers is None:
            return []
        return self._queue().states(self, lfn)

    def _queue(self) -> TransferQueue:
        if self._transfers is None:
            raise GridError(
                "this grid has no transfer service (it needs Grid.from_config of a catalog "
                "database)",
                errno=errno.ENOTSUP,
            )
        return self._transfers.queue()

    def getxattr(self, lfn: str, name: str) -> bytes:
        """The value of extended attribute ``name`` of ``lfn`` (as :func:`os.getxattr`)."""
        return xattrs.get(xattrs.Target(self, self.stat(lfn), lfn), name)

    def setxattr(self, lfn: str, name: str, value: bytes, flags: int = 0) -> None:
        """Set extended attribute ``name`` of ``lfn`` (as :func:`os.setxattr`)."""
        xattrs.set_value(xattrs.Target(self, self.stat(lfn), lfn), name, value, flags=flags)

    def listxattr(self, lfn: str, *, every: bool = False) -> list[str]:
        """The extended attribute names of ``lfn`` (as :func:`os.listxattr`).

        With ``every``, also those of its stored copies that no listing names
        (``user.guid``, ``user.replicas``... see :mod:`gridfs.gfal.xattrs`).
        """
        return xattrs.listing(xattrs.Target(self, self.stat(lfn), lfn), every=every)

    def removexattr(self, lfn: str, name: str) -> None:
        """Remove extended attribute ``name`` of ``lfn`` (as :func:`os.removexattr`)."""
        xattrs.remove(xattrs.Target(self, self.stat(lfn), lfn), name)

    # -- reading -----------------------------------------------------------

    def open(
        self,
        lfn: str,
        mode: str = "rb",
        buffering: int = -1,
        *,
        protocols: Sequence[str] | None = None,
        se: str | None = None,
    ) -> BinaryIO:
        """Open ``lfn`` as a binary file, with the modes of :func:`open`.

        ``"rb"`` reads the best replica (``protocols`` overrides the
        configured preference for this call), failing over to the next one
        in the middle of a read. ``"wb"``, ``"xb"``, ``"ab"`` and the ``+``
        modes write through a local staging file; ``close()`` stores the
        content (on ``se``, else on the SE of the file's primary replica or
        the default) and registers it, as a new file or as the new version
        of the existing one (see :mod:`gridfs.gfal.writer`). ``buffering=0``
        gives the raw file object. A file open for reading is a
        :class:`GridFile`, whose ``readv`` reads many ranges at once.
        """
        flags = set(mode)
        kinds = flags & set("rwxa")
        if len(mode) != len(flags) or not flags <= set("rwxab+") or len(kinds) != 1:
            raise InvalidArgument(f"invalid mode {mode!r}", lfn)
        if "b" not in flags:
            raise InvalidArgument(
                f"mode {mode!r}: grid files are binary; open with 'b' and wrap the file "
                "in io.TextIOWrapper for text",
                lfn,
            )
        size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE * 16
        if flags == {"r", "b"}:
            entry, replicas = self._catalog.stat_replicas(lfn)
            opened = self._storage.open_best(
                entry, replicas, lfn, protocols, on_corrupt=self.mark_bad
            )
            reader = GridRawReader(lfn, opened, entry)
            if buffering == 0:
                return reader  # type: ignore[return-value]  # raw binary I/O; typeshed's RawIOBase is no BinaryIO
            return GridFile(reader, buffer_size=size)
        kind = kinds.pop()
        staged = self.open_staged(
            lfn,
            create=kind != "r",
            exclusive=kind == "x",
            truncate=kind == "w",
            read="+" in flags,
            se=se,
        )
        raw = GridRawFile(staged, mode, readable="+" in flags, append=kind == "a")
        if buffering == 0:
            return raw  # type: ignore[return-value]  # as above
        wrapper = io.BufferedRandom if "+" in flags else io.BufferedWriter
        return wrapper(raw, buffer_size=size)

    def open_staged(
        self,
        lfn: str,
        *,
        create: bool = False,
        exclusive: bool = False,
        truncate: bool = False,
        read: bool = False,
        se: str | None = None,
        mode: int = 0o644,
        expect_new: bool = False,
    ) -> StagedFile:
        """Open ``lfn`` for writing through a local staging file (see :class:`StagedFile`).

        A missing file is registered at once, empty and WRITING, when
        ``create`` (with ``mode``); ``exclusive`` fails if it exists (O_EXCL);
        ``truncate`` starts from empty content (O_TRUNC). Permissions are
        checked here, before anything is fetched or staged: write, and read
        too when ``read`` (O_RDWR) or when the old content is kept (fetched).
        A file another open is creating (WRITING) can only be truncated.
        ``expect_new`` (with ``create``: the caller has just found no such
        entry, as a mount's CREATE) registers first and looks for an existing
        file only if that fails: one catalog call instead of two.
        """
        if se is not None:
            self._storage.writable_se(se)
        if create and expect_new:
            try:
                return StagedFile.create(self.write_target, lfn, mode=mode, se=se)
            except (AlreadyExists, PermissionDenied) as refused:
                try:
                    entry = self.stat(lfn)
                except NotFound:
                    raise refused from None  # a dangling link, or no right to create
        else:
            try:
                entry = self.stat(lfn)
            except NotFound:
                if not create:
                    raise
                return StagedFile.create(self.write_target, lfn, mode=mode, se=se)
        if exclusive:
            raise AlreadyExists(f"LFN exists: {lfn}", lfn)
        return open_existing(self.write_target, entry, lfn, truncate=truncate, read=read, se=se)

    @property
    def write_target(self) -> WriteTarget:
        """Where files this grid opens for writing are staged, stored and registered."""
        return WriteTarget(self._catalog, self._storage, self._staging_dir)

    def default_se_for(self, directory_id: EntryId) -> str | None:
        """The SE for new files in a directory: the nearest ``default_se`` above, or the default."""
        return default_se_for(self._catalog, directory_id, self._storage.default_se)

    def open_reader(self, lfn: str, protocols: Sequence[str] | None = None) -> FailoverReader:
        """The best working replica of file ``lfn``, failing over; the caller closes it.

        ``protocols`` overrides the configured preference for this call.
        """
        entry, replicas = self._catalog.stat_replicas(lfn)
        return self._storage.open_best(entry, replicas, lfn, protocols, on_corrupt=self.mark_bad)

    def mark_bad(self, replica: Replica, reason: str) -> Replica:
        """Mark ``replica`` BAD: a read found its bytes wrong (``reason``); reads avoid it."""
        return self._catalog.mark_replica_bad(replica.entry_id, replica.surl, reason)
