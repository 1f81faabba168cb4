"""cp, del and sum on a real catalog (SQLite and PostgreSQL) and real file:// SEs."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from gridfs.catalog import Replica, ReplicaStatus
from gridfs.errors import (
    AlreadyExists,
    ChecksumMismatch,
    InvalidArgument,
    IsADirectory,
    NoReplicaAvailable,
    NoSpace,
    NotFound,
    UnknownSE,
)
from gridfs.gfal import Grid
from gridfs.gfal.checksums import Verify, checksum
from gridfs.gfal.copy import copy, copy_grid, copy_in, copy_out, resolve_destination
from gridfs.gfal.delete import delete
from gridfs.gfal.locations import Location, parse_location
from gridfs.gfal.readahead import COPY_CHUNK
from gridfs.gfal.sweep import sweep
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from tests.conftest import needs_tmpfs, small_disk, stored_files

DIR = "/grid/gilda"


@pytest.fixture
def grid(any_grid: Grid) -> Grid:
    """Three file:// SEs in ``tmp_path``, the catalog on SQLite or PostgreSQL."""
    return any_grid


def stored_path(grid: Grid, lfn: str, se: str) -> Path:
    (surl,) = [r.surl for r in grid.catalog.replicas(lfn) if r.se == se]
    return Path(turl_to_path(resolve_turl(surl, grid.ses.get(se), ["file"])))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lfn:/grid/gilda/a", Location("/grid/gilda/a", on_grid=True)),
        ("lfn:///grid/gilda/a", Location("/grid/gilda/a", on_grid=True)),
        ("/grid/gilda/a", Location("/grid/gilda/a", on_grid=True)),
        ("/grid", Location("/grid", on_grid=True)),
        ("/gridiron/a", Location("/gridiron/a", on_grid=False)),
        ("/tmp/a", Location("/tmp/a", on_grid=False)),
        ("a/b", Location("a/b", on_grid=False)),
        ("file:///grid/gilda/a", Location("/grid/gilda/a", on_grid=False)),
        ("file:/tmp/a%20b", Location("/tmp/a b", on_grid=False)),
    ],
)
def test_locations_are_told_apart_as_gfal_copy_does(text: str, expected: Location) -> None:
    assert parse_location(text, "/grid") == expected


def test_urls_of_ses_and_remote_files_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="not a root:// URL"):
        parse_location("root://host//data/x")
    with pytest.raises(InvalidArgument, match="must name a local file"):
        parse_location("file://elsewhere/x")


def test_copy_out_is_verified_and_never_clobbers_without_overwrite(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    source = make_file("run.dat", 3_000_001)
    entry = grid.cr(source, f"{DIR}/run.dat")
    out = tmp_path / "out"
    out.mkdir()
    copied = copy_out(grid, f"{DIR}/run.dat", out / "run.dat")
    assert copied.size == 3_000_001
    assert copied.checksum == entry.checksum
    assert (out / "run.dat").read_bytes() == source.read_bytes()
    (out / "run.dat").write_bytes(b"mine")
    with pytest.raises(AlreadyExists, match="overwrite it with -f"):
        copy_out(grid, f"{DIR}/run.dat", out / "run.dat")
    assert (out / "run.dat").read_bytes() == b"mine"
    copy_out(grid, f"{DIR}/run.dat", out / "run.dat", overwrite=True)
    assert (out / "run.dat").read_bytes() == source.read_bytes()
    with pytest.raises(IsADirectory):
        copy_out(grid, f"{DIR}/run.dat", out)
    with pytest.raises(IsADirectory):
        copy_out(grid, DIR, out / "d")
    assert leftovers(out) == []


@pytest.mark.expect_warnings
def test_a_corrupt_replica_is_caught_and_leaves_nothing_local(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    grid.cr(make_file("f", 500_000), f"{DIR}/f")
    stored = stored_path(grid, f"{DIR}/f", "cern-se")
    stored.write_bytes(b"\0" * 500_000)  # bit rot: same size, other bytes
    # The only replica is corrupt: marked bad, there is none left to read.
    with pytest.raises(NoReplicaAvailable, match="read is corrupt"):
        copy_out(grid, f"{DIR}/f", tmp_path / "f")
    assert [r.status.value for r in grid.replicas(f"{DIR}/f")] == ["bad"]
    assert not (tmp_path / "f").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.expect_warnings
def test_a_copy_read_ahead_in_chunks_is_whole_and_a_corrupt_chunk_is_caught(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    size = COPY_CHUNK * 5 // 2 + 7  # several chunks in the ring of read-ahead buffers
    source = make_file("big", size)
    grid.cr(source, f"{DIR}/big")
    copy_out(grid, f"{DIR}/big", tmp_path / "big")
    assert (tmp_path / "big").read_bytes() == source.read_bytes()
    with stored_path(grid, f"{DIR}/big", "cern-se").open("r+b") as stored:
        stored.seek(COPY_CHUNK + 5)  # in the second chunk
        stored.write(b"\xff\x00")
    with pytest.raises(NoReplicaAvailable, match="read is corrupt"):
        copy_out(grid, f"{DIR}/big", tmp_path / "again")
    assert not (tmp_path / "again").exists()
    assert leftovers(tmp_path) == []


@needs_tmpfs
def test_copy_out_to_a_full_disk_leaves_nothing(grid: Grid, make_file, tmp_path: Path) -> None:
    grid.cr(make_file("big", 3_000_000), f"{DIR}/big")
    grid.cr(make_file("small", 10_000), f"{DIR}/small")
    disk = tmp_path / "disk"
    with small_disk(disk, "1m"):
        with pytest.raises(NoSpace) as info:
            copy_out(grid, f"{DIR}/big", disk / "big")
        assert info.value.errno == 28
        assert list(disk.iterdir()) == []
        copy_out(grid, f"{DIR}/small", disk / "small")
        assert [p.name for p in disk.iterdir()] == ["small"]


def test_copy_in_with_overwrite_replaces_the_file_and_its_replicas(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    old = grid.cr(make_file("v1", 1000, seed=1), f"{DIR}/data")
    grid.rep(f"{DIR}/data", "ral-se")
    old_copies = set(stored_files(tmp_path))
    assert len(old_copies) == 2
    with pytest.raises(AlreadyExists, match="overwrite it with -f"):
        copy_in(grid, make_file("v2", 2000, seed=2), f"{DIR}/data")
    copied = copy_in(grid, make_file("v2", 2000, seed=2), f"{DIR}/data", overwrite=True)
    assert copied.size == 2000
    entry = grid.stat(f"{DIR}/data")
    assert entry.guid != old.guid
    assert entry.size == 2000
    assert grid.listdir(DIR) == ["data"]  # no temporary name left
    assert old_copies.isdisjoint(stored_files(tmp_path))  # the old replicas are gone
    with grid.open(f"{DIR}/data") as stream:
        assert stream.read() == make_file("v2", 2000, seed=2).read_bytes()


def test_copy_grid_makes_a_new_file_from_the_best_replica(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    source = make_file("orig", 1_234_567)
    original = grid.cr(source, f"{DIR}/orig")
    copied = copy_grid(grid, f"{DIR}/orig", f"{DIR}/copy", "ral-se")
    new = grid.stat(f"{DIR}/copy")
    assert new.guid != original.guid
    assert (new.size, new.checksum) == (original.size, original.checksum)
    assert copied.checksum == original.checksum
    assert stored_path(grid, f"{DIR}/copy", "ral-se").read_bytes() == source.read_bytes()
    with pytest.raises(AlreadyExists):
        copy_grid(grid, f"{DIR}/orig", f"{DIR}/copy")
    assert len(stored_files(tmp_path)) == 2


def test_copy_grid_from_a_corrupt_replica_stores_and_registers_nothing(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    grid.cr(make_file("orig", 700_000), f"{DIR}/orig")
    stored_path(grid, f"{DIR}/orig", "cern-se").write_bytes(b"\1" * 700_000)
    with pytest.raises(ChecksumMismatch):
        copy_grid(grid, f"{DIR}/orig", f"{DIR}/copy", "ral-se")
    with pytest.raises(NotFound):
        grid.stat(f"{DIR}/copy")
    assert len(stored_files(tmp_path)) == 1


def test_copy_dispatches_on_locations_and_makes_parents(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    source = make_file("x", 5000)
    local = Location(str(source), on_grid=False)
    copy(grid, local, Location(f"{DIR}/a/b/x", on_grid=True), parents=True)
    copy(
        grid,
        Location(f"{DIR}/a/b/x", on_grid=True),
        Location(str(tmp_path / "p" / "q" / "x"), on_grid=False),
        parents=True,
    )
    assert (tmp_path / "p" / "q" / "x").read_bytes() == source.read_bytes()
    with pytest.raises(InvalidArgument, match="use cp"):
        copy(grid, local, Location(str(tmp_path / "y"), on_grid=False))
    into = resolve_destination(grid, local, Location(DIR, on_grid=True))
    assert into == Location(f"{DIR}/x", on_grid=True)
    assert resolve_destination(
        grid, Location(f"{DIR}/a/b/x", True), Location(str(tmp_path), False)
    ) == Location(str(tmp_path / "x"), on_grid=False)


def test_del_one_replica_then_the_last_removes_the_file(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    grid.cr(make_file("f", 1000), f"{DIR}/f")
    grid.rep(f"{DIR}/f", "ral-se")
    grid.aa(f"{DIR}/f", f"{DIR}/alias")
    ral_copy = stored_path(grid, f"{DIR}/f", "ral-se")
    (ral,) = [r.surl for r in grid.catalog.replicas(f"{DIR}/f") if r.se == "ral-se"]
    assert delete(grid, f"{DIR}/alias", se="ral-se") == [ral]
    assert not ral_copy.exists()
    assert [r.se for r in grid.catalog.replicas(f"{DIR}/f")] == ["cern-se"]
    with pytest.raises(NotFound, match="has no replica on ral-se"):
        delete(grid, f"{DIR}/f", se="ral-se")
    (surl,) = grid.lr(f"{DIR}/f")
    assert delete(grid, f"{DIR}/f", surl=surl) == [surl]
    assert grid.listdir(DIR) == []  # the file and its alias went with the last replica
    assert stored_files(tmp_path) == []


def test_del_all_removes_every_replica_and_the_entry(grid: Grid, make_file, tmp_path: Path) -> None:
    grid.cr(make_file("f", 1000), f"{DIR}/f")
    grid.rep(f"{DIR}/f", "ral-se")
    grid.rep(f"{DIR}/f", "infn-se")
    assert len(delete(grid, f"{DIR}/f", all_replicas=True)) == 3
    assert grid.listdir(DIR) == []
    assert stored_files(tmp_path) == []
    with pytest.raises(InvalidArgument, match="say which replica"):
        delete(grid, f"{DIR}/f")
    with pytest.raises(IsADirectory):
        delete(grid, DIR, all_replicas=True)


def test_a_failed_deletion_leaves_the_replica_registered_and_available(
    grid: Grid, make_file
) -> None:
    entry = grid.cr(make_file("f", 1000), f"{DIR}/f")
    assert entry.guid is not None
    grid.catalog.add_replica(entry.guid, "gone-se", "srm://gone/grid/f")
    with pytest.raises(UnknownSE):
        delete(grid, f"{DIR}/f", se="gone-se")
    statuses = {r.se: r.status for r in grid.catalog.replicas(f"{DIR}/f")}
    assert statuses == {"cern-se": ReplicaStatus.AVAILABLE, "gone-se": ReplicaStatus.AVAILABLE}


def test_sum_gives_the_catalogs_checksum_or_recomputes_it(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    source = make_file("f", 300_000)
    data = source.read_bytes()
    grid.cr(source, f"{DIR}/f")
    grid.rep(f"{DIR}/f", "ral-se")
    adler = f"{zlib.adler32(data):08x}"
    report = checksum(grid, f"{DIR}/f")
    assert (report.catalog, report.value, report.replicas) == (adler, adler, ())
    best = checksum(grid, f"{DIR}/f", verify=Verify.BEST)
    assert [r.value for r in best.replicas] == [adler]
    md5 = checksum(grid, f"{DIR}/f", "MD5")
    assert md5.catalog is None
    assert md5.value == hashlib.md5(data).hexdigest()
    stored_path(grid, f"{DIR}/f", "ral-se").write_bytes(b"\0" * 300_000)
    every = checksum(grid, f"{DIR}/f", "adler32", verify=Verify.ALL)
    assert [r.se for r in every.mismatches()] == ["ral-se"]
    assert {r.se for r in every.replicas} == {"cern-se", "ral-se"}
    assert checksum(grid, f"{DIR}/f", verify=Verify.BEST).mismatches() == []  # cern-se: near
    stored_path(grid, f"{DIR}/f", "cern-se").write_bytes(b"\1" * 300_000)
    best = checksum(grid, f"{DIR}/f", verify=Verify.BEST)
    assert [r.se for r in best.mismatches()] == ["cern-se"]
    assert best.recomputed != best.value == adler
    with pytest.raises(InvalidArgument, match="unknown checksum type"):
        checksum(grid, f"{DIR}/f", "sha3")


def test_sweep_deletes_what_no_replica_names(grid: Grid, make_file, tmp_path: Path) -> None:
    grid.cr(make_file("kept", 1000), f"{DIR}/kept")
    grid.cr(make_file("dropped", 2000), f"{DIR}/dropped")
    (surl,) = grid.lr(f"{DIR}/dropped")
    grid.uf(surl, f"{DIR}/dropped")  # unregistered, the copy stays: dark data
    orphan = stored_path(grid, f"{DIR}/kept", "cern-se").with_name(".file-x.part-00000001")
    orphan.write_bytes(b"half")  # what a dying SE keeps of an upload
    stranger = orphan.with_name("notes.txt")
    stranger.write_bytes(b"not ours")
    assert sweep(grid, "cern-se") == []  # everything is younger than an hour
    found = sweep(grid, "cern-se", older_than_s=0, delete=False)
    assert sorted((d.surl.rsplit("/", 1)[-1], d.size, d.partial) for d in found) == [
        (".file-x.part-00000001", 4, True),
        (surl.rsplit("/", 1)[-1], 2000, False),
    ]
    assert len(stored_files(tmp_path)) == 4  # a dry run deletes nothing
    assert len(sweep(grid, "cern-se", older_than_s=0)) == 2
    assert sorted(p.name for p in stored_files(tmp_path)) == sorted(
        [stored_path(grid, f"{DIR}/kept", "cern-se").name, "notes.txt"]
    )
    assert sweep(grid, "ral-se", older_than_s=0) == []  # nothing stored there at all


def test_sweep_keeps_later_versions_of_a_file(grid: Grid, make_file) -> None:
    lfn = f"{DIR}/versioned"
    grid.cr(make_file("versioned", 1000), lfn)
    with grid.open(lfn, "r+b") as stream:  # the new version is stored as file-GUID-VERSION
        stream.write(b"v2")
    (surl,) = grid.lr(lfn)
    assert surl.rsplit("/", 1)[-1].startswith(f"file-{grid.stat(lfn).guid}-")
    assert sweep(grid, "cern-se", older_than_s=0) == []
    with grid.open(lfn) as stream:
        assert stream.read(2) == b"v2"


def test_dels_at_once_that_take_every_copy_remove_the_file(
    grid: Grid, make_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lfn = f"{DIR}/raced"
    grid.cr(make_file("raced", 1000), lfn)
    grid.rep(lfn, "ral-se")
    (other,) = [r for r in grid.catalog.replicas(lfn) if r.se == "cern-se"]
    real_delete_stored = grid.storage.delete_stored

    def while_another_del_runs(replica: Replica) -> None:
        # The other del, which also saw two copies, takes cern-se meanwhile.
        grid.catalog.set_replica_status(other.surl, ReplicaStatus.UNAVAILABLE)
        real_delete_stored(other)
        grid.catalog.remove_replica(other.guid, other.surl)
        real_delete_stored(replica)

    monkeypatch.setattr(grid.storage, "delete_stored", while_another_del_runs)
    delete(grid, lfn, se="ral-se")
    with pytest.raises(NotFound):
        grid.stat(lfn)  # no file is left registered without a replica
    assert stored_files(tmp_path) == []
