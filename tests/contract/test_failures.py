"""Servers that die mid-transfer, on private servers this module starts and stops itself."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.errors import ChecksumMismatch, NotFound, StorageUnavailable
from gridfs.gfal import Grid
from gridfs.storage import BackendPool
from tests.conftest import make_vo
from tests.storage_servers import (
    WebDAVServer,
    XRootDServer,
    find_xrootd,
    have_modules,
)

DOWN = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ETIMEDOUT, errno.EREMOTEIO}


@pytest.fixture(params=["root", "dav"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A server of our own, which the test may kill; returns the TURL prefix and the server."""
    if request.param == "root":
        if find_xrootd() is None or not have_modules("XRootD"):
            pytest.skip("xrootd or its Python bindings are not installed")
        xrootd = XRootDServer()
        xrootd.start(tmp_path / "xrootd")
        try:
            yield f"{xrootd.url}/se", xrootd
        finally:
            xrootd.stop()
    else:
        if not have_modules("wsgidav", "cheroot"):
            pytest.skip("wsgidav is not installed")
        dav = WebDAVServer()
        dav.start(tmp_path / "dav")
        try:
            yield "dav" + dav.url[dav.url.index("://") :] + "se", dav
        finally:
            dav.stop()


@contextlib.contextmanager
def _remote_grid(tmp_path: Path, base: str, also: str = "", protocols: str = "") -> Iterator[Grid]:
    """A grid whose default SE, "remote" at the local site "near", is reached at ``base``.

    ``also`` adds configuration (more SEs); file:// stays a protocol the grid speaks.
    """
    scheme = base.split(":", 1)[0]
    protocols = protocols or f'"{scheme}", "file"'
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[site]\nname = "near"\n'
        f'[storage]\ndefault_se = "remote"\nprotocols = [{protocols}]\ntimeout = 10\n'
        '[se.remote]\nsite = "near"\nsurl_prefix = "srm://remote/grid"\n'
        f'[se.remote.protocols]\n{scheme} = "{base}"\n{also}'
    )
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
        yield grid


@pytest.mark.expect_warnings
def test_a_server_dying_mid_upload_fails_the_write(server: tuple[str, object]) -> None:
    base, process = server
    turl = f"{base}/upload"

    def chunks() -> Iterator[bytes]:
        yield os.urandom(1 << 20)
        process.kill()  # type: ignore[attr-defined]
        for _ in range(8):
            yield os.urandom(1 << 20)

    with BackendPool() as pool:
        backend = pool.backend(base)
        with pytest.raises(StorageUnavailable) as info:
            backend.write(turl, chunks())
        assert info.value.errno in DOWN
        process.restart()  # type: ignore[attr-defined]
        with pytest.raises(NotFound):
            backend.stat(turl)  # never under its final name: nothing can register it


def test_a_server_dying_mid_read_fails_the_read(server: tuple[str, object]) -> None:
    base, process = server
    turl = f"{base}/object"
    data = os.urandom(4 << 20)
    with BackendPool() as pool:
        backend = pool.backend(base)
        backend.write(turl, [data])
        reader = backend.open_reader(turl)
        try:
            assert reader.pread(0, 1 << 20) == data[: 1 << 20]
            process.kill()  # type: ignore[attr-defined]
            with pytest.raises(StorageUnavailable) as info:
                reader.pread(1 << 20, 1 << 20)
            assert info.value.errno in DOWN
        finally:
            reader.close()
            process.restart()  # type: ignore[attr-defined]


@pytest.mark.expect_warnings
def test_cr_to_a_dead_se_registers_nothing(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base) as grid:
        source = make_file("big", 8 << 20)
        entry = grid.cr(source, "/grid/ok")  # the SE works
        with grid.open("/grid/ok") as stream:
            assert stream.read() == source.read_bytes()
        process.kill()  # type: ignore[attr-defined]
        with pytest.raises(StorageUnavailable):
            grid.cr(source, "/grid/lost")
        with pytest.raises(NotFound):
            grid.stat("/grid/lost")
        process.restart()  # type: ignore[attr-defined]
        assert grid.listdir("/grid") == ["ok"]
        assert grid.stat("/grid/ok").guid == entry.guid


def test_a_wrong_checksum_is_caught_across_protocols(
    xrootd_server: XRootDServer, webdav_server: WebDAVServer, tmp_path: Path, make_file
) -> None:
    area = tmp_path.name
    dav = "dav" + webdav_server.url[webdav_server.url.index("://") :] + area
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n'
        '[storage]\ndefault_se = "xrd-se"\nprotocols = ["root", "dav"]\n'
        '[se.xrd-se]\nsurl_prefix = "srm://xrd/grid"\n'
        f'[se.xrd-se.protocols]\nroot = "{xrootd_server.url}/{area}"\n'
        '[se.dav-se]\nsurl_prefix = "srm://dav/grid"\n'
        f'[se.dav-se.protocols]\ndav = "{dav}"\n'
    )
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
        source = make_file("f", 2 << 20)
        grid.cr(source, "/grid/f")
        (stored,) = [p for p in (xrootd_server.data_dir / area).rglob("file-*") if p.is_file()]
        stored.write_bytes(b"\0" * (2 << 20))  # bit rot: same size, other bytes
        with pytest.raises(ChecksumMismatch, match="expected adler32"):
            grid.rep("/grid/f", "dav-se")
        assert [r.se for r in grid.catalog.replicas("/grid/f")] == ["xrd-se"]
        leftovers = (webdav_server.data_dir / area).rglob("*")
        assert [p for p in leftovers if p.is_file()] == []


@pytest.mark.expect_warnings
def test_a_read_goes_on_from_another_replica_when_one_dies(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    far_disk = '[se.local]\nsite = "far"\nroot = "local-se"\n'
    with _remote_grid(tmp_path, base, also=far_disk) as grid:
        source = make_file("big", 6 << 20)
        data = source.read_bytes()
        grid.cr(source, "/grid/big")
        grid.rep("/grid/big", "local")
        with grid.open("/grid/big", buffering=0) as stream:
            assert stream.replica.se == "remote"  # the near one first
            head = stream.read(1 << 20)
            process.kill()  # type: ignore[attr-defined]
            rest = stream.read()  # no error: the far replica takes over at 1 MiB
            assert stream.replica.se == "local"
        assert head + rest == data
        process.restart()  # type: ignore[attr-defined]


@pytest.mark.expect_warnings
def test_a_new_version_that_cannot_be_stored_keeps_the_old_one(
    server: tuple[str, object], tmp_path: Path, make_file
) -> None:
    base, process = server
    with _remote_grid(tmp_path, base) as grid:
        source = make_file("v1", 3 << 20)
        first = grid.cr(source, "/grid/v")
        stream = grid.open("/grid/v", "r+b")
        stream.seek(1000)
        stream.write(b"the second version")
        stream.flush()  # fetched and changed locally; stored only on close
        process.kill()  # type: ignore[attr-defined]
        with pytest.raises(StorageUnavailable) as info:
            stream.close()
        kept = Path(info.value.__notes__[0].rsplit(" ", 1)[-1])
        assert kept.read_bytes()[1000:1018] == b"the second version"
        kept.unlink()
        process.restart()  # type: ignore[attr-defined]
        after = grid.stat("/grid/v")
        assert (after.guid, after.size, after.checksum) == (
            first.guid,
            first.size,
            first.checksum,
        )
        with grid.open("/grid/v") as reader:
            assert reader.read() == source.read_bytes()
        (surl,) = grid.lr("/grid/v")
        assert surl.endswith(f"file-{first.guid}")


@pytest.mark.expect_warnings
def test_a_read_fails_over_between_two_servers(tmp_path: Path, make_file) -> None:
    """Replicas on an XRootD and a WebDAV server; the one being read dies mid-file."""
    if find_xrootd() is None or not have_modules("XRootD", "wsgidav", "cheroot"):
        pytest.skip("xrootd, its Python bindings or wsgidav are not installed")
    xrootd, dav = XRootDServer(), WebDAVServer()
    xrootd.start(tmp_path / "xrootd")
    dav.start(tmp_path / "dav")
    try:
        dav_base = "dav" + dav.url[dav.url.index("://") :] + "se"
        webdav_se = (
            '[se.webdav]\nsite = "far"\nsurl_prefix = "srm://webdav/grid"\n'
            f'[se.webdav.protocols]\ndav = "{dav_base}"\n'
        )
        with _remote_grid(
            tmp_path, f"{xrootd.url}/se", also=webdav_se, protocols='"root", "dav"'
        ) as grid:
            source = make_file("big", 6 << 20)
            grid.cr(source, "/grid/big")  # on the near XRootD server
            grid.rep("/grid/big", "webdav")
            with grid.open("/grid/big", buffering=0) as stream:
                assert stream.replica.se == "remote"
                head = stream.read(1 << 20)
                xrootd.kill()
                rest = stream.read()  # no error: WebDAV goes on at 1 MiB
                assert stream.replica.se == "webdav"
            assert head + rest == source.read_bytes()
    finally:
        dav.stop()
        xrootd.stop()
