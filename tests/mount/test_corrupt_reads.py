"""Reads through a real mount check what they hand out: a corrupt copy is EIO, marked, avoided."""

from __future__ import annotations

import errno
import hashlib
import subprocess
from pathlib import Path

import pytest

from gridfs.catalog import ReplicaStatus
from gridfs.config import load_config
from gridfs.gfal import Grid
from tests.conftest import make_vo
from tests.mount.conftest import replica_file
from tests.mount.mounting import mounted, needs_fuse
from tests.mount.test_remote import MIB, put, remote_grid  # noqa: F401 - fixtures
from tests.storage_servers import XRootDServer

pytestmark = [pytest.mark.mount, needs_fuse]


def _statuses(grid: Grid, lfn: str) -> dict[str, ReplicaStatus]:
    return {r.se: r.status for r in grid.replicas(lfn)}


@pytest.mark.expect_warnings
def test_a_corrupt_local_copy_fails_the_read_then_the_good_one_is_read(
    config_path: Path, make_file, tmp_path: Path
) -> None:
    with Grid.from_config(load_config(config_path)) as grid:
        make_vo(grid)
        contents = {}
        for name, size in (("run.root", 3 * MIB + 7), ("only.root", MIB)):
            source = make_file(name, size)
            contents[name] = source.read_bytes()
            grid.cr(source, f"/grid/gilda/{name}", se="cern-se")  # the local site's: read first
        grid.rep("/grid/gilda/run.root", "ral-se")
        for name, data in contents.items():  # bit rot: same size, other bytes
            half = len(data) // 2
            replica_file(grid, f"/grid/gilda/{name}", "cern-se").write_bytes(
                data[:half] + bytes(len(data) - half)
            )
        with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log") as target:
            path = target / "gilda" / "run.root"
            with pytest.raises(OSError, match="Input/output error") as info:
                path.read_bytes()
            assert info.value.errno == errno.EIO
            assert _statuses(grid, "/grid/gilda/run.root") == {
                "cern-se": ReplicaStatus.BAD,
                "ral-se": ReplicaStatus.AVAILABLE,
            }
            # The next open reads the good copy, none of the bad one's pages kept.
            assert path.read_bytes() == contents["run.root"]
            summed = subprocess.run(
                ["sha256sum", str(path)], capture_output=True, text=True, check=True
            )
            assert summed.stdout.split()[0] == hashlib.sha256(contents["run.root"]).hexdigest()
            # The only copy corrupt: cat fails (and goes on failing), never ends with success.
            for _ in range(2):
                cat = subprocess.run(
                    ["cat", str(target / "gilda" / "only.root")], capture_output=True, check=False
                )
                assert cat.returncode == 1
                assert b"Input/output error" in cat.stderr
            assert _statuses(grid, "/grid/gilda/only.root") == {"cern-se": ReplicaStatus.BAD}
    log = (tmp_path / "mount.log").read_text()
    assert "read is corrupt: adler32 " in log


@pytest.mark.expect_warnings
def test_a_corrupt_xrootd_copy_fails_the_read_and_its_cached_blocks_go(
    remote_grid: tuple[Grid, Path],  # noqa: F811 - the fixture
    private_xrootd: XRootDServer,
    make_file,
    tmp_path: Path,
) -> None:
    grid, config = remote_grid
    lfn = "/grid/gilda/remote.dat"
    data = put(grid, make_file, lfn, 5 * MIB + 123, seed=4, far=True)
    (surl,) = [r.surl for r in grid.replicas(lfn) if r.se == "remote"]
    relative = "se/" + surl.removeprefix("srm://remote/grid/")
    private_xrootd.put_file(relative, bytes(len(data)))  # the server's copy rots
    cache = tmp_path / "cache"
    options = ("-o", f"cache_dir={cache},cache_size=64M")
    with mounted(config, tmp_path / "mnt", tmp_path / "mount.log", *options) as target:
        path = target / "gilda" / "remote.dat"
        with pytest.raises(OSError, match="Input/output error") as info:
            path.read_bytes()
        assert info.value.errno == errno.EIO
        assert _statuses(grid, lfn) == {"remote": ReplicaStatus.BAD, "far": ReplicaStatus.AVAILABLE}
        assert list(cache.glob("*.blocks")) == []  # the bad copy's blocks are gone from the cache
        assert path.read_bytes() == data  # from the far copy
