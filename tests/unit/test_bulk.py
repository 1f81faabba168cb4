"""Registering many files at once: all or each refusal named, idempotent, as add_file would."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from gridfs.catalog import (
    SUPERUSER,
    AclEdit,
    Catalog,
    NewFile,
    ReplicaStatus,
    parse_acl,
)
from gridfs.catalog.guids import new_guids
from gridfs.errors import NotFound
from tests.conftest import BOB


def files(directory: str, count: int, *, start: int = 0) -> list[NewFile]:
    return [
        NewFile(
            f"{directory}/f{i}",
            size=i,
            checksum=f"{i:08x}",
            replicas=(("cern-se", f"srm://cern/{directory}/f{i}"),),
        )
        for i in range(start, start + count)
    ]


def test_many_files_are_registered_as_add_file_would(catalog: Catalog) -> None:
    catalog.mkdir("/grid/a", parents=True)
    catalog.mkdir("/grid/b")
    given = [*files("/grid/a", 1200), *files("/grid/b", 3)]
    done = catalog.add_files(given, space_token="DISK")
    assert (done.added, done.present, done.refused) == (1203, 0, ())
    entry = catalog.stat("/grid/a/f7")
    assert (entry.size, entry.checksum, entry.checksum_type) == (7, "00000007", "adler32")
    assert entry.owner == catalog.identity.user
    assert entry.mode == 0o664
    (replica,) = catalog.replicas("/grid/a/f7")
    assert (replica.se, replica.surl, replica.status) == (
        "cern-se",
        "srm://cern//grid/a/f7",
        ReplicaStatus.AVAILABLE,
    )
    assert catalog.lfns_of(entry.guid or "") == ["/grid/a/f7"]
    assert catalog.space_used("cern-se", "DISK") == sum(range(1200)) + 3
    assert len(list(catalog.iterdir("/grid/a"))) == 1200
    # The same again changes nothing; new files beside them are added.
    again = catalog.add_files([*given, *files("/grid/b", 2, start=3)])
    assert (again.added, again.present, again.refused) == (2, 1203, ())
    assert len(catalog.replicas("/grid/a/f7")) == 1


def test_every_column_of_a_bulk_entry_is_as_add_file_sets_it(catalog: Catalog) -> None:
    # The bulk INSERT names every column itself (rdev, has_acl...): none may be left unset.
    catalog.mkdir("/grid/a", parents=True)
    single = catalog.add_file("/grid/a/one", size=3, checksum="00000003")
    catalog.add_files([NewFile("/grid/a/two", size=3, checksum="00000003")])
    bulk = catalog.stat("/grid/a/two")
    assert bulk.guid is not None
    assert uuid.UUID(bulk.guid).version == 4
    different = ("id", "name", "guid", "atime_ns", "mtime_ns", "ctime_ns")
    assert dataclasses.replace(bulk, **{f: getattr(single, f) for f in different}) == single


def test_ids_of_removed_entries_are_not_given_again(catalog: Catalog) -> None:
    catalog.mkdir("/grid/a", parents=True)
    catalog.add_files(files("/grid/a", 3))
    last = catalog.stat("/grid/a/f2").id
    catalog.unlink("/grid/a/f2")
    catalog.add_files(files("/grid/a", 2, start=3))
    assert catalog.stat("/grid/a/f3").id > last
    assert catalog.stat("/grid/a/f4").id > catalog.stat("/grid/a/f3").id
    assert catalog.add_file("/grid/a/f5", size=5).id > catalog.stat("/grid/a/f4").id


def test_guids_made_in_bulk_are_random_version_4_uuids() -> None:
    made = new_guids(2000)
    assert len(set(made)) == 2000
    assert all(str(uuid.UUID(guid)) == guid for guid in made)
    assert {uuid.UUID(guid).version for guid in made} == {4}
    assert {uuid.UUID(guid).variant for guid in made} == {uuid.RFC_4122}
    assert {guid[19] for guid in made} == set("89ab")


def test_bad_files_are_refused_one_by_one_and_the_rest_registered(catalog: Catalog) -> None:
    catalog.mkdir("/grid/a", parents=True)
    catalog.add_file("/grid/a/taken", size=5, checksum="00000005")
    catalog.add_file("/grid/a/same", size=5, checksum="00000005")
    catalog.add_file(
        "/grid/a/other", size=1, checksum="00000001", replicas=[("cern-se", "srm://cern/used")]
    )
    guid = catalog.guid_of("/grid/a/other")
    given = [
        NewFile("/grid/a/ok", size=1, checksum="00000001"),
        NewFile("/grid/a/taken", size=6, checksum="00000006"),  # exists, other content
        NewFile("/grid/missing/f", size=1),  # no such directory
        NewFile("/grid/a/neg", size=-1),
        NewFile("/grid/a/sum", size=1, checksum="XYZ"),
        NewFile("/grid/a/dup-surl", size=1, replicas=(("cern-se", "srm://cern/used"),)),
        NewFile("/grid/a/dup-guid", size=1, guid=guid),
        NewFile("/grid/a/ok", size=1, checksum="00000001"),  # given twice
        NewFile("/grid/a/same", size=5, checksum="00000005"),  # present: the same
        NewFile("/grid/a/ok2", size=2, replicas=(("cern-se", "srm://cern/ok2"),)),
    ]
    done = catalog.add_files(given)
    assert (done.added, done.present) == (2, 1)
    reasons = dict(done.refused)
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7]
    assert "exists: size 5, not 6" in reasons[1]
    assert "/grid/missing" in reasons[2]
    assert "negative size" in reasons[3]
    assert "checksum" in reasons[4]
    assert "another file's replica" in reasons[5]
    assert "is taken" in reasons[6]
    assert "given twice" in reasons[7]
    assert catalog.stat("/grid/a/ok").size == 1
    assert [r.surl for r in catalog.replicas("/grid/a/ok2")] == ["srm://cern/ok2"]
    for name in ("neg", "sum", "dup-surl", "dup-guid"):
        with pytest.raises(NotFound):
            catalog.stat(f"/grid/a/{name}")


def test_a_directory_the_caller_may_not_write_refuses_its_files(catalog: Catalog) -> None:
    catalog.mkdir("/grid/mine", parents=True)
    catalog.chmod("/grid/mine", 0o755)
    bob = catalog.as_identity(BOB)
    done = bob.add_files(files("/grid/mine", 3))
    assert done.added == 0
    assert [reason.split(": ", 1)[1] for _, reason in done.refused] == [
        "permission denied: /grid/mine"
    ] * 3
    assert list(catalog.iterdir("/grid/mine")) == []


def test_a_replica_joins_a_registered_file_only_with_write_permission_on_it(
    catalog: Catalog,
) -> None:
    catalog.mkdir("/grid/open", parents=True)
    catalog.chmod("/grid/open", 0o777)
    (mine,) = files("/grid/open", 1)
    catalog.add_files([mine])
    catalog.chmod(mine.lfn, 0o644)
    bob = catalog.as_identity(BOB)
    theirs = dataclasses.replace(mine, replicas=(("cern-se", "srm://cern/bob-copy"),))
    # The same content, already registered, with nothing to add: present.
    assert bob.add_files([mine]).present == 1
    done = bob.add_files([theirs])
    assert (done.added, done.present) == (0, 0)
    assert done.refused == ((0, f"{mine.lfn}: permission denied: {mine.lfn}"),)
    assert [r.surl for r in catalog.replicas(mine.lfn)] == [mine.replicas[0][1]]
    catalog.chmod(mine.lfn, 0o666)
    assert bob.add_files([theirs]).present == 1
    assert len(catalog.replicas(mine.lfn)) == 2


def test_default_acls_and_setgid_directories_are_inherited(catalog: Catalog) -> None:
    admin = catalog.as_identity(SUPERUSER)
    admin.mkdir("/grid/shared", parents=True)
    admin.chown("/grid/shared", catalog.identity.user, "atlas")
    catalog.chmod("/grid/shared", 0o2775)
    catalog.edit_acl("/grid/shared", AclEdit(modify=tuple(parse_acl("default:user:bob:r-x"))))
    catalog.add_files([NewFile("/grid/shared/f", size=1)])
    single = catalog.add_file("/grid/shared/g", size=1)
    bulk = catalog.stat("/grid/shared/f")
    assert (bulk.group, bulk.mode) == (single.group, single.mode) == ("atlas", bulk.mode)
    assert catalog.getacl("/grid/shared/f") == catalog.getacl("/grid/shared/g")
