"""Ctrl-C undoes what it interrupts: cp, cr, rep and datasets, against real servers.

Each test starts a real ``gridfs`` process, waits until its upload is on the
SE under its partial name, freezes the server (SIGSTOP) so the copy is surely
in flight, sends SIGINT, waits until gridfs says it is undoing the copy, lets
the server go on (SIGCONT), and then checks the catalog and the SE's files.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.errors import NotFound
from gridfs.gfal import Grid
from gridfs.storage import is_partial_upload
from tests.cli.test_cli import GRIDFS
from tests.contract.test_failures import _remote_grid, server

__all__ = ["server"]  # the fixture: our own XRootD or WebDAV server, per test

LOCAL_SE = '[se.local]\nsite = "far"\nroot = "local-se"\n'
BIG = 48 << 20  # far more than the socket buffers hold: the copy cannot finish while frozen
WAIT_S = 60


def _served(process: object) -> Path:
    directory = process.data_dir  # type: ignore[attr-defined]
    assert isinstance(directory, Path)
    return directory / "se"


def _partial_upload(path: Path) -> bool:
    return is_partial_upload(path.name)


def _files(
    root: Path, partial_name: Callable[[Path], bool] = _partial_upload
) -> tuple[list[Path], list[Path]]:
    """Complete objects and partial copies under ``root``."""
    found = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    partial = [p for p in found if partial_name(p)]
    return [p for p in found if p not in partial], partial


@contextlib.contextmanager
def _frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def interrupt(
    config: Path,
    args: list[str],
    uploads_to: Path,
    server_pid: int,
    *,
    done_before: int = 0,
    partial: Callable[[Path], bool] = _partial_upload,
) -> str:
    """Run ``gridfs args``; SIGINT it mid-upload (to ``uploads_to``); returns its stderr.

    The upload counts as in flight once a partial upload is there next to
    ``done_before`` complete objects (the files of a dataset done first).
    """
    process = subprocess.Popen(
        [GRIDFS, "--config", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr])  # type: ignore[union-attr]
    reader.start()
    said = []
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            done, partials = _files(uploads_to, partial)
            # A file:// SE links the partial into place before removing it: a partial
            # named like a complete object is that object's, on its way out.
            partials = [p for p in partials if not any(d.name in p.name for d in done)]
            if partials and len(done) == done_before:
                break
            assert process.poll() is None, "gridfs finished before it could be interrupted"
            assert time.monotonic() < deadline, "no upload started"
            time.sleep(0.002)
        with _frozen(server_pid):
            process.send_signal(signal.SIGINT)
            while not any("undoing" in line for line in said):
                try:
                    said.append(lines.get(timeout=WAIT_S))
                except queue.Empty:
                    pytest.fail(f"gridfs did not say it undoes the copy: {''.join(said)}")
        assert process.wait(timeout=WAIT_S) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join()
        process.stderr.close()
    said += list(lines.queue)
    text = "".join(said)
    assert "gridfs: aborted" in text
    assert "Traceback" not in text
    return text


def _grid(tmp_path: Path) -> Grid:
    return Grid.from_config(load_config(tmp_path / "grid.toml"))


def _absent(grid: Grid, lfn: str) -> bool:
    try:
        grid.lstat(lfn)
    except NotFound:
        return True
    return False


@pytest.mark.parametrize("verb", ["cp", "cr"])
def test_an_interrupted_upload_stores_and_registers_nothing(
    server: tuple[str, object], tmp_path: Path, make_file, verb: str
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=LOCAL_SE):
        pass
    source = make_file("big.bin", BIG)
    args = [verb, str(source), "/grid/x.bin", "-d", "remote"]
    interrupt(tmp_path / "grid.toml", args, _served(process), process.pid)  # type: ignore[attr-defined]
    with _grid(tmp_path) as grid:
        assert _absent(grid, "/grid/x.bin")
        assert grid.listdir("/grid") == []
    assert _files(_served(process)) == ([], [])


def test_an_interrupted_replication_to_a_local_se_is_undone(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=LOCAL_SE) as grid:
        grid.cr(make_file("big.bin", BIG), "/grid/x.bin")
    args = ["rep", "/grid/x.bin", "-d", "local"]
    interrupt(tmp_path / "grid.toml", args, tmp_path / "local-se", process.pid)  # type: ignore[attr-defined]
    with _grid(tmp_path) as grid:
        assert [r.se for r in grid.catalog.replicas("/grid/x.bin")] == ["remote"]
    assert _files(tmp_path / "local-se") == ([], [])


def _dataset(root: Path) -> Path:
    root.mkdir()
    (root / "a1").write_bytes(b"one")
    (root / "a2").write_bytes(b"two")
    (root / "z").write_bytes(os.urandom(BIG))
    return root


def test_an_interrupted_dataset_copy_keeps_the_files_done_and_undoes_the_rest(
    server: tuple[str, object], tmp_path: Path
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=LOCAL_SE):
        pass
    source = _dataset(tmp_path / "ds")
    args = ["cp", "-r", "-j", "1", str(source), "/grid/ds", "-d", "remote"]
    interrupt(tmp_path / "grid.toml", args, _served(process), process.pid, done_before=2)  # type: ignore[attr-defined]
    with _grid(tmp_path) as grid:
        assert sorted(grid.listdir("/grid/ds")) == ["a1", "a2"]
        with grid.open("/grid/ds/a2") as stream:
            assert stream.read() == b"two"
    done, partial = _files(_served(process))
    assert (len(done), partial) == (2, [])


def test_an_interrupted_dataset_replication_keeps_the_files_done(
    server: tuple[str, object], tmp_path: Path
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=LOCAL_SE) as grid:
        for name, data in (("a1", b"one"), ("a2", b"two"), ("z", os.urandom(BIG))):
            path = tmp_path / name
            path.write_bytes(data)
            grid.cr(path, f"/grid/{name}")
    args = ["rep", "-r", "-j", "1", "/grid", "-d", "local"]
    interrupt(tmp_path / "grid.toml", args, tmp_path / "local-se", process.pid, done_before=2)  # type: ignore[attr-defined]
    with _grid(tmp_path) as grid:
        held = {
            lfn: sorted(r.se for r in grid.catalog.replicas(f"/grid/{lfn}"))
            for lfn in ("a1", "a2", "z")
        }
    assert held == {"a1": ["local", "remote"], "a2": ["local", "remote"], "z": ["remote"]}
    done, partial = _files(tmp_path / "local-se")
    assert (len(done), partial) == (2, [])


def test_an_interrupted_download_leaves_no_local_file(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base, also=LOCAL_SE) as grid:
        grid.cr(make_file("big.bin", BIG), "/grid/x.bin")
    out = tmp_path / "out"
    out.mkdir()
    args = ["cp", "/grid/x.bin", str(out / "x.bin")]
    interrupt(tmp_path / "grid.toml", args, out, process.pid, partial=_local_temp)  # type: ignore[attr-defined]
    assert list(out.iterdir()) == []


def _local_temp(path: Path) -> bool:
    """The temporary file of a copy to local disk: ``.NAME.XXXX.part``."""
    return path.name.startswith(".") and path.name.endswith(".part")
