"""The grid:// surface that fsspec users call, beyond fsspec's own suites."""

from __future__ import annotations

import posixpath
import zlib
from datetime import datetime
from pathlib import Path

import fsspec
import pytest
from fsspec.callbacks import Callback

from gridfs.catalog import SUPERUSER, FileStatus
from gridfs.config import load_config
from gridfs.errors import NoReplicaAvailable
from gridfs.fsspec import GridFileSystem
from gridfs.gfal import Grid
from gridfs.gfal.readahead import COPY_CHUNK
from gridfs.storage import RequestState
from tests.conftest import create_catalog
from tests.fsspec.conftest import VO

DATA = bytes(range(256)) * 40_000  # 10 MB: more than two blocks


def test_the_entry_point_registers_grid() -> None:
    Grid.from_config(load_config(), create=True).close()  # the embedded default's catalog
    fs, path = fsspec.url_to_fs("grid:///grid/gilda/x.root")
    assert isinstance(fs, GridFileSystem)
    assert path == "/grid/gilda/x.root"
    assert isinstance(fsspec.filesystem("grid"), GridFileSystem)
    assert fs.unstrip_protocol(path) == "grid:///grid/gilda/x.root"


def test_a_written_file_is_stored_verified_and_registered(
    grid_fs: GridFileSystem, home: str
) -> None:
    path = posixpath.join(home, "data.bin")
    with grid_fs.open(f"grid://{path}", "wb") as out:
        out.write(DATA)
    entry = grid_fs.grid.stat(path)
    assert entry.status is FileStatus.READY
    assert entry.checksum == f"{zlib.adler32(DATA):08x}"
    assert len(grid_fs.grid.lr(path)) == 1
    assert grid_fs.checksum(path) == zlib.adler32(DATA)
    with grid_fs.open(path, "rb") as stream:
        assert stream.size == len(DATA)
        assert stream.blocksize == 4 << 20
        stream.seek(9_000_000)
        assert stream.read(10) == DATA[9_000_000:9_000_010]
        stream.seek(-5, 2)
        assert stream.read() == DATA[-5:]
    assert grid_fs.cat_file(path, 100, 200) == DATA[100:200]
    assert grid_fs.cat_file(path, -10) == DATA[-10:]
    assert grid_fs.cat_file(path, start=len(DATA) + 5) == b""


def test_cat_ranges_reads_many_files_and_reports_a_missing_one(
    grid_fs: GridFileSystem, home: str
) -> None:
    paths = [posixpath.join(home, f"f{i}") for i in range(3)]
    for i, path in enumerate(paths):
        grid_fs.pipe_file(path, DATA[i:])
    missing = posixpath.join(home, "missing")
    starts = [0, 1000, 5, 7, 0]
    ends = [10, 2000, 50, -1, 4]
    got = grid_fs.cat_ranges([paths[0], paths[0], paths[1], paths[2], missing], starts, ends)
    assert got[:4] == [DATA[0:10], DATA[1000:2000], DATA[1:][5:50], DATA[2:][7:-1]]
    assert isinstance(got[4], FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        grid_fs.cat_ranges([missing], [0], [1], on_error="raise")


def test_listings_and_details(grid_fs: GridFileSystem, home: str) -> None:
    grid_fs.pipe({f"{home}/a/x.csv": b"1", f"{home}/a/b/y.csv": b"22", f"{home}/z": b"333"})
    grid_fs.grid.symlink(f"{home}/z", f"{home}/alias")
    listing = grid_fs.ls(home)
    assert [(i["name"].rsplit("/", 1)[1], i["type"]) for i in listing] == [
        ("a", "directory"),
        ("alias", "file"),
        ("z", "file"),
    ]
    assert listing[1]["islink"]
    assert listing[1]["destination"] == f"{home}/z"
    info = grid_fs.info(f"grid://{home}/z")
    assert info["size"] == 3
    assert info["guid"] == grid_fs.grid.lg(f"{home}/z")
    assert grid_fs.exists(f"{home}/a/b")
    assert grid_fs.isdir(f"{home}/a/b")
    assert not grid_fs.exists(f"{home}/nothing")
    assert grid_fs.isfile(f"{home}/z")
    assert grid_fs.glob(f"{home}/**/*.csv") == [f"{home}/a/b/y.csv", f"{home}/a/x.csv"]
    assert grid_fs.du(f"{home}/a") == 3
    walked = {root: sorted(files) for root, _, files in grid_fs.walk(f"{home}/a")}
    assert walked == {f"{home}/a": ["x.csv"], f"{home}/a/b": ["y.csv"]}
    assert isinstance(grid_fs.modified(f"{home}/z"), datetime)
    assert isinstance(grid_fs.created(f"{home}/z"), datetime)


def test_errors_are_the_builtins(grid_fs: GridFileSystem, home: str) -> None:
    with pytest.raises(FileNotFoundError):
        grid_fs.cat_file(f"{home}/nothing")
    with pytest.raises(FileNotFoundError):
        grid_fs.info(f"{home}/nothing")
    with pytest.raises(IsADirectoryError):
        grid_fs.open(home, "rb")
    with pytest.raises(FileExistsError):
        grid_fs.mkdir(home)
    grid_fs.pipe_file(f"{home}/f", b"x")
    with pytest.raises(FileExistsError):
        grid_fs.open(f"{home}/f", "xb")
    with pytest.raises(FileExistsError):
        grid_fs.put_file(__file__, f"{home}/f", mode="create")
    admin = grid_fs.grid.catalog.as_identity(SUPERUSER)
    admin.mkdir(f"{VO}/locked", 0o755)
    admin.chown(f"{VO}/locked", "bob", "cms")
    with pytest.raises(PermissionError):
        grid_fs.pipe_file(f"{VO}/locked/f", b"x")
    with pytest.raises(PermissionError):
        grid_fs.mkdir(f"{VO}/locked/sub")


class Counting(Callback):  # type: ignore[misc]
    """A callback as a progress bar sees it: a size, then updates."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []
        self.values: list[int] = []  # each value the bar showed
        self.children: list[Counting] = []

    def set_size(self, size: int) -> None:
        self.sizes.append(size)
        super().set_size(size)

    def call(self, *args: object, **kwargs: object) -> None:
        self.values.append(self.value)

    def branched(self, path_1: str, path_2: str, **kwargs: object) -> Counting:
        child = Counting()
        self.children.append(child)
        return child


def test_put_and_get_recurse_and_report_progress(
    grid_fs: GridFileSystem, home: str, tmp_path: Path
) -> None:
    local = tmp_path / "up"
    (local / "sub").mkdir(parents=True)
    (local / "one").write_bytes(DATA[:1000])
    (local / "sub" / "two").write_bytes(DATA[:5000])
    progress = Counting()
    grid_fs.put(str(local), f"{home}/up", recursive=True, callback=progress)
    assert grid_fs.cat_file(f"{home}/up/sub/two") == DATA[:5000]
    assert progress.value == progress.size == 4  # two files, two directories
    assert sorted(c.value for c in progress.children) == [0, 0, 1000, 5000]
    progress = Counting()
    grid_fs.get(f"{home}/up", str(tmp_path / "down"), recursive=True, callback=progress)
    assert (tmp_path / "down" / "sub" / "two").read_bytes() == DATA[:5000]
    assert sorted(c.value for c in progress.children) == [0, 0, 1000, 5000]


def test_copy_move_and_remove_inside_the_grid(grid_fs: GridFileSystem, home: str) -> None:
    grid_fs.pipe({f"{home}/d/a": b"aaa", f"{home}/d/e/b": b"bb"})
    grid_fs.cp(f"{home}/d", f"{home}/copy", recursive=True)
    assert grid_fs.cat_file(f"{home}/copy/e/b") == b"bb"
    assert grid_fs.info(f"{home}/copy/a")["guid"] != grid_fs.info(f"{home}/d/a")["guid"]
    guid = grid_fs.info(f"{home}/d/a")["guid"]
    grid_fs.mv(f"{home}/d/a", f"{home}/moved")
    assert grid_fs.info(f"{home}/moved")["guid"] == guid  # renamed: the same file
    grid_fs.mv(f"{home}/d", f"{home}/copy", recursive=True)  # into the directory
    assert grid_fs.cat_file(f"{home}/copy/d/e/b") == b"bb"
    surls = grid_fs.grid.lr(f"{home}/copy/d/e/b")
    grid_fs.rm(f"{home}/copy", recursive=True)
    assert not grid_fs.exists(f"{home}/copy")
    assert grid_fs.ls(home, detail=False) == [f"{home}/moved"]
    turl = grid_fs.sign(f"{home}/moved")
    assert grid_fs.grid.storage_stat(turl).size == 3
    assert surls  # their copies went with the files: the SE is checked by the suites


def test_new_versions_keep_the_guid_and_change_the_ukey(
    grid_fs: GridFileSystem, home: str, tmp_path: Path
) -> None:
    path = f"{home}/v"
    grid_fs.pipe_file(path, b"first")
    key, guid = grid_fs.ukey(path), grid_fs.info(path)["guid"]
    url = f"filecache::grid://{path}"
    options = {"filecache": {"cache_storage": str(tmp_path / "cache"), "check_files": True}}
    with fsspec.open(url, "rb", grid={"grid": grid_fs.grid}, **options) as cached:
        assert cached.read() == b"first"
    grid_fs.pipe_file(path, b"second version")
    assert grid_fs.info(path)["guid"] == guid
    assert grid_fs.ukey(path) != key
    with fsspec.open(url, "rb", grid={"grid": grid_fs.grid}, **options) as cached:
        assert cached.read() == b"second version"
    simple = {"simplecache": {"cache_storage": str(tmp_path / "simple")}}
    with fsspec.open(
        f"simplecache::grid://{path}", "rb", grid={"grid": grid_fs.grid}, **simple
    ) as f:
        assert f.read() == b"second version"


@pytest.mark.expect_warnings
def test_reads_fail_over_to_another_replica(tmp_path: Path) -> None:
    """grid:// picks and fails over replicas as gridfs.open does: a lost copy is skipped."""
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///catalog.db"\n[identity]\nsuperuser = true\n'
        '[site]\nname = "near"\n[storage]\ndefault_se = "near-se"\n'
        '[se.near-se]\nsite = "near"\nsurl_prefix = "srm://near/grid"\nroot = "near"\n'
        '[se.far-se]\nsite = "far"\nsurl_prefix = "srm://far/grid"\nroot = "far"\n'
    )
    create_catalog(config)
    fs = GridFileSystem(str(config), skip_instance_cache=True)
    try:
        fs.pipe_file("/grid/f", DATA)
        fs.grid.rep("/grid/f", "far-se")
        (lost,) = [p for p in (tmp_path / "near").rglob("file-*") if p.is_file()]
        lost.unlink()
        assert fs.cat_file("/grid/f", 5, 10) == DATA[5:10]
        with fs.open("/grid/f") as stream:
            assert stream.read() == DATA
        assert fs.sign("/grid/f").startswith(f"file://{tmp_path}/far/")
    finally:
        fs.grid.close()


def test_progress_moves_within_one_file(grid_fs: GridFileSystem, home: str, tmp_path: Path) -> None:
    """A file of two chunks: its bar moves once it is half sent, not only at its end."""
    local = tmp_path / "big"
    local.write_bytes(DATA)
    up = Counting()
    grid_fs.put_file(str(local), f"{home}/big", callback=up)
    down = Counting()
    grid_fs.get_file(f"{home}/big", str(tmp_path / "back"), callback=down)
    assert (tmp_path / "back").read_bytes() == DATA
    for progress in (up, down):
        assert progress.sizes == [len(DATA)]
        assert progress.values == [0, COPY_CHUNK, len(DATA)]  # set_size shows 0


def test_a_file_on_tape_reads_as_gridfs_open_reads_it(tmp_path: Path) -> None:
    """grid:// on a nearline replica: refused with gridfs.open's error until brought online."""
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///catalog.db"\n[identity]\nsuperuser = true\n'
        '[site]\nname = "cern"\n[storage]\ndefault_se = "cern-tape"\n'
        '[se.cern-tape]\nsite = "cern"\nroot = "tape-se/disk"\ntape = "tape-se/tape"\n'
        "stage_delay = 0.2\n"
    )
    create_catalog(config)
    fs = GridFileSystem(str(config), skip_instance_cache=True)
    try:
        fs.pipe_file("/grid/run1.raw", DATA)
        fs.grid.release("/grid/run1.raw")  # only the tape copy is left
        with pytest.raises(NoReplicaAvailable, match="bring it online first") as refused:
            fs.cat_file("/grid/run1.raw")
        with pytest.raises(NoReplicaAvailable) as opened:
            fs.grid.open("/grid/run1.raw")
        assert str(refused.value) == str(opened.value)
        request = fs.grid.bring_online("/grid/run1.raw", pin_lifetime_s=600)
        assert request is not None
        assert request.wait(30) is RequestState.DONE
        assert fs.cat_file("/grid/run1.raw", 100, 200) == DATA[100:200]
        with fs.open("/grid/run1.raw") as stream:
            assert stream.read() == DATA
    finally:
        fs.grid.close()
