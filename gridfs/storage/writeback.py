"""Writeback started while a file is written, so that the fsync that ends it finds little left.

A file written through the mount or :func:`gridfs.open` is staged locally,
then fsynced and stored at close; a file:// SE's copy is fsynced before it
is registered. Left to the kernel, their dirty pages are written back only
once its thresholds are crossed, or by that fsync: the fsync then waits for
most of a large file at disk speed, after the writes have ended. Starting
the writeback of every :data:`STEP` bytes written
(``sync_file_range(SYNC_FILE_RANGE_WRITE)``: start it, do not wait) lets the
disk work while the writes go on, and keeps the dirty pages, and the
kernel's throttling of a writer that has many, low.

The call can still block while the device's queue is full, and the writer
may be the mount's event loop: it is made by one background thread.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["STEP", "Writeback", "start_writeback"]

log = logging.getLogger(__name__)

STEP = 32 << 20
"""Staged bytes between two starts of their writeback."""

_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writeback of dirty pages, do not wait
_libc = ctypes.CDLL(None, use_errno=True)  # the C library this process runs on
_sync_file_range = getattr(_libc, "sync_file_range", None)  # Linux (glibc, musl) only
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    _sync_file_range.restype = ctypes.c_int
_starter = ThreadPoolExecutor(1, thread_name_prefix="gridfs-writeback")


def _start_now(fd: int, offset: int, length: int) -> int:
    if _sync_file_range is None:
        return errno.ENOSYS  # no such call here: the commit's fsync writes it all, as before
    # The descriptor may be closed by now (EBADF), or even reused by another
    # file, whose writeback then starts early: harmless either way.
    if _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0:
        return 0
    failed = ctypes.get_errno()
    log.debug("sync_file_range on fd %d: %s", fd, os.strerror(failed))
    return failed


def start_writeback(fd: int, offset: int, length: int) -> Future[int]:
    """Have the kernel start writing back bytes ``offset:offset+length`` of ``fd``; never waits.

    The future gives the call's errno (0: started), for those who want to know.
    """
    return _starter.submit(_start_now, fd, offset, length)


class Writeback:
    """Starts the writeback of a file's written bytes, :data:`STEP` at a time.

    ``start`` is called with the descriptor, offset and length of each span
    (default :func:`start_writeback`). A span is the union of the writes made
    since the last start: sequential writes give adjacent spans, scattered
    ones a wider span, written back in one call.
    """

    def __init__(self, start: Callable[[int, int, int], object] = start_writeback) -> None:
        self._start = start
        self._fd = -1
        self._low = self._high = 0

    def written(self, fd: int, offset: int, count: int) -> None:
        """Note ``count`` bytes written at ``offset`` of ``fd``; starts a span once it is large."""
        if count <= 0:
            return
        end = offset + count
        if fd != self._fd or self._low == self._high:  # another file, or a new span
            self._fd, self._low, self._high = fd, offset, end
        else:
            self._low, self._high = min(self._low, offset), max(self._high, end)
        if self._high - self._low >= STEP:
            self._start(fd, self._low, self._high - self._low)
            self._low = self._high
