"""Files on tape through a real mount: open stages them, waiting or answering EAGAIN."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from tests.mount.mounting import mounted, needs_fuse

pytestmark = [pytest.mark.mount, needs_fuse]


@pytest.fixture
def on_tape(config_path: Path, populated, make_file) -> tuple[Path, bytes]:
    """/grid/gilda/raw.dat, only on tape (a nearline SE whose recall takes 0.5 s)."""
    home = config_path.parent
    with config_path.open("a") as config:
        config.write(
            f'[se.tape-se]\nsite = "cern"\nroot = "{home}/tape/disk"\n'
            f'tape = "{home}/tape/tape"\nstage_delay = 0.5\n'
        )
    source = make_file("raw.dat", 300_000, seed=9)
    with Grid.from_config(load_config(config_path)) as tape_grid:
        tape_grid.cr(source, "/grid/gilda/raw.dat", se="tape-se")
        tape_grid.release("/grid/gilda/raw.dat")
        assert tape_grid.getxattr("/grid/gilda/raw.dat", "user.status") == b"NEARLINE"
    return config_path, source.read_bytes()


def test_opening_a_file_on_tape_waits_for_its_stage(
    on_tape: tuple[Path, bytes], tmp_path: Path
) -> None:
    config, data = on_tape
    with mounted(config, tmp_path / "mnt", tmp_path / "mount.log") as target:
        path = target / "gilda" / "raw.dat"
        started = time.monotonic()
        assert path.read_bytes() == data
        assert time.monotonic() - started >= 0.5  # the recall
        assert os.getxattr(path, "user.status") == b"ONLINE_AND_NEARLINE"


def test_stage_eagain_answers_at_once_while_the_stage_goes_on(
    on_tape: tuple[Path, bytes], tmp_path: Path
) -> None:
    config, data = on_tape
    options = ("-o", "stage_eagain")
    with mounted(config, tmp_path / "mnt", tmp_path / "mount.log", *options) as target:
        path = target / "gilda" / "raw.dat"
        with pytest.raises(BlockingIOError) as info:
            path.open("rb")
        assert info.value.errno == errno.EAGAIN
        with pytest.raises(BlockingIOError):
            path.open("rb")  # the same stage, not a second one
        deadline = time.monotonic() + 30
        while os.getxattr(path, "user.status") == b"NEARLINE":
            assert time.monotonic() < deadline, "the stage did not finish"
            time.sleep(0.05)
        assert path.read_bytes() == data


def test_a_stage_that_times_out_is_eagain(on_tape: tuple[Path, bytes], tmp_path: Path) -> None:
    config, _ = on_tape
    options = ("-o", "stage_timeout=0.1")
    with (
        mounted(config, tmp_path / "mnt", tmp_path / "mount.log", *options) as target,
        pytest.raises(BlockingIOError),
    ):
        (target / "gilda" / "raw.dat").open("rb")


@pytest.mark.expect_warnings
def test_a_lost_disk_copy_is_read_from_tape(on_tape: tuple[Path, bytes], tmp_path: Path) -> None:
    config, data = on_tape
    with Grid.from_config(load_config(config)) as grid:
        grid.bring_online("/grid/gilda/raw.dat").wait()  # type: ignore[union-attr]
        grid.rep("/grid/gilda/raw.dat", "cern-se")
        grid.release("/grid/gilda/raw.dat")
        (surl,) = [
            r.surl for r in grid.catalog.replicas("/grid/gilda/raw.dat") if r.se == "cern-se"
        ]
        Path(turl_to_path(resolve_turl(surl, grid.ses.get("cern-se"), ["file"]))).unlink()
    with mounted(config, tmp_path / "mnt", tmp_path / "mount.log") as target:
        # The disk copy counts as online but is gone: the tape copy is staged and read.
        assert (target / "gilda" / "raw.dat").read_bytes() == data
