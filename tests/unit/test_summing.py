"""gridfs.gfal.summing: the adler32 of a file as it is written, summed beside the writer."""

from __future__ import annotations

import os
import zlib

from gridfs.gfal.summing import InOrderSum


def test_chunks_are_summed_in_order_small_and_large_and_reused_buffers_too() -> None:
    small, large = os.urandom(1000), [os.urandom(1 << 20) for _ in range(40)]
    summed = InOrderSum()
    summed.update(small)  # summed at once
    for chunk in large:  # from the first large one on, in the summing thread
        summed.update(chunk)
    reused = bytearray(b"x" * (300 << 10))
    summed.update(reused)  # queued behind the large ones: copied, as its owner reuses it
    reused[:] = b"y" * len(reused)
    summed.update(memoryview(b"tail"))
    expected = zlib.adler32(b"".join([small, *large, b"x" * (300 << 10), b"tail"]))
    assert summed.hexdigest() == f"{expected:08x}"
    summed.update(b"more")  # still running after a digest
    assert summed.hexdigest() == f"{zlib.adler32(b'more', expected):08x}"
    summed.close()
    summed.close()
