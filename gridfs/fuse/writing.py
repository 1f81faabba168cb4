"""Files open for writing in the mount: a gfal :class:`StagedFile` behind each open.

Writes go to the local staging file; the content is stored on its SE and
registered when the file is flushed. The kernel sends FLUSH with every
close(2) and waits for it (RELEASE comes later and nobody waits), so the
commit happens on flush, and on fsync: ``close()`` returns once the file is
stored, verified and registered, and fails with EIO if it was not. Only
the FLUSH of the last descriptor that writes commits
(:mod:`gridfs.fuse.holders`), so one logical write is one version. A write
that failed (ENOSPC, EIO...) is remembered by the staged file: the commit
is refused with EIO, nothing is stored, the old version stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridfs.gfal import Stat

if TYPE_CHECKING:
    from gridfs.gfal import StagedFile

__all__ = ["WriteFile"]


class WriteFile:
    """One open of a file for writing (``O_WRONLY`` or ``O_RDWR``).

    Call it in worker threads, but for the ``*_now`` methods, which an event
    loop may call: they do nothing and say so where they would wait.
    """

    def __init__(
        self, staged: StagedFile, *, append: bool = False, opener: int | None = None, since: int = 0
    ) -> None:
        self.staged = staged
        self.append = append
        # Who opened it, and the last process id made before (gridfs.fuse.holders):
        # where the other descriptors of this open can be.
        self.opener = opener
        self.since = since
        # The size as written, kept here: the staged file's own answer waits
        # while a commit uploads, and the mount asks it for listings.
        self.size = staged.size
        self._refused = False  # the last commit failed (the caller was told)
        self.stored = False  # a commit of this open stored a version
        # Times set (utime, futimens) since the last write: a commit keeps them, as
        # tar x and cp -p expect of write, set the times, close.
        self._times: tuple[int | None, int | None] | None = None

    @property
    def entry(self) -> Stat:
        """The file's catalog entry as last committed (or as created)."""
        return self.staged.entry

    def read_now(self, offset: int, size: int) -> None:
        """Reads of a file being written always go to a worker thread."""
        return None

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of the content as written so far."""
        return self.staged.pread(size, offset)

    def write(self, offset: int, data: bytes) -> int:
        """Write at ``offset``; in append mode (O_APPEND) always at the end, as POSIX says."""
        at = self.staged.size if self.append else offset
        self._times = None  # a write after them makes the time now
        count = self.staged.pwrite(data, at)
        self.size = max(self.size, at + count)
        return count

    def write_now(self, offset: int, data: bytes) -> int | None:
        """:meth:`write` in the event loop itself, or ``None`` if it would wait (then write).

        A write to the local staging file costs less than the thread hop
        around it (a 1 MiB write of ``dd`` or ``cp``); one that would wait
        (a commit holds the file, its old content is to be fetched, or it
        appends, which asks the size first) is left to a worker thread.
        """
        if self.append:
            return None
        count = self.staged.pwrite_now(data, offset)
        if count is not None:
            self._times = None
            self.size = max(self.size, offset + count)
        return count

    def truncate(self, size: int) -> None:
        """Cut or extend the content to ``size`` bytes (stored at the next flush)."""
        self._times = None
        self.staged.truncate(size)
        self.size = size

    def times_set(self, atime_ns: int | None, mtime_ns: int | None) -> None:
        """The file's times were set (``None``: now): the next commit keeps them."""
        self._times = (atime_ns, mtime_ns)

    @property
    def pending(self) -> bool:
        """True when a commit has something to do: store changes, or refuse after a failed write."""
        return self.staged.dirty or self.staged.failed is not None

    @property
    def untried(self) -> bool:
        """True when changes are left that no commit has tried to store."""
        return self.staged.dirty and self.staged.failed is None and not self._refused

    def commit(self) -> Stat | None:
        """Store and register changed content; ``None`` if there was nothing to store.

        Raises (EIO) after a write that failed: that content is incomplete.
        """
        if not self.pending:
            return None
        self._refused = True
        entry = self.staged.commit()
        self._refused = False
        self.stored = True
        if self._times is not None:
            entry = self.staged.set_times(*self._times)
        return entry

    def close(self) -> None:
        """Drop the staging file (a new file never stored is unregistered)."""
        self.staged.close()

    def close_now(self) -> bool:
        """:meth:`close` in the event loop itself, unless it would wait: then ``False``."""
        return self.staged.close_now()

    def __str__(self) -> str:
        return f"{self.staged.lfn} (staged in {self.staged.path})"
