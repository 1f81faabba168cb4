"""Open readers kept for reuse: the many small reads of an analysis open each file once.

uproot, pyarrow and dask read a file in many ``cat_file``/``cat_ranges`` calls.
Opening the file for each call would cost a catalog lookup and an open and a
close at the SE every time; the peers keep their handles open as well
(fsspec-xrootd for 30 seconds). A kept reader is checked against the catalog's
version of the file (GUID, checksum, size, mtime) at each use, so a new version
written since is read at once, by a new reader.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from gridfs.catalog import Stat
from gridfs.errors import GridError
from gridfs.gfal import FailoverReader, Grid

__all__ = ["OpenReaders"]

log = logging.getLogger(__name__)

Version = tuple[object, ...]


def _version(entry: Stat) -> Version:
    return (entry.guid, entry.checksum_type, entry.checksum, entry.size, entry.mtime_ns)


@dataclass
class _Kept:
    reader: FailoverReader
    version: Version
    used: float  # time.monotonic() of the last use
    users: int = 0  # reads in flight: a reader in use is never closed under them


class OpenReaders:
    """Readers of ``grid``'s files by LFN, each kept open ``ttl_s`` after its last use.

    At most ``limit`` idle readers are kept (the least recently used go first).
    A reader that failed a read is closed and forgotten.
    """

    def __init__(
        self,
        grid: Grid,
        protocols: Sequence[str] | None,
        *,
        ttl_s: float = 30.0,
        limit: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._grid = grid
        self._protocols = protocols
        self._ttl_s = ttl_s
        self._limit = limit
        self._clock = clock
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def reader(self, lfn: str) -> Iterator[FailoverReader]:
        """The open reader of the current version of ``lfn``, for the length of a ``with``."""
        version = _version(self._grid.stat(lfn))
        with self._lock:
            kept = self._kept.get(lfn)
            if kept is not None and self._usable(kept, version):
                kept.users += 1
            else:
                kept = None
        if kept is None:
            kept = self._install(lfn, version)
        failed = False
        try:
            yield kept.reader
        except BaseException:
            failed = True
            raise
        finally:
            with self._lock:
                kept.users -= 1
                kept.used = self._clock()
                done: list[_Kept] = []
                if kept.users == 0 and (failed or self._kept.get(lfn) is not kept):
                    if self._kept.get(lfn) is kept:
                        del self._kept[lfn]
                    done.append(kept)
                done += self._prune()
            _close(done)

    def _install(self, lfn: str, version: Version) -> _Kept:
        """A new reader of ``lfn`` at ``version``, kept in place of an older one; in use once."""
        fresh = _Kept(self._grid.open_reader(lfn, self._protocols), version, self._clock(), 1)
        with self._lock:
            current = self._kept.get(lfn)
            if current is not None and self._usable(current, version):  # another thread was first
                current.users += 1
                done, kept = [fresh], current
            else:
                self._kept[lfn] = kept = fresh
                # An older version's reader still in use is closed by its last user.
                done = [current] if current is not None and current.users == 0 else []
        _close(done)
        return kept

    def _usable(self, kept: _Kept, version: Version) -> bool:
        """Whether ``kept`` reads ``version`` and is in use or was used lately (lock held).

        One idle past its time is not used again (its SE may have dropped it): it is replaced.
        """
        recent = self._clock() - kept.used <= self._ttl_s
        return kept.version == version and (recent or kept.users > 0)

    def close(self) -> None:
        """Close every idle reader (readers in use close when their reads are done)."""
        with self._lock:
            idle = [lfn for lfn, kept in self._kept.items() if kept.users == 0]
            done = [self._kept.pop(lfn) for lfn in idle]
        _close(done)

    def __len__(self) -> int:
        return len(self._kept)

    def _prune(self) -> list[_Kept]:
        """Forget idle readers past their time and the oldest beyond the limit (lock held)."""
        now = self._clock()
        idle = sorted(
            ((kept.used, lfn) for lfn, kept in self._kept.items() if kept.users == 0),
            reverse=True,
        )
        return [
            self._kept.pop(lfn)
            for rank, (used, lfn) in enumerate(idle)
            if rank >= self._limit or now - used > self._ttl_s
        ]


def _close(readers: list[_Kept]) -> None:
    """Close ``readers`` (outside the lock: a close may wait for the SE)."""
    for kept in readers:
        try:
            kept.reader.close()
        except GridError as exc:  # the file was read; a failed close loses nothing
            log.info("closing a reader of %s: %s", kept.reader, exc)
