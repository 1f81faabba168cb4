"""Third-party copy: an XRootD server pulls the replica from another (both configured for TPC)."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.config import Config, load_config
from gridfs.gfal import Grid
from gridfs.transfer import Agent, JobState, Submission, Transfers, TransferStore
from tests.conftest import make_vo
from tests.storage_servers import XRootDServer, find_xrootd, have_modules
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
