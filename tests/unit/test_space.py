"""Space tokens (prepare-to-put quotas), regions in replica choice, tape purges."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gridfs.catalog import EntryId, Replica, ReplicaStatus
from gridfs.config import load_config
from gridfs.errors import InvalidArgument, NoSpace
from gridfs.gfal import Grid, rank_replicas
from gridfs.storage import SERegistry, StorageElement
from tests.conftest import make_vo, stored_files


@pytest.fixture
def grid(tmp_path: Path):
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n'
        '[storage]\ndefault_se = "disk-se"\n'
        '[se.disk-se]\nroot = "se/disk"\n[se.disk-se.space_tokens]\nDATADISK = 25000\nUSER = 0\n'
        '[se.tape-se]\nroot = "se/tape-disk"\ntape = "se/tape"\n'
        "[se.tape-se.space_tokens]\nDATATAPE = 1000000\n"
    )
    with Grid.from_config(load_config(config), create=True) as opened:
        make_vo(opened, "/grid", opened.catalog.identity.user, opened.catalog.identity.group)
        yield opened


def test_quota_is_checked_before_any_byte_is_written(grid: Grid, make_file, tmp_path: Path) -> None:
    grid.cr(make_file("a", 10_000), "/grid/a", space_token="DATADISK")
    grid.cr(make_file("b", 10_000), "/grid/b", space_token="DATADISK")
    assert grid.catalog.space_used("disk-se", "DATADISK") == 20_000
    with pytest.raises(NoSpace, match="DATADISK on disk-se is full: 20000 of 25000") as info:
        grid.cr(make_file("c", 10_000), "/grid/c", space_token="DATADISK")
    assert info.value.errno == 28
    assert len(stored_files(tmp_path)) == 2  # the refused file never reached the SE
    grid.cr(make_file("c", 10_000), "/grid/c")  # outside the token: no quota
    with pytest.raises(InvalidArgument, match="no space token 'SCRATCH'"):
        grid.cr(make_file("d", 1), "/grid/d", space_token="SCRATCH")
    grid.unlink("/grid/a")
    assert grid.catalog.space_used("disk-se", "DATADISK") == 10_000
    rep = grid.rep("/grid/b", "tape-se", space_token="DATATAPE")
    assert rep.space_token == "DATATAPE"
    assert grid.catalog.space_used("tape-se", "DATATAPE") == 10_000


def test_deleting_a_tape_replica_removes_the_tape_copy(grid: Grid, make_file, tmp_path) -> None:
    grid.cr(make_file("t", 5000), "/grid/t", se="tape-se")
    assert [p.parent.parent.parent.name for p in stored_files(tmp_path)] == ["tape", "tape-disk"]
    grid.unlink("/grid/t")
    assert stored_files(tmp_path) == []


def test_the_same_region_comes_before_the_rest() -> None:
    ses = SERegistry(
        [
            StorageElement("cern-se", "cern", "srm://c/grid", region="CH"),
            StorageElement("psi-se", "psi", "srm://p/grid", region="CH"),
            StorageElement("ral-se", "ral", "srm://r/grid", region="UK"),
        ]
    )
    replicas = [
        Replica(EntryId(1), "g", se, f"srm://{se}/f", ReplicaStatus.AVAILABLE, 0, 0)
        for se in ("ral-se", "psi-se", "cern-se")
    ]
    for seed in range(10):
        order = rank_replicas(replicas, ses, "cern", random.Random(seed), local_region="CH")
        assert [c.se.name for c in order] == ["cern-se", "psi-se", "ral-se"]
