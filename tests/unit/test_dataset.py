"""Datasets: trees replicated, copied in and out in parallel, with retries and a summary."""

from __future__ import annotations

import errno
import os
import threading
import zlib
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.errors import (
    AlreadyExists,
    Cancelled,
    InvalidArgument,
    NotADirectory,
    StorageUnavailable,
)
from gridfs.gfal import Grid
from gridfs.gfal.cancel import CancelToken
from gridfs.gfal.dataset import (
    Task,
    plan_copy_grid,
    plan_copy_in,
    plan_copy_out,
    plan_replicate,
    run_tasks,
    walk_files,
)
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from tests.conftest import make_vo, needs_tmpfs, small_disk, stored_files

DIR = "/grid/gilda"


@pytest.fixture
def grid(any_grid: Grid) -> Grid:
    """Three file:// SEs in ``tmp_path``, the catalog on SQLite or PostgreSQL."""
    return any_grid


def make_tree(root: Path, files: int = 12, size: int = 50_000) -> Path:
    """A local tree: files spread over nested directories, and one empty directory."""
    for index in range(files):
        path = root / f"run{index % 3}" / ("sub" if index % 2 else "") / f"f{index:03}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size + index))
    (root / "empty").mkdir(parents=True)
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class Progress:
    """A Progress that remembers what it heard."""

    def __init__(self) -> None:
        self.started: tuple[int, int] | None = None
        self.finished: list[tuple[str, OSError | None]] = []
        self.lock = threading.Lock()

    def start(self, files: int, total_bytes: int) -> None:
        self.started = (files, total_bytes)

    def done(self, task: Task, error: OSError | None) -> None:
        with self.lock:
            self.finished.append((task.destination, error))


def test_copy_in_then_out_round_trips_a_tree(grid: Grid, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "dataset")
    tasks = plan_copy_in(grid, source, f"{DIR}/ds")
    assert len(tasks) == 12
    assert grid.stat(f"{DIR}/ds/empty").is_dir()
    progress = Progress()
    summary = run_tasks(tasks, parallel=4, progress=progress)
    assert summary.ok
    assert summary.files == 12
    assert summary.bytes == sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    assert progress.started == (12, summary.bytes)
    assert len(progress.finished) == 12
    assert all(error is None for _, error in progress.finished)
    assert summary.to_dict()["failed"] == 0
    out = tmp_path / "back"
    summary = run_tasks(plan_copy_out(grid, f"{DIR}/ds", out), parallel=3)
    assert summary.files == 12
    assert tree(out) == tree(source)
    assert (out / "empty").is_dir()
    with pytest.raises(AlreadyExists, match="overwrite it with -f"):
        plan_copy_out(grid, f"{DIR}/ds", out)
    assert run_tasks(plan_copy_out(grid, f"{DIR}/ds", out, overwrite=True)).files == 12


def test_replicate_a_tree_to_two_ses_at_once(grid: Grid, tmp_path: Path) -> None:
    run_tasks(plan_copy_in(grid, make_tree(tmp_path / "d", files=10), f"{DIR}/ds"))
    tasks, skipped = plan_replicate(grid, f"{DIR}/ds", ["ral-se", "infn-se", "cern-se"])
    assert (len(tasks), skipped) == (20, 10)  # every file is on cern-se already
    summary = run_tasks(tasks, parallel=6)
    assert (summary.files, summary.failures) == (20, [])
    for lfn, entry in walk_files(grid, f"{DIR}/ds"):
        replicas = grid.catalog.replicas(lfn)
        assert sorted(r.se for r in replicas) == ["cern-se", "infn-se", "ral-se"]
        for replica in replicas:
            turl = resolve_turl(replica.surl, grid.ses.get(replica.se), ["file"])
            data = Path(turl_to_path(turl)).read_bytes()
            assert f"{zlib.adler32(data):08x}" == entry.checksum
    assert plan_replicate(grid, f"{DIR}/ds", ["ral-se"]) == ([], 10)
    with pytest.raises(Exception, match="nowhere-se"):
        plan_replicate(grid, f"{DIR}/ds", ["nowhere-se"])


def test_a_grid_tree_copies_to_new_files(grid: Grid, tmp_path: Path) -> None:
    run_tasks(plan_copy_in(grid, make_tree(tmp_path / "d", files=5), f"{DIR}/ds"))
    summary = run_tasks(plan_copy_grid(grid, f"{DIR}/ds", f"{DIR}/copy", "ral-se"))
    assert summary.files == 5
    originals = dict(walk_files(grid, f"{DIR}/ds"))
    for lfn, entry in walk_files(grid, f"{DIR}/copy"):
        original = originals[lfn.replace("/copy/", "/ds/")]
        assert entry.guid != original.guid
        assert entry.checksum == original.checksum
        assert [r.se for r in grid.catalog.replicas(lfn)] == ["ral-se"]
    assert grid.stat(f"{DIR}/copy/empty").is_dir()
    with pytest.raises(NotADirectory):
        plan_copy_grid(grid, f"{DIR}/ds/run0/f000.dat", f"{DIR}/x")
    before = sorted(walk_files(grid, f"{DIR}/ds"))
    with pytest.raises(InvalidArgument, match="into itself"):
        plan_copy_grid(grid, f"{DIR}/ds", f"{DIR}/ds/sub")
    assert sorted(walk_files(grid, f"{DIR}/ds")) == before
    assert not grid.access(f"{DIR}/ds/sub", os.F_OK)


def test_one_failure_is_listed_and_the_rest_are_copied(grid: Grid, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "d", files=6)
    run_tasks(plan_copy_in(grid, source, f"{DIR}/ds"))
    (source / "run0" / "f000.dat").write_bytes(b"changed")
    (source / "run1" / "new.dat").write_bytes(b"new")
    summary = run_tasks(plan_copy_in(grid, source, f"{DIR}/ds"), parallel=3)
    assert summary.files == 1  # the new file; the six others exist
    assert len(summary.failures) == 6
    assert all("overwrite it with -f" in f.error for f in summary.failures)
    assert all(f.attempts == 1 for f in summary.failures)  # not transient: not tried again
    summary = run_tasks(plan_copy_in(grid, source, f"{DIR}/ds", overwrite=True))
    assert summary.ok
    assert grid.stat(f"{DIR}/ds/run0/f000.dat").size == len(b"changed")
    assert len(stored_files(tmp_path)) == 7


def test_transient_failures_are_tried_again_up_to_the_limit() -> None:
    calls = {"flaky": 0, "dead": 0, "refused": 0}

    def flaky() -> None:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise StorageUnavailable("timed out", errno=errno.ETIMEDOUT)

    def dead() -> None:
        calls["dead"] += 1
        raise StorageUnavailable("broken off", errno=errno.EREMOTEIO)

    def refused() -> None:
        calls["refused"] += 1
        raise StorageUnavailable("refused", errno=errno.ECONNREFUSED)

    tasks = [Task(name, name, 10, run) for name, run in (("flaky", flaky), ("dead", dead))]
    tasks.append(Task("refused", "refused", 10, refused))
    summary = run_tasks(tasks, attempts=3, backoff_s=0.001)
    assert calls == {"flaky": 3, "dead": 3, "refused": 1}
    assert summary.files == 1
    assert summary.bytes == 10
    assert sorted((f.source, f.attempts) for f in summary.failures) == [
        ("dead", 3),
        ("refused", 1),
    ]


def test_a_bug_stops_the_run() -> None:
    def bug() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_tasks([Task("a", "b", 1, bug)])
    with pytest.raises(InvalidArgument):
        run_tasks([], parallel=0)


@needs_tmpfs
def test_a_full_se_fails_some_files_and_leaves_nothing_half_done(tmp_path: Path) -> None:
    small = tmp_path / "small-se"
    with small_disk(small, "1m"):
        config = tmp_path / "full.toml"
        config.write_text(f'[catalog]\nurl = "sqlite:///c.db"\n[se.small]\nroot = "{small}"\n')
        with Grid.from_config(load_config(config), create=True) as grid:
            make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
            source = make_tree(tmp_path / "d", files=8, size=300_000)
            summary = run_tasks(plan_copy_in(grid, source, "/grid/ds", "small"), parallel=4)
            assert summary.files >= 1
            assert summary.failures
            assert summary.files + len(summary.failures) == 8
            assert all("No space left" in f.error for f in summary.failures)
            registered = {
                Path(turl_to_path(resolve_turl(r.surl, grid.ses.get("small"), ["file"])))
                for lfn, _ in walk_files(grid, "/grid/ds")
                for r in grid.catalog.replicas(lfn)
            }
            assert len(registered) == summary.files
            assert {p for p in small.rglob("*") if p.is_file()} == registered
            for lfn, entry in walk_files(grid, "/grid/ds"):
                with grid.open(lfn) as stream:
                    assert f"{zlib.adler32(stream.read()):08x}" == entry.checksum


class CancelAfterFirst(Progress):
    """Cancels the run's token once the first file is done."""

    def __init__(self, token: CancelToken) -> None:
        super().__init__()
        self.token = token

    def done(self, task: Task, error: OSError | None) -> None:
        super().done(task, error)
        self.token.cancel()


def test_a_cancelled_run_keeps_the_files_done_and_starts_no_more(
    grid: Grid, tmp_path: Path
) -> None:
    token = CancelToken()
    cancellable = grid.with_options(cancel=token)
    source = make_tree(tmp_path / "dataset", files=4)
    tasks = plan_copy_in(cancellable, source, f"{DIR}/ds")
    summary = run_tasks(tasks, parallel=1, progress=CancelAfterFirst(token), cancel=token)
    assert (summary.files, summary.failures) == (1, [])
    copied = [lfn for lfn, _ in walk_files(grid, f"{DIR}/ds")]
    assert len(copied) == 1
    assert len(stored_files(tmp_path)) == 1
    with pytest.raises(Cancelled):  # the grid's copies stop at their first chunk
        cancellable.cr(source / "run0" / "f000.dat", f"{DIR}/late.dat")
    assert grid.listdir(DIR) == ["ds"]
    assert len(stored_files(tmp_path)) == 1
