"""Writeback of staged bytes started as they are written (gridfs.storage.writeback)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from gridfs.storage.writeback import STEP, Writeback, start_writeback

MIB = 1 << 20


def test_sequential_writes_start_one_span_per_step() -> None:
    started: list[tuple[int, int, int]] = []
    writeback = Writeback(lambda *span: started.append(span))
    for offset in range(0, 100 * MIB, MIB):
        writeback.written(7, offset, MIB)
    assert started == [(7, 0, STEP), (7, STEP, STEP), (7, 2 * STEP, STEP)]


def test_scattered_writes_start_their_union_and_a_new_file_starts_afresh() -> None:
    started: list[tuple[int, int, int]] = []
    writeback = Writeback(lambda *span: started.append(span))
    writeback.written(3, 40 * MIB, MIB)
    writeback.written(3, 0, MIB)  # the span is now 0:41 MiB
    assert started == [(3, 0, 41 * MIB)]
    writeback.written(3, 50 * MIB, MIB)
    writeback.written(4, 0, STEP - 1)  # another staging file: 3's span is not carried over
    writeback.written(4, STEP - 1, 0)  # nothing written: nothing noted
    assert started == [(3, 0, 41 * MIB)]
    writeback.written(4, STEP - 1, 1)
    assert started == [(3, 0, 41 * MIB), (4, 0, STEP)]


def test_the_kernel_call_is_made_on_the_span(tmp_path: Path) -> None:
    """The real call on a real file (its arguments' types right: 64-bit offsets), and a bad one."""
    fd = os.open(tmp_path / "staged", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, os.urandom(MIB), 5 << 30)  # past 4 GiB
        assert start_writeback(fd, 5 << 30, MIB).result(timeout=30) == 0
        assert start_writeback(fd, -1, MIB).result(timeout=30) == errno.EINVAL
    finally:
        os.close(fd)
    assert start_writeback(fd, 0, MIB).result(timeout=30) == errno.EBADF  # closed meanwhile
