"""The mount's on-disk block cache, over a real local file standing for a remote replica."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pyfuse3")

from gridfs.fuse import blockcache
from gridfs.fuse.blockcache import BlockCache

BLOCK = 1024


class Source:
    """A file read by offset, counting the fetches, optionally slow or failing."""

    def __init__(self, path: Path, delay: float = 0.0) -> None:
        self.path = path
        self.delay = delay
        self.fetches: list[tuple[int, int]] = []
        self.fail: Exception | None = None
        self._lock = threading.Lock()

    def __call__(self, offset: int, size: int) -> bytes:
        with self._lock:
            self.fetches.append((offset, size))
        if self.fail is not None:
            raise self.fail
        time.sleep(self.delay)
        with self.path.open("rb") as stream:
            return os.pread(stream.fileno(), size, offset)


@pytest.fixture
def data(tmp_path: Path) -> bytes:
    return random.Random(3).randbytes(10 * BLOCK + 100)


@pytest.fixture
def source(tmp_path: Path, data: bytes) -> Source:
    path = tmp_path / "replica"
    path.write_bytes(data)
    return Source(path)


def cache_in(tmp_path: Path, max_bytes: int = 100 * BLOCK) -> BlockCache:
    return BlockCache(tmp_path / "cache", max_bytes, block_size=BLOCK, readahead_workers=2)


def test_reads_across_blocks_fetch_each_block_once(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path)
    try:
        size = len(data)
        assert cache.read("k", 500, 2000, size, source) == data[500:2500]
        assert sorted(source.fetches) == [(0, BLOCK), (BLOCK, BLOCK), (2 * BLOCK, BLOCK)]
        assert cache.read("k", 0, size + 50, size, source) == data
        assert cache.read("k", size - 10, 100, size, source) == data[-10:]  # the short tail
        assert cache.read("k", size, 100, size, source) == b""
        assert len(source.fetches) == 11  # every block once
        stats = cache.statistics()
        assert (stats.blocks, stats.bytes, stats.misses) == (11, size, 11)
        assert stats.hits >= 3
    finally:
        cache.close()


def test_blocks_outlive_the_cache_object_and_other_files_are_dropped(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path)
    cache.read("k", 0, 3 * BLOCK, len(data), source)
    cache.close()
    assert not (tmp_path / "cache" / "unsynced").exists()  # close synced what it wrote
    # An older layout's block files, and a map without its data.
    for name in (".partial-k-7-123", "k-7", "j.map"):
        (tmp_path / "cache" / name).write_bytes(b"half a block")
    again = cache_in(tmp_path)
    try:
        source.fail = OSError("the server is gone")
        assert again.read("k", 0, 3 * BLOCK, len(data), source) == data[: 3 * BLOCK]
        names = sorted(p.name for p in (tmp_path / "cache").iterdir())
        assert names == ["k.blocks", "k.map", "lock", "unsynced"]
        assert again.statistics().blocks == 3
    finally:
        again.close()


def test_blocks_stored_before_a_crash_are_kept_within_the_boot(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    # A mount killed after two blocks were stored (a block is stored before its read returns).
    crash = f"""
import os, signal
from pathlib import Path
from gridfs.fuse import blockcache
from gridfs.fuse.blockcache import BlockCache
cache = BlockCache(Path({str(tmp_path / "cache")!r}), {100 * BLOCK}, block_size={BLOCK})
replica = Path({str(source.path)!r}).read_bytes()
cache.read("k", 0, {2 * BLOCK}, len(replica), lambda offset, size: replica[offset:offset + size])
os.kill(os.getpid(), signal.SIGKILL)
"""
    tree = str(Path(blockcache.__file__).parents[2])  # this gridfs, whatever the venv's is
    env = os.environ | {"PYTHONPATH": tree}
    died = subprocess.run([sys.executable, "-c", crash], check=False, env=env)
    assert died.returncode == -signal.SIGKILL
    again = cache_in(tmp_path)  # the dead mount's lock went with it
    try:
        source.fail = OSError("the server is gone")
        assert again.read("k", 0, 2 * BLOCK, len(data), source) == data[: 2 * BLOCK]
        with pytest.raises(OSError, match="the server is gone"):
            again.read("k", 2 * BLOCK, 10, len(data), source)  # never stored
    finally:
        again.close()


def test_a_second_cache_on_a_directory_in_use_takes_a_place_of_its_own(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    first = cache_in(tmp_path)
    try:
        first.read("k", 0, BLOCK, len(data), source)
        second = cache_in(tmp_path)
        try:
            assert second.directory == tmp_path / "cache" / "more" / "1"
            assert second.statistics().blocks == 0  # another's blocks may go at any time
            assert second.read("k", 0, BLOCK, len(data), source) == data[:BLOCK]
        finally:
            second.close()
    finally:
        first.close()
    first.close()  # again: nothing more, and the lock another mount took stays its own
    third = cache_in(tmp_path)
    try:
        assert third.directory == tmp_path / "cache"
        assert third.statistics().blocks == 1
        first.close()
        fourth = cache_in(tmp_path)
        fourth.close()
        assert fourth.directory == tmp_path / "cache" / "more" / "1"
    finally:
        third.close()


@pytest.mark.expect_warnings
def test_a_cache_not_synced_before_a_reboot_is_emptied(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    crashed = cache_in(tmp_path)
    try:
        crashed.read("k", 0, 2 * BLOCK, len(data), source)
    finally:
        crashed.close()
    # Blocks written by a mount of another boot that never synced them may be lost or zeros.
    (tmp_path / "cache" / "unsynced").write_text("another-boot\n")
    again = cache_in(tmp_path)
    try:
        assert again.statistics().blocks == 0
        assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["lock", "unsynced"]
        assert again.read("k", 0, 10, len(data), source) == data[:10]
        assert len(source.fetches) == 3
    finally:
        again.close()


def test_least_recently_used_blocks_are_evicted_first(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path, max_bytes=3 * BLOCK)
    try:
        size = len(data)
        for index in (0, 1, 2):
            cache.read("k", index * BLOCK, 10, size, source)
        cache.read("k", 0, 10, size, source)  # block 0 is used again: block 1 is the oldest
        cache.read("k", 5 * BLOCK, 10, size, source)
        stats = cache.statistics()
        assert (stats.bytes, stats.evictions) == (3 * BLOCK, 1)
        before = len(source.fetches)
        for index in (0, 2, 5):
            assert cache.read("k", index * BLOCK, 10, size, source) == data[index * BLOCK :][:10]
        assert len(source.fetches) == before  # still cached
        cache.read("k", BLOCK, 10, size, source)
        assert len(source.fetches) == before + 1  # evicted, so fetched again
    finally:
        cache.close()


def test_a_file_whose_blocks_are_all_evicted_goes(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path, max_bytes=3 * BLOCK)
    try:
        size = len(data)
        cache.read("a", 0, 2 * BLOCK, size, source)
        cache.read("b", 0, 3 * BLOCK, size, source)
        names = sorted(p.name for p in (tmp_path / "cache").iterdir())
        assert names == ["b.blocks", "b.map", "lock", "unsynced"]
        assert cache.statistics().evictions == 2
    finally:
        cache.close()
    again = cache_in(tmp_path, max_bytes=3 * BLOCK)
    try:
        assert again.statistics().blocks == 3
    finally:
        again.close()


def test_concurrent_readers_of_one_block_share_one_fetch(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    source.delay = 0.2
    cache = cache_in(tmp_path)
    results: list[bytes] = []
    try:

        def reader(offset: int) -> Callable[[], None]:
            return lambda: results.append(cache.read("k", offset, 100, len(data), source))

        threads = [threading.Thread(target=reader(offset)) for offset in (0, 200, 400, 600)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert source.fetches == [(0, BLOCK)]
        assert sorted(results) == sorted(data[o : o + 100] for o in (0, 200, 400, 600))
    finally:
        cache.close()


def test_prefetch_fills_blocks_in_the_background(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path)
    try:
        cache.prefetch("k", range(2, 20), len(data), source)  # stops at the end of the file
        deadline = time.monotonic() + 10
        while cache.statistics().blocks < 9 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cache.statistics().blocks == 9
        assert cache.statistics().prefetched == 9
        fetched = len(source.fetches)
        assert cache.read("k", 2 * BLOCK, 8 * BLOCK + 100, len(data), source) == data[2 * BLOCK :]
        assert len(source.fetches) == fetched
    finally:
        cache.close()


def test_a_failed_fetch_raises_and_caches_nothing(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path)
    try:
        source.fail = ConnectionError("reset by peer")
        with pytest.raises(ConnectionError):
            cache.read("k", 0, 10, len(data), source)
        assert cache.statistics().blocks == 0
        source.fail = None
        assert cache.read("k", 0, 10, len(data), source) == data[:10]
    finally:
        cache.close()


def test_a_short_fetch_is_an_error(tmp_path: Path, data: bytes, source: Source) -> None:
    cache = cache_in(tmp_path)
    try:
        with pytest.raises(OSError, match="short read"):
            cache.read("k", 10 * BLOCK, 10, len(data) + 5 * BLOCK, source)  # it is shorter
    finally:
        cache.close()


def test_a_block_deleted_by_hand_is_fetched_again(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path)
    try:
        cache.read("k", 0, 10, len(data), source)
        (tmp_path / "cache" / "k.blocks").unlink()
        assert cache.read("k", 0, 10, len(data), source) == data[:10]
        assert source.fetches == [(0, BLOCK), (0, BLOCK)]
        assert cache.statistics().bytes == BLOCK
    finally:
        cache.close()


def test_cached_reads_never_fetch(tmp_path: Path, data: bytes, source: Source) -> None:
    with source.path.open("rb") as stream:
        try:
            os.preadv(stream.fileno(), [bytearray(1)], 0, os.RWF_NOWAIT)
        except OSError as exc:
            pytest.skip(f"no non-blocking reads on {tmp_path}: {exc.strerror}")
    cache = cache_in(tmp_path)
    try:
        assert cache.read_cached("k", 0, 10, len(data)) is None  # nothing there yet
        cache.read("k", 0, 3 * BLOCK, len(data), source)
        fetched = len(source.fetches)
        assert cache.read_cached("k", 100, 2 * BLOCK, len(data)) == data[100 : 100 + 2 * BLOCK]
        assert cache.read_cached("k", 2 * BLOCK, 2 * BLOCK, len(data)) is None  # block 3 missing
        assert len(source.fetches) == fetched
    finally:
        cache.close()


def test_cached_blocks_are_the_mounts_alone(tmp_path: Path, data: bytes, source: Source) -> None:
    (tmp_path / "cache").mkdir(mode=0o755)  # a shared place, as an fstab line may name
    cache = cache_in(tmp_path)
    try:
        cache.read("k", 0, BLOCK, len(data), source)
    finally:
        cache.close()
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    blocks = [p for p in (tmp_path / "cache").iterdir() if p.is_file()]
    assert blocks
    assert {p.stat().st_mode & 0o777 for p in blocks} == {0o600}


def test_blocks_read_ahead_are_served_at_once_and_stored_by_close(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path)
    size = len(data)
    cache.prefetch("k", range(11), size, source)
    # Whether a block is still held in memory or stored already, it reads the same.
    assert cache.read("k", 0, size, size, source) == data
    cache.close()  # the writers finish storing what was fetched
    assert len(source.fetches) == 11
    assert (tmp_path / "cache" / "k.blocks").read_bytes() == data
    again = cache_in(tmp_path)
    try:
        assert again.statistics().blocks == 11
    finally:
        again.close()


def test_discarded_blocks_are_not_served_from_memory_either(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    cache = cache_in(tmp_path)
    size = len(data)
    try:
        cache.prefetch("k", range(3), size, source)
        assert cache.read("k", 0, 3 * BLOCK, size, source) == data[: 3 * BLOCK]
        deadline = time.monotonic() + 10
        while cache.statistics().blocks < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Stored, and the last fetched are held in memory as well: served from there.
        assert cache.read_cached("k", 0, 2 * BLOCK, size) == data[: 2 * BLOCK]
        cache.discard("k", size)  # their content was found wrong
        assert cache.read_cached("k", 0, BLOCK, size) is None
        fetched = len(source.fetches)
        assert cache.read("k", 0, BLOCK, size, source) == data[:BLOCK]
        assert len(source.fetches) == fetched + 1
    finally:
        cache.close()


def test_a_block_fetched_while_its_file_is_discarded_is_not_kept(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    source.delay = 0.5
    cache = cache_in(tmp_path)
    size = len(data)
    try:
        cache.prefetch("k", range(1), size, source)
        deadline = time.monotonic() + 10
        while not source.fetches and time.monotonic() < deadline:
            time.sleep(0.01)
        cache.discard("k", size)  # found wrong while a fetch from the same copy is under way
    finally:
        cache.close()  # the fetch ends, and the writer with it
    assert cache.statistics().blocks == 0
    assert list((tmp_path / "cache").glob("*.blocks")) == []
    assert cache.read_cached("k", 0, 10, size) is None  # not kept in memory either


def test_blocks_read_ahead_faster_than_they_are_stored_are_still_read_once(
    tmp_path: Path, data: bytes, source: Source
) -> None:
    # One block may wait for the writers: others fetched meanwhile are kept in memory only.
    cache = BlockCache(tmp_path / "cache", 100 * BLOCK, block_size=BLOCK, held_blocks=1)
    size = len(data)
    try:
        cache.prefetch("k", range(11), size, source)
        assert cache.read("k", 0, size, size, source) == data
        assert cache.read("k", 0, size, size, source) == data
    finally:
        cache.close()
    assert len(source.fetches) == 11  # each once, stored or not
    stats = cache.statistics()
    assert stats.blocks + stats.unstored == 11
