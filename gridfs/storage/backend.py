"""The protocol backend interface and the registry of backends by URL scheme.

A backend speaks one access protocol and knows nothing of the catalog: it is
handed TURLs. Each backend maps its own client errors to :mod:`gridfs.errors`
in one place.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from gridfs.errors import InvalidArgument, StorageUnavailable
from gridfs.storage.health import RetryPolicy

__all__ = [
    "BackendOptions",
    "ListEntry",
    "ObjectStat",
    "RangeReader",
    "StorageBackend",
    "WriteResult",
    "backend_for",
]


@dataclass(frozen=True)
class BackendOptions:
    """Settings every network backend honours.

    ``timeout_s`` bounds each network call (connect, and each read or write);
    ``ca_file`` is the CA bundle that verifies TLS servers (default: the system's).
    """

    timeout_s: float = 60.0
    ca_file: str | None = None
    attempts: int = 3  # tries of an idempotent call that fails transiently


@dataclass(frozen=True)
class ObjectStat:
    """What a storage element says of one stored object."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ListEntry:
    """One entry of a storage directory."""

    name: str
    size: int
    is_dir: bool


@dataclass(frozen=True)
class WriteResult:
    """Size and checksum of the bytes a backend received and stored."""

    size: int
    checksum_type: str
    checksum: str


class RangeReader(ABC):
    """An open replica, read by offset.

    Reads may run in several threads at once (a filesystem serves concurrent
    reads of one open file). The caller closes it, after the last read has
    returned; reads after ``close()`` raise :class:`ValueError`.
    """

    size: int

    @abstractmethod
    def readinto(self, offset: int, buffer: memoryview) -> int:
        """Fill ``buffer`` from ``offset``; returns the count, 0 at end of file."""

    def pread(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset``; fewer only at end of file."""
        buffer = bytearray(size)
        view = memoryview(buffer)
        filled = 0
        while filled < size:
            count = self.readinto(offset + filled, view[filled:])
            if count == 0:
                break
            filled += count
        del view
        del buffer[filled:]
        return bytes(buffer)

    def chunks(self, size: int = 1 << 20) -> Iterator[memoryview]:
        """The bytes in order, ``size`` at a time, in one reused buffer.

        Use (or copy) each chunk before asking for the next: the buffer is refilled.
        """
        buffer = memoryview(bytearray(size))
        offset = 0
        while count := self.readinto(offset, buffer):
            offset += count
            yield buffer[:count]

    @abstractmethod
    def close(self) -> None:
        """Release the replica; idempotent."""

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StorageBackend(ABC):
    """One access protocol. Implementations are thread-safe.

    They are built with :class:`BackendOptions` and map their client library's
    errors to :mod:`gridfs.errors` in one place each.
    """

    def __init__(self, options: BackendOptions) -> None:
        self.options = options

    @abstractmethod
    def stat(self, turl: str) -> ObjectStat:
        """Size and time of the object; :class:`NotFound` if it is absent."""

    @abstractmethod
    def open_reader(self, turl: str) -> RangeReader:
        """Open the object for ranged reads."""

    @abstractmethod
    def write(self, turl: str, chunks: Iterable[bytes]) -> WriteResult:
        """Store ``chunks`` as a new object at ``turl``, computing adler32 on the way.

        Never replaces an existing object (:class:`AlreadyExists`). On any failure,
        including one raised by ``chunks``, nothing is left at ``turl``.
        """

    @abstractmethod
    def delete(self, turl: str) -> None:
        """Remove the object; :class:`NotFound` if it is absent."""

    @abstractmethod
    def checksum(self, turl: str, checksum_type: str = "adler32") -> str:
        """The checksum of the stored object, as the storage computes it."""

    @abstractmethod
    def mkdir(self, turl: str) -> None:
        """Create the directory ``turl`` and its missing parents; an existing one is fine."""

    @abstractmethod
    def list(self, turl: str) -> Iterator[ListEntry]:
        """The entries of directory ``turl``; :class:`NotFound` if it is absent."""


# Schemes map to "module:class, install hint", imported on first use so that a
# protocol's client library is needed only by those who use it.
_KNOWN_BACKENDS: dict[str, tuple[str, str]] = {
    "file": ("gridfs.storage.file_backend:FileBackend", ""),
    "root": ("gridfs.storage.root_backend:XRootDBackend", "pip install 'gridfs[xrootd]'"),
    "davs": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
    "dav": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
    "https": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
    "http": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
}
_instances: dict[tuple[str, BackendOptions], StorageBackend] = {}
_lock = threading.Lock()


def backend_for(turl: str, options: BackendOptions | None = None) -> StorageBackend:
    """The backend that speaks ``turl``'s scheme (one shared instance per scheme and options)."""
    scheme = urlsplit(turl).scheme
    options = options or BackendOptions()
    with _lock:
        backend = _instances.get((scheme, options))
        if backend is None:
            known = _KNOWN_BACKENDS.get(scheme)
            if known is None:
                names = ", ".join(sorted(_KNOWN_BACKENDS))
                raise InvalidArgument(f"no backend for {scheme}:// (known: {names})", turl)
            target, hint = known
            module_name, class_name = target.split(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                if (exc.name or "").startswith("gridfs"):
                    raise  # our own bug, not a missing client library
                raise InvalidArgument(
                    f"{scheme}:// needs {exc.name}, which is not installed ({hint})", turl
                ) from exc
            backend = _Retrying(getattr(module, class_name)(options))
            _instances[(scheme, options)] = backend
    return backend


class _RetryingReader(RangeReader):
    """Reads tried again after transient failures, on a freshly opened replica.

    A broken handle is replaced, not closed, while other threads may still be
    reading from it; every handle is closed with the reader.
    """

    def __init__(self, backend: StorageBackend, turl: str, policy: RetryPolicy) -> None:
        self._backend = backend
        self._turl = turl
        self._policy = policy
        self._lock = threading.Lock()
        self._closed = False
        self._current = policy.call(lambda: backend.open_reader(turl), f"open {turl}")
        self._retired: list[RangeReader] = []
        self.size = self._current.size

    def readinto(self, offset: int, buffer: memoryview) -> int:
        def attempt() -> int:
            with self._lock:
                if self._closed:
                    raise ValueError("read from a closed replica")
                handle = self._current
            try:
                return handle.readinto(offset, buffer)
            except StorageUnavailable:
                fresh = self._backend.open_reader(self._turl)  # outside the lock: network
                with self._lock:
                    if self._closed:
                        self._retired.append(fresh)
                    elif self._current is handle:
                        self._retired.append(handle)
                        self._current = fresh
                    else:  # another thread replaced it already
                        self._retired.append(fresh)
                raise

        return self._policy.call(attempt, f"read {self._turl}")

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


class _Retrying(StorageBackend):
    """The one place where storage calls are retried: idempotent ones, transient failures.

    Writes are not retried here (a stream cannot be replayed); the caller
    decides whether to copy again.
    """

    def __init__(self, inner: StorageBackend) -> None:
        super().__init__(inner.options)
        self.inner = inner
        self._policy = RetryPolicy(attempts=inner.options.attempts)

    def stat(self, turl: str) -> ObjectStat:
        return self._policy.call(lambda: self.inner.stat(turl), f"stat {turl}")

    def open_reader(self, turl: str) -> RangeReader:
        return _RetryingReader(self.inner, turl, self._policy)

    def write(self, turl: str, chunks: Iterable[bytes]) -> WriteResult:
        return self.inner.write(turl, chunks)

    def delete(self, turl: str) -> None:
        self.inner.delete(turl)

    def checksum(self, turl: str, checksum_type: str = "adler32") -> str:
        return self._policy.call(
            lambda: self.inner.checksum(turl, checksum_type), f"checksum {turl}"
        )

    def mkdir(self, turl: str) -> None:
        self._policy.call(lambda: self.inner.mkdir(turl), f"mkdir {turl}")

    def list(self, turl: str) -> Iterator[ListEntry]:
        return self._policy.call(lambda: self.inner.list(turl), f"list {turl}")
