"""Directories kept in memory by the mount: the mount's own changes show at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mount.mounting import mounted, needs_fuse

pytestmark = [pytest.mark.mount, needs_fuse]

NOBODY = 65534


def as_nobody(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        + [str(part) for part in command],
        capture_output=True,
        text=True,
        check=False,
    )


def test_renames_chmods_and_new_files_show_at_once(mountpoint: Path) -> None:
    trailers = mountpoint / "gilda" / "trailers"
    names = sorted(os.listdir(trailers))  # the directory is now kept whole
    for name in names:
        os.stat(trailers / name)
    os.rename(trailers / "alien.mpg", trailers / "alien-1979.mpg")
    assert not (trailers / "alien.mpg").exists()
    assert (trailers / "alien-1979.mpg").stat().st_size == 320_102
    assert "alien-1979.mpg" in os.listdir(trailers)
    os.chmod(trailers / "matrix.mpg", 0o600)
    assert os.stat(trailers / "matrix.mpg").st_mode & 0o777 == 0o600
    (trailers / "new.txt").write_bytes(b"new")
    assert os.stat(trailers / "new.txt").st_size == 3
    assert "new.txt" in os.listdir(trailers)
    (trailers / "new.txt").unlink()
    assert "new.txt" not in os.listdir(trailers)
    with pytest.raises(FileNotFoundError):
        os.stat(trailers / "new.txt")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="gridfs-shared-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another local user needs root")
def test_what_one_caller_may_see_is_kept_for_that_caller_alone(
    config_path: Path, populated, shared_dir: Path, tmp_path: Path
) -> None:
    grid, _ = populated
    grid.chmod("/grid/gilda", 0o755)
    grid.mkdir("/grid/gilda/private", 0o700)
    for name in ("secret", "other", "sub/x", "sub/y"):
        if name == "sub/x":
            grid.mkdir("/grid/gilda/private/sub", 0o755)
        grid.catalog.add_file(f"/grid/gilda/private/{name}", size=1)
    (shared_dir / "mnt").mkdir()
    with mounted(
        config_path, shared_dir / "mnt", tmp_path / "mount.log", "-o", "allow_other"
    ) as target:
        private = target / "gilda" / "private"
        # One lookup keeps the whole directory, for the mounting user only. (The
        # kernel shares the names it has seen with every caller, so nobody asks
        # for one it has not: "other".)
        assert os.stat(private / "secret").st_size == 1
        denied = as_nobody("stat", private / "other")
        assert denied.returncode != 0
        assert "Permission denied" in denied.stderr
        # A chmod through the mount opens it to others at once, and closes it again.
        os.chmod(private, 0o755)
        allowed = as_nobody("stat", "-c", "%s", private / "other")
        assert allowed.returncode == 0, allowed.stderr
        listed = as_nobody("ls", private)  # kept for nobody now, the walk to it too
        assert listed.stdout.split() == ["other", "secret", "sub"], listed.stderr
        assert as_nobody("stat", private / "sub" / "x").returncode == 0  # sub kept too
        os.chmod(private, 0o700)
        closed = as_nobody("ls", private)
        assert closed.returncode != 0
        assert "Permission denied" in closed.stderr
        # Below it too, though the kernel still knows the way (private, sub) by name.
        below = as_nobody("stat", private / "sub" / "y")
        assert below.returncode != 0
        assert "Permission denied" in below.stderr
