"""Files open for reading in the mount, and the fastest safe way to serve each read.

- A replica on a local ``file://`` SE is read straight from its file. The
  request handler first tries the read right in the trio loop with
  ``RWF_NOWAIT``, which answers only from the page cache and never waits for a
  disk or an NFS server: a cached read costs no thread hop at all. Only a read
  that would wait goes to a worker thread.
- A replica on a remote protocol (``root://``, ``davs://``) is read through the
  mount's on-disk :class:`BlockCache`, with sequential readahead; blocks it holds
  are read in the loop too, with ``RWF_NOWAIT``, when the page cache has them.

Either way the worker-thread path goes through the gfal layer's
:class:`FailoverReader`, so a replica that fails mid-read is replaced by the
next one at the same offset.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os

from gridfs.fuse.blockcache import BlockCache
from gridfs.gfal import FailoverReader, Stat

__all__ = ["OpenFile", "cache_key"]

log = logging.getLogger(__name__)

_READAHEAD_BLOCKS = 8


def cache_key(entry: Stat) -> str:
    """A name for a file's content that changes whenever its content does."""
    identity = f"{entry.guid}:{entry.size}:{entry.checksum_type}:{entry.checksum}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


class OpenFile:
    """One open of a file for reading: its replica reader and how reads are served."""

    def __init__(
        self, entry: Stat, reader: FailoverReader, cache: BlockCache | None = None
    ) -> None:
        self.entry = entry
        self.reader = reader
        self.size = reader.size
        self._fd = -1
        self._direct = False  # read self._fd; it stays open until close(), never reused early
        self._nowait = True
        self._cache: BlockCache | None = None
        self._key = cache_key(entry)
        self._next_block = 0  # a read from the start counts as sequential
        path = reader.local_path
        if path is not None:
            try:
                self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                self._direct = True
            except OSError as exc:  # read through the reader, which fails over
                log.debug("no direct read of %s: %s", path, exc)
        else:
            self._cache = cache

    def read_now(self, offset: int, size: int) -> bytes | bytearray | None:
        """The bytes if the page cache has them all, else ``None``; never waits for I/O."""
        if self._cache is not None:
            data = self._cache.read_cached(self._key, offset, size, self.size)
            if data is not None:
                self._read_ahead(offset, size)
            return data
        if not (self._direct and self._nowait):
            return None
        buffer = bytearray(min(size, max(self.size - offset, 0)))
        if not buffer:
            return b""
        try:
            count = os.preadv(self._fd, [buffer], offset, os.RWF_NOWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno == errno.EOPNOTSUPP:  # no non-blocking reads here (tmpfs, NFS)
                self._nowait = False
            return None  # else the worker thread's read meets the error and goes on
        return buffer if count == len(buffer) else None

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset``; may wait (call it in a worker thread)."""
        if self._direct:
            try:
                return os.pread(self._fd, size, offset)
            except OSError as exc:
                log.info("direct read of %s failed, going through the reader: %s", self, exc)
                self._direct = False
        if self._cache is None:
            return self.reader.pread(offset, size)
        data = self._cache.read(self._key, offset, size, self.size, self.reader.pread)
        self._read_ahead(offset, size)
        return data

    def _read_ahead(self, offset: int, size: int) -> None:
        """After a sequential read, keep the window of blocks ahead of it being fetched."""
        if self._cache is None:
            return
        block_size = self._cache.block_size
        first, last = offset // block_size, (offset + max(size, 1) - 1) // block_size
        if first <= self._next_block <= last + 1:
            ahead = range(last + 1, last + 1 + _READAHEAD_BLOCKS)
            self._cache.prefetch(self._key, ahead, self.size, self.reader.pread)
        self._next_block = last + 1

    def close(self) -> None:
        """Close the replica (and the direct file, if any); no read may be under way."""
        self._direct = False
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.reader.close()

    def __str__(self) -> str:
        return self.reader.turl
