"""grid:// keeps its files open between reads, and notices new versions at once."""

from __future__ import annotations

import posixpath

import pytest

from gridfs.fsspec import GridFileSystem
from gridfs.fsspec.readers import OpenReaders


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_file_read_again_is_read_by_the_same_open_reader(
    grid_fs: GridFileSystem, home: str
) -> None:
    path = posixpath.join(home, "f")
    grid_fs.pipe_file(path, b"first")
    readers = OpenReaders(grid_fs.grid, None)
    with readers.reader(path) as first:
        assert first.pread(0, 5) == b"first"
    with readers.reader(path) as again:
        assert again is first
    grid_fs.pipe_file(path, b"second")  # a new version: same GUID, new checksum and mtime
    with readers.reader(path) as fresh:
        assert fresh is not first
        assert fresh.pread(0, 6) == b"second"
    with pytest.raises(ValueError, match="closed"):
        first.pread(0, 1)  # the old version's reader was closed
    assert len(readers) == 1
    readers.close()
    assert len(readers) == 0
    with pytest.raises(ValueError, match="closed"):
        fresh.pread(0, 1)


def test_idle_readers_close_after_their_time_and_failed_ones_at_once(
    grid_fs: GridFileSystem, home: str
) -> None:
    paths = [posixpath.join(home, name) for name in ("a", "b")]
    for path in paths:
        grid_fs.pipe_file(path, b"data")
    clock = Clock()
    readers = OpenReaders(grid_fs.grid, None, ttl_s=30, clock=clock)
    with readers.reader(paths[0]) as old:
        pass
    clock.now = 31
    with readers.reader(paths[0]) as again:
        assert again is not old  # idle past its time: a new one
    with pytest.raises(ValueError, match="closed"):
        old.pread(0, 1)
    old = again
    clock.now = 62
    with readers.reader(paths[1]):
        assert len(readers) == 2  # the old one is in no one's way yet
    assert len(readers) == 1  # and went when the next read was done
    with pytest.raises(ValueError, match="closed"):
        old.pread(0, 1)
    with pytest.raises(RuntimeError), readers.reader(paths[1]):
        raise RuntimeError("a read failed")
    assert len(readers) == 0
    with pytest.raises(FileNotFoundError), readers.reader(posixpath.join(home, "missing")):
        pass


def test_cat_file_and_cat_ranges_read_a_version_written_since(
    grid_fs: GridFileSystem, home: str
) -> None:
    path = posixpath.join(home, "v")
    grid_fs.pipe_file(path, b"one")
    assert grid_fs.cat_file(path) == b"one"
    with grid_fs.open(path, "wb") as out:
        out.write(b"two, longer")
    assert grid_fs.cat_file(path) == b"two, longer"
    assert grid_fs.cat_ranges([path, path], [0, 5], [3, 11]) == [b"two", b"longer"]
