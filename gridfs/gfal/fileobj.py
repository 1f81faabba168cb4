"""The binary file object that :func:`gridfs.open` returns."""

from __future__ import annotations

import io
import os

from gridfs.catalog import Replica
from gridfs.gfal.failover import FailoverReader

__all__ = ["GridRawReader"]


class GridRawReader(io.RawIOBase):
    """Raw, seekable reads of one replica of an LFN.

    Wrapped in :class:`io.BufferedReader` by :func:`gridfs.open`; ``replica``
    tells which copy serves the reads. Closing it closes the replica.
    """

    def __init__(self, lfn: str, reader: FailoverReader) -> None:
        super().__init__()
        self.name = lfn
        self.mode = "rb"
        self._reader = reader
        self._position = 0

    @property
    def replica(self) -> Replica:
        """The replica serving reads now (it changes when a replica fails)."""
        return self._reader.replica

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self._checkClosed()  # type: ignore[attr-defined]
        with memoryview(buffer) as view:
            count = self._reader.readinto(self._position, view.cast("B"))
        self._position += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._position + offset
        elif whence == os.SEEK_END:
            position = self._reader.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def tell(self) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._position

    def close(self) -> None:
        if not self.closed:
            try:
                self._reader.close()
            finally:
                super().close()
