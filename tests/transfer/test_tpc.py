"""Third-party copy: a server pulls the replica from another (both configured for TPC).

XRootD TPC between two xrootd servers (``ofs.tpc``), and HTTP TPC (``COPY``
with ``Source:``) between two XrdHttp doors (libXrdHttpTPC over HTTPS).
"""

from __future__ import annotations

import ctypes.util
import dataclasses
import random
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.config import Config, load_config
from gridfs.errors import NotFound
from gridfs.gfal import Grid
from gridfs.gfal.register_stored import register_stored, walk_se
from gridfs.transfer import Agent, JobState, Submission, Transfers, TransferStore
from tests.conftest import make_vo
from tests.storage_servers import (
    WebDAVServer,
    XRootDServer,
    find_xrootd,
    have_modules,
    make_test_ca,
)
from tests.transfer.conftest import FAST, VO


@pytest.fixture
def tpc_servers(tmp_path: Path) -> Iterator[tuple[XRootDServer, XRootDServer]]:
    if find_xrootd() is None or not have_modules("XRootD"):
        pytest.skip("xrootd or its Python bindings are not installed")
    servers = (XRootDServer(tpc=True), XRootDServer(tpc=True))
    try:
        for name, server in zip("ab", servers, strict=True):
            server.start(tmp_path / f"xrootd-{name}")
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def tpc_grid(
    tpc_servers: tuple[XRootDServer, XRootDServer], config: Config, tmp_path: Path, catalog_url: str
) -> Iterator[Grid]:
    extra = "".join(
        f'[se.x{name}]\nsite = "{name}"\nsurl_prefix = "srm://x{name}/grid"\ntpc = true\n'
        f'[se.x{name}.protocols]\nroot = "{server.url}/se"\n'
        for name, server in zip("ab", tpc_servers, strict=True)
    )
    path = tmp_path / "tpc.toml"
    path.write_text((tmp_path / "config.toml").read_text() + extra)
    tpc_config = dataclasses.replace(load_config(path), catalog_url=catalog_url)
    with Grid.from_config(tpc_config, create=True) as grid:
        make_vo(grid)
        yield grid


def test_a_transfer_between_tpc_servers_is_pulled_by_the_destination(
    tpc_grid: Grid,
    tpc_servers: tuple[XRootDServer, XRootDServer],
    catalog_url: str,
    make_file,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lfns = []
    for index in range(3):
        lfns.append(f"{VO}/t{index}")
        tpc_grid.cr(make_file(f"t{index}", 2 << 20, seed=index), lfns[-1], "xa")
    with Transfers(tpc_grid, TransferStore.from_url(catalog_url), FAST) as transfers:
        job = transfers.submit(lfns, Submission(("xb", "infn-se")))
        Agent(tpc_grid, transfers.store, FAST).run(until_idle=True)
        assert transfers.status(job).state is JobState.FINISHED
    pulled = [r.getMessage() for r in caplog.records if "by third-party copy" in r.getMessage()]
    assert len(pulled) == 3  # to xb; infn-se (file://) was streamed
    data = tpc_servers[1].data_dir
    assert data is not None
    for lfn in lfns:
        (replica,) = [r for r in tpc_grid.replicas(lfn) if r.se == "xb"]
        stored = data / "se" / replica.surl.removeprefix("srm://xb/grid/")
        assert f"{zlib.adler32(stored.read_bytes()):08x}" == tpc_grid.stat(lfn).checksum
        assert any(r.se == "infn-se" for r in tpc_grid.replicas(lfn))


@pytest.fixture
def https_tpc_servers(tmp_path: Path) -> Iterator[tuple[XRootDServer, XRootDServer, Path]]:
    """Two XrdHttp servers over HTTPS that do HTTP TPC, and the CA both trust."""
    if find_xrootd() is None or not have_modules("XRootD", "cryptography"):
        pytest.skip("xrootd, its Python bindings or cryptography are not installed")
    if ctypes.util.find_library("XrdHttpTPC-5") is None:
        pytest.skip("libXrdHttpTPC (xrootd-server-plugins) is not installed")
    tls = make_test_ca(tmp_path / "tls")
    servers = (
        XRootDServer(http=True, tpc=True, tls=tls),
        XRootDServer(http=True, tpc=True, tls=tls),
    )
    try:
        for name, server in zip("ab", servers, strict=True):
            server.start(tmp_path / f"xrdhttp-{name}")
        yield servers[0], servers[1], tls[0]
    finally:
        for server in servers:
            server.stop()


def https_grid(
    servers: tuple[XRootDServer, XRootDServer], ca: Path, tmp_path: Path, catalog_url: str
) -> Grid:
    """A grid whose SEs ha and hb are the two servers' HTTPS doors, marked tpc."""
    extra = "".join(
        f'[se.h{name}]\nsite = "{name}"\nsurl_prefix = "srm://h{name}/grid"\ntpc = true\n'
        f'[se.h{name}.protocols]\ndavs = "{server.https_url.replace("https:", "davs:")}se"\n'
        for name, server in zip("ab", servers, strict=True)
    )
    text = (tmp_path / "config.toml").read_text()
    text = text.replace("[storage]\n", f'[storage]\nca_file = "{ca}"\n', 1)
    path = tmp_path / "https-tpc.toml"
    path.write_text(text + extra)
    grid = Grid.from_config(
        dataclasses.replace(load_config(path), catalog_url=catalog_url), create=True
    )
    make_vo(grid)
    return grid


def planted(grid: Grid, server: XRootDServer, count: int) -> list[str]:
    """``count`` files put on ``server`` (SE ha) and registered from there: their LFNs.

    Put as the server's own files, as its uploads through httpx fail on this
    XrdHttp (5.5: "Invalid chunked encoding" for a streamed PUT).
    """
    for index in range(count):
        data = random.Random(index).randbytes((1 << 20) + index)
        server.put_file(f"se/data/h{index}", data)
    done = register_stored(
        grid,
        walk_se(grid, "srm://ha/grid/data", grid.ses.get("ha")),
        "srm://ha/grid/data",
        f"{VO}/data",
        "ha",
    )
    assert (done.added, done.refused) == (count, [])
    return [f"{VO}/data/h{index}" for index in range(count)]


def test_a_transfer_between_https_servers_is_pulled_by_http_tpc(
    https_tpc_servers: tuple[XRootDServer, XRootDServer, Path],
    config: Config,
    tmp_path: Path,
    catalog_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source, dest, ca = https_tpc_servers
    with https_grid((source, dest), ca, tmp_path, catalog_url) as grid:
        lfns = planted(grid, source, 3)
        with Transfers(grid, TransferStore.from_url(catalog_url), FAST) as transfers:
            job = transfers.submit(lfns, Submission(("hb",)))
            Agent(grid, transfers.store, FAST).run(until_idle=True)
            assert transfers.status(job).state is JobState.FINISHED
        pulled = [r.getMessage() for r in caplog.records if "by third-party copy" in r.getMessage()]
        assert len(pulled) == 3
        assert dest.data_dir is not None
        for lfn in lfns:
            (replica,) = [r for r in grid.replicas(lfn) if r.se == "hb"]
            stored = dest.data_dir / "se" / replica.surl.removeprefix("srm://hb/grid/")
            assert f"{zlib.adler32(stored.read_bytes()):08x}" == grid.stat(lfn).checksum


def test_an_http_tpc_copy_that_fails_leaves_nothing_and_registers_nothing(
    https_tpc_servers: tuple[XRootDServer, XRootDServer, Path],
    config: Config,
    tmp_path: Path,
    catalog_url: str,
) -> None:
    source, dest, ca = https_tpc_servers
    with https_grid((source, dest), ca, tmp_path, catalog_url) as grid:
        (lfn,) = planted(grid, source, 1)
        assert source.data_dir is not None
        (source.data_dir / "se" / "data" / "h0").unlink()
        with pytest.raises(NotFound, match="third-party copy"):
            grid.rep(lfn, "hb")
        assert [r.se for r in grid.replicas(lfn)] == ["ha"]
        assert dest.data_dir is not None
        assert [p for p in (dest.data_dir / "se").rglob("*") if p.is_file()] == []


@pytest.mark.expect_warnings
def test_an_se_marked_tpc_whose_server_has_none_is_streamed(
    webdav_server: WebDAVServer,
    config_path: Path,
    catalog_url: str,
    make_file,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A WebDAV server marked tpc that answers COPY with an error: the copy is streamed."""
    extra = (
        '[se.wa]\nsite = "a"\nsurl_prefix = "srm://wa/grid"\ntpc = true\n'
        f'[se.wa.protocols]\ndav = "{webdav_server.url.replace("http:", "dav:")}wa"\n'
        '[se.wb]\nsite = "b"\nsurl_prefix = "srm://wb/grid"\ntpc = true\n'
        f'[se.wb.protocols]\ndav = "{webdav_server.url.replace("http:", "dav:")}wb"\n'
    )
    path = config_path.with_name("dav-tpc.toml")
    path.write_text(config_path.read_text() + extra)
    dav_config = dataclasses.replace(load_config(path), catalog_url=catalog_url)
    with Grid.from_config(dav_config, create=True) as grid:
        make_vo(grid)
        lfn = f"{VO}/streamed"
        grid.cr(make_file("streamed", 100_000), lfn, "wa")
        grid.rep(lfn, "wb")
        assert sorted(r.se for r in grid.replicas(lfn)) == ["wa", "wb"]
        assert any("streaming" in r.getMessage() for r in caplog.records)
