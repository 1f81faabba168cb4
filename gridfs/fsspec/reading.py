"""Reading grid files for fsspec: a buffered, seekable file and ranges read in parallel."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, BinaryIO

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from gridfs.gfal import FailoverReader

__all__ = ["GridFile", "read_ranges", "span"]

# What one read of an open file fetches at least: large enough that a sequential
# reader makes few requests to a remote SE, small enough for random access.
DEFAULT_BLOCK_SIZE = 4 << 20


def span(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    """``start`` and ``end`` as fsspec means them (negative: from the end) within ``size``."""
    first = 0 if start is None else start
    last = size if end is None else end
    if first < 0:
        first = max(size + first, 0)
    if last < 0:
        last = size + last
    return min(first, size), max(min(last, size), 0)


def read_ranges(reader: FailoverReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The bytes of each ``(start, end)`` of one open file, in one vector read.

    The backend sends them together where its protocol can (XRootD's vector
    read, an HTTP multi-range request), else reads them in parallel.
    """
    spans = [span(reader.size, *bounds) for bounds in ranges]
    return reader.readv([(start, max(end - start, 0)) for start, end in spans])


class GridFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A grid file open for reading: seekable, read in blocks through fsspec's cache.

    ``raw`` is the file from :meth:`Grid.open` (unbuffered), so the replica
    is chosen, failed over and staged from tape as by :func:`gridfs.open`;
    this file closes it.
    """

    def __init__(
        self,
        fs: AbstractFileSystem,
        path: str,
        raw: BinaryIO,
        *,
        block_size: int | None = None,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
    ) -> None:
        self._raw = raw
        try:
            size = self._raw.seek(0, os.SEEK_END)
            super().__init__(
                fs,
                path,
                mode="rb",
                block_size=block_size or DEFAULT_BLOCK_SIZE,
                cache_type=cache_type,
                cache_options=cache_options,
                size=size,
            )
        except BaseException:
            self._raw.close()
            raise

    def _fetch_range(self, start: int, end: int) -> bytes:
        """The bytes ``[start, end)``, fewer only at end of file."""
        self._raw.seek(start)
        wanted = end - start
        parts: list[bytes] = []
        while wanted > 0:
            data = self._raw.read(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return b"".join(parts)

    def close(self) -> None:
        """Close the file and the replica it reads."""
        try:
            super().close()
        finally:
            self._raw.close()
