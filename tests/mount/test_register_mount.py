"""setfattr user.replicas +SURL through the mount: only the file's own content is registered."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from gridfs.gfal import Grid
from tests.cli.test_cli import GRIDFS
from tests.mount.conftest import replica_file

LFN = "/grid/gilda/trailers/alien.mpg"


def test_setfattr_replicas_checks_the_copy(
    mountpoint: Path, populated: tuple[Grid, dict[str, bytes]]
) -> None:
    grid, contents = populated
    path = mountpoint / "gilda" / "trailers" / "alien.mpg"
    area = replica_file(grid, LFN, "infn-se").parent
    (area / "evil.mpg").write_bytes(b"E" * len(contents["alien.mpg"]))
    (area / "good.mpg").write_bytes(contents["alien.mpg"])
    (registered,) = [r.surl for r in grid.catalog.replicas(LFN) if r.se == "infn-se"]
    surl = registered.rsplit("/", 1)[0]  # the directory of the stored copy, as a SURL
    before = set(grid.lr(LFN))
    for name, code in (("evil.mpg", errno.EIO), ("absent.mpg", errno.ENOENT)):
        with pytest.raises(OSError, match=os.strerror(code)) as caught:
            os.setxattr(path, "user.replicas", f"+{surl}/{name}".encode())
        assert caught.value.errno == code
    assert set(grid.lr(LFN)) == before
    os.setxattr(path, "user.replicas", f"+{surl}/good.mpg".encode())
    assert set(grid.lr(LFN)) == before | {f"{surl}/good.mpg"}


def test_se_add_says_how_a_running_mount_sees_the_new_se(
    mountpoint: Path, config_path: Path, tmp_path: Path
) -> None:
    command = [GRIDFS, "--config", config_path, "se", "add", "new-se", "--site", "x"]
    added = subprocess.run(
        [*command, "--root", tmp_path / "new-se"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "gridfs is mounted at " in added.stdout
    assert str(mountpoint) in added.stdout
    assert "remount to see the change" in added.stdout
