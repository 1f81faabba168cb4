"""The binary file objects that :func:`gridfs.open` returns."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gridfs.catalog import Replica, Stat
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.readcheck import Corrupt, ReadCheck
from gridfs.gfal.writer import StagedFile

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer  # the buffer types io's own files take

__all__ = ["GridFile", "GridRawFile", "GridRawReader"]


class _Positioned(io.RawIOBase):
    """A raw file with a position of its own: seek and tell, as files have them."""

    _position = 0

    def _size(self) -> int:
        raise NotImplementedError

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._position + offset
        elif whence == os.SEEK_END:
            position = self._size() + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def tell(self) -> int:
        self._checkClosed()
        return self._position


class GridRawReader(_Positioned):
    """Raw, seekable reads of one replica of an LFN.

    Wrapped in :class:`GridFile` by :func:`gridfs.open`; ``replica``
    tells which copy serves the reads. Closing it closes the replica.

    A file read whole and in order is checked against the catalog's adler32
    (``entry``, when given): if the bytes are wrong, the read that reaches the
    end raises :class:`Corrupt` (EIO) instead of returning, the replica is
    marked bad, and reads go on from the next one (seek to 0 to read again).
    """

    def __init__(self, lfn: str, reader: FailoverReader, entry: Stat | None = None) -> None:
        super().__init__()
        self.name = lfn
        self.mode = "rb"
        self._reader = reader
        self._check = ReadCheck(entry, lfn) if entry is not None else None
        self._position = 0

    @property
    def replica(self) -> Replica:
        """The replica serving reads now (it changes when a replica fails)."""
        return self._reader.replica

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._checkClosed()
        with memoryview(buffer) as view, view.cast("B") as target:
            count, surl = self._reader.readinto_from(self._position, target)
            if self._check is not None:
                try:
                    self._check.update(self._position, target[:count], surl)
                except Corrupt as exc:
                    if exc.source is not None:
                        self._reader.reject(exc.source, exc)
                    raise
        self._position += count
        return count

    def readv(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The bytes of each ``(offset, size)``, in order; the position does not move.

        Sent together where the protocol can (XRootD's vector read, an HTTP
        multi-range request), else read in parallel; shorter at end of file,
        empty past it; failed over as reads are. These reads are not checked
        against the catalog's checksum: they do not read the file whole.
        """
        self._checkClosed()
        return self._reader.readv(ranges)

    def _size(self) -> int:
        return self._reader.size

    def close(self) -> None:
        if not self.closed:
            try:
                self._reader.close()
            finally:
                super().close()


class GridFile(io.BufferedReader):
    """What :func:`gridfs.open` gives for ``"rb"``: a buffered reader, plus :meth:`readv`."""

    raw: GridRawReader

    def __init__(self, raw: GridRawReader, buffer_size: int = io.DEFAULT_BUFFER_SIZE) -> None:
        super().__init__(raw, buffer_size)

    @property
    def replica(self) -> Replica:
        """The replica serving reads now (it changes when a replica fails)."""
        return self.raw.replica

    def readv(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The bytes of each ``(offset, size)`` in one go (see :meth:`GridRawReader.readv`).

        Analysis frameworks read a ROOT file's baskets this way: one request
        for many small pieces rather than one round trip each.
        """
        if self.closed:
            raise ValueError("readv of a closed file")
        return self.raw.readv(ranges)


class GridRawFile(_Positioned):
    """Raw, seekable reads and writes of an LFN open for writing.

    Wrapped in :class:`io.BufferedWriter` or :class:`io.BufferedRandom` by
    :func:`gridfs.open`. Writes go to a local staging file; ``close()``
    stores and registers the content (:meth:`StagedFile.commit`) and raises
    if that fails, keeping the staged content in a local file that the error
    names, so nothing written is lost. After a write that failed (a full
    staging disk), ``close()`` stores nothing: the content is incomplete.
    """

    def __init__(self, staged: StagedFile, mode: str, *, readable: bool, append: bool) -> None:
        super().__init__()
        self.name = staged.lfn
        self.mode = mode
        self._staged = staged
        self._readable = readable
        self._append = append
        self._position = staged.size if append else 0

    @property
    def staged(self) -> StagedFile:
        """The staging file behind this file object."""
        return self._staged

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._checkClosed()
        if not self._readable:
            raise io.UnsupportedOperation("not readable")
        with memoryview(buffer) as view:
            data = self._staged.pread(len(view), self._position)
            view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def write(self, data: ReadableBuffer) -> int:
        self._checkClosed()
        if self._append:  # O_APPEND: every write goes to the end
            self._position = self._staged.size
        count = self._staged.pwrite(data, self._position)
        self._position += count
        return count

    def _size(self) -> int:
        return self._staged.size

    def truncate(self, size: int | None = None) -> int:
        self._checkClosed()
        size = self._position if size is None else size
        self._staged.truncate(size)
        return size

    def flush(self) -> None:
        # Nothing to push: the staged bytes are stored by close(), once.
        self._checkClosed()

    def close(self) -> None:
        if self.closed:
            return
        failed = self._staged.failed  # a write failed (the staged file remembers it)
        if failed is not None:
            kept = self._staged.close(keep=True)
            super().close()
            # The error of the failed write (which the caller has seen, or is
            # seeing from the flush inside BufferedWriter.close) names the copy.
            failed.add_note(f"nothing was stored; what was written is kept in {kept}")
            return
        try:
            self._staged.commit()
        except BaseException as exc:
            kept = self._staged.close(keep=True)
            super().close()
            exc.add_note(f"the content written is kept in {kept}")
            raise
        self._staged.close()
        super().close()
