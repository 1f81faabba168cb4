"""The read cache of resolved paths (readcache.py): changes made elsewhere are seen at once.

Each test warms the cache with a stat, changes the catalog through another
connection, another process or the same catalog, and checks that the next
stat sees the change. On PostgreSQL nothing is cached: the same tests hold.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from gridfs.catalog import SUPERUSER, Catalog
from gridfs.catalog.permissions import parse_acl
from gridfs.errors import NotFound, PermissionDenied
from tests.conftest import ALICE, BOB

# Run by another process: a change of its own to the catalog at argv[1].
CHANGE = """
import sys
from gridfs.catalog import SUPERUSER, Catalog
from gridfs.catalog.permissions import parse_acl
catalog = Catalog.from_url(sys.argv[1], SUPERUSER)
change, lfn = sys.argv[2], sys.argv[3]
if change == "chmod":
    catalog.chmod(lfn, int(sys.argv[4], 8))
elif change == "setacl":
    catalog.setacl(lfn, parse_acl(sys.argv[4]))
elif change == "rename":
    catalog.rename(lfn, sys.argv[4])
elif change == "unlink":
    catalog.unlink(lfn)
catalog.close()
"""


def change_elsewhere(url: str, *args: str) -> None:
    """Make a change in a process of its own, committed when this returns."""
    subprocess.run([sys.executable, "-c", CHANGE, url, *args], check=True, timeout=60)


@pytest.fixture
def admin(catalog_url: str) -> Iterator[Catalog]:
    """The superuser's catalog with /data (0755) holding /data/f, owned by root."""
    catalog = Catalog.from_url(catalog_url, SUPERUSER, create=True)
    catalog.mkdir("/data", 0o755)
    catalog.add_file("/data/f", size=1)
    yield catalog
    catalog.close()


@pytest.fixture
def alice(catalog_url: str, admin: Catalog) -> Iterator[Catalog]:
    """Alice's own catalog (its own engine and cache), warmed with a stat of /data/f."""
    catalog = Catalog.from_url(catalog_url, ALICE)
    assert catalog.stat("/data/f").size == 1
    yield catalog
    catalog.close()


def test_a_chmod_by_another_process_is_seen_at_once(catalog_url: str, alice: Catalog) -> None:
    change_elsewhere(catalog_url, "chmod", "/data", "700")
    with pytest.raises(PermissionDenied):
        alice.stat("/data/f")
    change_elsewhere(catalog_url, "chmod", "/data", "755")
    assert alice.stat("/data/f").size == 1


def test_an_acl_by_another_process_is_seen_at_once(catalog_url: str, admin: Catalog) -> None:
    admin.setacl("/data", parse_acl("u::rwx,u:bob:r-x,g::r-x,m::r-x,o::---"))
    bob = Catalog.from_url(catalog_url, BOB)
    try:
        assert bob.stat("/data/f").size == 1
        change_elsewhere(catalog_url, "setacl", "/data", "u::rwx,u:bob:---,g::r-x,m::r-x,o::---")
        with pytest.raises(PermissionDenied):
            bob.stat("/data/f")
    finally:
        bob.close()


def test_a_rename_and_an_unlink_by_another_process_are_seen(
    catalog_url: str, alice: Catalog
) -> None:
    change_elsewhere(catalog_url, "rename", "/data/f", "/data/g")
    with pytest.raises(NotFound):
        alice.stat("/data/f")
    assert alice.stat("/data/g").size == 1
    change_elsewhere(catalog_url, "unlink", "/data/g")
    with pytest.raises(NotFound):
        alice.stat("/data/g")


def test_a_renamed_directory_is_not_reached_by_its_old_path(
    catalog_url: str, alice: Catalog
) -> None:
    change_elsewhere(catalog_url, "rename", "/data", "/moved")
    with pytest.raises(NotFound):
        alice.stat("/data/f")
    assert alice.stat("/moved/f").size == 1


def test_changes_through_another_connection_of_this_process_are_seen(
    admin: Catalog, alice: Catalog
) -> None:
    admin.chmod("/data", 0o700)
    with pytest.raises(PermissionDenied):
        alice.stat("/data/f")
    admin.chmod("/data", 0o755)
    admin.unlink("/data/f")
    with pytest.raises(NotFound):
        alice.stat("/data/f")
    admin.add_file("/data/f", size=7)
    assert alice.stat("/data/f").size == 7


def test_changes_by_the_same_catalog_are_seen(admin: Catalog) -> None:
    """The catalog's own writes go through the pool, not the reader's connection."""
    view = admin.as_identity(ALICE)
    assert view.stat("/data/f").size == 1
    admin.chmod("/data", 0o700)
    with pytest.raises(PermissionDenied):
        view.stat("/data/f")
    admin.chmod("/data", 0o755)
    admin.utime("/data/f", mtime_ns=5)
    assert view.stat("/data/f").mtime_ns == 5


def test_another_identity_gets_its_own_permission_check(catalog_url: str, admin: Catalog) -> None:
    admin.chmod("/data", 0o700)
    assert admin.stat("/data/f").size == 1  # the superuser's walk is cached
    with pytest.raises(PermissionDenied):
        admin.as_identity(ALICE).stat("/data/f")


def test_a_transaction_sees_its_own_changes(admin: Catalog) -> None:
    assert admin.stat("/data/f").size == 1
    with admin.transaction():
        admin.unlink("/data/f")
        with pytest.raises(NotFound):
            admin.stat("/data/f")
        admin.add_file("/data/f", size=3)
        assert admin.stat("/data/f").size == 3
    assert admin.stat("/data/f").size == 3


def test_each_thread_sees_changes(catalog_url: str, admin: Catalog, alice: Catalog) -> None:
    seen: list[object] = []

    def stat() -> None:
        try:
            seen.append(alice.stat("/data/f").size)
        except PermissionDenied as exc:
            seen.append(type(exc))

    for expected in (1, PermissionDenied):
        thread = threading.Thread(target=stat)
        thread.start()
        thread.join()
        assert seen.pop() == expected
        change_elsewhere(catalog_url, "chmod", "/data", "700")


def test_a_repeated_stat_on_sqlite_asks_the_pool_nothing(tmp_path) -> None:
    """The cache is in use: the second stat of an entry is answered by the reader alone."""
    catalog = Catalog.from_url(f"sqlite:///{tmp_path / 'c.db'}", SUPERUSER, create=True)
    catalog.mkdir("/data")
    catalog.add_file("/data/f", size=1)
    catalog.stat("/data/f")
    statements: list[str] = []
    event.listen(catalog.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert catalog.stat("/data/f").size == 1
    assert statements == []
    uncached = Catalog(catalog.store.engine, SUPERUSER, read_cache=False)
    assert uncached.stat("/data/f").size == 1
    assert statements != []
    catalog.close()


def test_threads_that_end_leave_no_connection_open(tmp_path) -> None:
    """Each thread reads through a connection of its own, closed when the thread ends."""
    catalog = Catalog.from_url(f"sqlite:///{tmp_path / 'c.db'}", SUPERUSER, create=True)
    catalog.mkdir("/data")
    catalog.add_file("/data/f", size=1)
    catalog.stat("/data/f")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(30):
        thread = threading.Thread(target=catalog.stat, args=("/data/f",))
        thread.start()
        thread.join()
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) < before + 10
    catalog.close()


def test_readers_closed_while_in_use_are_not_used_again(tmp_path) -> None:
    """A reader closed under a call (the cache closed meanwhile) never serves another."""
    catalog = Catalog.from_url(f"sqlite:///{tmp_path / 'c.db'}", SUPERUSER, create=True)
    catalog.mkdir("/data")
    catalog.add_file("/data/f", size=1)
    cache = catalog.store.read_cache
    reader = cache.acquire()
    assert reader is not None
    cache.close()  # while a call holds the reader
    cache.release(reader)
    for _ in range(3):
        assert catalog.stat("/data/f").size == 1
    broken = cache.acquire()
    assert broken is not None
    assert broken is not reader
    broken._fairy.close()  # its connection breaks unseen: the slow way answers, once
    cache.release(broken)
    assert catalog.stat("/data/f").size == 1
    assert cache.acquire() is not broken
    catalog.close()
