"""Any user.* attribute through a real mount: setfattr/getfattr, cp, rsync and tar keep them."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gridfs.errors import NotFound
from tests.mount.mounting import needs_fuse

pytestmark = [pytest.mark.mount, needs_fuse]

TAGS = {"user.xdg.tags": b"higgs,2026", "user.origin": b"mc", "user.blob": bytes(range(256))}


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False, cwd=cwd
    )
    assert result.returncode == 0, f"{command[0]}: {result.stderr}"
    return result


def user_xattrs(path: Path) -> dict[str, bytes]:
    return {name: os.getxattr(path, name) for name in os.listxattr(path)}


def tagged_tree(root: Path) -> Path:
    """A local tree: a directory and two files, each with free-form attributes."""
    (root / "sub").mkdir(parents=True)
    for path in (root / "a.txt", root / "sub" / "b.txt"):
        path.write_bytes(path.name.encode())
        for name, value in TAGS.items():
            os.setxattr(path, name, value)
    os.setxattr(root / "sub", "user.origin", b"dir")
    return root


def test_setfattr_getfattr_of_any_name(mountpoint: Path, populated) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "trailers" / "matrix.mpg"
    run("setfattr", "-n", "user.foo", "-v", "bar", path)
    assert 'user.foo="bar"' in run("getfattr", "-d", path).stdout
    big = os.urandom(65536)  # the Linux limit, NULs and all
    os.setxattr(path, "user.big", big)
    assert os.getxattr(path, "user.big") == big
    with pytest.raises(OSError, match="Argument list too long") as too_big:
        os.setxattr(path, "user.bigger", big + b"x")
    assert too_big.value.errno == errno.E2BIG
    run("setfattr", "-x", "user.big", path)
    with pytest.raises(OSError, match="No data available") as gone:
        os.getxattr(path, "user.big")
    assert gone.value.errno == errno.ENODATA
    # Moved with the entry, searchable as a string, gone with it.
    moved = mountpoint / "gilda" / "matrix-moved.mpg"
    os.rename(path, moved)
    assert os.getxattr(moved, "user.foo") == b"bar"
    query = mountpoint / "gilda" / ".query" / "foo = 'bar'"
    assert os.listdir(query) == ["matrix-moved.mpg"]
    entry_id = grid.stat("/grid/gilda/matrix-moved.mpg").id
    moved.unlink()
    with pytest.raises(NotFound):
        grid.metadata.xattr_names(entry_id)


def test_cp_preserve_xattr_both_ways(mountpoint: Path, tmp_path: Path) -> None:
    source = tagged_tree(tmp_path / "local")
    into = mountpoint / "gilda" / "a.txt"
    run("cp", "--preserve=xattr", source / "a.txt", into)
    assert user_xattrs(into) == TAGS
    back = tmp_path / "back.txt"
    run("cp", "--preserve=xattr", into, back)
    assert user_xattrs(back) == TAGS
    run("cp", "--preserve=xattr", into, mountpoint / "gilda" / "copy.txt")  # grid to grid
    assert user_xattrs(mountpoint / "gilda" / "copy.txt") == TAGS


def test_rsync_x_both_ways_and_within_the_grid(mountpoint: Path, tmp_path: Path) -> None:
    source = tagged_tree(tmp_path / "local")
    into = mountpoint / "gilda" / "synced"
    run("rsync", "-aX", f"{source}/", f"{into}/")
    assert user_xattrs(into / "sub" / "b.txt") == TAGS
    assert user_xattrs(into / "sub") == {"user.origin": b"dir"}
    run("rsync", "-aX", f"{into}/", f"{mountpoint / 'gilda' / 'again'}/")
    assert user_xattrs(mountpoint / "gilda" / "again" / "a.txt") == TAGS
    out = tmp_path / "out"
    run("rsync", "-aX", f"{into}/", f"{out}/")
    assert user_xattrs(out / "sub" / "b.txt") == TAGS
    run("rsync", "-aX", "--checksum", f"{source}/", f"{into}/")  # again: nothing to change


def test_tar_xattrs_out_of_the_grid(mountpoint: Path, tmp_path: Path) -> None:
    into = mountpoint / "gilda" / "tree"
    shutil.copytree(tagged_tree(tmp_path / "local"), into, copy_function=_copy_with_xattrs)
    archive = tmp_path / "tree.tar"
    run("tar", "--xattrs", "--xattrs-include=user.*", "-cf", archive, "-C", into.parent, "tree")
    out = tmp_path / "out"
    out.mkdir()
    run("tar", "--xattrs", "--xattrs-include=user.*", "-xf", archive, "-C", out)
    assert user_xattrs(out / "tree" / "sub" / "b.txt") == TAGS


def test_tar_xattrs_into_the_grid(mountpoint: Path, tmp_path: Path) -> None:
    archive = tmp_path / "tree.tar"
    run("tar", "--xattrs", "-cf", archive, "-C", tagged_tree(tmp_path / "tree"), ".")
    into = mountpoint / "gilda" / "untarred"
    into.mkdir()
    run("tar", "--xattrs", "--xattrs-include=user.*", "-xf", archive, "-C", into)
    assert user_xattrs(into / "sub" / "b.txt") == TAGS


def _copy_with_xattrs(source: str, destination: str) -> None:
    shutil.copy2(source, destination)  # copy2 copies the user.* attributes too
