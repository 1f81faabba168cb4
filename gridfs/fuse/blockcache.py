"""Blocks of remote replicas kept on local disk: bounded, least recently used out first.

The cache knows nothing of replicas or protocols: a read names a file by a
key that changes whenever its content does (the mount uses the GUID, size and
checksum) and brings a ``fetch(offset, size)`` callable for the blocks it
lacks. Blocks are ``block_size`` bytes at aligned offsets (the last one of a
file shorter), one file each under the cache directory, written under a
temporary name and renamed, so a block file is always whole.

Concurrency: every method may be called from any thread. One lock guards the
index (name -> size, in least-recently-used order) and the table of blocks
being fetched; a block is fetched once however many readers want it, the
others wait for that fetch. Readahead fetches run on a small pool of their
own threads, and fetched blocks are written to their files by writer threads
while readers take them from memory. The last blocks fetched stay in memory
after they are stored, so that a sequential reader, which reads each block
soon after its readahead fetched it, takes it from there too, not back from
its file: one pass over the bytes less. Reading and writing block files
happens outside the lock.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gridfs.errors import GridError

__all__ = ["BlockCache", "CacheStatistics"]

log = logging.getLogger(__name__)

Fetch = Callable[[int, int], bytes]

_PARTIAL = ".partial-"
_WRITERS = 2  # threads that store fetched blocks
_HELD_BLOCKS = 64  # fetched blocks held in memory at most, waiting for a writer
# Blocks kept in memory once stored, the most recently fetched: more than the
# mount's readahead window (32 blocks, gridfs.fuse.reading), which a
# sequential reader follows.
_RECENT_BLOCKS = 48


@dataclass(frozen=True)
class CacheStatistics:
    """What the cache holds and how it has served reads."""

    blocks: int
    bytes: int
    hits: int
    misses: int
    evictions: int
    prefetched: int
    unstored: int = 0  # blocks read ahead and kept in memory only: the writers were behind


class BlockCache:
    """A bounded on-disk cache of file blocks, shared by all open files of a mount."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        *,
        block_size: int = 1 << 20,
        readahead_workers: int = 8,
        held_blocks: int = _HELD_BLOCKS,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.block_size = block_size
        self._lock = threading.Lock()
        self._index: OrderedDict[str, int] = OrderedDict()
        self._total = 0
        self._fetching: dict[str, Future[bytes]] = {}
        self._recent: OrderedDict[str, bytes] = OrderedDict()  # stored, and still in memory
        self._hits = self._misses = self._evictions = self._prefetched = self._unstored = 0
        self._pool = ThreadPoolExecutor(readahead_workers, thread_name_prefix="readahead")
        self._writer = ThreadPoolExecutor(_WRITERS, thread_name_prefix="blockstore")
        self._stores = threading.BoundedSemaphore(held_blocks)  # fetched, waiting to be stored
        self._buffers = threading.local()  # each thread's buffer for read_cached
        directory.mkdir(parents=True, exist_ok=True)
        # Blocks of files the catalog may deny other local users: the mount's only.
        directory.chmod(0o700)
        self._load()

    def _load(self) -> None:
        """Index the blocks a previous mount left, oldest first; drop partial ones."""
        found = []
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(_PARTIAL):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    found.append((info.st_mtime_ns, entry.name, info.st_size))
        for _, name, size in sorted(found):
            self._index[name] = size
            self._total += size
        with self._lock:
            self._evict()

    def statistics(self) -> CacheStatistics:
        """Counts since the cache was opened, and what it holds now."""
        with self._lock:
            return CacheStatistics(
                len(self._index),
                self._total,
                self._hits,
                self._misses,
                self._evictions,
                self._prefetched,
                self._unstored,
            )

    def close(self) -> None:
        """Stop readahead, store what was fetched; blocks stored stay for the next mount."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True)

    def read(self, key: str, offset: int, size: int, file_size: int, fetch: Fetch) -> bytes:
        """Up to ``size`` bytes of file ``key`` from ``offset``; missing blocks are fetched.

        Raises what ``fetch`` raises for a block that is neither cached nor fetchable.
        """
        end = min(offset + size, file_size)
        if offset >= end:
            return b""
        first, last = offset // self.block_size, (end - 1) // self.block_size
        parts = []
        for index in range(first, last + 1):
            block_start = index * self.block_size
            lo = max(offset, block_start) - block_start
            hi = min(end, block_start + self.block_size) - block_start
            parts.append(self._block(key, index, file_size, fetch, lo=lo, hi=hi))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_cached(
        self, key: str, offset: int, size: int, file_size: int
    ) -> bytes | memoryview | None:
        """The bytes if every block is cached and in the page cache, else ``None``.

        Never fetches, and reads with ``RWF_NOWAIT``, which never waits for the
        disk: fit to be called in the trio loop itself, sparing cached reads a
        thread hop. (Opening a block file whose inode the kernel has dropped
        can still read the disk briefly; such a block was read long ago.)

        The answer may be a view of a buffer this thread reuses: it holds its
        bytes until this thread's next call only (the loop hands them to the
        kernel at once). A fresh 1 MiB buffer per read would cost its page
        faults, an eighth of the loop's time in a cold read.
        """
        end = min(offset + size, file_size)
        if offset >= end:
            return b""
        first, last = offset // self.block_size, (end - 1) // self.block_size
        names = [_name(key, index) for index in range(first, last + 1)]
        with self._lock:
            fresh = self._held(names)
        if fresh is None:
            return None
        if len(names) == 1 and fresh:  # one block, in memory: no copy to make
            block_start = first * self.block_size
            with self._lock:
                self._hits += 1
            return fresh[names[0]][offset - block_start : end - block_start]
        buffer = self._scratch(end - offset)
        if not self._gather(names, first, offset, fresh, buffer):
            return None
        with self._lock:
            self._hits += len(names)
        return buffer

    def _scratch(self, size: int) -> memoryview:
        """``size`` bytes of this thread's reused buffer (a new one when it is too small)."""
        buffer: bytearray | None = getattr(self._buffers, "buffer", None)
        if buffer is None or len(buffer) < size:
            # A new object, not a resize: views handed out of the old one stay valid.
            buffer = self._buffers.buffer = bytearray(max(size, self.block_size))
        return memoryview(buffer)[:size]

    def _gather(
        self, names: list[str], first: int, offset: int, fresh: dict[str, bytes], view: memoryview
    ) -> bool:
        """Fill ``view`` with the bytes from ``offset`` of the blocks ``names`` (``first`` on).

        Blocks in ``fresh`` come from memory, the others from their files with
        ``RWF_NOWAIT``: False if one is not in the page cache, or gone.
        """
        end = offset + len(view)
        done = 0
        for index, name in enumerate(names, start=first):
            start = max(offset, index * self.block_size)
            stop = min(end, (index + 1) * self.block_size)
            if name in fresh:
                block_start = index * self.block_size
                piece = fresh[name][start - block_start : stop - block_start]
                view[done : done + stop - start] = piece
                done += stop - start
                continue
            try:
                fd = os.open(self.directory / name, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:  # evicted meanwhile: the worker thread's read sees to it
                return False
            try:
                count = os.preadv(
                    fd, [view[done : done + stop - start]], start - index * self.block_size,
                    os.RWF_NOWAIT,
                )  # fmt: skip
            except OSError:  # EAGAIN: not in the page cache; EOPNOTSUPP: no such reads here
                return False
            finally:
                os.close(fd)
            if count != stop - start:
                return False
            done += count
        return True

    def _held(self, names: list[str]) -> dict[str, bytes] | None:
        """Which of the blocks ``names`` are in memory, with their bytes.

        Those are the blocks fetched and not stored yet, and the recent ones.
        None if one is neither stored nor fetched. Called with the lock held;
        the stored ones count as used.
        """
        fresh: dict[str, bytes] = {}
        for name in names:
            recent = self._recent.get(name)
            if recent is not None:
                fresh[name] = recent
            if name in self._index:
                self._index.move_to_end(name)
                continue
            if recent is not None:  # fetched while the writers were behind: not stored
                continue
            fetching = self._fetching.get(name)
            if fetching is None or not fetching.done() or fetching.cancelled():
                return None
            if fetching.exception() is not None:
                return None
            fresh[name] = fetching.result()
        return fresh

    def prefetch(self, key: str, indices: Iterable[int], file_size: int, fetch: Fetch) -> None:
        """Start fetching the blocks ``indices`` of file ``key`` in the background."""
        for index in indices:
            if index * self.block_size >= file_size:
                return
            name = _name(key, index)
            with self._lock:
                if name in self._index or name in self._fetching or name in self._recent:
                    continue
                future: Future[bytes] = Future()
                self._fetching[name] = future
                self._prefetched += 1
            try:
                self._pool.submit(
                    functools.partial(self._fill, ahead=True), name, index, file_size, fetch, future
                )
            except RuntimeError:  # the pool is shut down: the mount is ending
                self._settle(name, future, None, None)
                return

    def discard(self, key: str, file_size: int) -> None:
        """Drop every cached block of file ``key`` (its content was found wrong)."""
        count = max(file_size - 1, 0) // self.block_size + 1
        for index in range(count):
            name = _name(key, index)
            with self._lock:
                self._recent.pop(name, None)
                size = self._index.pop(name, None)
                if size is None:
                    continue
                self._total -= size
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / name)

    def _block(
        self, key: str, index: int, file_size: int, fetch: Fetch, *, lo: int, hi: int
    ) -> bytes:
        """Bytes ``lo:hi`` of one block, from its file, from a fetch under way, or fetched."""
        name = _name(key, index)
        waited = False
        while True:
            with self._lock:
                cached = name in self._index
                fetching = self._fetching.get(name)
                unstored = None if cached else self._recent.get(name)
                if unstored is not None:
                    self._hits += 1
                    return unstored[lo:hi]
                if cached:
                    self._index.move_to_end(name)
                    self._hits += 1
                elif fetching is None or waited:
                    # Ours to fetch: nobody is, or the fetch we waited for failed
                    # (a readahead whose file was closed meanwhile, say).
                    self._misses += 1
                    fetching = Future()
                    self._fetching[name] = fetching
                    break
            if cached:
                try:
                    with (self.directory / name).open("rb", buffering=0) as stream:
                        return os.pread(stream.fileno(), hi - lo, lo)
                except FileNotFoundError:  # evicted meanwhile, or deleted by hand
                    self._forget(name)
                    continue
            assert fetching is not None
            try:
                return fetching.result()[lo:hi]
            except Exception:  # fetched again by this reader, which raises if it fails too
                waited = True
        self._fill(name, index, file_size, fetch, fetching)
        return fetching.result()[lo:hi]

    def _fill(
        self,
        name: str,
        index: int,
        file_size: int,
        fetch: Fetch,
        future: Future[bytes],
        *,
        ahead: bool = False,
    ) -> None:
        """Fetch one block, hand it to everyone waiting on ``future``, and store it.

        A block read ``ahead`` is stored by a writer thread; a reader's own
        block is stored before this returns.
        """
        start = index * self.block_size
        length = min(self.block_size, file_size - start)
        try:
            data = fetch(start, length)
            if len(data) != length:
                raise GridError(f"short read of block {index}: {len(data)} of {length} bytes")
        except BaseException as exc:
            log.debug("fetching block %s failed: %s", name, exc)
            self._settle(name, future, None, exc)
            return
        # The readers have the bytes now, from memory; until the block file is
        # stored, later readers take them from the finished fetch too.
        future.set_result(data)
        if not ahead:
            self._store_fetched(name, data, release=False)
            return
        # Stored by a writer thread, so that this one fetches on. Few writers:
        # eight threads writing the cache disk's page cache at once spend four
        # times the CPU of one (2.7 against 0.8 s per GiB here, in the kernel).
        # While the writers are ``held_blocks`` behind, the cache disk does not
        # keep up with the reads (making a file of each block can cost more
        # than fetching it): blocks fetched then are not stored, only kept
        # among the recent ones in memory. A slow cache disk costs cache hits
        # later, never the speed of reads now, and what waits is bounded.
        if not self._stores.acquire(blocking=False):
            with self._lock:
                self._fetching.pop(name, None)
                self._keep_recent(name, data)
                self._unstored += 1
            return
        try:
            self._writer.submit(self._store_fetched, name, data)
        except RuntimeError:  # shut down: the mount is ending
            self._store_fetched(name, data)

    def _store_fetched(self, name: str, data: bytes, *, release: bool = True) -> None:
        """Store a fetched block, then stop serving it from its fetch."""
        try:
            self._store(name, data)
        finally:
            with self._lock:
                self._fetching.pop(name, None)
            if release:
                self._stores.release()

    def _store(self, name: str, data: bytes) -> None:
        partial = self.directory / f"{_PARTIAL}{name}-{threading.get_ident()}"
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                with memoryview(data) as view:
                    written = 0
                    while written < len(view):
                        written += os.write(fd, view[written:])
            finally:
                os.close(fd)
            partial.rename(self.directory / name)
        except OSError as exc:
            # A full or broken cache disk costs speed, never a read.
            log.warning("cannot keep block %s in %s: %s", name, self.directory, exc)
            with contextlib.suppress(OSError):
                partial.unlink()
            return
        with self._lock:
            self._index[name] = len(data)
            self._total += len(data)
            self._keep_recent(name, data)
            self._evict()

    def _keep_recent(self, name: str, data: bytes) -> None:
        """Hold a block just fetched in memory, dropping the oldest; called with the lock held."""
        self._recent[name] = data
        self._recent.move_to_end(name)
        if len(self._recent) > _RECENT_BLOCKS:
            self._recent.popitem(last=False)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._recent.pop(name, None)
            size = self._index.pop(name, None)
            if size is not None:
                self._total -= size

    def _settle(
        self, name: str, future: Future[bytes], data: bytes | None, error: BaseException | None
    ) -> None:
        with self._lock:
            self._fetching.pop(name, None)
        if error is not None:
            future.set_exception(error)
        elif data is not None:
            future.set_result(data)
        else:
            future.cancel()

    def _evict(self) -> None:
        """Drop least recently used blocks until the total fits; called with the lock held."""
        while self._total > self.max_bytes and self._index:
            name, size = self._index.popitem(last=False)
            self._recent.pop(name, None)
            self._total -= size
            self._evictions += 1
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / name)


def _name(key: str, index: int) -> str:
    return f"{key}-{index}"
