"""The mount's directories in memory: kept per identity, for a time, dropped by changes."""

from __future__ import annotations

from gridfs.fuse.directories import REBUILT_AT_MOST, DirectoryCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


CHILDREN = [(5, b"a", "A"), (9, b"b", "B"), (12, b"c", "C")]


def test_kept_per_identity_until_the_time_is_up() -> None:
    clock = Clock()
    cache: DirectoryCache[str] = DirectoryCache(10, clock=clock)
    cache.put("alice", 1, CHILDREN, generation=cache.generation())
    kept = cache.directory("alice", 1)
    assert kept is not None
    assert (kept.child(b"b"), kept.child(b"x")) == ("B", None)
    assert kept.ids[kept.after(9) :] == [12]  # readdir resumes at any id
    assert kept.ids[kept.after(0) :] == [5, 9, 12]
    assert cache.child("alice", 9) == "B"
    assert cache.directory("bob", 1) is None
    assert cache.child("bob", 9) is None
    clock.now = 11
    assert cache.directory("alice", 1) is None
    assert cache.child("alice", 9) is None


def test_changes_drop_directories_and_walked_stats() -> None:
    clock = Clock()
    cache: DirectoryCache[str] = DirectoryCache(10, clock=clock)
    generation = cache.generation()
    cache.put("alice", 1, CHILDREN, generation=generation)
    cache.put("alice", 2, [(20, b"z", "Z")], generation=generation)
    cache.put_walked("alice", 20, 4, "walked", generation=generation)
    assert cache.walked("alice", 20, 4) == "walked"
    cache.invalidate(1)
    assert cache.directory("alice", 1) is None
    assert cache.directory("alice", 2) is not None
    assert cache.walked("alice", 20, 4) is None
    # A fetch begun before a change is not kept: it may miss the change.
    assert cache.put("alice", 3, CHILDREN, generation=generation) is None
    # A directory just changed is not fetched whole again until the time is up.
    assert not cache.worth_fetching(1)
    assert cache.worth_fetching(2)
    clock.now = 11
    assert cache.worth_fetching(1)
    cache.clear()
    assert cache.directory("alice", 2) is None


def test_bounded_and_off_without_a_time_to_live() -> None:
    cache: DirectoryCache[str] = DirectoryCache(10, max_entries=4)
    cache.put("alice", 1, CHILDREN[:2], generation=0)
    cache.put("alice", 2, [*CHILDREN[2:], (30, b"d", "D")], generation=0)
    cache.put("alice", 3, [(40, b"e", "E"), (41, b"f", "F")], generation=0)
    assert cache.directory("alice", 1) is None  # the oldest made room
    assert cache.directory("alice", 3) is not None
    assert cache.put("alice", 4, CHILDREN, generation=0) is None  # more than half the cache
    off: DirectoryCache[str] = DirectoryCache(0)
    assert not off.worth_fetching(1)
    assert off.put("alice", 1, CHILDREN, generation=0) is None


def test_the_record_of_changed_directories_keeps_only_the_last_entry_timeout() -> None:
    clock = Clock()
    cache: DirectoryCache[str] = DirectoryCache(10, clock=clock)
    for directory in range(1000):  # a mount filling 1,000 directories, one every 0.1 s
        clock.now = directory / 10
        cache.invalidate(directory)
    assert cache.statistics()["changed"] <= 101
    assert not cache.worth_fetching(999)
    assert cache.worth_fetching(0)
    cache.skip(5000)
    clock.now = 200
    cache.invalidate(7)
    assert cache.statistics()["changed"] == 1


def test_the_mounts_own_changes_keep_the_copies_current() -> None:
    clock = Clock()
    cache: DirectoryCache[str] = DirectoryCache(10, clock=clock)
    generation = cache.generation()
    cache.put("alice", 1, CHILDREN, generation=generation)
    cache.put("bob", 1, CHILDREN, generation=generation)
    cache.put_walked("alice", 9, 4, "walked", generation=generation)
    cache.added(1, 20, b"d", "D")  # sorts last: added in place
    cache.added(1, 7, b"e", "E")  # sorts among them: a new copy
    for identity in ("alice", "bob"):
        kept = cache.directory(identity, 1)
        assert kept is not None
        assert kept.ids == [5, 7, 9, 12, 20]
        assert (kept.child(b"d"), kept.child(b"e")) == ("D", "E")
        assert cache.child(identity, 20) == "D"
    assert cache.walked("alice", 9, 4) is None  # every change drops the walked stats
    assert cache.put("alice", 1, CHILDREN, generation=generation) is None  # fetched before
    cache.updated(1, 9, "B2")
    cache.removed(1, b"a")
    kept = cache.directory("alice", 1)
    assert kept is not None
    assert (kept.child(b"b"), kept.child(b"a"), kept.ids) == ("B2", None, [7, 9, 12, 20])
    assert cache.child("bob", 9) == "B2"
    assert cache.child("bob", 5) is None
    assert cache.worth_fetching(1)  # kept current: not noted as changed
    assert cache.statistics()["entries"] == 8
    # A name made again replaces the entry it named.
    cache.added(1, 30, b"b", "B3")
    kept = cache.directory("alice", 1)
    assert kept is not None
    assert (kept.child(b"b"), kept.ids) == ("B3", [7, 12, 20, 30])
    # A copy lives for the entry timeout from its fetch, whatever changed since.
    clock.now = 11
    assert cache.directory("alice", 1) is None
    cache.added(1, 40, b"f", "F")  # no copy left: noted, not fetched again for a while
    assert not cache.worth_fetching(1)


def test_a_directory_made_by_the_mount_is_kept_empty_and_its_parent_copy_dropped() -> None:
    clock = Clock()
    cache: DirectoryCache[str] = DirectoryCache(10, clock=clock)
    cache.put("alice", 1, [(5, b"sub", "SUB")], generation=cache.generation())
    cache.added(1, 6, b"new", "NEW")
    cache.made("alice", 6)
    new = cache.directory("alice", 6)
    assert new is not None
    assert (new.ids, new.child(b"x")) == ([], None)
    assert cache.directory("bob", 6) is None  # its maker's only
    assert cache.directory("alice", 1) is not None
    # A name made in it changes its times: the copy of its directory that shows them goes.
    cache.added(6, 7, b"x", "X")
    assert cache.directory("alice", 1) is None
    assert cache.worth_fetching(1)  # fetched again at the next lookup there
    new = cache.directory("alice", 6)
    assert new is not None
    assert new.child(b"x") == "X"


def test_a_big_copy_is_dropped_by_a_removal_or_a_replacement_not_rebuilt() -> None:
    """Rebuilt for each removal, a big copy cost O(n) under the lock: rm -rf was quadratic."""
    cache: DirectoryCache[str] = DirectoryCache(10)
    big = [(index, b"f%d" % index, "F") for index in range(1, REBUILT_AT_MOST + 2)]
    cache.put("alice", 1, big, generation=cache.generation())
    cache.put("alice", 2, CHILDREN, generation=cache.generation())
    cache.removed(1, b"f1")
    assert cache.directory("alice", 1) is None
    assert not cache.worth_fetching(1)  # as a change elsewhere: by name for a while
    assert cache.statistics()["entries"] == len(CHILDREN)
    cache.put("alice", 3, big, generation=cache.generation())
    cache.added(3, 5000, b"f2", "F2")  # a name made again
    assert cache.directory("alice", 3) is None
    cache.removed(2, b"a")  # a small copy is kept current
    kept = cache.directory("alice", 2)
    assert kept is not None
    assert kept.ids == [9, 12]
