"""Reads check what they read: a corrupt replica fails the read, is marked bad, and is avoided."""

from __future__ import annotations

import errno
import random
import zlib
from pathlib import Path

import pytest

from gridfs.catalog import EntryId, EntryKind, ReplicaStatus, Stat
from gridfs.errors import ChecksumMismatch, NoReplicaAvailable, PermissionDenied
from gridfs.gfal import Corrupt, Grid, ReadCheck, delete
from gridfs.gfal.copy import copy_out
from gridfs.gfal.readcheck import adler32_combine
from tests.conftest import BOB
from tests.unit.test_gfal import TRAILERS, replica_path

LFN = f"{TRAILERS}/run.root"


def _entry(data: bytes) -> Stat:
    return Stat(
        id=EntryId(1),
        parent_id=None,
        name="f",
        kind=EntryKind.FILE,
        mode=0o644,
        owner="alice",
        group="gilda",
        size=len(data),
        atime_ns=0,
        mtime_ns=0,
        ctime_ns=0,
        checksum_type="adler32",
        checksum=f"{zlib.adler32(data):08x}",
    )


def test_adler32_combine_is_zlibs() -> None:
    rng = random.Random(3)
    for _ in range(50):
        first = rng.randbytes(rng.randrange(0, 200_000))
        second = rng.randbytes(rng.randrange(0, 200_000))
        assert adler32_combine(
            zlib.adler32(first), zlib.adler32(second), len(second)
        ) == zlib.adler32(first + second)


def test_the_check_takes_pieces_in_any_order_and_fails_the_one_that_completes() -> None:
    data = random.Random(1).randbytes(1_000_000)
    pieces = [(offset, data[offset : offset + 131072]) for offset in range(0, len(data), 131072)]
    shuffled = [pieces[0], *random.Random(2).sample(pieces[1:], len(pieces) - 1)]
    check = ReadCheck(_entry(data), "/grid/f")
    for offset, piece in shuffled:  # as concurrent readahead hands them out: no error
        check.update(offset, piece, "srm://a/f")
    wrong = ReadCheck(_entry(data[:-1] + b"!"), "/grid/f")
    for offset, piece in shuffled[:-1]:
        wrong.update(offset, piece, "srm://a/f")
    with pytest.raises(Corrupt) as info:
        wrong.update(*shuffled[-1], "srm://a/f")
    assert info.value.errno == errno.EIO
    assert info.value.source == "srm://a/f"
    assert str(info.value) == (
        f"the replica srm://a/f read is corrupt: adler32 {zlib.adler32(data):08x}, "
        f"catalog says {_entry(data[:-1] + b'!').checksum}"
    )


def test_the_check_blames_no_replica_for_bytes_from_several_and_ends_on_a_reread() -> None:
    data = bytes(range(256)) * 100
    entry = _entry(b"x" * len(data))
    mixed = ReadCheck(entry, "/grid/f")
    mixed.update(0, data[:100], "srm://a/f")
    with pytest.raises(Corrupt, match=r"^/grid/f \(from several copies\) read is corrupt") as info:
        mixed.update(100, data[100:], None)  # from a cache: nobody knows which copy
    assert info.value.source is None
    reread = ReadCheck(entry, "/grid/f")
    reread.update(0, data[:100], "srm://a/f")
    reread.update(50, data[50:150], "srm://a/f")  # out of order: not one pass, not checked
    assert not reread.wants(150)
    reread.update(150, data[150:], "srm://a/f")
    assert reread.wants(0)  # a read from the start begins a new pass


def _bad_and_good(grid: Grid, make_file, size: int = 3_000_000) -> tuple[bytes, str, str]:
    """A file on cern-se (read first: this client is at CERN) and ral-se; the CERN copy corrupt."""
    source = make_file("run.root", size)
    grid.cr(source, LFN, se="cern-se")
    grid.rep(LFN, "ral-se")
    bad = replica_path(grid, LFN, "cern-se")
    data = source.read_bytes()
    bad.write_bytes(data[: size // 2] + bytes(size - size // 2))  # same size, wrong content
    surls = {r.se: r.surl for r in grid.replicas(LFN)}
    return data, surls["cern-se"], surls["ral-se"]


def _status(grid: Grid, surl: str) -> ReplicaStatus:
    return next(r.status for r in grid.replicas(LFN) if r.surl == surl)


@pytest.mark.expect_warnings
def test_open_fails_the_last_read_marks_the_replica_bad_and_goes_on_from_the_next(
    grid: Grid, make_file
) -> None:
    data, bad, good = _bad_and_good(grid, make_file)
    expected = grid.stat(LFN).checksum
    with grid.open(LFN) as stream:
        assert stream.raw.replica.surl == bad
        with pytest.raises(ChecksumMismatch) as info:
            stream.read()
        assert info.value.errno == errno.EIO
        assert str(info.value).startswith(f"the replica {bad} read is corrupt: adler32 ")
        assert str(info.value).endswith(f", catalog says {expected}")
        assert _status(grid, bad) is ReplicaStatus.BAD
        assert stream.raw.replica.surl == good  # the same reader goes on from the good copy
        stream.seek(0)
        assert stream.read() == data
    assert grid.lr(LFN) == [good]
    with grid.open(LFN, buffering=0) as stream:  # later opens never try the bad copy
        assert stream.replica.surl == good
        assert stream.readall() == data


@pytest.mark.expect_warnings
def test_the_only_replica_corrupt_fails_with_eio_then_no_replica(grid: Grid, make_file) -> None:
    source = make_file("only", 200_000)
    lfn = f"{TRAILERS}/only"
    grid.cr(source, lfn)
    path = replica_path(grid, lfn, "cern-se")
    path.write_bytes(bytes(200_000))
    with grid.open(lfn) as stream, pytest.raises(ChecksumMismatch, match="read is corrupt"):
        stream.read()
    (replica,) = grid.replicas(lfn)
    assert replica.status is ReplicaStatus.BAD
    with pytest.raises(NoReplicaAvailable, match=r"\(bad\)"):
        grid.open(lfn)


@pytest.mark.expect_warnings
def test_a_file_read_in_pieces_out_of_order_is_not_checked(grid: Grid, make_file) -> None:
    data, bad, _ = _bad_and_good(grid, make_file, 100_000)
    with grid.open(LFN, buffering=0) as stream:
        stream.seek(50_000)
        tail = stream.read()
        stream.seek(0)
        head = stream.read(50_000)
    assert len(head + tail) == len(data)
    assert _status(grid, bad) is ReplicaStatus.AVAILABLE


@pytest.mark.expect_warnings
def test_cp_fails_over_from_a_corrupt_replica_and_marks_it(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    data, bad, good = _bad_and_good(grid, make_file)
    copied = copy_out(grid, LFN, tmp_path / "out.root")
    assert (tmp_path / "out.root").read_bytes() == data
    assert copied.checksum == grid.stat(LFN).checksum
    assert _status(grid, bad) is ReplicaStatus.BAD
    assert list(tmp_path.glob(".out.root.*")) == []  # no partial copy left
    # Later copies read the good one only.
    copy_out(grid, LFN, tmp_path / "again.root")
    assert (tmp_path / "again.root").read_bytes() == data
    # Replaced on its SE (a copy of the good one; the bad one is no copy to count)...
    replaced = grid.rep(LFN, "cern-se")
    assert replaced.surl not in (bad, good)
    assert replica_path_by_se(grid, "cern-se", replaced.surl).read_bytes() == data
    # ...then deleted by its SURL, its stored copy too.
    bad_path = replica_path_by_se(grid, "cern-se", bad)
    assert delete(grid, LFN, surl=bad) == [bad]
    assert not bad_path.exists()
    assert sorted(grid.lr(LFN)) == sorted([good, replaced.surl])


@pytest.mark.expect_warnings
def test_a_bad_replica_is_deleted_by_its_se_and_the_file_stays(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    data, bad, good = _bad_and_good(grid, make_file, 10_000)
    copy_out(grid, LFN, tmp_path / "out")
    assert delete(grid, LFN, se="cern-se") == [bad]
    assert [r.surl for r in grid.replicas(LFN)] == [good]
    with grid.open(LFN) as stream:
        assert stream.read() == data


def replica_path_by_se(grid: Grid, se: str, surl: str) -> Path:
    from gridfs.storage import resolve_turl  # noqa: PLC0415
    from gridfs.storage.file_backend import turl_to_path  # noqa: PLC0415

    return Path(turl_to_path(resolve_turl(surl, grid.ses.get(se), ["file"])))


@pytest.mark.expect_warnings
def test_cp_of_a_file_whose_every_replica_is_corrupt_fails_and_leaves_nothing(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    _, bad, good = _bad_and_good(grid, make_file, 50_000)
    replica_path(grid, LFN, "ral-se").write_bytes(bytes(50_000))
    with pytest.raises(NoReplicaAvailable, match="read is corrupt"):
        copy_out(grid, LFN, tmp_path / "out")
    assert {_status(grid, bad), _status(grid, good)} == {ReplicaStatus.BAD}
    assert list(tmp_path.glob("*out*")) == []


@pytest.mark.expect_warnings
def test_any_reader_may_mark_a_replica_bad_others_not(grid: Grid, make_file) -> None:
    grid.cr(make_file("shared", 1000), LFN)
    (replica,) = grid.replicas(LFN)
    grid.chmod(LFN, 0o600)
    with pytest.raises(PermissionDenied):
        grid.as_identity(BOB).mark_bad(replica, "bob cannot read it")
    grid.chmod(LFN, 0o644)
    marked = grid.as_identity(BOB).mark_bad(replica, "bob read it wrong")
    assert marked.status is ReplicaStatus.BAD
    assert grid.as_identity(BOB).mark_bad(replica, "again").status is ReplicaStatus.BAD
