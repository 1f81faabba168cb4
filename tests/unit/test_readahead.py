"""Reading ahead in a thread: the same items in the same order, errors in their place."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from gridfs.gfal.readahead import read_ahead


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
