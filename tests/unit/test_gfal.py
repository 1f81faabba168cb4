"""The gfal layer on a real catalog and real file:// SEs in a temp dir."""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

import gridfs
from gridfs.config import load_config
from gridfs.errors import (
    AlreadyExists,
    ChecksumMismatch,
    InvalidArgument,
    InvalidLFN,
    IsADirectory,
    NoReplicaAvailable,
    NoSpace,
    NotADirectory,
    NotFound,
    PermissionDenied,
    ReadOnly,
    UnknownSE,
)
from gridfs.gfal import Grid, ReplicaAccess
from gridfs.storage.file_backend import turl_to_path
from tests.conftest import BOB, make_vo, needs_tmpfs, small_disk, stored_files

TRAILERS = "/grid/gilda/trailers"


def replica_path(grid: Grid, lfn: str, se: str) -> Path:
    from gridfs.storage import resolve_turl  # noqa: PLC0415

    (surl,) = [r.surl for r in grid.catalog.replicas(lfn) if r.se == se]
    return Path(turl_to_path(resolve_turl(surl, grid.ses.get(se), ["file"])))


def test_cr_then_read_everything_back(grid: Grid, make_file) -> None:
    source = make_file("matrix.mpg", 2_500_000)
    entry = grid.cr(source, f"{TRAILERS}/matrix.mpg")
    assert entry.size == 2_500_000
    assert entry.checksum_type == "adler32"
    (surl,) = grid.lr(f"{TRAILERS}/matrix.mpg")
    assert surl.startswith("srm://cern-se.cern.example/grid/generated/")
    assert surl.endswith(f"file-{entry.guid}")
    assert (
        replica_path(grid, f"{TRAILERS}/matrix.mpg", "cern-se").read_bytes() == source.read_bytes()
    )
    assert grid.listdir(TRAILERS) == ["matrix.mpg"]
    assert grid.stat(f"{TRAILERS}/matrix.mpg").mode == source.stat().st_mode & 0o777


def test_open_is_a_real_binary_file(grid: Grid, make_file) -> None:
    data = make_file("alien.mpg", 1_000_003).read_bytes()
    grid.cr(make_file("alien.mpg", 1_000_003), f"{TRAILERS}/alien.mpg")
    with grid.open(f"{TRAILERS}/alien.mpg") as stream:
        assert isinstance(stream, io.BufferedIOBase)
        assert stream.readable()
        assert stream.seekable()
        assert not stream.writable()
        assert stream.name == f"{TRAILERS}/alien.mpg"
        assert stream.read(10) == data[:10]
        assert stream.tell() == 10
        stream.seek(-7, os.SEEK_END)
        assert stream.read() == data[-7:]
        stream.seek(500_000)
        buffer = bytearray(1000)
        assert stream.readinto(buffer) == 1000
        assert bytes(buffer) == data[500_000:501_000]
        stream.seek(0)
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(data).digest()
        assert stream.read() == b""
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        stream.read(1)
    raw = grid.open(f"{TRAILERS}/alien.mpg", buffering=0)
    assert raw.read(5) == data[:5]
    assert raw.replica.se == "cern-se"
    raw.close()


def test_open_works_where_python_takes_a_file(grid: Grid, tmp_path: Path) -> None:
    archive = tmp_path / "posters.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("matrix.txt", "The Matrix (1999)\n" * 100)
        zf.writestr("alien.txt", "Alien (1979)\n")
    grid.cr(archive, f"{TRAILERS}/posters.zip")
    with grid.open(f"{TRAILERS}/posters.zip") as stream, zipfile.ZipFile(stream) as zf:
        assert zf.read("alien.txt") == b"Alien (1979)\n"
    bundle = tmp_path / "bundle.tar"
    with tarfile.open(bundle, "w") as tf:
        tf.add(archive, arcname="posters.zip")
    grid.cr(bundle, f"{TRAILERS}/bundle.tar")
    with grid.open(f"{TRAILERS}/bundle.tar") as stream, tarfile.open(fileobj=stream) as tf:
        assert tf.getnames() == ["posters.zip"]
    with grid.open(f"{TRAILERS}/posters.zip") as stream:
        text = io.TextIOWrapper(stream, encoding="latin-1")
        assert text.read(2) == "PK"
    copy = tmp_path / "copy.zip"
    with grid.open(f"{TRAILERS}/posters.zip") as stream, copy.open("wb") as out:
        shutil.copyfileobj(stream, out)
    assert copy.read_bytes() == archive.read_bytes()


def test_rep_adds_a_verified_replica_and_reads_prefer_the_local_site(config, make_file) -> None:
    source = make_file("amelie.mpg", 300_000)
    # This client sits at RAL: it reads the RAL copy once there is one.
    with Grid.from_config(config) as at_cern:
        make_vo(at_cern)
        at_cern.makedirs(TRAILERS)
        at_cern.cr(source, f"{TRAILERS}/amelie.mpg", se="infn-se")
        storage = at_cern.storage
        grid = Grid(
            at_cern.catalog,
            ReplicaAccess(storage.ses, local_site="ral", protocols=storage.protocols),
            metadata=at_cern.metadata,
        )
        with grid.open(f"{TRAILERS}/amelie.mpg", buffering=0) as stream:
            assert stream.replica.se == "infn-se"
        replica = grid.rep(f"{TRAILERS}/amelie.mpg", "ral-se")
        assert replica.se == "ral-se"
        assert sorted(r.se for r in grid.catalog.replicas(f"{TRAILERS}/amelie.mpg")) == [
            "infn-se",
            "ral-se",
        ]
        assert replica_path(grid, f"{TRAILERS}/amelie.mpg", "ral-se").read_bytes() == (
            source.read_bytes()
        )
        for _ in range(5):
            with grid.open(f"{TRAILERS}/amelie.mpg", buffering=0) as stream:
                assert stream.replica.se == "ral-se"
        with pytest.raises(AlreadyExists):
            grid.rep(f"{TRAILERS}/amelie.mpg", "ral-se")


def test_reads_spread_over_equal_replicas(grid: Grid, make_file) -> None:
    grid.cr(make_file("a", 1000), f"{TRAILERS}/a", se="infn-se")
    grid.rep(f"{TRAILERS}/a", "ral-se")
    storage = grid.storage
    grid = Grid(
        grid.catalog,
        ReplicaAccess(storage.ses, rng=random.Random(7), protocols=storage.protocols),
        metadata=grid.metadata,
    )
    seen = Counter()
    for _ in range(40):
        with grid.open(f"{TRAILERS}/a", buffering=0) as stream:
            seen[stream.replica.se] += 1
    assert set(seen) == {"infn-se", "ral-se"}


@pytest.mark.expect_warnings
def test_open_skips_a_broken_replica_and_names_all_when_none_works(grid: Grid, make_file) -> None:
    data = make_file("b", 200_000).read_bytes()
    grid.cr(make_file("b", 200_000), f"{TRAILERS}/b")
    grid.rep(f"{TRAILERS}/b", "infn-se")
    grid.rep(f"{TRAILERS}/b", "ral-se")
    replica_path(grid, f"{TRAILERS}/b", "cern-se").unlink()  # lost behind the catalog's back
    with open(replica_path(grid, f"{TRAILERS}/b", "infn-se"), "r+b") as damaged:
        damaged.truncate(1000)
    with grid.open(f"{TRAILERS}/b") as stream:
        assert stream.read() == data
        assert stream.raw.replica.se == "ral-se"
    replica_path(grid, f"{TRAILERS}/b", "ral-se").unlink()
    with pytest.raises(NoReplicaAvailable) as info:
        grid.open(f"{TRAILERS}/b")
    message = str(info.value)
    assert "cern-se" in message
    assert "infn-se" in message
    assert "ral-se" in message
    assert "size 1000" in message


def test_cr_bad_input_leaves_nothing(grid: Grid, make_file, tmp_path: Path) -> None:
    source = make_file("c", 5000)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = [
        (lambda: grid.cr(fifo, f"{TRAILERS}/c"), InvalidArgument),
        (lambda: grid.cr(source, f"{TRAILERS}/c", guid="xyz"), InvalidArgument),
        (lambda: grid.cr(tmp_path / "missing", f"{TRAILERS}/c"), NotFound),
        (lambda: grid.cr(tmp_path, f"{TRAILERS}/c"), IsADirectory),
        (lambda: grid.cr(source, f"{TRAILERS}/c", se="nowhere-se"), UnknownSE),
        (lambda: grid.cr(source, "relative/c"), InvalidLFN),
        (lambda: grid.cr(source, "/grid/gilda/nodir/c"), NotFound),
        (lambda: grid.cr(source, f"{TRAILERS}"), AlreadyExists),
    ]
    for call, error in cases:
        with pytest.raises(error):
            call()
    assert grid.listdir(TRAILERS) == []
    assert stored_files(tmp_path) == []
    grid.cr(source, f"{TRAILERS}/c")
    with pytest.raises(AlreadyExists):
        grid.cr(source, f"{TRAILERS}/c")
    with pytest.raises(NotADirectory):
        grid.cr(source, f"{TRAILERS}/c/d")
    assert len(stored_files(tmp_path)) == 1


def test_a_registration_failing_after_the_copy_deletes_the_copy(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    first = grid.cr(make_file("d", 100), f"{TRAILERS}/d")
    # The GUID is taken: the catalog refuses after the bytes are stored.
    with pytest.raises(AlreadyExists):
        grid.cr(make_file("e", 100), f"{TRAILERS}/e", guid=first.guid)
    assert grid.listdir(TRAILERS) == ["d"]
    assert len(stored_files(tmp_path)) == 1


def test_rep_of_a_corrupt_source_deletes_the_bad_copy(grid: Grid, make_file, tmp_path) -> None:
    grid.cr(make_file("f", 10_000), f"{TRAILERS}/f")
    path = replica_path(grid, f"{TRAILERS}/f", "cern-se")
    path.write_bytes(b"\0" * 10_000)  # same size, wrong content
    with pytest.raises(ChecksumMismatch, match="expected adler32"):
        grid.rep(f"{TRAILERS}/f", "ral-se")
    assert [r.se for r in grid.catalog.replicas(f"{TRAILERS}/f")] == ["cern-se"]
    assert stored_files(tmp_path) == [path]


def test_rep_refuses_what_it_cannot_verify(grid: Grid) -> None:
    grid.catalog.add_file(
        f"{TRAILERS}/md5.dat",
        size=3,
        checksum="900150983cd24fb0d6963f7d28e17f72",
        checksum_type="md5",
        replicas=[("cern-se", "srm://cern-se.cern.example/grid/md5.dat")],
    )
    with pytest.raises(InvalidArgument, match="md5"):
        grid.rep(f"{TRAILERS}/md5.dat", "ral-se")


def test_read_only_se_refuses_writes(tmp_path: Path, make_file) -> None:
    config_file = tmp_path / "ro.toml"
    config_file.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[se.tape]\nroot = "se/tape"\nwrite = false\n'
    )
    with Grid.from_config(load_config(config_file), create=True) as grid:
        make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
        with pytest.raises(ReadOnly):
            grid.cr(make_file("g", 10), "/grid/g", se="tape")


@needs_tmpfs
def test_a_full_se_fails_cleanly(tmp_path: Path, make_file) -> None:
    small = tmp_path / "small-se"
    with small_disk(small, "1m"):
        config_file = tmp_path / "full.toml"
        config_file.write_text(f'[catalog]\nurl = "sqlite:///c.db"\n[se.small]\nroot = "{small}"\n')
        with Grid.from_config(load_config(config_file), create=True) as grid:
            make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
            with pytest.raises(NoSpace) as info:
                grid.cr(make_file("big", 3_000_000), "/grid/big", se="small")
            assert info.value.errno == 28
            assert grid.listdir("/grid") == []
            assert [p for p in small.rglob("*") if p.is_file()] == []
            grid.cr(make_file("fits", 100_000), "/grid/fits", se="small")
            assert grid.stat("/grid/fits").size == 100_000


def test_module_level_api_uses_the_configured_grid(
    config_path: Path, make_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDFS_CONFIG", str(config_path))
    monkeypatch.setattr("gridfs.gfal._default", None)
    make_vo(gridfs.default_grid())
    gridfs.makedirs(TRAILERS)
    gridfs.cr(make_file("h", 4242), f"{TRAILERS}/h")
    gridfs.symlink(f"{TRAILERS}/h", "/grid/gilda/h-alias")
    assert gridfs.listdir(TRAILERS) == ["h"]
    assert gridfs.stat("/grid/gilda/h-alias").size == 4242
    assert gridfs.lstat("/grid/gilda/h-alias").is_symlink()
    assert gridfs.readlink("/grid/gilda/h-alias") == f"{TRAILERS}/h"
    assert len(gridfs.lr(f"{TRAILERS}/h")) == 1
    gridfs.rep(f"{TRAILERS}/h", "ral-se")
    with gridfs.open("/grid/gilda/h-alias") as stream:
        assert len(stream.read()) == 4242
    assert [e.name for e in gridfs.scandir("/grid/gilda")] == ["trailers", "h-alias"]
    with pytest.raises(InvalidArgument, match="binary"):
        gridfs.open(f"{TRAILERS}/h", "w")
    with pytest.raises(IsADirectory):
        gridfs.open(TRAILERS)
    gridfs.default_grid().close()


def test_unlink_checks_permission_before_deleting_copies(
    grid: Grid, make_file, tmp_path: Path
) -> None:
    grid.cr(make_file("keep", 100), f"{TRAILERS}/keep")
    grid.chmod(TRAILERS, 0o755)  # others may look, not remove
    bob = grid.as_identity(BOB)
    with pytest.raises(PermissionDenied):
        bob.unlink(f"{TRAILERS}/keep")
    assert len(stored_files(tmp_path)) == 1
    assert len(grid.lr(f"{TRAILERS}/keep")) == 1
    grid.unlink(f"{TRAILERS}/keep")
    assert stored_files(tmp_path) == []
    with pytest.raises(NotFound):
        grid.stat(f"{TRAILERS}/keep")
