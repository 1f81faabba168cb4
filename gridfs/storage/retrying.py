"""The one place where storage calls are retried: idempotent ones, after transient failures."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from gridfs.errors import StorageUnavailable
from gridfs.storage.backend import (
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
)
from gridfs.storage.checksum import DEFAULT_CHECKSUM
from gridfs.storage.health import RetryPolicy

__all__ = ["RetryingBackend"]

T = TypeVar("T")


class _RetryingReader(RangeReader):
    """Reads tried again after transient failures, on a freshly opened replica.

    A broken handle is replaced, not closed, while other threads may still be
    reading from it; every handle is closed with the reader. The reader keeps
    its backend alive, and reopens through it only while it is open.
    """

    def __init__(self, backend: RetryingBackend, turl: str, policy: RetryPolicy) -> None:
        self._backend = backend
        self._turl = turl
        self._policy = policy
        self._lock = threading.Lock()
        self._closed = False
        self._current = policy.call(lambda: backend.reopen(turl), f"open {turl}")
        self._retired: list[RangeReader] = []
        self.size = self._current.size
        self.local_path = self._current.local_path  # one TURL, one file: fresh handles share it

    def readinto(self, offset: int, buffer: memoryview) -> int:
        return self._retried(lambda handle: handle.readinto(offset, buffer), "read")

    def pread(self, offset: int, size: int) -> bytes:
        return self._retried(lambda handle: handle.pread(offset, size), "read")

    def readv(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return self._retried(lambda handle: handle.readv(ranges), "vector read")

    def _retried(self, call: Callable[[RangeReader], T], doing: str) -> T:
        """``call`` on the current handle, on a fresh one after each transient failure."""

        def attempt() -> T:
            with self._lock:
                if self._closed:
                    raise ValueError("read from a closed replica")
                handle = self._current
            try:
                return call(handle)
            except StorageUnavailable:
                fresh = self._backend.reopen(self._turl)  # outside the lock: network
                with self._lock:
                    if self._closed:
                        self._retired.append(fresh)
                    elif self._current is handle:
                        self._retired.append(handle)
                        self._current = fresh
                    else:  # another thread replaced it already
                        self._retired.append(fresh)
                raise

        return self._policy.call(attempt, f"{doing} {self._turl}")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            handles = [self._current, *self._retired]
            self._retired = []
        for handle in handles:
            with contextlib.suppress(Exception):
                handle.close()


class RetryingBackend(StorageBackend):
    """``inner`` with its idempotent calls retried after transient failures.

    Writes are not retried here (a stream cannot be replayed); the caller
    decides whether to copy again. It owns ``inner``: closing it closes
    ``inner``, and every call after that raises :class:`ValueError`.
    """

    def __init__(self, inner: StorageBackend) -> None:
        super().__init__(inner.options)
        self.inner = inner
        self.capabilities = inner.capabilities
        self._policy = RetryPolicy(attempts=inner.options.attempts)
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> StorageBackend:
        """``inner``, unless this backend is closed."""
        if self._closed:
            raise ValueError("call on a closed storage backend")
        return self.inner

    def _retried(self, call: Callable[[StorageBackend], T], doing: str) -> T:
        inner = self._open()
        return self._policy.call(lambda: call(inner), doing)

    def stat(self, turl: str) -> ObjectStat:
        return self._retried(lambda inner: inner.stat(turl), f"stat {turl}")

    def open_reader(self, turl: str) -> RangeReader:
        self._open()
        return _RetryingReader(self, turl, self._policy)

    def reopen(self, turl: str) -> RangeReader:
        """One try at opening ``turl`` on ``inner``: a handle for a reader that retries."""
        return self._open().open_reader(turl)

    def write(self, turl: str, chunks: Iterable[bytes], *, size: int | None = None) -> WriteResult:
        return self._open().write(turl, chunks, size=size)

    def adopt(self, turl: str, path: str, *, summed: str | None = None) -> WriteResult | None:
        return self._open().adopt(turl, path, summed=summed)

    def delete(self, turl: str) -> None:
        self._open().delete(turl)

    def pull(self, source_turl: str, turl: str) -> None:
        self._open().pull(source_turl, turl)  # a copy is the caller's to try again

    def checksum(self, turl: str, checksum_type: str = DEFAULT_CHECKSUM) -> str:
        return self._retried(lambda inner: inner.checksum(turl, checksum_type), f"checksum {turl}")

    def mkdir(self, turl: str) -> None:
        self._retried(lambda inner: inner.mkdir(turl), f"mkdir {turl}")

    def list(self, turl: str) -> Iterator[ListEntry]:
        return self._retried(lambda inner: inner.list(turl), f"list {turl}")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.inner.close()
