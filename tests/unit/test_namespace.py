"""LFC namespace, GUID, alias and replica calls, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from gridfs.catalog import SUPERUSER, Catalog, FileStatus, ReplicaStatus
from gridfs.errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    NotPermitted,
    PermissionDenied,
)
from tests.conftest import BOB

ADLER = "0a1b2c3d"


def add(catalog: Catalog, lfn: str, *surls: str, size: int = 10) -> str:
    replicas = [(surl.split("/")[2], surl) for surl in surls]
    return catalog.add_file(lfn, size=size, checksum=ADLER, replicas=replicas).guid or ""


@pytest.fixture
def trailers(catalog: Catalog) -> Catalog:
    catalog.mkdir("/grid/gilda/trailers", parents=True)
    return catalog


def test_unlink_returns_the_replicas_it_unregistered(trailers: Catalog) -> None:
    add(trailers, "/grid/gilda/trailers/a", "srm://se1/a", "srm://se2/a")
    removed = trailers.unlink("/grid/gilda/trailers/a")
    assert [r.surl for r in removed] == ["srm://se1/a", "srm://se2/a"]
    with pytest.raises(NotFound):
        trailers.stat("/grid/gilda/trailers/a")
    with pytest.raises(IsADirectory):
        trailers.unlink("/grid/gilda/trailers")
    with pytest.raises(NotFound):
        trailers.unlink("/grid/gilda/trailers/a")
    # The SURL is free again.
    add(trailers, "/grid/gilda/trailers/b", "srm://se1/a")


def test_rmdir(trailers: Catalog) -> None:
    add(trailers, "/grid/gilda/trailers/a")
    with pytest.raises(DirectoryNotEmpty) as info:
        trailers.rmdir("/grid/gilda/trailers")
    assert info.value.errno == 39
    with pytest.raises(NotADirectory):
        trailers.rmdir("/grid/gilda/trailers/a")
    trailers.unlink("/grid/gilda/trailers/a")
    trailers.rmdir("/grid/gilda/trailers")
    assert list(trailers.iterdir("/grid/gilda")) == []
    with pytest.raises(NotPermitted):
        trailers.rmdir("/")


def test_rename_keeps_the_guid_and_moves_across_directories(trailers: Catalog) -> None:
    guid = add(trailers, "/grid/gilda/trailers/a", "srm://se1/a")
    trailers.mkdir("/grid/gilda/archive")
    before = trailers.stat("/grid/gilda/trailers/a")
    assert trailers.rename("/grid/gilda/trailers/a", "/grid/gilda/archive/b") == []
    after = trailers.stat("/grid/gilda/archive/b")
    assert (after.id, after.guid) == (before.id, guid)
    assert trailers.lfn_of(after.id) == "/grid/gilda/archive/b"
    assert trailers.lfns_of(guid) == ["/grid/gilda/archive/b"]
    assert [r.surl for r in trailers.replicas("/grid/gilda/archive/b")] == ["srm://se1/a"]
    trailers.rename("/grid/gilda/archive", "/grid/gilda/old")
    assert trailers.stat("/grid/gilda/old/b").guid == guid


def test_aliases_follow_what_they_point_at(trailers: Catalog) -> None:
    guid = add(trailers, "/grid/gilda/trailers/a_b%", "srm://se1/a")
    trailers.add_alias("/grid/gilda/trailers/a_b%", "/grid/gilda/alias")
    trailers.symlink("/grid/gilda/trailers", "/grid/gilda/dir-link")
    trailers.symlink("/grid/gilda/trailersX", "/grid/gilda/unrelated")
    trailers.rename("/grid/gilda/trailers/a_b%", "/grid/gilda/trailers/renamed")
    assert trailers.lfns_of(guid) == ["/grid/gilda/trailers/renamed", "/grid/gilda/alias"]
    trailers.rename("/grid/gilda/trailers", "/grid/gilda/moved")
    assert trailers.readlink("/grid/gilda/alias") == "/grid/gilda/moved/renamed"
    assert trailers.readlink("/grid/gilda/dir-link") == "/grid/gilda/trailers"  # a plain link
    assert trailers.readlink("/grid/gilda/unrelated") == "/grid/gilda/trailersX"
    assert trailers.stat("/grid/gilda/alias").guid == guid
    trailers.mkdir("/grid/gilda/Foo")
    trailers.symlink("/grid/gilda/foo/x", "/grid/gilda/lower")  # differs only in case
    trailers.rename("/grid/gilda/Foo", "/grid/gilda/Bar")
    assert trailers.readlink("/grid/gilda/lower") == "/grid/gilda/foo/x"


def test_aliases_go_with_their_file(trailers: Catalog) -> None:
    add(trailers, "/grid/gilda/trailers/a")
    other = add(trailers, "/grid/gilda/trailers/b")
    trailers.add_alias("/grid/gilda/trailers/a", "/grid/gilda/a-alias")
    trailers.add_alias("/grid/gilda/trailers/b", "/grid/gilda/b-alias")
    trailers.rename("/grid/gilda/trailers/a", "/grid/gilda/trailers/b")  # b is replaced
    # b's aliases name the LFN b: they lead to the file now there (an editor's save).
    assert trailers.stat("/grid/gilda/b-alias").guid == trailers.stat("/grid/gilda/trailers/b").guid
    assert trailers.stat("/grid/gilda/a-alias").guid != other
    trailers.unlink("/grid/gilda/trailers/b")
    with pytest.raises(NotFound):
        trailers.stat("/grid/gilda/a-alias", follow_symlinks=False)


def test_rename_replaces_as_posix_says(trailers: Catalog) -> None:
    add(trailers, "/grid/gilda/trailers/a", "srm://se1/a")
    add(trailers, "/grid/gilda/trailers/b", "srm://se1/b")
    replaced = trailers.rename("/grid/gilda/trailers/a", "/grid/gilda/trailers/b")
    assert [r.surl for r in replaced] == ["srm://se1/b"]
    assert [e.name for e in trailers.iterdir("/grid/gilda/trailers")] == ["b"]
    trailers.mkdir("/grid/gilda/d1")
    trailers.mkdir("/grid/gilda/d2")
    add(trailers, "/grid/gilda/d2/x")
    with pytest.raises(DirectoryNotEmpty):
        trailers.rename("/grid/gilda/d1", "/grid/gilda/d2")
    with pytest.raises(NotADirectory):
        trailers.rename("/grid/gilda/d1", "/grid/gilda/trailers/b")
    with pytest.raises(IsADirectory):
        trailers.rename("/grid/gilda/trailers/b", "/grid/gilda/d1")
    trailers.unlink("/grid/gilda/d2/x")
    trailers.rename("/grid/gilda/d1", "/grid/gilda/d2")  # an empty directory is replaced
    assert trailers.rename("/grid/gilda/d2", "/grid/gilda/d2") == []


def test_a_directory_cannot_move_into_itself(trailers: Catalog) -> None:
    trailers.mkdir("/grid/gilda/trailers/sub/deeper", parents=True)
    for destination in ("/grid/gilda/trailers/sub/deeper/x", "/grid/gilda/trailers/sub/t"):
        with pytest.raises(InvalidArgument, match="own subtree"):
            trailers.rename("/grid/gilda/trailers", destination)
    with pytest.raises(NotFound):
        trailers.rename("/grid/gilda/nope", "/grid/gilda/x")
    with pytest.raises(NotFound):
        trailers.rename("/grid/gilda/trailers", "/grid/nowhere/x")


def test_chmod_chown_utime(trailers: Catalog, catalog_url: str) -> None:
    add(trailers, "/grid/gilda/trailers/a")
    assert trailers.chmod("/grid/gilda/trailers/a", 0o640).mode == 0o640
    with pytest.raises(InvalidArgument):
        trailers.chmod("/grid/gilda/trailers/a", 0o17777)
    assert trailers.chown("/grid/gilda/trailers/a", group="atlas").group == "atlas"
    with pytest.raises(NotPermitted, match="member"):
        trailers.chown("/grid/gilda/trailers/a", group="cms")
    with pytest.raises(NotPermitted, match="superuser"):
        trailers.chown("/grid/gilda/trailers/a", owner="bob")
    entry = trailers.utime("/grid/gilda/trailers/a", 1_000_000_000, 2_000_000_000)
    assert (entry.atime_ns, entry.mtime_ns) == (1_000_000_000, 2_000_000_000)
    now = trailers.utime("/grid/gilda/trailers/a")
    assert now.mtime_ns > time.time_ns() - 60 * 10**9


def test_chown_clears_set_id_bits_as_linux_and_links_change_themselves(
    trailers: Catalog,
) -> None:
    lfn = "/grid/gilda/trailers/a"
    add(trailers, lfn)
    trailers.chmod(lfn, 0o6755)
    assert trailers.chown(lfn, group="atlas").mode == 0o755  # g+x: both bits go
    trailers.chmod(lfn, 0o6745)
    assert trailers.chown(lfn, group="gilda").mode == 0o2745  # set-gid without g+x: locking
    trailers.chmod(lfn, 0o6755)
    admin = trailers.as_identity(SUPERUSER)
    assert admin.chown(lfn, owner="bob").mode == 0o755  # by the superuser too, as ext4
    trailers.mkdir("/grid/gilda/trailers/d", 0o6775)
    # A directory keeps them.
    assert trailers.chown("/grid/gilda/trailers/d", group="atlas").mode == 0o6775
    trailers.symlink("a", "/grid/gilda/trailers/link")
    link = trailers.utime(
        "/grid/gilda/trailers/link", 1_000_000_000, 2_000_000_000, follow_symlinks=False
    )
    assert (link.is_symlink(), link.mtime_ns) == (True, 2_000_000_000)
    link = trailers.chown("/grid/gilda/trailers/link", group="atlas", follow_symlinks=False)
    assert (link.is_symlink(), link.group) == (True, "atlas")
    target = trailers.stat("/grid/gilda/trailers/link")
    assert (target.name, target.owner, target.mtime_ns != 2_000_000_000) == ("a", "bob", True)


def test_a_writer_may_drop_the_set_id_bits_and_nothing_more(trailers: Catalog) -> None:
    lfn = "/grid/gilda/trailers/a"
    add(trailers, lfn)
    trailers.chmod(lfn, 0o6666)
    bob = trailers.as_identity(BOB)
    with pytest.raises(NotPermitted):
        bob.chmod(lfn, 0o6664)  # not the owner: no other change
    assert bob.chmod(lfn, 0o666).mode == 0o666  # as the kernel asks before a write
    trailers.chmod(lfn, 0o6664)  # bob may not write now
    with pytest.raises(PermissionDenied):
        bob.chmod(lfn, 0o664)


def test_a_file_created_read_only_gets_its_first_version_from_its_creator(
    trailers: Catalog,
) -> None:
    made = trailers.add_file(
        "/grid/gilda/trailers/ro", size=0, mode=0o444, status=FileStatus.WRITING
    )
    version = {"size": 3, "checksum": ADLER, "checksum_type": "adler32", "se": "se1"}
    entry, _ = trailers.commit_version(made.id, surl="srm://se1/ro-v1", **version)
    assert (entry.status, entry.size) == (FileStatus.READY, 3)
    with pytest.raises(PermissionDenied):  # a next version needs write permission again
        trailers.commit_version(made.id, surl="srm://se1/ro-v2", **version)


def test_sizes_checksums_and_comments(trailers: Catalog) -> None:
    add(trailers, "/grid/gilda/trailers/a")
    entry, _ = trailers.commit_version(
        trailers.stat("/grid/gilda/trailers/a").id,
        size=4096,
        checksum_type="md5",
        checksum="0123456789abcdef0123456789abcdef",
        se="se1",
        surl="srm://se1/a-v2",
    )
    assert (entry.size, entry.checksum_type) == (4096, "md5")
    for bad in (("md5", "xyz"), ("sha1", "00"), ("adler32", "ABCDEF01")):
        with pytest.raises(InvalidArgument):
            trailers.commit_version(
                entry.id,
                size=1,
                checksum_type=bad[0],
                checksum=bad[1],
                se="se1",
                surl="srm://se1/a-v3",
            )
    trailers.set_comment("/grid/gilda/trailers/a", "director's cut")
    assert trailers.stat("/grid/gilda/trailers/a").comment == "director's cut"
    trailers.set_comment("/grid/gilda/trailers/a", None)
    assert trailers.stat("/grid/gilda/trailers/a").comment is None
    with pytest.raises(InvalidArgument):
        trailers.set_comment("/grid/gilda/trailers/a", "x" * 256)


def test_guid_calls_and_aliases(trailers: Catalog) -> None:
    guid = add(trailers, "/grid/gilda/trailers/matrix.mpg", "srm://se1/m", "srm://se2/m")
    assert trailers.guid_of("/grid/gilda/trailers/matrix.mpg") == guid
    trailers.add_alias("/grid/gilda/trailers/matrix.mpg", "/grid/gilda/neo.mpg")
    trailers.mkdir("/grid/gilda/favourites")
    # An alias made through an alias still points at the primary LFN.
    trailers.add_alias("/grid/gilda/neo.mpg", "/grid/gilda/favourites/m.mpg")
    assert trailers.lfns_of(guid) == [
        "/grid/gilda/trailers/matrix.mpg",
        "/grid/gilda/neo.mpg",
        "/grid/gilda/favourites/m.mpg",
    ]
    assert trailers.guid_of("/grid/gilda/neo.mpg") == guid
    assert trailers.surls_of(guid) == ["srm://se1/m", "srm://se2/m"]
    trailers.remove_alias("/grid/gilda/neo.mpg")
    assert trailers.lfns_of(guid) == [
        "/grid/gilda/trailers/matrix.mpg",
        "/grid/gilda/favourites/m.mpg",
    ]
    with pytest.raises(InvalidArgument, match="not an alias"):
        trailers.remove_alias("/grid/gilda/trailers/matrix.mpg")
    with pytest.raises(IsADirectory):
        trailers.add_alias("/grid/gilda/trailers", "/grid/gilda/t")
    with pytest.raises(IsADirectory):
        trailers.guid_of("/grid/gilda/trailers")
    with pytest.raises(NotFound):
        trailers.lfns_of("00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidArgument, match="not a GUID"):
        trailers.lfns_of("nonsense")


def test_create_with_a_given_guid_and_register_replicas(trailers: Catalog) -> None:
    guid = "6f1ce7ba-7c17-4e54-8fd2-3a3bd7e1d2a4"
    entry = trailers.add_file("/grid/gilda/trailers/x", size=123, guid=guid.upper())
    assert (entry.guid, entry.size, entry.checksum) == (guid, 123, None)
    trailers.add_replica(guid, "se1", "srm://se1/x", ReplicaStatus.BEING_WRITTEN)
    pinned = trailers.set_replica_status(
        "srm://se1/x", ReplicaStatus.AVAILABLE, pin_expiry_ns=5_000
    )
    assert (pinned.status, pinned.pin_expiry_ns) == (ReplicaStatus.AVAILABLE, 5_000)
    trailers.add_replica(guid, "se2", "srm://se2/x", ReplicaStatus.LOST)
    assert [(r.se, r.status) for r in trailers.replicas("/grid/gilda/trailers/x")] == [
        ("se1", ReplicaStatus.AVAILABLE),
        ("se2", ReplicaStatus.LOST),
    ]
    removed = trailers.remove_replica(guid, "srm://se2/x")
    assert removed.se == "se2"
    with pytest.raises(NotFound):
        trailers.remove_replica(guid, "srm://se2/x")
    with pytest.raises(NotFound):
        trailers.set_replica_status("srm://nowhere/x", ReplicaStatus.LOST)


def test_bulk_replica_resolution(trailers: Catalog) -> None:
    trailers.mkdir("/grid/gilda/runs/a", parents=True)
    trailers.mkdir("/grid/gilda/runs/b")
    lfns = []
    with trailers.transaction():
        for index in range(300):
            lfn = f"/grid/gilda/runs/{'ab'[index % 2]}/f{index:04}"
            add(trailers, lfn, f"srm://se1/f{index}", f"srm://se2/f{index}")
            lfns.append(lfn)
    trailers.symlink("/grid/gilda/runs/a", "/grid/gilda/latest")
    asked = [*lfns, "/grid/gilda/runs/a/missing", "/grid/gilda/latest/f0000", "/grid/gilda/runs"]
    found = trailers.replicas_many(asked)
    assert set(found) == {*lfns, "/grid/gilda/latest/f0000"}
    assert [r.surl for r in found["/grid/gilda/runs/b/f0001"]] == ["srm://se1/f1", "srm://se2/f1"]
    assert found["/grid/gilda/latest/f0000"] == found["/grid/gilda/runs/a/f0000"]
    assert trailers.replicas_many([]) == {}


def test_transactions_commit_together_or_not_at_all(trailers: Catalog) -> None:
    with trailers.transaction():
        add(trailers, "/grid/gilda/trailers/a")
        add(trailers, "/grid/gilda/trailers/b")
        assert len(list(trailers.iterdir("/grid/gilda/trailers"))) == 2

    def failing_block() -> None:
        with trailers.transaction():
            add(trailers, "/grid/gilda/trailers/c")
            trailers.rename("/grid/gilda/trailers/a", "/grid/gilda/trailers/d")
            add(trailers, "/grid/gilda/trailers/b")  # fails: all of the block is undone

    with pytest.raises(AlreadyExists):
        failing_block()
    names = sorted(e.name for e in trailers.iterdir("/grid/gilda/trailers"))
    assert names == ["a", "b"]
