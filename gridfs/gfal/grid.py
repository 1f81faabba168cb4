"""Where catalog and storage meet: POSIX-like calls on LFNs and lcg-utils operations."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import functools
import io
import logging
import os
import random
import secrets
import stat as _stat
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, TypeVar

from gridfs.catalog import (
    ROOT_ID,
    AclEntry,
    Catalog,
    EntryId,
    FileStatus,
    Identity,
    Replica,
    ReplicaStatus,
    Stat,
    join_lfn,
    new_guid,
    parse_guid,
    split_lfn,
)
from gridfs.config import Config, load_config
from gridfs.errors import (
    AlreadyExists,
    ChecksumMismatch,
    ConfigError,
    GridError,
    InvalidArgument,
    IsADirectory,
    NoReplicaAvailable,
    NoSpace,
    NotADirectory,
    NotFound,
    PermissionDenied,
    ReadOnly,
    StorageUnavailable,
    UnknownSE,
    from_os_error,
)
from gridfs.gfal import xattrs
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.fileobj import GridRawFile, GridRawReader
from gridfs.gfal.metadata_calls import MetadataCalls
from gridfs.gfal.policy import Candidate, rank_replicas
from gridfs.gfal.writer import DEFAULT_SE_PROPERTY, StagedFile
from gridfs.metadata import Metadata
from gridfs.storage import (
    DEFAULT_CHECKSUM,
    Adler32,
    BackendOptions,
    CircuitBreaker,
    Locality,
    ObjectStat,
    RangeReader,
    SERegistry,
    Stager,
    StageRequest,
    StorageBackend,
    StorageElement,
    WriteResult,
    backend_for,
    make_surl,
    resolve_turl,
)

__all__ = ["Grid"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_COPY_CHUNK = 1 << 20


def _today() -> str:
    """The date part of generated SURLs, as lcg-cr makes them."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")


class Grid(MetadataCalls):
    """A file catalog and the storage elements it refers to, used together.

    The calls take LFNs and follow :mod:`os` in names, return values and
    errors (all :class:`OSError` subclasses from :mod:`gridfs.errors`).
    Thread-safe. The ``*_id`` calls take catalog entry ids, for filesystems
    that keep ids as inode numbers.
    """

    def __init__(
        self,
        catalog: Catalog,
        ses: SERegistry,
        *,
        local_site: str | None = None,
        local_region: str | None = None,
        default_se: str | None = None,
        protocols: Sequence[str] = ("file",),
        backend_options: BackendOptions | None = None,
        health: CircuitBreaker | None = None,
        rng: random.Random | None = None,
        stager: Stager | None = None,
        staging_dir: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.ses = ses
        self.local_site = local_site
        self.local_region = local_region
        self.default_se = default_se
        self.protocols = tuple(protocols)
        self.backend_options = backend_options or BackendOptions()
        self.health = health or CircuitBreaker()
        self.stager = stager or Stager()
        self.staging_dir = staging_dir  # files being written; None: the system's temp dir
        self._rng = rng or random.Random()

    @classmethod
    def from_config(cls, config: Config | None = None) -> Grid:
        """The grid that ``config`` (default: :func:`load_config`) describes."""
        config = config or load_config()
        return cls(
            Catalog.from_url(config.catalog_url, config.identity),
            SERegistry(config.ses),
            local_site=config.local_site,
            local_region=config.local_region,
            default_se=config.default_se,
            protocols=config.protocols,
            backend_options=config.backend_options,
        )

    def as_identity(self, identity: Identity) -> Grid:
        """This grid acting as ``identity``: same catalog connections, SEs, health and staging."""
        return Grid(
            self.catalog.as_identity(identity),
            self.ses,
            local_site=self.local_site,
            local_region=self.local_region,
            default_se=self.default_se,
            protocols=self.protocols,
            backend_options=self.backend_options,
            health=self.health,
            rng=self._rng,
            stager=self.stager,
            staging_dir=self.staging_dir,
        )

    @functools.cached_property
    def metadata(self) -> Metadata:
        """The metadata catalog (AMGA-style schemas and values) over this grid's catalog."""
        return Metadata(self.catalog)

    @property
    def identity(self) -> Identity:
        """Who this grid's calls run as."""
        return self.catalog.identity

    def with_options(
        self, *, timeout_s: float | None = None, staging_dir: str | None = None
    ) -> Grid:
        """This grid with other storage timeouts or another staging directory for writes."""
        options = self.backend_options
        if timeout_s is not None:
            options = dataclasses.replace(options, timeout_s=timeout_s)
        return Grid(
            self.catalog,
            self.ses,
            local_site=self.local_site,
            local_region=self.local_region,
            default_se=self.default_se,
            protocols=self.protocols,
            backend_options=options,
            health=self.health,
            rng=self._rng,
            stager=self.stager,
            staging_dir=staging_dir if staging_dir is not None else self.staging_dir,
        )

    def close(self) -> None:
        """Release the catalog's connections."""
        self.catalog.close()

    def __enter__(self) -> Grid:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- namespace ---------------------------------------------------------

    def stat(self, lfn: str) -> Stat:
        """The entry at ``lfn``, following symbolic links."""
        return self.catalog.stat(lfn)

    def lstat(self, lfn: str) -> Stat:
        """The entry at ``lfn``; a symbolic link is not followed."""
        return self.catalog.stat(lfn, follow_symlinks=False)

    def listdir(self, lfn: str) -> list[str]:
        """The names in directory ``lfn`` (in no particular order)."""
        return [entry.name for entry in self.catalog.iterdir(lfn)]

    def scandir(self, lfn: str) -> Iterator[Stat]:
        """The entries of directory ``lfn``, streamed a page at a time."""
        return self.catalog.iterdir(lfn)

    def mkdir(self, lfn: str, mode: int = 0o775) -> Stat:
        """Create directory ``lfn``; its parent must exist."""
        return self.catalog.mkdir(lfn, mode)

    def makedirs(self, lfn: str, mode: int = 0o775, exist_ok: bool = False) -> Stat:
        """Create directory ``lfn`` and any missing ancestors."""
        return self.catalog.mkdir(lfn, mode, parents=True, exist_ok=exist_ok)

    def symlink(self, target: str, lfn: str) -> Stat:
        """Create ``lfn`` as a symbolic link to ``target``."""
        return self.catalog.symlink(target, lfn)

    def readlink(self, lfn: str) -> str:
        """The target of symbolic link ``lfn``."""
        return self.catalog.readlink(lfn)

    def rmdir(self, lfn: str) -> None:
        """Remove the empty directory ``lfn``."""
        self.catalog.rmdir(lfn)

    def access(self, lfn: str, mode: int) -> bool:
        """Whether ``lfn`` exists and allows ``mode`` (``os.F_OK``, ``R_OK``...): os.access."""
        return self.catalog.access(lfn, mode)

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
                for replica in self.catalog.replicas_for_removal(lfn):
                    self._delete_stored(replica)
                    deleted.append(replica.surl)
            except BaseException:
                if deleted:
                    self.catalog.drop_replicas(lfn, deleted)
                raise
        for late in self.catalog.unlink(lfn):  # registered while we were deleting
            if late.surl not in deleted:
                try:
                    self._delete_stored(late)
                except GridError as exc:
                    log.warning("%s stays stored but unregistered: %s", late.surl, exc)

    def _delete_stored(self, replica: Replica) -> None:
        """Delete a replica's stored copy; one already gone is fine."""
        if replica.se not in self.ses:
            raise UnknownSE(
                f"cannot delete {replica.surl}: its SE {replica.se} is not configured",
                replica.surl,
            )
        se = self.ses.get(replica.se)
        if se.nearline:
            self.stager.purge(se, replica.surl)  # the tape copy, its pin and any disk copy
            return
        turl = resolve_turl(replica.surl, se, self.protocols)
        try:
            self.backend(turl).delete(turl)
        except NotFound:
            log.info("replica %s was already gone from its SE", replica.surl)

    def rename(self, source: str, destination: str) -> None:
        """Move ``source`` to ``destination`` (see :meth:`Catalog.rename`).

        A replaced file's stored replicas are deleted after the rename.
        """
        for replica in self.catalog.rename(source, destination):
            try:
                self._delete_stored(replica)
            except GridError as exc:
                log.warning(
                    "could not delete %s of the replaced %s: %s", replica.surl, destination, exc
                )

    def chmod(self, lfn: str, mode: int) -> Stat:
        """Change the mode bits of ``lfn``."""
        return self.catalog.chmod(lfn, mode)

    def chown(self, lfn: str, owner: str | None = None, group: str | None = None) -> Stat:
        """Change the owner and/or group of ``lfn``."""
        return self.catalog.chown(lfn, owner, group)

    def utime(self, lfn: str, atime_ns: int | None = None, mtime_ns: int | None = None) -> Stat:
        """Set the access and modification times of ``lfn`` (both ``None``: now)."""
        return self.catalog.utime(lfn, atime_ns, mtime_ns)

    def getacl(self, lfn: str) -> list[AclEntry]:
        """The ACL of ``lfn``."""
        return self.catalog.getacl(lfn)

    def setacl(self, lfn: str, entries: Sequence[AclEntry]) -> list[AclEntry]:
        """Replace the ACL of ``lfn``; returns the ACL as stored."""
        return self.catalog.setacl(lfn, entries)

    def set_comment(self, lfn: str, comment: str | None) -> None:
        """Set, or with ``None`` delete, the comment of ``lfn``."""
        self.catalog.set_comment(lfn, comment)

    # -- extended attributes (see gridfs.gfal.xattrs) -----------------------

    def getxattr(self, lfn: str, name: str) -> bytes:
        """The value of extended attribute ``name`` of ``lfn`` (as :func:`os.getxattr`)."""
        return xattrs.get(self, self.stat(lfn), lfn, name)

    def setxattr(self, lfn: str, name: str, value: bytes, flags: int = 0) -> None:
        """Set extended attribute ``name`` of ``lfn`` (as :func:`os.setxattr`)."""
        xattrs.set_(self, self.stat(lfn), lfn, name, value, flags=flags)

    def listxattr(self, lfn: str) -> list[str]:
        """The extended attribute names of ``lfn`` (as :func:`os.listxattr`)."""
        return xattrs.listing(self, self.stat(lfn))

    def removexattr(self, lfn: str, name: str) -> None:
        """Remove extended attribute ``name`` of ``lfn`` (as :func:`os.removexattr`)."""
        xattrs.remove(self, self.stat(lfn), lfn, name)

    def getxattr_id(self, entry_id: EntryId, name: str) -> bytes:
        """:meth:`getxattr` of the entry with id ``entry_id``."""
        return xattrs.get(self, self.stat_id(entry_id), self.lfn_id(entry_id), name)

    def setxattr_id(self, entry_id: EntryId, name: str, value: bytes, flags: int = 0) -> None:
        """:meth:`setxattr` of the entry with id ``entry_id``."""
        lfn = self.lfn_id(entry_id)
        xattrs.set_(self, self.stat_id(entry_id), lfn, name, value, flags=flags)

    def listxattr_id(self, entry_id: EntryId) -> list[str]:
        """:meth:`listxattr` of the entry with id ``entry_id``."""
        return xattrs.listing(self, self.stat_id(entry_id))

    def removexattr_id(self, entry_id: EntryId, name: str) -> None:
        """:meth:`removexattr` of the entry with id ``entry_id``."""
        xattrs.remove(self, self.stat_id(entry_id), self.lfn_id(entry_id), name)

    # -- GUIDs, aliases and replica registration (lcg-lg/la/aa/ra/rf/uf) ----

    def lg(self, lfn: str) -> str:
        """The GUID of ``lfn``."""
        return self.catalog.guid_of(lfn)

    def la(self, lfn_or_guid: str) -> list[str]:
        """The LFNs (primary first, then aliases) of a file given by LFN or GUID."""
        guid = lfn_or_guid if not lfn_or_guid.startswith("/") else self.lg(lfn_or_guid)
        return self.catalog.lfns_of(guid)

    def aa(self, lfn: str, alias: str) -> Stat:
        """Register ``alias`` for the file ``lfn``."""
        return self.catalog.add_alias(lfn, alias)

    def ra(self, alias: str) -> None:
        """Unregister the alias ``alias``."""
        self.catalog.remove_alias(alias)

    def rf(self, surl: str, lfn: str, se: str) -> Replica:
        """Register the existing copy ``surl`` on SE ``se`` as a replica of ``lfn``.

        The copy is not read: registering what is not stored is the caller's risk,
        as with lcg-rf.
        """
        if not self.ses.get(se).owns(surl):
            raise InvalidArgument(f"{surl} is not in the storage area of {se}", surl)
        return self.catalog.add_replica(self.lg(lfn), se, surl)

    def uf(self, surl: str, lfn: str) -> Replica:
        """Unregister replica ``surl`` of ``lfn`` (the stored copy stays, as with lcg-uf)."""
        return self.catalog.remove_replica(self.lg(lfn), surl)

    # -- tape: locality, bring-online, release ------------------------------

    def locality(self, lfn: str) -> dict[str, Locality]:
        """Where each current replica of ``lfn`` is (ONLINE, NEARLINE...); never stages."""
        return {
            replica.surl: self.stager.locality(self.ses.get(replica.se), replica.surl)
            if replica.se in self.ses
            else Locality.UNAVAILABLE
            for replica in self._usable_replicas(lfn)
        }

    def bring_online(
        self, lfn: str, pin_lifetime_s: float = 3600.0, *, even_if_online: bool = False
    ) -> StageRequest | None:
        """Stage ``lfn`` from tape for reading, pinned for ``pin_lifetime_s``.

        Returns ``None`` when a replica is online already (unless
        ``even_if_online``: the online copies could not be read); else the
        request of the best nearline replica, to ``wait()`` for (the recall
        runs in this process).
        """
        localities = self.locality(lfn)
        if not even_if_online and any(
            place is not Locality.NEARLINE
            for place in localities.values()
            if place is not Locality.UNAVAILABLE
        ):
            return None
        nearline = [
            replica
            for replica in self._usable_replicas(lfn)
            if localities[replica.surl] is Locality.NEARLINE
        ]
        if not nearline:
            raise NoReplicaAvailable(f"no replica of {lfn} is on tape or disk", lfn)
        ranked = rank_replicas(
            nearline, self.ses, self.local_site, self._rng, local_region=self.local_region
        )
        best = ranked[0]
        return self.stager.bring_online(best.se, (best.replica.surl,), pin_lifetime_s)

    def turls(self, lfn: str, protocols: Sequence[str] | None = None) -> dict[str, str]:
        """The TURLs of ``lfn``'s readable replicas for ``protocols`` (lcg-gt, prepare-to-get).

        Replicas on tape that are not staged have none yet: bring them online first.
        """
        wanted = tuple(protocols or self.protocols)
        result = {}
        for replica in self._usable_replicas(lfn):
            if replica.se not in self.ses:
                continue
            se = self.ses.get(replica.se)
            if self.stager.locality(se, replica.surl) is Locality.NEARLINE:
                continue
            with contextlib.suppress(InvalidArgument):  # the SE speaks none of them
                result[replica.surl] = resolve_turl(replica.surl, se, wanted)
        return result

    def abort_stage(self, request: StageRequest) -> None:
        """Give up a bring-online request that has not finished."""
        self.stager.abort(request)

    def storage_stat(self, url: str) -> ObjectStat:
        """What the storage at ``url`` (a TURL or an SE's protocol prefix) says is there."""
        return self.backend(url).stat(url)

    def release(self, lfn: str) -> None:
        """Unpin the staged copies of ``lfn`` on nearline SEs (they may be evicted)."""
        for replica in self._usable_replicas(lfn):
            if replica.se in self.ses and self.ses.get(replica.se).nearline:
                self.stager.release(self.ses.get(replica.se), replica.surl)

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
        gives the raw file object.
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
            entry = self.stat(lfn)
            reader = GridRawReader(lfn, self._open_replica(entry, lfn, protocols))
            if buffering == 0:
                return reader  # type: ignore[return-value]
            return io.BufferedReader(reader, buffer_size=size)  # type: ignore[return-value]
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
            return raw  # type: ignore[return-value]
        wrapper = io.BufferedRandom if "+" in flags else io.BufferedWriter
        return wrapper(raw, buffer_size=size)  # type: ignore[return-value]

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
    ) -> StagedFile:
        """Open ``lfn`` for writing through a local staging file (see :class:`StagedFile`).

        A missing file is registered at once, empty and WRITING, when
        ``create`` (with ``mode``); ``exclusive`` fails if it exists (O_EXCL);
        ``truncate`` starts from empty content (O_TRUNC). Permissions are
        checked here, before anything is fetched or staged: write, and read
        too when ``read`` (O_RDWR) or when the old content is kept (fetched).
        A file another open is creating (WRITING) can only be truncated.
        """
        if se is not None:
            self._writable_se(se)
        try:
            entry = self.stat(lfn)
        except NotFound:
            if not create:
                raise
            return StagedFile.create(self, lfn, mode=mode, se=se)
        if exclusive:
            raise AlreadyExists(f"LFN exists: {lfn}", lfn)
        return self._staged_existing(entry, lfn, truncate=truncate, read=read, se=se)

    def open_staged_id(
        self, entry_id: EntryId, *, truncate: bool = False, read: bool = False
    ) -> StagedFile:
        """Open the existing file ``entry_id`` for writing (see :meth:`open_staged`)."""
        entry = self.catalog.stat_id(entry_id)
        lfn = self.catalog.lfn_of(entry_id)
        return self._staged_existing(entry, lfn, truncate=truncate, read=read)

    def create_staged_id(
        self, parent_id: EntryId, name: str, *, mode: int = 0o644, exclusive: bool = True
    ) -> StagedFile:
        """Create file ``name`` in directory ``parent_id`` and open it for writing."""
        lfn = join_lfn((*split_lfn(self.catalog.lfn_of(parent_id)), name))
        return self.open_staged(lfn, create=True, exclusive=exclusive, truncate=True, mode=mode)

    def _staged_existing(
        self, entry: Stat, lfn: str, *, truncate: bool, read: bool, se: str | None = None
    ) -> StagedFile:
        if entry.is_dir():
            raise IsADirectory(f"is a directory: {lfn}", lfn)
        if not entry.is_file():
            raise InvalidArgument(f"not a file: {lfn}", lfn)
        # Without truncation the old content is fetched: that is a read.
        want = os.W_OK | (os.R_OK if read or not truncate else 0)
        if not self.catalog.access(lfn, want):
            raise PermissionDenied(f"permission denied: {lfn}", lfn)
        return StagedFile.existing(self, entry, lfn, truncate=truncate, se=se)

    def default_se_for(self, directory_id: EntryId) -> str | None:
        """The SE for new files in a directory: the nearest ``default_se`` property above it.

        Set with the ``user.grid.default_se`` attribute of a directory; without
        one on the directory or any ancestor, the configured default SE.
        """
        entry_id: EntryId | None = directory_id
        while entry_id is not None:
            with contextlib.suppress(PermissionDenied):
                chosen = self.catalog.properties(entry_id).get(DEFAULT_SE_PROPERTY)
                if chosen is not None:
                    return chosen
            entry_id = self.catalog.stat_id(entry_id).parent_id if entry_id != ROOT_ID else None
        return self.default_se

    def _open_replica(
        self, entry: Stat, lfn: str, protocols: Sequence[str] | None = None
    ) -> FailoverReader:
        """Open ``lfn`` for reading from its ranked replicas, failing over as needed.

        The reader goes on from the next replica, at the same offset, when the
        current one fails on open or in the middle of a read; the error, when
        every replica has failed, lists each one tried and why.
        """
        if entry.is_dir():
            raise IsADirectory(f"is a directory: {lfn}", lfn)
        if entry.status is FileStatus.WRITING:
            raise GridError(
                f"{lfn} is being written: its content is not stored yet", lfn, errno=errno.EBUSY
            )
        protocols = tuple(protocols or self.protocols)
        replicas = self.catalog.replicas(entry.id)
        candidates = rank_replicas(
            replicas,
            self.ses,
            self.local_site,
            self._rng,
            unhealthy=self.health.unhealthy(),
            local_region=self.local_region,
            protocols=protocols,
        )
        ranked = {candidate.replica for candidate in candidates}
        failures = [
            _why_not_candidate(replica, self.ses, protocols)
            for replica in replicas
            if replica not in ranked
        ]

        def open_candidate(candidate: Candidate) -> tuple[RangeReader, str]:
            surl = candidate.replica.surl
            if self.stager.locality(candidate.se, surl) is Locality.NEARLINE:
                raise GridError("NEARLINE: bring it online first", surl, errno=errno.EAGAIN)
            turl = resolve_turl(surl, candidate.se, protocols)
            reader = self.backend(turl).open_reader(turl)
            self.health.record_success(candidate.se.name)
            if reader.size != entry.size:
                reader.close()
                raise GridError(f"size {reader.size}, catalog says {entry.size}", surl)
            return reader, turl

        def on_failure(candidate: Candidate, error: GridError) -> None:
            if isinstance(error, StorageUnavailable):
                self.health.record_failure(candidate.se.name)

        return FailoverReader(lfn, candidates, failures, open_candidate, on_failure)

    # -- lcg-utils ---------------------------------------------------------

    def lr(self, lfn: str) -> list[str]:
        """List the SURLs of ``lfn``'s replicas (lcg-lr); stale ones, on their way out, not."""
        return [replica.surl for replica in self._usable_replicas(lfn)]

    def replicas(self, lfn: str) -> list[Replica]:
        """Every registered replica of ``lfn``, stale ones included, with its status."""
        return self.catalog.replicas(lfn)

    def space_used(self, se: str, space_token: str) -> int:
        """The bytes that registered replicas take in space token ``space_token`` of ``se``."""
        return self.catalog.space_used(se, space_token)

    def _usable_replicas(self, lfn_or_id: str | EntryId) -> list[Replica]:
        """The replicas that hold the file's current content (all but the STALE ones)."""
        return [r for r in self.catalog.replicas(lfn_or_id) if r.status is not ReplicaStatus.STALE]

    def cr(
        self,
        source: str | os.PathLike[str],
        lfn: str,
        se: str | None = None,
        *,
        guid: str | None = None,
        space_token: str | None = None,
    ) -> Stat:
        """Copy local file ``source`` to an SE and register it as ``lfn`` (lcg-cr).

        Without ``se``, the directory's default SE (:meth:`default_se_for`) is used.

        With ``space_token``, the token's quota is checked before any byte is
        written (SRM prepare-to-put). The copy is streamed with its adler32
        computed on the way, then the SE's own checksum of what it stored is
        compared with the source's; only then are the file and its replica
        registered, in one transaction (put-done). On any failure the stored
        copy is deleted: nothing stays stored or registered.
        """
        parts = split_lfn(lfn)
        guid = parse_guid(guid) if guid is not None else new_guid()
        self._check_free(lfn, parts)
        target_se = self._writable_se(se or self.default_se_for(self.stat(parent_of(parts)).id))
        name = os.fspath(source)
        try:
            # Checked before opening: opening a FIFO would block.
            kind = os.stat(name).st_mode
            if _stat.S_ISDIR(kind):
                raise IsADirectory(f"is a directory: {name}", name)
            if not _stat.S_ISREG(kind):
                raise InvalidArgument(f"not a regular file: {name}", name)
            source_file = open(name, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            raise NotFound(f"no such local file: {name}", name) from None
        except OSError as exc:
            raise from_os_error(exc, name) from exc
        with source_file:
            source_stat = os.fstat(source_file.fileno())
            self._reserve(target_se, space_token, source_stat.st_size)
            source_digest = Adler32()

            def chunks() -> Iterator[bytes]:
                while True:
                    try:
                        chunk = source_file.read(_COPY_CHUNK)
                    except OSError as exc:  # the source's fault, not the SE's
                        raise from_os_error(exc, name) from exc
                    if not chunk:
                        return
                    source_digest.update(chunk)
                    yield chunk

            def register(surl: str, written: WriteResult) -> Stat:
                return self.catalog.add_file(
                    lfn,
                    size=written.size,
                    checksum=written.checksum,
                    checksum_type=written.checksum_type,
                    replicas=[(target_se.name, surl)],
                    guid=guid,
                    mode=source_stat.st_mode & 0o777,
                    space_token=space_token,
                )

            entry, surl = self._store_verified(
                target_se,
                guid,
                chunks(),
                expected_checksum=source_digest.hexdigest,
                expected_size=None,
                register=register,
            )
        log.info("registered %s (%d bytes) with replica %s", lfn, entry.size, surl)
        return entry

    def rep(self, lfn: str, se: str, *, space_token: str | None = None) -> Replica:
        """Copy ``lfn`` from its best replica to SE ``se`` and register the copy (lcg-rep).

        The new copy's checksum must match the catalog's before it is
        registered; on any failure it is deleted.
        """
        entry = self.stat(lfn)
        target_se = self._writable_se(se)
        if entry.checksum_type != DEFAULT_CHECKSUM:
            raise InvalidArgument(
                f"cannot verify a copy of {lfn}: the catalog has its {entry.checksum_type} "
                f"checksum, copies are checked with {DEFAULT_CHECKSUM}",
                lfn,
            )
        replicas = self.catalog.replicas(entry.id)
        if any(r.se == target_se.name and r.status is not ReplicaStatus.STALE for r in replicas):
            raise AlreadyExists(f"{lfn} has a replica on {target_se.name} already", lfn)
        # A stale copy of an older version there may still hold the usual name.
        name = f"file-{entry.guid}"
        if make_surl(target_se, f"generated/{_today()}/{name}") in {r.surl for r in replicas}:
            name += f"-{secrets.token_hex(4)}"
        self._reserve(target_se, space_token, entry.size)
        guid, checksum = entry.guid, entry.checksum
        assert guid is not None
        assert checksum is not None
        source = self._open_replica(entry, lfn)
        with source:
            replica, surl = self._store_verified(
                target_se,
                guid,
                (bytes(chunk) for chunk in source.chunks(_COPY_CHUNK)),
                expected_checksum=lambda: checksum,
                expected_size=entry.size,
                name=name,
                register=lambda surl, _: self.catalog.add_replica(
                    guid, target_se.name, surl, space_token=space_token, checksum=checksum
                ),
            )
        log.info("replicated %s to %s as %s", lfn, target_se.name, surl)
        return replica

    def _reserve(self, se: StorageElement, space_token: str | None, size: int) -> None:
        """Check a space token's quota before any byte is written (prepare-to-put).

        Two uploads racing for the last bytes of a token may both pass; the
        quota is a bound on what is registered, checked again by no server.
        """
        if space_token is None:
            return
        quota = se.space_tokens.get(space_token)
        if quota is None:
            known = ", ".join(sorted(se.space_tokens)) or "none"
            raise InvalidArgument(
                f"storage element {se.name} has no space token {space_token!r} (it has: {known})",
                space_token,
            )
        used = self.catalog.space_used(se.name, space_token)
        if used + size > quota:
            raise NoSpace(
                f"space token {space_token} on {se.name} is full: {used} of {quota} bytes "
                f"used, {size} more asked",
                space_token,
            )

    def _store_verified(
        self,
        se: StorageElement,
        guid: str,
        chunks: Iterator[bytes],
        *,
        expected_checksum: Callable[[], str],
        expected_size: int | None,
        register: Callable[[str, WriteResult], T],
        name: str | None = None,
    ) -> tuple[T, str]:
        """Store ``chunks`` as a new replica on ``se``, verify it, then ``register`` it.

        The SE's checksum of what it stored, and the one computed while sending,
        must both equal ``expected_checksum()`` (asked once the bytes are sent).
        The copy is named ``name`` (default ``file-<guid>``) in the SE's area
        of the day. Returns what ``register(surl, written)`` returns, and the
        SURL. On any failure, registration included, the stored copy is deleted.
        """
        surl = make_surl(se, f"generated/{_today()}/{name or f'file-{guid}'}")
        turl = resolve_turl(surl, se, self.protocols)
        backend = self.backend(turl)
        try:
            written = backend.write(turl, chunks)
        except StorageUnavailable:
            self.health.record_failure(se.name)
            raise
        self.health.record_success(se.name)
        registered = False
        try:
            expected = expected_checksum()
            stored = backend.checksum(turl, written.checksum_type)
            if expected_size is not None and written.size != expected_size:
                raise ChecksumMismatch(
                    f"copy to {surl} has {written.size} bytes, not {expected_size}", surl
                )
            if written.checksum != expected or stored != expected:
                raise ChecksumMismatch(
                    f"copy to {surl} is corrupt: expected adler32 {expected}, "
                    f"sent {written.checksum}, stored {stored}",
                    surl,
                )
            if se.nearline:
                self.stager.migrate(se, surl)
            result = register(surl, written)
            registered = True
            return result, surl
        except BaseException:
            if not registered:
                try:
                    if se.nearline:
                        self.stager.purge(se, surl)
                    else:
                        backend.delete(turl)
                except GridError as exc:
                    log.warning("could not delete the unregistered copy %s: %s", turl, exc)
            raise

    def backend(self, turl: str) -> StorageBackend:
        """The protocol backend for ``turl``, with this grid's options."""
        return backend_for(turl, self.backend_options)

    def _writable_se(self, name: str | None) -> StorageElement:
        name = name or self.default_se
        if name is None:
            raise ConfigError("no storage element given and no default_se configured")
        se = self.ses.get(name)
        if not se.writable:
            raise ReadOnly(f"storage element {name} is not writable", name)
        return se

    def _check_free(self, lfn: str, parts: tuple[str, ...]) -> None:
        """Fail before copying anything if ``lfn`` cannot be registered."""
        try:
            self.lstat(lfn)
        except NotFound:
            pass
        else:
            raise AlreadyExists(f"LFN exists: {lfn}", lfn)
        parent = parent_of(parts)
        if not self.stat(parent).is_dir():
            raise NotADirectory(f"not a directory: {parent}", parent)

    # -- by entry id, for filesystems --------------------------------------

    def stat_id(self, entry_id: EntryId) -> Stat:
        """The entry with id ``entry_id``."""
        return self.catalog.stat_id(entry_id)

    def lookup(self, parent_id: EntryId, name: str) -> Stat:
        """The child ``name`` of directory ``parent_id``."""
        return self.catalog.lookup(parent_id, name)

    def list_page_id(self, entry_id: EntryId, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` entries of a directory in id order, resuming after id ``after``."""
        return self.catalog.list_page(entry_id, after=after, limit=limit)

    def readlink_id(self, entry_id: EntryId) -> str:
        """The target of a symbolic link."""
        return self.catalog.readlink(entry_id)

    def lfn_id(self, entry_id: EntryId) -> str:
        """The LFN of an entry."""
        return self.catalog.lfn_of(entry_id)

    def open_id(self, entry_id: EntryId, protocols: Sequence[str] | None = None) -> FailoverReader:
        """Open the best working replica of a file; the caller closes the reader."""
        entry = self.catalog.stat_id(entry_id)
        return self._open_replica(entry, self.catalog.lfn_of(entry_id), protocols)


def parent_of(parts: tuple[str, ...]) -> str:
    """The LFN of the directory holding the LFN of ``parts``."""
    return join_lfn(parts[:-1])


def _why_not_candidate(replica: Replica, ses: SERegistry, protocols: Sequence[str]) -> str:
    """Why a replica is not worth trying, for the error that lists what was tried."""
    if replica.status is not ReplicaStatus.AVAILABLE:
        return f"{replica.surl} ({replica.status.value})"
    if replica.se not in ses:
        return f"{replica.surl} (SE {replica.se} is not configured)"
    se = ses.get(replica.se)
    if not se.readable:
        return f"{replica.surl} (SE {replica.se} is not readable)"
    return f"{replica.surl} (SE {replica.se} offers none of {', '.join(protocols)})"
