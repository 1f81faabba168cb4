"""Blocks of remote replicas kept on local disk: bounded, least recently used out first.

The cache knows nothing of replicas or protocols: a read names a file by a
key that changes whenever its content does (the mount uses the GUID, size and
checksum) and brings a ``fetch(offset, size)`` callable for the blocks it
lacks. Blocks are ``block_size`` bytes at aligned offsets (the last one of a
file shorter).

Layout: one sparse file per key, ``KEY.blocks``, each block at its own offset,
and its map, ``KEY.map``: a header, then one byte per block, set once the
block's bytes are written. A file made per block cost as much as writing the
block (the filesystem's inode allocation, most of a cold read's kernel time);
a block stored now is one write into a file that exists. An evicted block's
bytes are punched out of its file (``fallocate(PUNCH_HOLE)``); a file with no
block left is removed.

After a crash: a block's byte is set after its bytes are written, so within
one boot (the page cache is the same) a map never names a block that is not
there; a crash between the two costs a fetch. Across a reboot the page cache
may have been lost: the file ``unsynced`` holds the boot id while the cache
has writes not known to be on disk (it is synced before any block is written),
and a cache found unsynced from another boot is emptied.
:meth:`BlockCache.close` syncs what it wrote, then removes it.

One mount at a time uses a cache directory (a lock, ``flock`` on ``lock``):
another's evictions would punch holes in blocks this one has indexed, read as
zeros. A mount that finds the directory taken (two mounts of one user share
the default) uses ``more/1``, ``more/2``... under it, the first one free.

Concurrency: every method may be called from any thread. One lock guards the
index ((key, index) -> size, in least-recently-used order), the files and the
table of blocks being fetched; a block is fetched once however many readers
want it, the others wait for that fetch. Readahead fetches run on a small pool
of their own threads, and fetched blocks are written by writer threads while
readers take them from memory. The last blocks fetched stay in memory after
they are stored, so that a sequential reader, which reads each block soon
after its readahead fetched it, takes it from there too, not back from its
file: one pass over the bytes less. A block being read from its file is not
evicted meanwhile (its hole would read as zeros). Reading and writing blocks
happens outside the lock; setting a map byte, a one-byte write, under it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
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
from gridfs.storage.file_backend import fsync_directory

__all__ = ["BlockCache", "CacheStatistics"]

log = logging.getLogger(__name__)

Fetch = Callable[[int, int], bytes]
Block = tuple[str, int]  # (key, index)

_DATA, _MAP = ".blocks", ".map"
_UNSYNCED, _LOCK, _MORE = "unsynced", "lock", "more"
_PLACES = 64  # directories tried for a cache, the given one and ``more/1`` on
_MAGIC = b"gridfs-blocks-1\n"  # then the block size, 8 bytes little-endian
_HEADER = len(_MAGIC) + 8
_STORED = b"\x01"
_WRITERS = 1  # threads that store fetched blocks (two on one file spin on its lock)
_HELD_BLOCKS = 64  # fetched blocks held in memory at most, waiting for a writer
# Blocks kept in memory once stored, the most recently fetched: more than the
# mount's readahead window (32 blocks, gridfs.fuse.reading), which a
# sequential reader follows.
_RECENT_BLOCKS = 48
_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02


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


@dataclass(eq=False)
class _File:
    """A key's files on disk. A store that began with another object (or none) is void."""

    blocks: int = 0  # indexed
    written: bool = False  # since the cache was opened: close() syncs it


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
        self.directory, self._lock_fd = _claim(directory)
        self.max_bytes = max_bytes
        self.block_size = block_size
        self._lock = threading.Lock()
        self._index: OrderedDict[Block, int] = OrderedDict()
        self._files: dict[str, _File] = {}
        self._reading: dict[Block, int] = {}  # blocks being read from their files: kept
        self._total = 0
        self._fetching: dict[Block, Future[bytes]] = {}
        self._recent: OrderedDict[Block, bytes] = OrderedDict()  # stored, and still in memory
        self._hits = self._misses = self._evictions = self._prefetched = self._unstored = 0
        self._pool = ThreadPoolExecutor(readahead_workers, thread_name_prefix="readahead")
        self._writer = ThreadPoolExecutor(_WRITERS, thread_name_prefix="blockstore")
        self._stores = threading.BoundedSemaphore(held_blocks)  # fetched, waiting to be stored
        self._buffers = threading.local()  # each thread's buffer for read_cached
        try:
            self._load()
        except BaseException:
            os.close(self._lock_fd)
            raise

    def _load(self) -> None:
        """Index the blocks a previous mount left, least recently written first.

        A cache left unsynced by another boot is emptied; files that are no
        cache's (a block file of the older layout, a map without its data) go.
        """
        boot = _boot_id()
        unsynced = self.directory / _UNSYNCED
        with contextlib.suppress(FileNotFoundError):
            if unsynced.read_text().strip() != boot:
                log.warning("%s was not synced before a reboot: emptied", self.directory)
                self._remove_all()
        found = []
        with os.scandir(self.directory) as entries:
            names = {entry.name: entry for entry in entries if entry.is_file()}
        for name, entry in names.items():
            if name in (_UNSYNCED, _LOCK) or name.removesuffix(_MAP) + _DATA in names:
                continue  # a map is read with its data
            if not name.endswith(_DATA):  # an older layout's block, a map without data
                _remove(entry.path)
                continue
            key = name.removesuffix(_DATA)
            blocks = self._stored_blocks(entry.path, key)
            if blocks:
                found.append((entry.stat().st_mtime_ns, key, blocks))
            else:
                self._unlink(key)
        for _, key, blocks in sorted(found):
            record = self._files[key] = _File()
            for index, size in blocks:
                self._index[(key, index)] = size
                self._total += size
                record.blocks += 1
        # Written before any block is: this cache now has writes that may not be on disk.
        # On disk before any of them, too: the kernel writes dirty pages back in no
        # particular order, and a map byte that reached the disk without this file
        # would, after a crash, name a block whose bytes did not (read as zeros).
        fd = os.open(unsynced, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{boot}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_directory(self.directory)  # the file's name, too
        with self._lock:
            self._evict()

    def _stored_blocks(self, data: str, key: str) -> list[tuple[int, int]]:
        """(index, size) of the blocks the map of ``key`` names; none if it is not this cache's."""
        try:
            header_and_map = (self.directory / f"{key}{_MAP}").read_bytes()
            size = os.stat(data).st_size
        except OSError:
            return []
        header, stored = header_and_map[:_HEADER], header_and_map[_HEADER:]
        if header != _MAGIC + self.block_size.to_bytes(8, "little"):
            return []  # another block size, or not a map
        blocks = []
        for index in (i for i, byte in enumerate(stored) if byte == _STORED[0]):
            length = min(self.block_size, size - index * self.block_size)
            if length > 0:
                blocks.append((index, length))
        return blocks

    def _remove_all(self) -> None:
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.is_file() and entry.name not in (_UNSYNCED, _LOCK):
                    _remove(entry.path)

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
        """Stop readahead, store what was fetched and sync it; blocks stay for the next mount.

        Idempotent.
        """
        if self._lock_fd < 0:
            return
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True)
        with self._lock:
            written = [key for key, record in self._files.items() if record.written]
        try:
            for key in written:
                for suffix in (_DATA, _MAP):  # the data first: a map names only what is there
                    with contextlib.suppress(FileNotFoundError):
                        fd = os.open(self.directory / f"{key}{suffix}", os.O_RDONLY | os.O_CLOEXEC)
                        try:
                            os.fdatasync(fd)
                        finally:
                            os.close(fd)
            _remove(str(self.directory / _UNSYNCED))
        except OSError as exc:  # left unsynced: emptied if the machine reboots before a mount
            log.warning("cannot sync the block cache in %s: %s", self.directory, exc)
        finally:
            os.close(self._lock_fd)  # the directory is free for the next mount
            self._lock_fd = -1

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
        thread hop. (Opening a file whose inode the kernel has dropped can
        still read the disk briefly; such a file was read long ago.)

        The answer may be a view of a buffer this thread reuses: it holds its
        bytes until this thread's next call only (the loop hands them to the
        kernel at once). A fresh 1 MiB buffer per read would cost its page
        faults, an eighth of the loop's time in a cold read.
        """
        end = min(offset + size, file_size)
        if offset >= end:
            return b""
        first, last = offset // self.block_size, (end - 1) // self.block_size
        blocks = [(key, index) for index in range(first, last + 1)]
        with self._lock:
            fresh = self._held(blocks)
            if fresh is None:
                return None
            if len(blocks) == 1 and fresh:  # one block, in memory: no copy to make
                self._hits += 1
                block_start = first * self.block_size
                return fresh[blocks[0]][offset - block_start : end - block_start]
            on_disk = [block for block in blocks if block not in fresh]
            self._pin(on_disk)
        buffer = self._scratch(end - offset)
        gathered = False
        try:
            gathered = self._gather(key, first, offset, fresh, buffer)
        finally:
            with self._lock:
                self._unpin(on_disk)
                self._hits += len(blocks) if gathered else 0
        return buffer if gathered else None

    def _scratch(self, size: int) -> memoryview:
        """``size`` bytes of this thread's reused buffer (a new one when it is too small)."""
        buffer: bytearray | None = getattr(self._buffers, "buffer", None)
        if buffer is None or len(buffer) < size:
            # A new object, not a resize: views handed out of the old one stay valid.
            buffer = self._buffers.buffer = bytearray(max(size, self.block_size))
        return memoryview(buffer)[:size]

    def _gather(
        self, key: str, first: int, offset: int, fresh: dict[Block, bytes], view: memoryview
    ) -> bool:
        """Fill ``view`` with the bytes of file ``key`` from ``offset`` (block ``first`` on).

        Blocks in ``fresh`` come from memory, the others from the file with
        ``RWF_NOWAIT``: False if one is not in the page cache, or gone.
        """
        end = offset + len(view)
        done = 0
        fd = -1
        try:
            for index in range(first, (end - 1) // self.block_size + 1):
                start = max(offset, index * self.block_size)
                stop = min(end, (index + 1) * self.block_size)
                piece = view[done : done + stop - start]
                held = fresh.get((key, index))
                if held is not None:
                    block_start = index * self.block_size
                    piece[:] = held[start - block_start : stop - block_start]
                    done += stop - start
                    continue
                if fd < 0:
                    fd = os.open(self.directory / f"{key}{_DATA}", os.O_RDONLY | os.O_CLOEXEC)
                count = os.preadv(fd, [piece], start, os.RWF_NOWAIT)
                if count != stop - start:
                    return False
                done += count
        except OSError:  # EAGAIN: not in the page cache; EOPNOTSUPP: no such reads; gone
            return False
        finally:
            if fd >= 0:
                os.close(fd)
        return True

    def _held(self, blocks: list[Block]) -> dict[Block, bytes] | None:
        """Which of ``blocks`` are in memory, with their bytes.

        Those are the blocks fetched and not stored yet, and the recent ones.
        None if one is neither stored nor fetched. Called with the lock held;
        the stored ones count as used.
        """
        fresh: dict[Block, bytes] = {}
        for block in blocks:
            recent = self._recent.get(block)
            if recent is not None:
                fresh[block] = recent
            if block in self._index:
                self._index.move_to_end(block)
                continue
            if recent is not None:  # fetched while the writers were behind: not stored
                continue
            fetching = self._fetching.get(block)
            if fetching is None or not fetching.done() or fetching.cancelled():
                return None
            if fetching.exception() is not None:
                return None
            fresh[block] = fetching.result()
        return fresh

    def _pin(self, blocks: Iterable[Block]) -> None:
        """Keep ``blocks`` from eviction while they are read; called with the lock held."""
        for block in blocks:
            self._reading[block] = self._reading.get(block, 0) + 1

    def _unpin(self, blocks: Iterable[Block]) -> None:
        for block in blocks:
            count = self._reading.pop(block) - 1
            if count:
                self._reading[block] = count
        if self._total > self.max_bytes:
            self._evict()  # what the reads held back

    def prefetch(self, key: str, indices: Iterable[int], file_size: int, fetch: Fetch) -> None:
        """Start fetching the blocks ``indices`` of file ``key`` in the background."""
        for index in indices:
            if index * self.block_size >= file_size:
                return
            block = (key, index)
            with self._lock:
                if block in self._index or block in self._fetching or block in self._recent:
                    continue
                future: Future[bytes] = Future()
                self._fetching[block] = future
                self._prefetched += 1
            try:
                self._pool.submit(
                    functools.partial(self._fill, ahead=True), block, file_size, fetch, future
                )
            except RuntimeError:  # the pool is shut down: the mount is ending
                self._settle(block, future, None, None)
                return

    def discard(self, key: str, file_size: int) -> None:
        """Drop every cached block of file ``key`` (its content was found wrong)."""
        count = max(file_size - 1, 0) // self.block_size + 1
        with self._lock:
            for index in range(count):
                self._recent.pop((key, index), None)
                size = self._index.pop((key, index), None)
                if size is not None:
                    self._total -= size
            # Stores under way are void, and reads of the file find it gone.
            if self._files.pop(key, None) is not None:
                self._unlink(key)

    def _block(
        self, key: str, index: int, file_size: int, fetch: Fetch, *, lo: int, hi: int
    ) -> bytes:
        """Bytes ``lo:hi`` of one block, from its file, from a fetch under way, or fetched."""
        block = (key, index)
        waited = False
        while True:
            with self._lock:
                cached = block in self._index
                fetching = self._fetching.get(block)
                unstored = None if cached else self._recent.get(block)
                if unstored is not None:
                    self._hits += 1
                    return unstored[lo:hi]
                if cached:
                    self._index.move_to_end(block)
                    self._hits += 1
                    self._pin([block])
                elif fetching is None or waited:
                    # Ours to fetch: nobody is, or the fetch we waited for failed
                    # (a readahead whose file was closed meanwhile, say).
                    self._misses += 1
                    fetching = Future()
                    self._fetching[block] = fetching
                    break
            if cached:
                data = self._read_stored(key, index * self.block_size + lo, hi - lo)
                if data is not None:
                    return data
                self._forget(key)  # deleted or cut short by hand: fetched again
                continue
            assert fetching is not None
            try:
                return fetching.result()[lo:hi]
            except Exception:  # fetched again by this reader, which raises if it fails too
                waited = True
        self._fill(block, file_size, fetch, fetching)
        return fetching.result()[lo:hi]

    def _read_stored(self, key: str, offset: int, size: int) -> bytes | None:
        """``size`` bytes of the file of ``key`` (its block pinned), None if not all there."""
        try:
            fd = os.open(self.directory / f"{key}{_DATA}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                data = os.pread(fd, size, offset)
            finally:
                os.close(fd)
        except FileNotFoundError:
            data = b""
        finally:
            with self._lock:
                self._unpin([(key, offset // self.block_size)])
        return data if len(data) == size else None

    def _fill(
        self,
        block: Block,
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
        start = block[1] * self.block_size
        length = min(self.block_size, file_size - start)
        # Taken before the fetch: a discard meanwhile (the replica serving it
        # was found corrupt) voids its store, and its keeping in memory.
        with self._lock:
            record = self._files.setdefault(block[0], _File())
        try:
            data = fetch(start, length)
            if len(data) != length:
                raise GridError(f"short read of block {block[1]}: {len(data)} of {length} bytes")
        except BaseException as exc:
            log.debug("fetching block %s failed: %s", block, exc)
            self._settle(block, future, None, exc)
            return
        # The readers have the bytes now, from memory; until the block is
        # stored, later readers take them from the finished fetch too.
        future.set_result(data)
        if not ahead:
            self._store_fetched(block, data, record, release=False)
            return
        # Stored by a writer thread, so that this one fetches on. One writer:
        # threads writing the cache disk's page cache at once spend far more
        # CPU than one (eight: 2.7 against 0.8 s per GiB here, in the kernel;
        # two writing one sparse file spin on its inode lock).
        # While the writers are ``held_blocks`` behind, the cache disk does not
        # keep up with the reads: blocks fetched then are not stored, only kept
        # among the recent ones in memory. A slow cache disk costs cache hits
        # later, never the speed of reads now, and what waits is bounded.
        if not self._stores.acquire(blocking=False):
            with self._lock:
                self._fetching.pop(block, None)
                if self._files.get(block[0]) is record:
                    self._keep_recent(block, data)
                    self._unstored += 1
            return
        try:
            self._writer.submit(self._store_fetched, block, data, record)
        except RuntimeError:  # shut down: the mount is ending
            self._store_fetched(block, data, record)

    def _store_fetched(
        self, block: Block, data: bytes, record: _File, *, release: bool = True
    ) -> None:
        """Store a fetched block, then stop serving it from its fetch."""
        try:
            self._store(block, data, record)
        finally:
            with self._lock:
                self._fetching.pop(block, None)
            if release:
                self._stores.release()

    def _store(self, block: Block, data: bytes, record: _File) -> None:
        """Write a block into its key's file, then set its byte in the map and index it.

        Nothing is kept if ``record``, the key's files when the fetch began,
        is no longer theirs (discarded, or evicted whole).
        """
        key, index = block
        with self._lock:
            if self._files.get(key) is not record:
                return
        try:
            data_fd, map_fd = self._open_files(key)
        except OSError as exc:
            # A full or broken cache disk costs speed, never a read.
            log.warning("cannot keep blocks of %s in %s: %s", key, self.directory, exc)
            return
        try:
            with memoryview(data) as view:
                written = 0
                while written < len(view):
                    offset = index * self.block_size + written
                    written += os.pwrite(data_fd, view[written:], offset)
            with self._lock:
                if self._files.get(key) is not record:  # discarded or evicted meanwhile
                    return
                os.pwrite(map_fd, _STORED, _HEADER + index)
                record.written = True
                if block not in self._index:
                    record.blocks += 1
                    self._total += len(data)
                self._index[block] = len(data)
                self._keep_recent(block, data)
                self._evict()
        except OSError as exc:
            log.warning("cannot keep block %s in %s: %s", block, self.directory, exc)
        finally:
            os.close(data_fd)
            os.close(map_fd)

    def _open_files(self, key: str) -> tuple[int, int]:
        """The data and map files of ``key``, opened for writing; made (map first) if missing.

        Opened without ``O_CREAT`` first: creating takes the directory's lock,
        which every open of a file in it then waits for.
        """
        paths = (self.directory / f"{key}{_DATA}", self.directory / f"{key}{_MAP}")
        flags = os.O_WRONLY | os.O_CLOEXEC
        try:
            data_fd = os.open(paths[0], flags)
        except FileNotFoundError:
            data_fd = -1
        if data_fd >= 0:
            try:
                return data_fd, os.open(paths[1], flags)
            except BaseException:
                os.close(data_fd)
                raise
        map_fd = os.open(paths[1], flags | os.O_CREAT, 0o600)
        try:
            if os.fstat(map_fd).st_size < _HEADER:
                os.pwrite(map_fd, _MAGIC + self.block_size.to_bytes(8, "little"), 0)
            return os.open(paths[0], flags | os.O_CREAT, 0o600), map_fd
        except BaseException:
            os.close(map_fd)
            raise

    def _keep_recent(self, block: Block, data: bytes) -> None:
        """Hold a block just fetched in memory, dropping the oldest; called with the lock held."""
        self._recent[block] = data
        self._recent.move_to_end(block)
        if len(self._recent) > _RECENT_BLOCKS:
            self._recent.popitem(last=False)

    def _forget(self, key: str) -> None:
        """Drop the index of file ``key``, whose file is gone or short (changed by hand)."""
        with self._lock:
            for block in [block for block in self._index if block[0] == key]:
                self._recent.pop(block, None)
                self._total -= self._index.pop(block)
            if self._files.pop(key, None) is not None:
                self._unlink(key)

    def _settle(
        self, block: Block, future: Future[bytes], data: bytes | None, error: BaseException | None
    ) -> None:
        with self._lock:
            self._fetching.pop(block, None)
        if error is not None:
            future.set_exception(error)
        elif data is not None:
            future.set_result(data)
        else:
            future.cancel()

    def _evict(self) -> None:
        """Drop least recently used blocks until the total fits; called with the lock held.

        A block being read from its file stays (its read would find a hole), over the bound.
        """
        kept = []
        while self._total > self.max_bytes and self._index:
            block, size = self._index.popitem(last=False)
            if block in self._reading:
                kept.append((block, size))
                continue
            self._recent.pop(block, None)
            self._total -= size
            self._evictions += 1
            key, index = block
            record = self._files[key]
            record.blocks -= 1
            if record.blocks == 0:
                del self._files[key]
                self._unlink(key)
            else:
                self._punch(key, index, size)
        for block, size in reversed(kept):  # back where they were, the least recently used
            self._index[block] = size
            self._index.move_to_end(block, last=False)

    def _punch(self, key: str, index: int, size: int) -> None:
        """Clear an evicted block's byte in the map, then free its bytes on disk."""
        try:
            map_fd = os.open(self.directory / f"{key}{_MAP}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.pwrite(map_fd, b"\x00", _HEADER + index)
            finally:
                os.close(map_fd)
            data_fd = os.open(self.directory / f"{key}{_DATA}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                _punch_hole(data_fd, index * self.block_size, size)
            finally:
                os.close(data_fd)
        except OSError as exc:  # the bytes stay on disk until the file goes
            log.debug("cannot free block %d of %s in %s: %s", index, key, self.directory, exc)

    def _unlink(self, key: str) -> None:
        """Remove the files of ``key``, the map first (a map names only what is there)."""
        for suffix in (_MAP, _DATA):
            _remove(str(self.directory / f"{key}{suffix}"))


def _claim(directory: Path) -> tuple[Path, int]:
    """The first cache directory free from ``directory`` on, and the lock held on it."""
    for number in range(_PLACES):
        place = directory / _MORE / str(number) if number else directory
        place.mkdir(parents=True, exist_ok=True)
        # Blocks of files the catalog may deny other local users: the mount's only.
        place.chmod(0o700)
        if number:
            (directory / _MORE).chmod(0o700)
        fd = os.open(place / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if number:
            log.info("%s is another mount's block cache: using %s", directory, place)
        return place, fd
    raise OSError(errno.EBUSY, f"{_PLACES} mounts use it already", str(directory))


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _boot_id() -> str:
    """This boot's id (Linux); page-cache writes not synced do not outlive it."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int]:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    function = libc.fallocate
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


def _punch_hole(fd: int, offset: int, size: int) -> None:
    """Free ``size`` bytes at ``offset`` of ``fd``'s file, keeping its size (reads give zeros)."""
    mode = _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE
    if _fallocate()(fd, mode, offset, size) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
