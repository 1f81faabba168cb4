"""Reading ahead in a thread: the same items in the same order, errors in their place."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from gridfs.gfal.readahead import read_ahead, reads_in_flight


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))
    assert list(read_ahead(iter([]))) == []


def test_an_error_of_the_source_comes_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    ahead = read_ahead(source())
    assert [next(ahead), next(ahead)] == [1, 2]
    with pytest.raises(OSError, match="disk gone"):
        next(ahead)


def test_a_consumer_that_stops_early_stops_and_closes_the_source() -> None:
    closed = threading.Event()
    threads = {threading.current_thread()}

    def source() -> Iterator[int]:
        try:
            for item in range(10**9):
                threads.add(threading.current_thread())
                yield item
        finally:
            closed.set()

    ahead = read_ahead(source(), depth=2)
    assert next(ahead) == 0
    ahead.close()
    assert closed.is_set()  # closed (in its thread) before close() returned
    assert len(threads) == 2
    assert not any(t.name == "gridfs-read-ahead" for t in threading.enumerate())


class Source:
    """Bytes read by offset, optionally short once at ``short_at``, or failing at ``fail_at``."""

    def __init__(self, data: bytes, *, short_at: int = -1, fail_at: int = -1) -> None:
        self.data = data
        self.short_at = short_at
        self.fail_at = fail_at
        self.reads: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, offset: int, size: int) -> bytes:
        with self._lock:
            self.reads.append(offset)
            if offset == self.fail_at:
                raise OSError("server gone")
            if offset == self.short_at:
                self.short_at = -1
                return self.data[offset : offset + size // 2]
        return self.data[offset : offset + size]


@pytest.mark.parametrize("length", [0, 1, 99, 100, 1000, 1234])
def test_reads_in_flight_give_the_bytes_in_order(length: int) -> None:
    data = bytes(range(256)) * 5
    data = data[:length]
    assert b"".join(reads_in_flight(Source(data), chunk=100, depth=3)) == data


def test_a_short_read_mid_way_goes_on_one_chunk_at_a_time() -> None:
    data = bytes(range(256)) * 4
    source = Source(data, short_at=300)
    chunks = list(reads_in_flight(source, chunk=100, depth=4))
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks[:4]] == [100, 100, 100, 50]


def test_an_error_of_a_read_comes_after_the_chunks_before_it() -> None:
    source = Source(bytes(1000), fail_at=300)
    chunks = reads_in_flight(source, chunk=100, depth=4)
    assert [len(next(chunks)) for _ in range(3)] == [100, 100, 100]
    with pytest.raises(OSError, match="server gone"):
        next(chunks)
    assert not any(t.name.startswith("gridfs-read") for t in threading.enumerate())


def test_several_reads_are_in_flight_at_once() -> None:
    meet = threading.Barrier(3, timeout=30)  # breaks (an error) unless 3 reads wait at once
    data = bytes(range(256)) * 4

    def read(offset: int, size: int) -> bytes:
        if 100 <= offset < 400:  # the first chunk is read alone
            meet.wait()
        return data[offset : offset + size]

    assert b"".join(reads_in_flight(read, chunk=100, depth=3)) == data


def test_a_consumer_that_stops_early_leaves_no_reads_behind() -> None:
    source = Source(bytes(10**6))
    chunks = reads_in_flight(source, chunk=100, depth=4)
    assert len(next(chunks)) == 100
    chunks.close()
    assert not any(t.name.startswith("gridfs-read") for t in threading.enumerate())
    assert len(source.reads) <= 8  # the reads in flight, not the whole source
