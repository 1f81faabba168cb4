"""Directory listing pages kept for the entry timeout (gridfs.fuse.listings)."""

from __future__ import annotations

import pytest

pytest.importorskip("pyfuse3")

from gridfs.fuse.listings import ListingCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pages_expire_and_are_kept_per_identity() -> None:
    clock = Clock()
    cache: ListingCache[list[str]] = ListingCache(10, clock=clock)
    cache.put("alice", 7, 0, ["a", "b"], 2, generation=0)
    assert cache.get("alice", 7, 0) == ["a", "b"]
    assert cache.get("bob", 7, 0) is None  # bob's right to list is checked for bob
    assert cache.get("alice", 7, 2) is None
    clock.now += 10.5
    assert cache.get("alice", 7, 0) is None


def test_a_change_drops_every_page_of_its_directory() -> None:
    cache: ListingCache[list[str]] = ListingCache(10)
    cache.put("alice", 7, 0, ["a"], 1, generation=0)
    cache.put("alice", 7, 1, ["b"], 1, generation=0)
    cache.put("bob", 7, 0, ["a"], 1, generation=0)
    cache.put("alice", 8, 0, ["c"], 1, generation=0)
    cache.invalidate(7, None)
    for who, after in (("alice", 0), ("alice", 1), ("bob", 0)):
        assert cache.get(who, 7, after) is None
    assert cache.get("alice", 8, 0) == ["c"]


def test_the_oldest_pages_go_beyond_the_entry_limit() -> None:
    cache: ListingCache[list[str]] = ListingCache(10, max_entries=5)
    cache.put("alice", 1, 0, ["x"] * 3, 3, generation=0)
    cache.put("alice", 2, 0, ["y"] * 2, 2, generation=0)
    cache.get("alice", 1, 0)  # used again: directory 2 is now the oldest
    cache.put("alice", 3, 0, ["z"] * 2, 2, generation=0)
    assert cache.get("alice", 2, 0) is None
    assert cache.get("alice", 1, 0) is not None
    assert cache.get("alice", 3, 0) is not None


def test_no_time_to_live_keeps_nothing() -> None:
    cache: ListingCache[list[str]] = ListingCache(0)
    cache.put("alice", 1, 0, ["x"], 1, generation=0)
    assert cache.get("alice", 1, 0) is None


def test_a_page_read_before_a_change_is_not_kept() -> None:
    cache: ListingCache[list[str]] = ListingCache(10)
    before = cache.generation(7)
    cache.invalidate(7)  # the mount creates an entry while the page is being read
    cache.put("alice", 7, 0, ["old"], 1, generation=before)
    assert cache.get("alice", 7, 0) is None
    cache.put("alice", 7, 0, ["old", "new"], 2, generation=cache.generation(7))
    assert cache.get("alice", 7, 0) == ["old", "new"]
