"""``verify_existing``: a copy already at the destination is reused only once verified."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.catalog import ReplicaStatus
from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from gridfs.transfer import FileState, Submission, Transfers, TransferStore
from tests.conftest import make_vo, write_grid_config
from tests.transfer.conftest import FAST, VO

DOWN_SE = (
    '[se.down-se]\nsite = "infn"\nsurl_prefix = "srm://down-se.infn.example/grid"\n'
    '[se.down-se.protocols]\nhttp = "http://127.0.0.1:1/se"\n'
)
"""An SE whose server does not answer (nothing listens on port 1)."""


@pytest.fixture
def grid_with_a_dead_se(tmp_path: Path, catalog_url: str) -> Iterator[Grid]:
    """The three file:// SEs and ``down-se``, reached over HTTP at a port nobody listens on."""
    (tmp_path / "dead").mkdir()
    path = write_grid_config(tmp_path / "dead")
    text = path.read_text().replace("[storage]\n", '[storage]\nprotocols = ["file", "http"]\n')
    path.write_text(text + DOWN_SE)
    config = dataclasses.replace(load_config(path), catalog_url=catalog_url)
    with Grid.from_config(config, create=True) as grid:
        make_vo(grid)
        yield grid


def test_a_copy_there_is_not_reused_when_the_catalog_has_no_checksum(
    tgrid: Grid, transfers: Transfers
) -> None:
    lfn = f"{VO}/unsummed"
    data = os.urandom(5_000)
    surls = []
    for se in ("cern-se", "infn-se"):
        surl = f"{tgrid.ses.get(se).surl_prefix}/unsummed-{se}"
        path = Path(turl_to_path(resolve_turl(surl, tgrid.ses.get(se), ["file"])))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        surls.append((se, surl))
    tgrid.catalog.add_file(lfn, size=len(data), checksum=None, replicas=surls)
    job = transfers.submit([lfn], Submission(("infn-se",), verify_existing=True))
    (file,) = transfers.status(job).files
    assert file.state is FileState.FAILED  # not NOT_USED: the size alone verified nothing
    assert "cannot verify" in (file.reason or "")
    assert all(r.status is ReplicaStatus.AVAILABLE for r in tgrid.replicas(lfn))


def test_an_se_that_does_not_answer_only_keeps_its_copy_from_being_reused(
    grid_with_a_dead_se: Grid, catalog_url: str, tmp_path: Path
) -> None:
    grid = grid_with_a_dead_se
    local = tmp_path / "data"
    local.write_bytes(os.urandom(5_000))
    lfns = [f"{VO}/there", f"{VO}/not-there"]
    for lfn in lfns:
        grid.cr(local, lfn, "cern-se")
    entry = grid.stat(lfns[0])
    assert entry.guid is not None
    grid.catalog.add_replica(
        entry.guid, "down-se", "srm://down-se.infn.example/grid/there", checksum=entry.checksum
    )
    with Transfers(grid, TransferStore.from_url(catalog_url), FAST) as transfers:
        job = transfers.submit(lfns, Submission(("down-se",), verify_existing=True))
        files = {f.lfn: f for f in transfers.status(job).files}
    assert [files[lfn].state for lfn in lfns] == [FileState.SUBMITTED] * 2  # the submit went on
    (unchecked,) = [r for r in grid.replicas(lfns[0]) if r.se == "down-se"]
    assert unchecked.status is ReplicaStatus.AVAILABLE  # not reused, nor marked bad
