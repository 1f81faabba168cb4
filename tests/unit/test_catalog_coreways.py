"""Entries by id walked up in one query (gridfs.catalog.coreways): as the ORM paths answer."""

from __future__ import annotations

import os

import pytest

from gridfs.catalog import Catalog, FileStatus, ReplicaStatus
from gridfs.catalog.permissions import AclEntry, AclTag
from gridfs.errors import AlreadyExists, NotADirectory, NotFound, PermissionDenied
from tests.conftest import BOB

RWX, RX = 7, 5


def test_lfns_walked_stats_and_inherited_properties(catalog: Catalog) -> None:
    catalog.mkdir("/vo/a/b", parents=True)
    entry = catalog.add_file("/vo/a/b/f", size=3)
    assert catalog.lfn_of(entry.id) == "/vo/a/b/f"
    assert catalog.lfn_of(catalog.stat("/").id) == "/"
    assert catalog.stat_walked(entry.id, os.R_OK | os.W_OK) == catalog.stat("/vo/a/b/f")
    a = catalog.stat("/vo/a")
    assert catalog.inherited_property(entry.id, "default_se") is None
    catalog.set_property("/vo", "default_se", "far-se")
    catalog.set_property("/vo/a", "default_se", "near-se")
    assert catalog.inherited_property(entry.id, "default_se") == "near-se"
    with catalog.transaction():  # inside a transaction: its session answers
        assert catalog.lfn_of(entry.id) == "/vo/a/b/f"
        assert catalog.inherited_property(entry.id, "default_se") == "near-se"
    bob = catalog.as_identity(BOB)
    catalog.chmod("/vo/a", 0o700)  # bob may neither search it nor read its properties
    with pytest.raises(PermissionDenied):
        bob.stat_walked(entry.id)
    assert bob.lfn_of(entry.id) == "/vo/a/b/f"  # names are no secret by id
    assert bob.inherited_property(entry.id, "default_se") == "far-se"  # passed over
    catalog.chmod("/vo/a", 0o755)
    assert bob.stat_walked(entry.id, os.R_OK) == catalog.stat("/vo/a/b/f")
    with pytest.raises(PermissionDenied):
        bob.stat_walked(entry.id, os.W_OK)
    # With an ACL on the way, the ORM path decides: here it lets bob search again.
    catalog.chmod("/vo/a", 0o700)
    catalog.setacl(
        "/vo/a",
        [
            AclEntry(False, AclTag.USER_OBJ, "", RWX),
            AclEntry(False, AclTag.USER, "bob", RX),
            AclEntry(False, AclTag.GROUP_OBJ, "", 0),
            AclEntry(False, AclTag.MASK, "", RX),
            AclEntry(False, AclTag.OTHER, "", 0),
        ],
    )
    assert bob.stat_walked(entry.id) == catalog.stat("/vo/a/b/f")
    assert bob.inherited_property(entry.id, "default_se") == "near-se"
    assert bob.stat_walked(a.id, os.R_OK).id == a.id


def test_versions_committed_in_one_transaction(catalog: Catalog) -> None:
    catalog.mkdir("/vo", parents=True)
    created = catalog.add_file("/vo/f", size=0, mode=0o444, status=FileStatus.WRITING)
    # Its creator stores the first version of a file made read-only.
    first, stale = catalog.commit_version(
        created.id, size=3, checksum="00000001", checksum_type="adler32", se="a", surl="s://1"
    )
    assert stale == []
    assert (first.size, first.checksum, first.status) == (3, "00000001", FileStatus.READY)
    assert first == catalog.stat("/vo/f")
    with pytest.raises(PermissionDenied):  # not the first version: the mode decides
        catalog.commit_version(
            created.id, size=4, checksum="00000002", checksum_type="adler32", se="a", surl="s://2"
        )
    catalog.chmod("/vo/f", 0o644)
    second, stale = catalog.commit_version(
        created.id, size=4, checksum="00000002", checksum_type="adler32", se="b", surl="s://2"
    )
    assert [(r.surl, r.status) for r in stale] == [("s://1", ReplicaStatus.STALE)]
    assert second == catalog.stat("/vo/f")
    assert [(r.se, r.surl, r.status) for r in catalog.replicas("/vo/f")] == [
        ("a", "s://1", ReplicaStatus.STALE),
        ("b", "s://2", ReplicaStatus.AVAILABLE),
    ]
    with pytest.raises(AlreadyExists):
        catalog.commit_version(
            created.id, size=4, checksum="00000002", checksum_type="adler32", se="b", surl="s://2"
        )
    with pytest.raises(PermissionDenied):
        catalog.as_identity(BOB).commit_version(
            created.id, size=1, checksum="00000003", checksum_type="adler32", se="b", surl="s://3"
        )
    assert catalog.stat("/vo/f") == second


def test_lookups_and_children_by_directory_id(catalog: Catalog) -> None:
    catalog.mkdir("/vo/d", parents=True)
    files = [catalog.add_file(f"/vo/d/f{index}", size=index) for index in range(3)]
    d = catalog.stat("/vo/d")
    assert catalog.lookup(d.id, "f1") == files[1]
    with pytest.raises(NotFound):
        catalog.lookup(d.id, "absent")
    assert catalog.children(d.id, limit=10) == files
    assert catalog.children(d.id, after=files[0].id, limit=1) == [files[1]]
    with pytest.raises(NotADirectory):
        catalog.children(files[0].id, limit=10)
    bob = catalog.as_identity(BOB)
    assert bob.lookup(d.id, "f2") == files[2]
    catalog.chmod("/vo/d", 0o700)
    with pytest.raises(PermissionDenied):
        bob.lookup(d.id, "f2")
    with pytest.raises(PermissionDenied):
        bob.children(d.id, limit=10)
    catalog.chmod("/vo/d", 0o755)
    catalog.chmod("/vo", 0o700)  # an ancestor refuses the search
    with pytest.raises(PermissionDenied):
        bob.lookup(d.id, "f2")
