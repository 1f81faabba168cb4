"""Remote replicas through a real mount: the block cache, and an XRootD server that dies."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.gfal import Grid
from tests.conftest import make_vo
from tests.mount.mounting import mounted, needs_fuse
from tests.storage_servers import WebDAVServer, XRootDServer

pytestmark = [pytest.mark.mount, needs_fuse]

MIB = 1 << 20


@pytest.fixture
def remote_grid(tmp_path: Path, private_xrootd: XRootDServer) -> Iterator[tuple[Grid, Path]]:
    """SE "remote" (root://, at the local site) and SE "far" (file://, another site)."""
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[identity]\nuser = "alice"\ngroups = ["gilda"]\n'
        '[site]\nname = "near"\n'
        '[storage]\ndefault_se = "remote"\nprotocols = ["root", "file"]\ntimeout = 10\n'
        '[se.remote]\nsite = "near"\nsurl_prefix = "srm://remote/grid"\n'
        f'[se.remote.protocols]\nroot = "{private_xrootd.url}/se"\n'
        '[se.far]\nsite = "far"\nroot = "far-se"\n'
    )
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid)
        yield grid, config


def put(grid: Grid, make_file, lfn: str, size: int, *, seed: int, far: bool) -> bytes:
    source = make_file(lfn.rsplit("/", 1)[1], size, seed=seed)
    grid.cr(source, lfn)
    if far:
        grid.rep(lfn, "far")
    return source.read_bytes()


def _stored(cache: Path, contents: list[bytes]) -> list[bytes]:
    """The cache's files of blocks once they hold ``contents``: writer threads store them later.

    One sparse file per remote file; bytes not stored yet read as zeros.
    """
    deadline = time.monotonic() + 10
    while True:
        stored = sorted(path.read_bytes() for path in cache.glob("*.blocks"))
        if stored == sorted(contents) or time.monotonic() > deadline:
            return stored
        time.sleep(0.01)


@pytest.mark.expect_warnings
def test_remote_reads_go_through_the_block_cache(
    remote_grid: tuple[Grid, Path], private_xrootd: XRootDServer, make_file, tmp_path: Path
) -> None:
    grid, config = remote_grid
    data = put(grid, make_file, "/grid/gilda/remote.dat", 5 * MIB + 123, seed=1, far=False)
    cache = tmp_path / "cache"
    options = ("-o", f"cache_dir={cache},cache_size=64M")
    with mounted(config, tmp_path / "mnt", tmp_path / "mount.log", *options) as target:
        path = target / "gilda" / "remote.dat"
        assert path.read_bytes() == data
        assert _stored(cache, [data]) == [data]  # five whole MiB blocks and the tail
        with path.open("rb") as stream:
            os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            private_xrootd.kill()
            # The server is gone, but the file's blocks are all on local disk.
            try:
                stream.seek(2 * MIB + 5)
                assert stream.read(3 * MIB) == data[2 * MIB + 5 : 5 * MIB + 5]
            finally:
                private_xrootd.restart()
    # The blocks outlive the mount, for the next one.
    assert [path.read_bytes() for path in cache.glob("*.blocks")] == [data]


@pytest.mark.expect_warnings
def test_an_se_down_on_open_is_skipped(
    remote_grid: tuple[Grid, Path], private_xrootd: XRootDServer, make_file, tmp_path: Path
) -> None:
    grid, config = remote_grid
    both = put(grid, make_file, "/grid/gilda/both.dat", 3 * MIB, seed=2, far=True)
    put(grid, make_file, "/grid/gilda/only-remote.dat", MIB, seed=3, far=False)
    cache = tmp_path / "cache"
    with mounted(
        config, tmp_path / "mnt", tmp_path / "mount.log", "-o", f"cache_dir={cache}"
    ) as target:
        private_xrootd.kill()
        try:
            assert (target / "gilda" / "both.dat").read_bytes() == both
            # Nothing listens on the SE's port: refused at once, and said so.
            with pytest.raises(ConnectionRefusedError):
                (target / "gilda" / "only-remote.dat").read_bytes()
        finally:
            private_xrootd.restart()
    log = (tmp_path / "mount.log").read_text()
    assert "no replica of /grid/gilda/only-remote.dat could be read" in log


@pytest.mark.expect_warnings
def test_an_se_killed_mid_read_and_the_read_completes(
    remote_grid: tuple[Grid, Path], private_xrootd: XRootDServer, make_file, tmp_path: Path
) -> None:
    grid, config = remote_grid
    size = 48 * MIB
    data = put(grid, make_file, "/grid/gilda/big.dat", size, seed=4, far=True)
    cache = tmp_path / "cache"
    with mounted(
        config, tmp_path / "mnt", tmp_path / "mount.log", "-o", f"cache_dir={cache}"
    ) as target:
        with (target / "gilda" / "big.dat").open("rb", buffering=0) as stream:
            head = stream.read(MIB)
            assert os.getxattr(stream.name, "user.replica").startswith(b"root://")
            private_xrootd.kill()
            try:
                rest = bytearray()
                while chunk := stream.read(4 * MIB):
                    rest += chunk
            finally:
                private_xrootd.restart()
            assert os.getxattr(stream.name, "user.replica").startswith(b"file://")
        assert head + bytes(rest) == data


def test_webdav_and_xrdhttp_replicas_read_through_the_block_cache(
    tmp_path: Path, make_file, webdav_server: WebDAVServer, xrdhttp_server: XRootDServer
) -> None:
    """WebDAV SEs go through the same block cache, read ahead in parallel, as root:// ones."""
    area = tmp_path.name
    assert xrdhttp_server.data_dir is not None
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[identity]\nuser = "alice"\ngroups = ["gilda"]\n'
        '[storage]\ndefault_se = "dav"\nprotocols = ["dav", "http"]\ntimeout = 10\n'
        '[se.dav]\nsurl_prefix = "srm://dav/grid"\n'
        f'[se.dav.protocols]\ndav = "dav{webdav_server.url[4:]}{area}"\n'
        '[se.door]\nsurl_prefix = "srm://door/grid"\n'
        f'[se.door.protocols]\nhttp = "{xrdhttp_server.http_url}{area}"\n'
    )
    sizes = {"dav": 9 * MIB + 77, "door": 40 * MIB + 5}
    contents = {}
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid)
        for se, size in sizes.items():
            source = make_file(f"{se}.dat", size, seed=len(se))
            contents[se] = source.read_bytes()
            if se == "dav":
                grid.cr(source, f"/grid/gilda/{se}.dat", se=se)
            else:  # XrdHttp takes no streamed PUT: the file is put in place, then registered
                xrdhttp_server.put_file(f"{area}/{se}.dat", contents[se])
                grid.rf(f"srm://door/grid/{se}.dat", f"/grid/gilda/{se}.dat", se=se)
    cache = tmp_path / "cache"
    options = ("-o", f"cache_dir={cache},cache_size=256M")
    with mounted(config, tmp_path / "mnt", tmp_path / "mount.log", *options) as target:
        for se, data in contents.items():
            assert (target / "gilda" / f"{se}.dat").read_bytes() == data
    assert _stored(cache, list(contents.values())) == sorted(contents.values())
