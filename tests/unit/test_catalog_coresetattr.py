"""Times, mode and owner set in Core (gridfs.catalog.coresetattr): as the ORM paths decide."""

from __future__ import annotations

import dataclasses
import stat

import orjson
import pytest

from gridfs.catalog import SUPERUSER, Catalog, Stat
from gridfs.errors import NotPermitted, PermissionDenied
from gridfs.service import wire
from tests.conftest import BOB


def test_times_mode_and_owner_plainly_and_through_the_orm_path(catalog: Catalog) -> None:
    catalog.mkdir("/vo/d", parents=True)
    catalog.add_file("/vo/d/f", size=1, mode=0o6755)
    before = catalog.stat("/vo/d/f")
    entry = catalog.utime("/vo/d/f", 1_000, 2_000)
    assert (entry.atime_ns, entry.mtime_ns) == (1_000, 2_000)
    assert entry.ctime_ns >= before.ctime_ns
    assert catalog.stat("/vo/d/f") == entry
    entry = catalog.chmod("/vo/d/f", 0o6750)
    assert entry.mode == 0o6750
    assert catalog.stat("/vo/d/f") == entry
    entry = catalog.chown("/vo/d/f", None, "atlas")  # one of alice's groups
    # As Linux: the set-user-ID bit goes, and set-group-ID with group execute.
    assert (entry.group, entry.mode) == ("atlas", 0o750)
    assert catalog.stat("/vo/d/f") == entry
    catalog.symlink("/vo/d/f", "/vo/link")
    link = catalog.utime("/vo/link", 5, 6, follow_symlinks=False)  # the link's own
    assert (link.atime_ns, link.mtime_ns) == (5, 6)
    assert link == catalog.stat("/vo/link", follow_symlinks=False)
    followed = catalog.utime("/vo/link", 7, 8)  # through the link: the ORM path
    assert (followed.id, followed.mtime_ns) == (entry.id, 8)
    bob = catalog.as_identity(BOB)
    with pytest.raises(NotPermitted):
        bob.utime("/vo/d/f", 1, 2)
    with pytest.raises(NotPermitted):
        bob.chmod("/vo/d/f", 0o777)
    with pytest.raises(NotPermitted):
        bob.chown("/vo/d/f", None, "cms")
    with pytest.raises(NotPermitted):
        catalog.chown("/vo/d/f", None, "cms")  # not a group of alice's
    with pytest.raises(NotPermitted):
        catalog.chown("/vo/d/f", "bob")  # only the superuser gives a file away
    catalog.chmod("/vo/d/f", 0o666)
    now = bob.utime("/vo/d/f")  # "now" needs write permission only
    assert now.mtime_ns > 8
    catalog.chmod("/vo/d", 0o700)  # bob may not search the way any more
    with pytest.raises(PermissionDenied):
        bob.utime("/vo/d/f")
    admin = catalog.as_identity(SUPERUSER)
    given = admin.chown("/vo/d/f", "bob", "cms")
    assert (given.owner, given.group) == ("bob", "cms")
    admin.chmod("/vo/d/f", 0o2775)
    assert stat.S_IMODE(admin.chmod("/vo/d/f", 0o2775).mode) == 0o2775  # the superuser keeps it
    catalog.chmod("/vo/d", 0o755)
    # Not in the file's group: alice's set-group-ID bit on a file of hers goes (as Linux).
    catalog.add_file("/vo/d/g", size=1)
    admin.chown("/vo/d/g", None, "cms")
    assert catalog.chmod("/vo/d/g", 0o2755).mode == 0o755


def test_what_they_return_has_the_types_of_a_stat(catalog: Catalog) -> None:
    """Each field as stat() gives it: gridfs serve sends the Stat, and its client decodes it."""
    catalog.mkdir("/vo/d", parents=True)
    catalog.add_file("/vo/d/f", size=1)
    for change in (
        lambda: catalog.utime("/vo/d/f", 1_000, 2_000),
        lambda: catalog.chmod("/vo/d/f", 0o640),
        lambda: catalog.chown("/vo/d/f", None, "atlas"),
    ):
        changed = change()
        read = catalog.stat("/vo/d/f")
        assert [type(getattr(changed, f.name)) for f in dataclasses.fields(Stat)] == [
            type(getattr(read, f.name)) for f in dataclasses.fields(Stat)
        ]
        sent = orjson.loads(orjson.dumps(wire.encode(changed)))
        assert wire.decode(sent, Stat) == read
