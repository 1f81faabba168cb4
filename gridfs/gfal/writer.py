"""Writing grid files: a local staging file, stored and registered as a new version on commit.

The rules (README, "Writing files"):

- A new file is registered at open, empty and in status WRITING, so that it
  has an entry (an inode) while it is written; its first commit stores it and
  makes it READY. If that first commit fails, or the file is closed without
  one, it is unregistered again: nothing stays registered, nothing stored.
- An existing file opened without truncation is fetched into the staging
  file when it is first read or written (read-modify-write); with truncation
  it starts empty. Each commit of changed content stores the whole file as a
  new version of the same LFN: the same GUID, a new size and checksum, one
  new replica on the SE of the file's primary replica (else the directory's
  default SE, else the configured one). In the same transaction every older
  replica becomes STALE, so no reader is handed old bytes for the new
  checksum; their stored copies are then deleted and unregistered.
- Concurrent writers of one file: the last commit wins, as with local files.
- A write that failed (a full staging disk, an I/O error) is remembered by
  the open file: its content is incomplete, so no commit stores it.
- An overwrite is atomic: the new copy is stored and verified first, then
  one catalog operation (``commit_version``) switches the file to it, and
  only then are the old copies deleted. A store that fails leaves the old
  version as it was, readable, and says so in the log.
- Staging files are named ``gridfs-<pid>-*.staging`` and locked (flock)
  for as long as their writer lives, so the next writer (or the next mount)
  using the directory removes those whose writer died
  (:func:`clear_staging_leftovers`) and never one in use. The staging file
  of a file this open created carries the entry's id (``.e<id>.staging``),
  so that the entry a dead writer left WRITING is removed with it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from gridfs.catalog import ROOT_ID, CatalogAPI, EntryId, FileStatus, Replica, ReplicaStatus, Stat
from gridfs.errors import (
    GridError,
    InvalidArgument,
    IsADirectory,
    PermissionDenied,
    from_os_error,
)
from gridfs.gfal.placement import default_se_for
from gridfs.gfal.readahead import COPY_CHUNK, read_ahead
from gridfs.gfal.replicas import ReplicaAccess
from gridfs.storage import Adler32, StorageElement, WriteResult
from gridfs.storage.writeback import Writeback

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer  # what os.pwrite takes

__all__ = ["StagedFile", "WriteTarget", "clear_staging_leftovers", "open_existing"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_NOT_YET = -1  # the descriptor of a staging file not made yet
_PREFIX, _SUFFIX, _KEPT = "gridfs-", ".staging", ".kept"
_LEFTOVERS = f"{_PREFIX}*-*{_SUFFIX}"  # gridfs-<pid>-<random>[.e<id>].staging
_CREATED = re.compile(r"\.e(\d+)" + re.escape(_SUFFIX) + "$")  # mkstemp's random part has no "."


@dataclass(frozen=True)
class WriteTarget:
    """What a file open for writing stores into: the catalog, the SEs, the staging directory."""

    catalog: CatalogAPI
    storage: ReplicaAccess
    staging_dir: str | None = None  # None: the system's temporary directory


P = ParamSpec("P")
R = TypeVar("R")


class StagedFile:
    """A grid file open for writing through a local staging file.

    Thread-safe: reads, writes, :meth:`commit` and :meth:`close` take turns,
    so a write is either in the version a commit stores or left for the
    next one, never lost between them. Made by :meth:`Grid.open_staged`.
    """

    def __init__(
        self,
        target: WriteTarget,
        entry: Stat,
        lfn: str,
        *,
        created: bool,
        truncate: bool,
        se: str | None,
        staging: tuple[int, str],
    ) -> None:
        self._target = target
        self.entry = entry
        self.lfn = lfn
        self._se_name = se
        self._created = created  # registered by this open and not yet committed
        self._lock = threading.RLock()
        # Fetched on first use, so that an open that truncates (``>``, ``cp``)
        # never downloads the old content. Appending does: a version is stored whole.
        self._unloaded = not (created or truncate)
        self._dirty = created or truncate
        self._failed: GridError | None = None  # a write that failed: nothing can be stored
        # The adler32 of the staged bytes 0:_summed, kept while they are written in
        # order (cp, dd, a download): the commit registers it for a staging file
        # the SE takes over, and checks a copy to another SE against it (the
        # staging file read back on the way). None once a write goes elsewhere.
        self._summed = 0
        self._running: Adler32 | None = Adler32() if self._dirty else None
        self._fd: int | None
        self._fd, self.path = staging
        self._writeback = Writeback()  # large writes reach the disk before the commit's fsync

    @classmethod
    def create(cls, target: WriteTarget, lfn: str, *, mode: int, se: str | None) -> StagedFile:
        """Register ``lfn`` as a new, empty file being written, with its staging file."""
        staging = _staging_file(target)
        try:
            entry = target.catalog.add_file(lfn, size=0, mode=mode, status=FileStatus.WRITING)
        except BaseException:
            _drop(staging)
            raise
        staging = _labelled(staging, entry.id)
        return cls(target, entry, lfn, created=True, truncate=True, se=se, staging=staging)

    @classmethod
    def existing(
        cls, target: WriteTarget, entry: Stat, lfn: str, *, truncate: bool, se: str | None
    ) -> StagedFile:
        """Open the existing file ``entry`` (at ``lfn``) for a new version."""
        if entry.status is FileStatus.WRITING and not truncate:
            raise GridError(
                f"{lfn} is being written: its content is not stored yet", lfn, errno=errno.EBUSY
            )
        staging = _staging_file(target)
        return cls(target, entry, lfn, created=False, truncate=truncate, se=se, staging=staging)

    # -- content -----------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when the staged content differs from the last committed version."""
        return self._dirty

    @property
    def failed(self) -> GridError | None:
        """The error of a write or truncate that failed; the content is incomplete then."""
        return self._failed

    @property
    def size(self) -> int:
        """The size of the content as staged."""
        with self._lock:
            if self._unloaded:
                return self.entry.size
            return os.fstat(self._checked_fd()).st_size

    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes of the staged content at ``offset``."""
        with self._lock:
            self._load()
            return self._io(os.pread, self._checked_fd(), size, offset)

    def pwrite(self, data: ReadableBuffer, offset: int) -> int:
        """Write ``data`` at ``offset``; returns the count written."""
        with self._lock:
            self._load()
            return self._pwrite(data, offset)

    def pwrite_now(self, data: ReadableBuffer, offset: int) -> int | None:
        """:meth:`pwrite`, unless it would wait: ``None`` then, and nothing is written.

        It would wait while a commit or another call holds the file, or
        while its old content is still to be fetched. Otherwise the write
        goes to the local staging file at once: an event loop may call this
        itself instead of handing each write to a thread.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return None if self._unloaded else self._pwrite(data, offset)
        finally:
            self._lock.release()

    def _pwrite(self, data: ReadableBuffer, offset: int) -> int:
        with self._latched():
            fd = self._checked_fd()
            count = self._io(os.pwrite, fd, data, offset)
            self._dirty = True
            self._sum_written(data, offset, count)
            self._writeback.written(fd, offset, count)
            return count

    def truncate(self, size: int) -> None:
        """Cut or extend (with zeros) the staged content to ``size`` bytes."""
        with self._lock, self._latched():
            if size == 0:
                self._unloaded = False  # nothing of the old content survives
            self._load()
            self._io(os.ftruncate, self._checked_fd(), size)
            self._dirty = True
            if size == 0:
                self._set_running(Adler32(), 0)
            elif size != self._summed:
                self._set_running(None)

    def _sum_written(self, data: ReadableBuffer, offset: int, count: int) -> None:
        """Carry the running adler32 over bytes written at its end; else give it up."""
        if self._running is None:
            return
        # While it runs, the staged file is bytes 0:_summed: a write at its end extends it.
        if offset != self._summed:
            self._set_running(None)  # written over or beyond the end: summed at the commit instead
            return
        self._running.update(memoryview(data)[:count])
        self._summed += count

    def _set_running(self, running: Adler32 | None, summed: int = 0) -> None:
        """Replace the running sum (lock held)."""
        self._running, self._summed = running, summed

    @contextlib.contextmanager
    def _latched(self) -> Iterator[None]:
        """Remember a change that failed: the staged content is not what was written."""
        try:
            yield
        except GridError as exc:
            if exc.errno != errno.EBADF:  # a closed file: nothing was changed
                self._failed = exc
            raise

    def _load(self) -> None:
        """Fetch the committed content into the staging file, once (lock held)."""
        if not self._unloaded:
            return
        fd = self._checked_fd()
        replicas = self._target.catalog.replicas(self.entry.id)
        running = Adler32()
        with self._target.storage.open_best(self.entry, replicas, self.lfn) as reader:
            offset = 0
            for chunk in reader.chunks(_CHUNK):
                running.update(chunk)
                left = chunk
                while left:  # pwrite may write less than asked
                    count = self._io(os.pwrite, fd, left, offset)
                    offset, left = offset + count, left[count:]
        self._unloaded = False
        self._set_running(running, offset)

    def _io(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except OSError as exc:  # the staging disk's failure: ENOSPC, EIO...
            raise from_os_error(exc, self.path) from exc

    def _checked_fd(self) -> int:
        if self._fd is None:
            raise GridError(f"{self.lfn} is closed for writing", self.lfn, errno=errno.EBADF)
        if self._fd == _NOT_YET:  # the last one became a replica: a new one on first use
            self._fd, self.path = _staging_file(self._target)
        return self._fd

    # -- commit and close --------------------------------------------------

    def commit(self) -> Stat:
        """Store the staged content and register it as the file's new version.

        Nothing happens when the content is unchanged. After a write that
        failed (:attr:`failed`) nothing is stored and EIO is raised: the
        content is incomplete. On success the older replicas' copies are
        deleted (a copy that cannot be deleted stays registered as STALE,
        never read, and is retried at the next commit or unlink). On failure
        nothing new stays stored, an existing file keeps its old version, a
        file created by this open is unregistered, and the error is raised.
        """
        with self._lock:
            if self._failed is not None:
                raise GridError(
                    f"nothing stored of {self.lfn}: a write failed ({self._failed})",
                    self.lfn,
                    errno=errno.EIO,
                )
            if not self._dirty:
                return self.entry
            fd = self._checked_fd()
            try:
                entry, stale = self._store(fd)
            except BaseException as exc:
                if self._created:
                    self._unregister()
                else:
                    log.warning(
                        "%s keeps its old version: storing the new one failed: %s", self.lfn, exc
                    )
                raise
            self.entry, self._dirty, self._created = entry, False, False
        self._delete_stale(stale)
        log.info("stored %s: %d bytes, adler32 %s", self.lfn, entry.size, entry.checksum)
        return entry

    def _store(self, fd: int) -> tuple[Stat, list[Replica]]:
        catalog, storage = self._target.catalog, self._target.storage
        se = self._target_se()
        guid = self.entry.guid
        assert guid is not None
        size = os.fstat(fd).st_size
        # Summed as it was written: then the staging file read back is checked too.
        staged = self._running.hexdigest() if self._running and self._summed == size else None

        def chunks() -> Generator[bytes, None, None]:
            offset = 0
            while chunk := self._io(os.pread, fd, COPY_CHUNK, offset):
                offset += len(chunk)
                yield chunk

        def register(surl: str, written: WriteResult) -> tuple[Stat, list[Replica]]:
            return catalog.commit_version(
                self.entry.id,
                size=written.size,
                checksum=written.checksum,
                checksum_type=written.checksum_type,
                se=se.name,
                surl=surl,
            )

        # A fresh name per version: the old copies stay readable until the switch.
        surl = storage.new_surl(se, guid, new_version=not self._created)
        # Where the SE can take the staging file over (a file:// SE on its
        # filesystem), it becomes the replica: no byte is copied.
        adopted = storage.store_file_verified(
            se, surl, self.path, checksum=staged, register=register
        )
        if adopted is not None:
            self._detach()
            return adopted
        return storage.store_verified(
            se,
            surl,
            # The staging file is read once, in a thread ahead of the upload, and summed
            # by the SE's backend as it is sent.
            read_ahead(chunks()),
            expected_checksum=None if staged is None else lambda: staged,
            expected_size=size,
            register=register,
        )

    def _detach(self) -> None:
        """Leave the staging file to the replica it became; go on in a new one (lock held).

        The content is the new version's, fetched into the new file if this
        open reads or writes again (as for an existing file opened anew).
        """
        old = self._checked_fd(), self.path
        # The next staging file is made when this open reads or writes again:
        # most are closed now (cp, tar x), and an unused file costs two more
        # changes to the staging directory.
        self._fd = _NOT_YET
        self._unloaded = True
        self._set_running(None)
        _drop(old)

    def set_times(self, atime_ns: int | None, mtime_ns: int | None) -> Stat:
        """Set the file's access and modification times (both ``None``: now), after a commit.

        A commit makes the modification time now; a writer that set the
        times before closing (tar x, cp -p) has them put back with this.
        """
        with self._lock:
            self.entry = self._target.catalog.utime(self.lfn, atime_ns, mtime_ns)
            return self.entry

    def _target_se(self) -> StorageElement:
        """The primary replica's SE if it takes writes, else the default for the directory."""
        catalog, storage = self._target.catalog, self._target.storage
        if self._se_name is not None:
            return storage.writable_se(self._se_name)
        if not self._created:
            for replica in catalog.replicas_to_replace(self.entry.id):
                if (
                    replica.status is ReplicaStatus.AVAILABLE
                    and replica.se in storage.ses
                    and storage.ses.get(replica.se).writable
                ):
                    return storage.ses.get(replica.se)
        directory = self.entry.parent_id or ROOT_ID
        return storage.writable_se(default_se_for(catalog, directory, storage.default_se))

    def _delete_stale(self, stale: list[Replica]) -> None:
        for replica in stale:
            try:
                self._target.storage.delete_stored(replica)
                self._target.catalog.remove_replica(replica.guid, replica.surl)
            except GridError as exc:
                log.warning(
                    "old copy %s of %s stays registered as stale: %s", replica.surl, self.lfn, exc
                )

    def _unregister(self) -> None:
        """Remove the WRITING entry this open created (its content was never stored)."""
        try:
            # Only if no other writer has stored content in it meanwhile.
            self._target.catalog.abandon_writing(self.entry.id)
        except GridError as exc:
            log.warning("could not unregister the unfinished %s: %s", self.lfn, exc)
        self._created = False

    def close(self, *, keep: bool = False) -> str | None:
        """Drop the staging file; uncommitted changes are lost unless ``keep``.

        A file created by this open and never committed is unregistered. With
        ``keep``, the content stays on disk in a ``.kept`` file beside the
        staging file (never taken for a leftover) and its path is returned,
        so that content whose upload failed is not lost.
        """
        with self._lock:
            if self._fd is None:
                return None
            fd, self._fd = self._fd, None
            if self._created:
                self._unregister()
            if fd == _NOT_YET:
                return None  # all it held is stored: nothing to drop or keep
            if keep:
                kept = self.path.removesuffix(_SUFFIX) + _KEPT
                try:
                    os.rename(self.path, kept)
                except OSError as exc:  # then it stays where it is, a leftover once closed
                    log.warning("could not keep %s as %s: %s", self.path, kept, exc)
                    kept = self.path
                os.close(fd)
                return kept
            _drop((fd, self.path))
            return None

    def close_now(self) -> bool:
        """:meth:`close` if that waits for nothing, else ``False`` and nothing is done.

        It would wait to unregister a file this open created and never
        stored (a catalog call), to remove a staging file the SE did not take
        over (unlinking gigabytes frees their extents), or for another call
        that holds the file. An event loop may call this itself.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._created or self._fd not in (None, _NOT_YET):
                return False
            self.close()
            return True
        finally:
            self._lock.release()

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_existing(
    target: WriteTarget,
    entry: Stat,
    lfn: str,
    *,
    truncate: bool,
    read: bool,
    se: str | None = None,
) -> StagedFile:
    """Open the existing file ``entry`` (at ``lfn``) for writing, checking permissions first.

    Write permission, and read too when ``read`` (O_RDWR) or when the old
    content is kept (fetched, so a read).
    """
    if entry.is_dir():
        raise IsADirectory(f"is a directory: {lfn}", lfn)
    if not entry.is_file():
        raise InvalidArgument(f"not a file: {lfn}", lfn)
    want = os.W_OK | (os.R_OK if read or not truncate else 0)
    if not target.catalog.access(lfn, want):
        raise PermissionDenied(f"permission denied: {lfn}", lfn)
    return StagedFile.existing(target, entry, lfn, truncate=truncate, se=se)


def _staging_file(target: WriteTarget) -> tuple[int, str]:
    """A new local staging file in ``directory``, locked while this process lives.

    The first use of a directory in a process clears what dead writers left.
    The lock is taken after the file is made: a writer that finds its file
    gone (or replaced) once it holds the lock lost it to a cleaner, which
    took it for a leftover in between, and makes another.
    """
    directory = target.staging_dir
    where = directory or tempfile.gettempdir()
    with _cleared_lock:
        first = where not in _cleared
    if first:
        clear_staging_leftovers(directory, target.catalog)
    while True:
        try:
            fd, path = tempfile.mkstemp(
                prefix=f"{_PREFIX}{os.getpid()}-", suffix=_SUFFIX, dir=directory
            )
        except OSError as exc:
            raise from_os_error(exc, where) from exc
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel when this process ends
        if _names(fd, path):
            return fd, path
        os.close(fd)


_cleared: set[str] = set()  # staging directories cleared of leftovers by this process
_cleared_lock = threading.Lock()


def clear_staging_leftovers(directory: str | None, catalog: CatalogAPI | None = None) -> list[str]:
    """Remove the staging files whose writer died (``None``: the system's temporary directory).

    A staging file is locked by its writer's process while it lives; one
    that can be locked here is a leftover (a crashed mount daemon's, a
    killed program's). Files of live writers and kept files stay. With
    ``catalog``, a file the dead writer had created and never stored (still
    WRITING) is removed from it too. Returns the paths removed, each logged.
    """
    where = directory or tempfile.gettempdir()
    with _cleared_lock:
        _cleared.add(where)
    removed = []
    for path in glob.glob(os.path.join(glob.escape(where), _LEFTOVERS)):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue  # gone meanwhile, or not ours to open
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # locked: its writer is alive
        try:
            if _names(fd, path):
                os.unlink(path)  # under the lock: its writer cannot have it now
                removed.append(path)
                log.info("removed %s: its writer has ended (a crash left it)", path)
                created = _CREATED.search(path)
                if catalog is not None and created is not None:
                    _abandon(catalog, EntryId(int(created[1])), path)
        except OSError as exc:
            log.warning("could not remove the leftover staging file %s: %s", path, exc)
        finally:
            os.close(fd)
    return removed


def _abandon(catalog: CatalogAPI, entry_id: EntryId, path: str) -> None:
    """Unregister the file a dead writer created, if its content was never stored."""
    try:
        if catalog.abandon_writing(entry_id):
            log.info(
                "unregistered entry %d: its writer died before storing it (%s)", entry_id, path
            )
    except GridError as exc:
        log.warning(
            "could not unregister entry %d that %s was written for: %s", entry_id, path, exc
        )


def _labelled(staging: tuple[int, str], entry_id: EntryId) -> tuple[int, str]:
    """The staging file renamed to carry the id of the entry its open created."""
    fd, path = staging
    labelled = path[: -len(_SUFFIX)] + f".e{entry_id}{_SUFFIX}"
    try:
        os.rename(path, labelled)  # the lock is on the inode: it stays
    except OSError as exc:
        log.warning("staging file %s keeps its name: %s", path, exc)
        return staging
    return fd, labelled


def _names(fd: int, path: str) -> bool:
    """Whether ``path`` is still the file open as ``fd``."""
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)


def _drop(staging: tuple[int, str]) -> None:
    fd, path = staging
    os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
