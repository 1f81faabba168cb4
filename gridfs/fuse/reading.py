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

A file read whole (in any order of its pieces, as the kernel's readahead
sends them) is checked against the catalog's adler32 as its bytes go out
(:class:`ReadCheck`), on whichever path serves them: summing 128 KiB in the
loop costs less than the thread hop it would take to sum it elsewhere. When
the bytes turn out wrong, the read that completed the file fails with EIO,
the replica that served them is marked bad (in the worker thread: it is a
catalog request), the file's cached blocks are dropped, and every later read
of this open fails too (the reader has had wrong bytes): an open made
afterwards reads from the next replica.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os

from gridfs.errors import GridError
from gridfs.fuse.blockcache import BlockCache
from gridfs.gfal import Corrupt, FailoverReader, ReadCheck, Stat

__all__ = ["OpenFile", "cache_key"]

log = logging.getLogger(__name__)

# The readahead window, in cache blocks (1 MiB): where it starts, and how far it grows.
_READAHEAD_MIN_BLOCKS = 4
_READAHEAD_MAX_BLOCKS = 32


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
        self._window = _READAHEAD_MIN_BLOCKS
        self._ahead = 0  # readahead has asked for the blocks before this one
        self._check = ReadCheck(entry, reader)
        self._corrupt: Corrupt | None = None  # set once this open has handed out wrong bytes
        self._unreported = False  # caught in the loop: the worker thread marks the replica
        self._fetched: dict[int, str] = {}  # block index -> SURL it was fetched from, this open
        self._direct_surl = reader.replica.surl
        path = reader.local_path
        if path is not None:
            try:
                self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                self._direct = True
            except OSError as exc:  # read through the reader, which fails over
                log.debug("no direct read of %s: %s", path, exc)
        else:
            self._cache = cache

    def read_now(self, offset: int, size: int) -> bytes | bytearray | memoryview | None:
        """The bytes if the page cache has them all, else ``None``; never waits for I/O.

        Hand them on before the next call in this thread: they may be a view of
        a buffer the block cache reuses (see :meth:`BlockCache.read_cached`).
        """
        if self._corrupt is not None:
            return None  # refused in the worker thread
        data: bytes | bytearray | memoryview | None
        if self._cache is not None:
            data = self._cache.read_cached(self._key, offset, size, self.size)
            source = None if data is None else self._source_of(offset, len(data))
        else:
            data, source = self._direct_now(offset, size), self._direct_surl
        if data is None:
            return None
        if self._check.wants(offset):
            try:
                self._check.update(offset, data, source)
            except Corrupt as exc:
                self._corrupt, self._unreported = exc, True
                return None
        if self._cache is not None:
            self._read_ahead(offset, size)
        return data

    def _direct_now(self, offset: int, size: int) -> bytes | bytearray | None:
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
        """Up to ``size`` bytes from ``offset``; may wait (call it in a worker thread).

        Raises :class:`Corrupt` (EIO) for the read that completes a file
        whose bytes are wrong, and EIO for every read of this open after it.
        """
        if self._unreported and self._corrupt is not None:
            self._unreported = False
            self._report(self._corrupt)
            raise self._corrupt
        if self._corrupt is not None:
            raise GridError(
                f"{self.reader} was read corrupt by this open ({self._corrupt}): open it again",
                str(self.reader),
            )
        data, source = self._read(offset, size)
        try:
            self._check.update(offset, data, source)
        except Corrupt as exc:
            self._corrupt = exc
            self._report(exc)
            raise
        return data

    def _report(self, exc: Corrupt) -> None:
        """Mark the replica that served wrong bytes bad, and drop the blocks cached of it."""
        if exc.source is not None:
            self.reader.reject(exc.source, exc)
        if self._cache is not None:
            self._cache.discard(self._key, self.size)

    def _read(self, offset: int, size: int) -> tuple[bytes, str | None]:
        """The bytes, and the SURL of the replica they all came from (None: unknown)."""
        if self._direct:
            try:
                return os.pread(self._fd, size, offset), self._direct_surl
            except OSError as exc:
                log.info("direct read of %s failed, going through the reader: %s", self, exc)
                self._direct = False
        if self._cache is None:
            return self._fetch_from(offset, size)
        # The blocks after these are asked for first: in flight while this
        # read waits for its own (the first read of a file waited for its
        # block, then started the readahead).
        self._read_ahead(offset, size)
        data = self._cache.read(self._key, offset, size, self.size, self._fetch)
        return data, self._source_of(offset, len(data))

    def _source_of(self, offset: int, length: int) -> str | None:
        """The replica the cached blocks of these bytes all came from (None: several, unknown)."""
        assert self._cache is not None
        block_size = self._cache.block_size
        first, last = offset // block_size, (offset + max(length, 1) - 1) // block_size
        sources = {self._fetched.get(index) for index in range(first, last + 1)}
        return sources.pop() if len(sources) == 1 else None

    def _fetch_from(self, offset: int, size: int) -> tuple[bytes, str | None]:
        """Read through the reader; the bytes and the replica that served them all."""
        return self.reader.pread_from(offset, size)

    def _fetch(self, offset: int, size: int) -> bytes:
        """A block for the cache, noting the replica it came from (blocks are aligned)."""
        data, source = self._fetch_from(offset, size)
        assert self._cache is not None
        index = offset // self._cache.block_size
        if source is None:
            self._fetched.pop(index, None)
        else:
            self._fetched[index] = source
        return data

    def _read_ahead(self, offset: int, size: int) -> None:
        """After a sequential read, keep the window of blocks ahead of it being fetched.

        The window starts small (a file read here and there fetches little it
        does not need) and doubles with each sequential read, up to
        ``_READAHEAD_MAX_BLOCKS``: the blocks in it are fetched in parallel, so
        that one reader of a cold file keeps several requests in flight and
        approaches what the protocol gives. A read elsewhere starts it over.

        Only blocks not asked for yet are asked for: this runs in the trio
        loop for every read, and asking for the whole window each time cost a
        look-up under the cache's lock per block, 32 per MiB read.
        """
        if self._cache is None:
            return
        block_size = self._cache.block_size
        first, last = offset // block_size, (offset + max(size, 1) - 1) // block_size
        if first <= self._next_block <= last + 1:
            start, end = max(last + 1, self._ahead), last + 1 + self._window
            if start < end:
                self._cache.prefetch(self._key, range(start, end), self.size, self._fetch)
                self._ahead = end
            self._window = min(self._window * 2, _READAHEAD_MAX_BLOCKS)
        else:
            self._window = _READAHEAD_MIN_BLOCKS
            self._ahead = 0
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
