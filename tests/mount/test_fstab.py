"""``mount -t fuse.gridfs`` and an fstab line, through mount(8) and the mount.fuse.gridfs helper.

mount(8) looks for its helpers in /sbin only. So that the test installs nothing
on the machine, it runs in a mount namespace of its own (unshare) in which a
directory holding the helper is bind-mounted over /usr/sbin.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.mount.mounting import MOUNT_HELPER, needs_fuse

pytestmark = [
    pytest.mark.mount,
    needs_fuse,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("unshare") is None,
        reason="needs root and unshare for a private mount namespace",
    ),
]


def in_private_namespace(helpers: Path, script: str) -> str:
    """Run ``script`` (sh) where /usr/sbin holds only ``helpers``; returns its output."""
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-euc",
         f"mount --bind {helpers} /usr/sbin\n{script}"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_mount_t_fuse_gridfs_and_an_fstab_line(
    config_path: Path, populated, tmp_path: Path
) -> None:
    _, contents = populated
    helpers = tmp_path / "sbin"
    helpers.mkdir()
    (helpers / "mount.fuse.gridfs").symlink_to(MOUNT_HELPER)
    target = tmp_path / "mnt"
    target.mkdir()
    file = target / "gilda" / "trailers" / "alien.mpg"
    log = tmp_path / "daemon.log"
    fstab = tmp_path / "fstab"
    fstab.write_text(
        f"{config_path}  {target}  fuse.gridfs  noauto,nosuid,ro,attr_timeout=30,log={log}  0 0\n"
    )
    output = in_private_namespace(
        helpers,
        f"""
        mount -t fuse.gridfs -o nodev,log={log} {config_path} {target}
        grep " {target} " /proc/self/mounts
        sha256sum {file}
        umount {target}
        mount -T {fstab} {target}
        grep " {target} " /proc/self/mounts
        sha256sum {file}
        if touch {target}/gilda/new 2>/dev/null; then echo writable; fi
        umount {target}
        """,
    )
    first, first_sum, second, second_sum = output.splitlines()
    digest = hashlib.sha256(contents["alien.mpg"]).hexdigest()
    assert first.split()[:3] == ["gridfs", str(target), "fuse.gridfs"]
    assert "nodev" in first.split()[3].split(",")
    assert first_sum.split()[0] == second_sum.split()[0] == digest
    assert second.split()[3].split(",")[0] == "ro"
    assert "nosuid" in second.split()[3].split(",")
    assert not os.path.ismount(target)
    # Each daemon logs its end after umount(8) returns: give the second one a moment.
    deadline = time.monotonic() + 10
    while log.read_text().count("unmounted") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().count("unmounted") == 2


def test_the_helper_reports_a_bad_option(config_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "mnt"
    target.mkdir()
    result = subprocess.run(
        [MOUNT_HELPER, str(config_path), str(target), "-o", "rw,cache_size=lots"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "cache_size must be a size" in result.stderr
    assert not os.path.ismount(target)
