"""Transfers through a real mount: setfattr user.grid.replicate submits, getfattr shows it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.transfer import Agent, TransferSettings, TransferStore
from tests.mount.mounting import needs_fuse

pytestmark = needs_fuse


def attr(path: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["getfattr", "--only-values", "-n", name, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_setfattr_replicates_and_getfattr_follows_it(
    mountpoint: Path, populated: tuple[Grid, dict[str, bytes]], config_path: Path
) -> None:
    grid, _ = populated
    movie = mountpoint / "gilda" / "trailers" / "alien.mpg"
    assert attr(movie, "user.grid.transfers").returncode != 0  # none yet: ENODATA
    subprocess.run(
        ["setfattr", "-n", "user.grid.replicate", "-v", "cern-se", str(movie)], check=True
    )
    state = attr(movie, "user.grid.transfers").stdout
    assert state.endswith(" cern-se submitted")
    refused = subprocess.run(
        ["setfattr", "-n", "user.grid.replicate", "-v", "moon-se", str(movie)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    store = TransferStore.from_url(load_config(config_path).catalog_url)
    try:
        Agent(grid, store, TransferSettings(poll_s=0.05)).run(until_idle=True)
    finally:
        store.close()
    assert attr(movie, "user.grid.transfers").stdout.endswith(" cern-se finished")
    assert any(r.se == "cern-se" for r in grid.replicas("/grid/gilda/trailers/alien.mpg"))
