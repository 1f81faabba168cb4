"""Checking what a reader is handed: the adler32 of a file read whole, against the catalog's.

A :class:`ReadCheck` follows the reads of one open file as their bytes go
out. Each read's adler32 is computed on its own (so reads served at once by
several threads need no order) and joined to the adler32 of the file's
start with :func:`adler32_combine`; a read that lands beyond the start
waits in a small table until the gap before it is read. When the reads
cover the whole file, the sum is compared with the catalog's: a mismatch is
a :class:`ChecksumMismatch` (EIO) for the read that completed the file,
before its bytes go out. A read that overlaps what was read already, or
too many pieces waiting, ends the check quietly: such a file is not being
read whole and in order, and is not checked.
"""

from __future__ import annotations

import threading

from gridfs.catalog import Stat
from gridfs.errors import ChecksumMismatch
from gridfs.storage import DEFAULT_CHECKSUM, adler32

__all__ = ["Corrupt", "ReadCheck", "adler32_combine"]

_BASE = 65521  # the largest prime below 2**16, adler32's modulus
_MAX_WAITING = 64  # reads ahead of the start kept (offsets and sums only): readahead's depth


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The adler32 of two byte strings joined, from their adler32s (zlib's adler32_combine)."""
    remainder = second_length % _BASE
    sum1 = first & 0xFFFF
    sum2 = (remainder * sum1) % _BASE
    sum1 = (sum1 + (second & 0xFFFF) + _BASE - 1) % _BASE
    sum2 = (sum2 + (first >> 16) + (second >> 16) + _BASE - remainder) % _BASE
    return sum1 | (sum2 << 16)


class Corrupt(ChecksumMismatch):
    """The bytes read of a file differ from the catalog's checksum (EIO).

    ``source`` is what served every byte of the pass (a replica's SURL), or
    ``None`` when the bytes came from several places or from a cache.
    """

    def __init__(self, message: str, name: str, source: str | None) -> None:
        super().__init__(message, name)
        self.source = source


class ReadCheck:
    """The running adler32 of a file's reads, checked when they cover the whole file.

    Thread-safe: :meth:`update` may be called from several threads at once.
    """

    def __init__(self, entry: Stat, name: object) -> None:
        self.size = entry.size
        self._name = name  # what messages call the file; asked only when one is made
        self._expected = entry.checksum if entry.checksum_type == DEFAULT_CHECKSUM else None
        self._lock = threading.Lock()
        self._active = False
        self._done = 0  # bytes 0:done are summed in _value
        self._value = 1
        self._waiting: dict[int, tuple[int, int]] = {}  # offset -> (length, adler32)
        self._sources: set[str | None] = set()

    def wants(self, offset: int) -> bool:
        """Whether a read from ``offset`` is checked: its bytes must go through :meth:`update`."""
        return self._expected is not None and (offset == 0 or self._active)

    def update(self, offset: int, data: bytes | bytearray | memoryview, source: str | None) -> None:
        """Count the bytes ``data`` about to go out from ``offset``, read from ``source``.

        ``source`` names what served them (a replica's SURL; ``None`` if unknown).
        Raises :class:`Corrupt` if these bytes complete the file and its
        adler32 differs from the catalog's: they must not go out then. A
        read from offset 0 starts a new pass.
        """
        if self._expected is None or not data:
            return
        length = len(data)
        if offset == 0:
            with self._lock:
                self._start()
        elif not self._active:  # nothing to check: spare the sum
            return
        value = adler32(data)  # outside the lock: reads of one file sum in parallel
        with self._lock:
            mismatch = self._add(offset, length, value, source)
        if mismatch is None:
            return
        got, sources = mismatch
        source = next(iter(sources)) if len(sources) == 1 else None
        name = str(self._name)
        what = f"the replica {source}" if source is not None else f"{name} (from several copies)"
        raise Corrupt(
            f"{what} read is corrupt: adler32 {got}, catalog says {self._expected}",
            source or name,
            source,
        )

    def _add(
        self, offset: int, length: int, value: int, source: str | None
    ) -> tuple[str, set[str | None]] | None:
        """Join one read to the pass (lock held); the sum and sources if the file is wrong."""
        if not self._active:
            return None
        if offset < self._done or offset in self._waiting:  # read again: not one pass
            self._active = False
            return None
        self._sources.add(source)
        if offset > self._done:
            if len(self._waiting) >= _MAX_WAITING:
                self._active = False
            else:
                self._waiting[offset] = (length, value)
            return None
        self._join(length, value)
        while self._done in self._waiting:
            self._join(*self._waiting.pop(self._done))
        if self._done < self.size:
            return None
        self._active = False
        got = f"{self._value:08x}"
        if self._done == self.size and got == self._expected:
            return None
        return got, set(self._sources)

    def _start(self) -> None:
        self._active = True
        self._done = 0
        self._value = 1
        self._waiting.clear()
        self._sources.clear()

    def _join(self, length: int, value: int) -> None:
        self._value = adler32_combine(self._value, value, length)
        self._done += length
