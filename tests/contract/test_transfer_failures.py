"""cp, rep of datasets and del against servers killed mid-transfer: catalog and SEs stay consistent.

Consistent means: every registered replica is stored with the right content,
and every object stored under a replica's name is registered, or, when the
SE died after storing it and before it could be verified or deleted, is
found and removed by the sweep of dark data once the SE is back.
"""

from __future__ import annotations

import threading
import time
import zlib
from pathlib import Path

import pytest

from gridfs.catalog import ReplicaStatus
from gridfs.errors import GridError, NotFound, StorageUnavailable
from gridfs.gfal import Grid
from gridfs.gfal.copy import copy_grid, copy_in, copy_out
from gridfs.gfal.dataset import Task, plan_copy_in, plan_replicate, run_tasks, walk_files
from gridfs.gfal.delete import delete
from gridfs.gfal.sweep import sweep
from gridfs.storage import resolve_turl
from tests.contract.test_failures import _remote_grid, server

__all__ = ["server"]  # the fixture of the servers this module kills

FAR_DISK = '[se.local]\nsite = "far"\nroot = "local-se"\n'


def data_dir(process: object) -> Path:
    directory = process.data_dir  # type: ignore[attr-defined]
    assert isinstance(directory, Path)
    return directory / "se"


def check_replicas(grid: Grid, se: str, stored_under: Path) -> set[str]:
    """Every replica on ``se`` is stored, right; returns the names of objects no replica names."""
    registered = {}
    for lfn, entry in walk_files(grid, "/grid"):
        for replica in grid.catalog.replicas(lfn):
            if replica.se == se:
                registered[replica.surl.rsplit("/", 1)[-1]] = (replica, entry)
    stored = {p.name: p for p in stored_under.rglob("file-*") if p.is_file()}
    assert set(registered) <= set(stored)
    for name, (replica, entry) in registered.items():
        assert replica.status is ReplicaStatus.AVAILABLE
        assert f"{zlib.adler32(stored[name].read_bytes()):08x}" == entry.checksum
    return set(stored) - set(registered)


def assert_consistent(grid: Grid, se: str, stored_under: Path) -> None:
    """Registered replicas on ``se`` and objects stored under ``stored_under`` are the same."""
    assert check_replicas(grid, se, stored_under) == set()


def kill_when_growing(process: object, directory: Path, at_least: int) -> threading.Thread:
    """Kill the server once some file under ``directory`` (or itself) has ``at_least`` bytes."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            candidates = [directory] if directory.is_file() else directory.rglob("*")
            sizes = []
            for path in candidates:
                try:
                    sizes.append(path.stat().st_size if path.is_file() else 0)
                except FileNotFoundError:
                    continue
            if any(size >= at_least for size in sizes):
                process.kill()  # type: ignore[attr-defined]
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


class KillAfter:
    """A Progress that kills the server once ``count`` files are done."""

    def __init__(self, process: object, count: int) -> None:
        self.process = process
        self.count = count
        self.done_count = 0
        self.lock = threading.Lock()

    def start(self, files: int, total_bytes: int) -> None:
        pass

    def done(self, task: Task, error: OSError | None) -> None:
        with self.lock:
            self.done_count += 1
            if self.done_count == self.count:
                self.process.kill()  # type: ignore[attr-defined]


@pytest.mark.expect_warnings
def test_a_dataset_replication_cut_short_leaves_catalog_and_se_consistent(
    server: tuple[str, object], tmp_path: Path
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=FAR_DISK) as grid:
        source = tmp_path / "dataset"
        for index in range(16):
            (source / f"d{index % 2}").mkdir(parents=True, exist_ok=True)
            (source / f"d{index % 2}" / f"f{index}").write_bytes(index.to_bytes() * (1 << 20))
        assert run_tasks(plan_copy_in(grid, source, "/grid/ds", "local")).ok
        tasks, _ = plan_replicate(grid, "/grid/ds", ["remote"])
        summary = run_tasks(
            tasks, parallel=4, progress=KillAfter(process, 4), attempts=2, backoff_s=0.01
        )
        assert 4 <= summary.files < 16
        assert summary.files + len(summary.failures) == 16
        process.restart()  # type: ignore[attr-defined]
        # A copy the server stored just before it died could be neither verified nor
        # deleted: such leftovers belong to failed files only, and the sweep removes them.
        dark = check_replicas(grid, "remote", data_dir(process))
        failed = {grid.stat(failure.source).guid for failure in summary.failures}
        assert {name.removeprefix("file-") for name in dark} <= failed
        swept = sweep(grid, "remote", older_than_s=0)
        assert {d.surl.rsplit("/", 1)[-1] for d in swept if not d.partial} == dark
        assert_consistent(grid, "remote", data_dir(process))
        again, skipped = plan_replicate(grid, "/grid/ds", ["remote"])
        assert skipped == summary.files
        assert run_tasks(again, parallel=4).ok  # the rest, now that the server is back
        assert_consistent(grid, "remote", data_dir(process))


@pytest.mark.expect_warnings
def test_an_upload_cut_short_registers_nothing(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base) as grid:
        source = make_file("big", 64 << 20)
        watcher = kill_when_growing(process, data_dir(process), 1 << 20)
        with pytest.raises(GridError):
            copy_in(grid, source, "/grid/big")
        watcher.join()
        with pytest.raises(NotFound):
            grid.stat("/grid/big")
        process.restart()  # type: ignore[attr-defined]
        assert_consistent(grid, "remote", data_dir(process))
        copy_in(grid, make_file("small", 1000), "/grid/small")
        assert_consistent(grid, "remote", data_dir(process))
        # The dead server kept the partial upload, which the sweep of dark data removes.
        assert sweep(grid, "remote", older_than_s=3600) == []  # too young to be judged
        (dark,) = sweep(grid, "remote", older_than_s=0)
        assert dark.partial
        assert [p for p in data_dir(process).rglob("*") if p.is_file() and ".part-" in p.name] == []
        assert_consistent(grid, "remote", data_dir(process))


@pytest.mark.expect_warnings
def test_a_download_cut_short_leaves_no_local_file(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base) as grid:
        copy_in(grid, make_file("big", 64 << 20), "/grid/big")
        out = tmp_path / "out"
        out.mkdir()
        watcher = kill_when_growing(process, out, 1 << 20)
        with pytest.raises(GridError):
            copy_out(grid, "/grid/big", out / "big")
        watcher.join()
        assert list(out.iterdir()) == []
        process.restart()  # type: ignore[attr-defined]
        copy_out(grid, "/grid/big", out / "big")
        assert (out / "big").stat().st_size == 64 << 20


@pytest.mark.expect_warnings
def test_deleting_from_a_dead_server_changes_nothing(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=FAR_DISK) as grid:
        grid.cr(make_file("f", 100_000), "/grid/f", se="local")
        grid.rep("/grid/f", "remote")
        process.kill()  # type: ignore[attr-defined]
        with pytest.raises(StorageUnavailable):
            delete(grid, "/grid/f", se="remote")
        replicas = {r.se: r.status for r in grid.catalog.replicas("/grid/f")}
        assert replicas == {"local": ReplicaStatus.AVAILABLE, "remote": ReplicaStatus.AVAILABLE}
        process.restart()  # type: ignore[attr-defined]
        (surl,) = [r.surl for r in grid.catalog.replicas("/grid/f") if r.se == "remote"]
        turl = resolve_turl(surl, grid.ses.get("remote"), grid.storage.protocols)
        grid.storage_stat(turl)  # still stored
        grid.storage.health.record_success("remote")
        assert delete(grid, "/grid/f", se="remote") == [surl]
        assert_consistent(grid, "remote", data_dir(process))


@pytest.mark.expect_warnings
def test_a_download_of_a_corrupt_remote_replica_fails_over_and_marks_it(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=FAR_DISK) as grid:
        source = make_file("big", (20 << 20) + 12345)  # several chunks, read in flight
        copy_in(grid, source, "/grid/big")
        grid.rep("/grid/big", "local")
        (stored,) = (p for p in data_dir(process).rglob("file-*") if p.is_file())
        with stored.open("r+b") as replica:  # the remote one, read first, goes bad
            replica.seek(9 << 20)
            replica.write(b"rot")
        out = tmp_path / "out"
        copied = copy_out(grid, "/grid/big", out)
        assert out.read_bytes() == source.read_bytes()
        assert copied.checksum == grid.stat("/grid/big").checksum
        status = {r.se: r.status for r in grid.catalog.replicas("/grid/big")}
        assert status == {"remote": ReplicaStatus.BAD, "local": ReplicaStatus.AVAILABLE}


def test_a_grid_copy_from_a_remote_replica_is_whole_and_verified(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, _ = server
    with _remote_grid(tmp_path, base, also=FAR_DISK) as grid:
        source = make_file("big", (20 << 20) + 777)  # several chunks, read in flight
        copy_in(grid, source, "/grid/big")
        copied = copy_grid(grid, "/grid/big", "/grid/copy", "local")
        assert copied.checksum == grid.stat("/grid/big").checksum
        assert [r.se for r in grid.catalog.replicas("/grid/copy")] == ["local"]
        with grid.open("/grid/copy", "rb") as stream:
            assert stream.read() == source.read_bytes()
