"""A mount whose daemon was killed: recognised, explained, and cleared by the next mount."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.fuse.stale import is_stale, mount_type
from tests.mount.conftest import TRAILERS
from tests.mount.mounting import FUSERMOUNT, GRIDFS, needs_fuse, start_mount

pytestmark = [pytest.mark.mount, needs_fuse]


@pytest.fixture
def stale(config_path: Path, populated, tmp_path: Path) -> Iterator[Path]:
    """A mount point whose gridfs daemon we killed (SIGKILL, by its PID)."""
    target = tmp_path / "mnt"
    process = start_mount(config_path, target, tmp_path / "mount.log")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)  # a daemon stuck on its own mount would never end
    try:
        yield target
    finally:
        # os.path.ismount is False for a stale mount: unmount whatever is left.
        subprocess.run([FUSERMOUNT, "-u", str(target)], capture_output=True, check=False)


def _gridfs(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRIDFS, "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_killed_daemon_leaves_a_stale_mount_that_the_next_mount_clears(
    config_path: Path, stale: Path
) -> None:
    with pytest.raises(OSError, match="Transport endpoint is not connected") as info:
        os.listdir(stale)
    assert info.value.errno == errno.ENOTCONN
    assert is_stale(stale)
    assert mount_type(stale) == "fuse.gridfs"
    result = _gridfs(config_path, "mount", str(stale))
    assert result.returncode == 0, result.stderr
    assert "was a stale gridfs mount (its daemon had died): unmounted it" in result.stderr
    pid = int(result.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        assert sorted(os.listdir(stale / "gilda" / "trailers")) == sorted(TRAILERS)
        assert _gridfs(config_path, "umount", str(stale)).returncode == 0
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # the daemon exits once unmounted
    finally:
        subprocess.run([FUSERMOUNT, "-u", str(stale)], capture_output=True, check=False)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert not is_stale(stale)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_umount_clears_a_stale_mount(config_path: Path, stale: Path) -> None:
    result = _gridfs(config_path, "umount", str(stale))
    assert result.returncode == 0, result.stderr
    assert not is_stale(stale)
    assert not os.path.ismount(stale)
    assert os.listdir(stale) == []
