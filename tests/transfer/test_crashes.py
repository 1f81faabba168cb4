"""What dies mid-transfer: an agent (SIGKILL, by its PID) and an SE (the xrootd, by its PID).

In both cases every file ends finished, or failed with its reason; no file is
lost, none has two replicas on one SE, and the SE holds exactly the registered
replicas (no dark data: its directory is listed).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from gridfs.config import Config, load_config
from gridfs.gfal import Grid
from gridfs.gfal.replicas import current_replicas
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from gridfs.storage.naming import is_partial_upload
from gridfs.transfer import Agent, FileState, JobState, Submission, Transfers, TransferStore
from tests.conftest import make_vo, write_grid_config
from tests.storage_servers import XRootDServer
from tests.transfer.conftest import FAST, VO

GRIDFS = str(Path(sys.executable).with_name("gridfs"))
AGENT_TABLE = "\n[transfer]\nslots = 1\nlease = 3\npoll = 0.05\ninterval = 0.5\n"


def se_dir(grid: Grid, se: str) -> Path:
    return Path(turl_to_path(grid.ses.get(se).protocols["file"]))


def stored_objects(root: Path) -> set[str]:
    """The names of every file stored under ``root``, partial uploads included."""
    return {p.name for p in root.rglob("*") if p.is_file()}


def assert_consistent(grid: Grid, lfns: list[str], se: str, stored: set[str]) -> None:
    """Each file has one current replica on ``se``; ``stored`` holds those and nothing else.

    (A copy left by an agent that died is registered STALE before it is deleted.)
    """
    names = set()
    for lfn in lfns:
        replicas = [r for r in current_replicas(grid.replicas(lfn)) if r.se == se]
        assert len(replicas) == 1, (lfn, replicas)
        names.add(replicas[0].surl.rsplit("/", 1)[-1])
    assert stored == names


def wait_for_partial(root: Path, at_least: int, process: subprocess.Popen[str]) -> Path:
    """A partial upload under ``root`` with ``at_least`` bytes, as soon as there is one."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        for path in root.rglob("*"):
            try:
                if is_partial_upload(path.name) and path.stat().st_size >= at_least:
                    return path
            except FileNotFoundError:
                continue
        time.sleep(0.002)
    raise AssertionError("the agent never started a copy")


@pytest.fixture
def shared_config(tmp_path: Path, catalog_url: str) -> Path:
    """A configuration of three file:// SEs on the test's catalog, with quick leases."""
    path = write_grid_config(tmp_path)
    text = path.read_text().replace('url = "sqlite:///catalog.db"', f'url = "{catalog_url}"')
    path.write_text(text + AGENT_TABLE)
    return path


@pytest.mark.expect_warnings  # the takeover is logged
def test_an_agent_killed_mid_copy_is_taken_over_after_its_lease(
    shared_config: Path, tmp_path: Path
) -> None:
    config = load_config(shared_config)
    with Grid.from_config(config, create=True) as grid:
        make_vo(grid)
        lfns = []
        for index in range(3):
            local = tmp_path / f"big{index}"
            local.write_bytes(os.urandom(48 << 20))
            lfns.append(f"{VO}/big{index}")
            grid.cr(local, lfns[-1], "cern-se")
            local.unlink()
        with Transfers.from_config(config, grid=grid) as transfers:
            job = transfers.submit(lfns, Submission(("infn-se",)))
            doomed = subprocess.Popen(
                [GRIDFS, "--config", str(shared_config), "transfer", "agent", "--name", "doomed"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                partial = wait_for_partial(se_dir(grid, "infn-se"), 4 << 20, doomed)
                os.kill(doomed.pid, signal.SIGKILL)  # mid-copy: its partial upload grows
            finally:
                doomed.kill()
                doomed.communicate()
            assert partial.exists()  # what the dead agent left
            dead = next(f for f in transfers.status(job).files if f.lease_owner == "doomed")
            assert dead.state is FileState.ACTIVE
            assert dead.dest_surl is not None  # recorded before its first byte
            rescuer = Agent(grid, transfers.store, transfers.settings, name="rescuer")
            rescuer.run(until_idle=True)
            record = transfers.status(job)
            assert record.state is JobState.FINISHED, record
            taken = next(f for f in record.files if f.id == dead.id)
            assert taken.attempts == 2
            assert taken.dest_surl != dead.dest_surl  # a fresh name, the old one deleted
            assert_consistent(grid, lfns, "infn-se", stored_objects(se_dir(grid, "infn-se")))
            for lfn in lfns:
                (replica,) = [r for r in current_replicas(grid.replicas(lfn)) if r.se == "infn-se"]
                path = turl_to_path(resolve_turl(replica.surl, grid.ses.get("infn-se"), ["file"]))
                assert f"{zlib.adler32(Path(path).read_bytes()):08x}" == grid.stat(lfn).checksum


def kill_when_growing(server: XRootDServer, root: Path, at_least: int) -> threading.Thread:
    """SIGKILL the server (by its PID) once an upload under ``root`` has ``at_least`` bytes."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for path in root.rglob("*"):
                try:
                    if path.is_file() and path.stat().st_size >= at_least:
                        pid = server.pid
                        assert pid is not None
                        os.kill(pid, signal.SIGKILL)
                        return
                except FileNotFoundError:
                    continue
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


@pytest.mark.expect_warnings  # failing copies and a dead SE are logged
def test_an_se_killed_mid_transfer(
    private_xrootd: XRootDServer, config: Config, catalog_url: str, tmp_path: Path, make_file
) -> None:
    remote = (
        '[se.remote]\nsite = "far"\nsurl_prefix = "srm://remote/grid"\n'
        f'[se.remote.protocols]\nroot = "{private_xrootd.url}/se"\n'
    )
    path = tmp_path / "remote.toml"
    path.write_text(
        (tmp_path / "config.toml").read_text().replace("[storage]\n", "[storage]\ntimeout = 5\n")
        + remote
    )
    remote_config = dataclasses.replace(load_config(path), catalog_url=catalog_url)
    assert private_xrootd.data_dir is not None
    data = private_xrootd.data_dir / "se"
    with Grid.from_config(remote_config, create=True) as grid:
        make_vo(grid)
        lfns = []
        for index in range(8):
            lfns.append(f"{VO}/s{index}")
            grid.cr(make_file(f"s{index}", 6 << 20, seed=index), lfns[-1], "cern-se")
        settings = dataclasses.replace(FAST, slots=2, attempts=2)
        with Transfers(grid, TransferStore.from_url(catalog_url), settings) as transfers:
            job = transfers.submit(lfns, Submission(("remote",)))
            watcher = kill_when_growing(private_xrootd, data, 2 << 20)
            Agent(grid, transfers.store, settings).run(until_idle=True)
            watcher.join()
            record = transfers.status(job)
            assert set(record.counts) <= {FileState.FINISHED, FileState.FAILED}
            assert record.counts.get(FileState.FAILED), "the SE died: something failed"
            for file in record.files:
                if file.state is FileState.FAILED:
                    assert file.reason
                    assert file.errno is not None
            private_xrootd.restart()
            # The copies the dead SE kept go once it is back, then the job is retried.
            Agent(grid, transfers.store, settings).run(until_idle=True)
            finished = [f.lfn for f in transfers.status(job).files if f.state is FileState.FINISHED]
            assert_consistent(grid, finished, "remote", stored_objects(data))
            assert transfers.retry(job) == record.counts[FileState.FAILED]
            Agent(grid, transfers.store, settings).run(until_idle=True)
            assert transfers.status(job).state is JobState.FINISHED
            assert_consistent(grid, lfns, "remote", stored_objects(data))
