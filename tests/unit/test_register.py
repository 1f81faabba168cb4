"""Registering stored copies (rf, user.replicas), private SE areas, and who makes a catalog."""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gridfs.catalog import SUPERUSER, Catalog
from gridfs.config import load_config
from gridfs.errors import ChecksumMismatch, InvalidArgument, NotFound, UnknownSE
from gridfs.gfal import Grid
from gridfs.storage.file_backend import FileBackend
from tests.conftest import ALICE

VO = "/grid/gilda"
PREFIX = "srm://cern-se.cern.example/grid"


def se_area(grid: Grid, name: str = "cern-se") -> Path:
    return Path(grid.ses.get(name).protocols["file"].removeprefix("file://"))


def plant(grid: Grid, name: str, data: bytes) -> str:
    """A copy put on cern-se behind the catalog's back; its SURL."""
    se_area(grid).mkdir(parents=True, exist_ok=True)
    (se_area(grid) / name).write_bytes(data)
    return f"{PREFIX}/{name}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def test_rf_refuses_a_copy_that_is_not_the_files(grid: Grid, make_file) -> None:
    lfn = f"{VO}/victim.dat"
    source = make_file("victim.dat", 10_000)
    entry = grid.cr(source, lfn)
    data = source.read_bytes()
    evil = plant(grid, "evil.dat", b"E" * len(data))
    with pytest.raises(ChecksumMismatch) as caught:
        grid.rf(evil, lfn, "cern-se")
    assert str(caught.value) == (
        f"refused {evil}: adler32 {zlib.adler32(b'E' * len(data)):08x}, "
        f"catalog says {entry.checksum}"
    )
    with pytest.raises(ChecksumMismatch, match=f"size 3, catalog says {len(data)}"):
        grid.rf(plant(grid, "short.dat", b"abc"), lfn)
    with pytest.raises(NotFound, match="it does not exist on cern-se"):
        grid.rf(f"{PREFIX}/absent.dat", lfn)
    with pytest.raises(UnknownSE, match="on no configured storage element"):
        grid.rf("srm://elsewhere/x", lfn)
    with pytest.raises(InvalidArgument, match="has GUID"):
        grid.rf(plant(grid, "good.dat", data), lfn, guid="5f9d3a2e-1c4b-4e8a-9b7d-2a6c8e0f1d3b")
    assert len(grid.lr(lfn)) == 1
    with grid.open(lfn) as stream:
        assert stream.read() == data
    replica = grid.rf(f"{PREFIX}/good.dat", lfn)
    assert replica.surl in grid.lr(lfn)


def test_user_replicas_registers_only_the_files_content(grid: Grid, make_file) -> None:
    lfn = f"{VO}/x.dat"
    source = make_file("x.dat", 5000)
    grid.cr(source, lfn)
    evil = plant(grid, "evil.dat", os.urandom(5000))
    with pytest.raises(ChecksumMismatch, match="catalog says"):
        grid.setxattr(lfn, "user.replicas", f"+{evil}".encode())
    with pytest.raises(NotFound, match="does not exist"):
        grid.setxattr(lfn, "user.replicas", f"+{PREFIX}/nothing".encode())
    assert grid.lr(lfn) == grid.lr(lfn)[:1]
    good = plant(grid, "good.dat", source.read_bytes())
    grid.setxattr(lfn, "user.replicas", f"+{good}".encode())
    assert good in grid.getxattr(lfn, "user.replicas").decode().splitlines()


def test_rf_registers_a_new_lfn_in_one_operation(grid: Grid) -> None:
    data = os.urandom(70_000)
    surl = plant(grid, "found.dat", data)
    guid = "5f9d3a2e-1c4b-4e8a-9b7d-2a6c8e0f1d3b"
    replica = grid.rf(surl, f"{VO}/found.dat", guid=guid)
    assert (replica.surl, replica.se, replica.guid) == (surl, "cern-se", guid)
    entry = grid.stat(f"{VO}/found.dat")
    assert (entry.size, entry.checksum, entry.guid) == (
        len(data),
        f"{zlib.adler32(data):08x}",
        guid,
    )
    with grid.open(f"{VO}/found.dat") as stream:
        assert stream.read() == data
    with pytest.raises(NotFound):
        grid.rf(f"{PREFIX}/absent.dat", f"{VO}/absent.dat")
    with pytest.raises(NotFound):
        grid.stat(f"{VO}/absent.dat")


def test_stored_copies_and_their_directories_are_the_owners_alone(
    tmp_path: Path, grid: Grid, make_file
) -> None:
    backend = FileBackend.__new__(FileBackend)  # no options needed for local files
    for value in (0o022, 0o000):
        with umask(value):
            target = tmp_path / f"area-{value}" / "generated" / "day" / "file-1"
            backend.write(target.as_uri(), [b"data"])
            backend.mkdir((tmp_path / f"area-{value}" / "made").as_uri())
        assert mode(target) == 0o600
        assert {mode(d) for d in (target.parent, target.parent.parent)} == {0o700}
        assert mode(tmp_path / f"area-{value}" / "made") == 0o700
    with umask(0o022):
        grid.cr(make_file("a", 100), f"{VO}/a")
    (stored,) = se_area(grid).glob("generated/*/file-*")
    assert mode(stored) == 0o600


def test_a_tape_ses_copies_are_the_owners_alone(tmp_path: Path, make_file) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n'
        '[se.tape]\nroot = "tape/disk"\ntape = "tape/tape"\n'
        '[storage]\ndefault_se = "tape"\n'
    )
    with umask(0o022), Grid.from_config(load_config(config), create=True) as grid:
        grid.makedirs(VO, exist_ok=True)
        grid.cr(make_file("t", 1000), f"{VO}/t")
        grid.release(f"{VO}/t")
        request = grid.bring_online(f"{VO}/t", even_if_online=True)
        assert request is not None
        request.wait()
    copies = [p for p in (tmp_path / "tape").rglob("file-*") if ".pins" not in p.parts]
    assert len(copies) == 2  # on tape and staged on disk
    assert {mode(p) for p in copies} == {0o600}


def test_only_an_explicit_create_makes_a_catalog(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "catalog.db"
    url = f"sqlite:///{missing}"
    with pytest.raises(NotFound, match=f"no catalog at {missing} \\(gridfs init makes one\\)"):
        Catalog.from_url(url, ALICE)
    assert not missing.parent.exists()
    with umask(0o022):
        Catalog.from_url(url, SUPERUSER, create=True).close()
    assert mode(missing) == 0o600
    Catalog.from_url(url, ALICE).close()  # there now


def test_an_empty_database_is_no_catalog(postgres_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    for url in (postgres_url, f"sqlite:///{empty}"):
        with pytest.raises(NotFound, match="gridfs init makes one"):
            Catalog.from_url(url, ALICE)
        Catalog.from_url(url, SUPERUSER, create=True).close()
        Catalog.from_url(url, ALICE).close()
