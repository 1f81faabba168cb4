"""The protocol backend interface: what every backend offers and may declare.

A backend speaks one access protocol and knows nothing of the catalog: it is
handed TURLs. Each backend maps its own client errors to :mod:`gridfs.errors`
in one place. Backends are made and owned by a :class:`~gridfs.storage.pool.BackendPool`.
"""

from __future__ import annotations

import errno
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from gridfs.errors import GridError, InvalidArgument

__all__ = [
    "BackendOptions",
    "Capability",
    "ListEntry",
    "ObjectStat",
    "RangeReader",
    "StorageBackend",
    "WriteResult",
    "clamp_ranges",
]


def clamp_ranges(ranges: Sequence[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """``(offset, size)`` ranges cut to a file of ``size`` bytes (past its end: empty).

    Raises :class:`InvalidArgument` for a negative offset or size.
    """
    clamped = []
    for offset, length in ranges:
        if offset < 0 or length < 0:
            raise InvalidArgument(f"invalid range ({offset}, {length}): negative offset or size")
        clamped.append((offset, max(0, min(length, size - offset))))
    return clamped


class Capability(StrEnum):
    """What a backend can do beyond the required core; callers test these, not scheme names."""

    LOCAL_PATH = "local-path"
    """Its readers give the replica's local file (:attr:`RangeReader.local_path`)."""
    SERVER_CHECKSUM = "server-checksum"
    """``checksum()`` is always computed by the storage, never by reading the object back."""
    STAGING = "staging"
    """It can bring tape copies online itself; reserved for a tape-capable protocol."""
    THIRD_PARTY_COPY = "third-party-copy"
    """``pull()`` has a server copy an object from another server of its protocol."""


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
    """Size and checksum of the bytes a backend received and stored.

    ``checksum`` is that of the bytes as they were handed over. ``stored_checksum``
    is the storage's own word on what it holds, when the write itself gives
    it (a file:// SE: the bytes written and fsynced, summed as they went to
    the file); ``None`` when it must be asked afterwards (:meth:`StorageBackend.checksum`).
    """

    size: int
    checksum_type: str
    checksum: str
    stored_checksum: str | None = None


class RangeReader(ABC):
    """An open replica, read by offset.

    Reads may run in several threads at once (a filesystem serves concurrent
    reads of one open file). The caller closes it, after the last read has
    returned; reads after ``close()`` raise :class:`ValueError`.

    ``local_path`` is the replica's file on this machine when the backend has
    :attr:`Capability.LOCAL_PATH` (it may then be read directly), else None.
    """

    size: int
    local_path: str | None = None

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

    def readv(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The bytes of each ``(offset, size)``, in order; shorter at end of file, empty past it.

        Ranges may overlap and come in any order. This default reads them one
        by one, which suits local files; network backends send them together
        (a vector read, a multi-range request) or in parallel.
        """
        wanted = clamp_ranges(ranges, self.size)
        return [self.pread(offset, length) if length else b"" for offset, length in wanted]

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
    errors to :mod:`gridfs.errors` in one place each. ``capabilities`` says
    what the backend offers beyond the required calls. Whoever builds a
    backend closes it, after the readers it opened are closed.
    """

    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, options: BackendOptions) -> None:
        self.options = options

    @abstractmethod
    def close(self) -> None:
        """Release the backend's connections; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abstractmethod
    def stat(self, turl: str) -> ObjectStat:
        """Size and time of the object; :class:`NotFound` if it is absent."""

    @abstractmethod
    def open_reader(self, turl: str) -> RangeReader:
        """Open the object for ranged reads."""

    @abstractmethod
    def write(self, turl: str, chunks: Iterable[bytes], *, size: int | None = None) -> WriteResult:
        """Store ``chunks`` as a new object at ``turl``, computing adler32 on the way.

        ``size``, when known, is how many bytes ``chunks`` give: a protocol that
        can announce the length does (chunks giving another number then fail
        the write). Never replaces an existing object (:class:`AlreadyExists`).
        On any failure, including one raised by ``chunks``, nothing is left at ``turl``.
        """

    def adopt(self, turl: str, path: str, *, summed: str | None = None) -> WriteResult | None:
        """Store the local file ``path`` as the new object ``turl`` without copying it, if it can.

        ``None`` back when this backend cannot take the file over (the usual
        case: then :meth:`write` it); else the object is the file itself, made
        durable, its size and adler32 those of the file as it is now (read),
        and ``path`` may be removed (a later change to the file would change
        the object: write to a new file). ``summed`` is the adler32 of every
        byte of the file as the caller wrote it, each write having succeeded:
        then the file is not read again (once durable, it holds those bytes).
        Never replaces an existing object (:class:`AlreadyExists`).
        """
        return None

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

    def pull(self, source_turl: str, turl: str) -> None:
        """Have the server of ``turl`` copy ``source_turl`` there (third-party copy).

        Only backends with :attr:`Capability.THIRD_PARTY_COPY`; never over an
        existing object; on failure nothing stays under ``turl``. The caller
        verifies the copy (its size and the server's checksum).
        """
        raise GridError(f"{turl}: this protocol has no third-party copy", turl, errno=errno.ENOTSUP)
