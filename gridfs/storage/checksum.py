"""Checksums in the grid's format: adler32 as eight lowercase hex digits."""

from __future__ import annotations

import zlib

__all__ = ["DEFAULT_CHECKSUM", "Adler32"]

DEFAULT_CHECKSUM = "adler32"


class Adler32:
    """A running adler32, fed in chunks, like a :mod:`hashlib` object."""

    name = DEFAULT_CHECKSUM

    def __init__(self) -> None:
        self._value = zlib.adler32(b"")

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next chunk."""
        self._value = zlib.adler32(data, self._value)

    def hexdigest(self) -> str:
        """The checksum so far, as gfal2 and LFC print it."""
        return f"{self._value:08x}"
