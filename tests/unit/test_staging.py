"""Nearline SEs: migration to tape, locality, bring-online with pins, release, abort."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.errors import GridError, NoReplicaAvailable
from gridfs.gfal import Grid
from gridfs.storage import Locality, RequestState
from gridfs.storage.file_backend import turl_to_path
from tests.conftest import make_vo

DELAY = 0.5


@pytest.fixture
def tape_grid(tmp_path: Path) -> Grid:
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[site]\nname = "cern"\n'
        '[storage]\ndefault_se = "cern-tape"\n'
        f'[se.cern-tape]\nsite = "cern"\nroot = "tape-se/disk"\ntape = "tape-se/tape"\n'
        f"stage_delay = {DELAY}\n"
        '[se.ral-disk]\nsite = "ral"\nroot = "ral"\n'
    )
    grid = Grid.from_config(load_config(config), create=True)
    make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
    yield grid
    grid.close()


def test_a_file_written_to_tape_is_migrated_and_can_be_recalled(tape_grid: Grid, make_file) -> None:
    data = make_file("run1.raw", 300_000).read_bytes()
    tape_grid.cr(make_file("run1.raw", 300_000), "/grid/run1.raw")
    (surl,) = tape_grid.lr("/grid/run1.raw")
    assert tape_grid.locality("/grid/run1.raw") == {surl: Locality.ONLINE_AND_NEARLINE}
    tape_grid.release("/grid/run1.raw")  # the disk copy goes, the tape copy stays
    assert tape_grid.locality("/grid/run1.raw") == {surl: Locality.NEARLINE}
    with pytest.raises(NoReplicaAvailable, match="NEARLINE: bring it online first"):
        tape_grid.open("/grid/run1.raw")

    time.sleep(DELAY * 1.5)  # reading the locality, however late, never stages
    assert tape_grid.locality("/grid/run1.raw") == {surl: Locality.NEARLINE}

    started = time.monotonic()
    request = tape_grid.bring_online("/grid/run1.raw", pin_lifetime_s=600)
    assert request is not None
    assert request.state is RequestState.QUEUED
    assert tape_grid.locality("/grid/run1.raw") == {surl: Locality.NEARLINE}
    assert request.wait(30) is RequestState.DONE
    assert time.monotonic() - started >= DELAY
    assert tape_grid.locality("/grid/run1.raw") == {surl: Locality.ONLINE_AND_NEARLINE}
    se = tape_grid.ses.get("cern-tape")
    expiry = tape_grid.storage.stager.pinned_until(se, surl)
    assert expiry is not None
    assert expiry > time.time() + 500
    with tape_grid.open("/grid/run1.raw") as stream:
        assert stream.read() == data
    assert tape_grid.bring_online("/grid/run1.raw") is None  # online already


def test_an_aborted_request_stages_nothing(tape_grid: Grid, make_file) -> None:
    tape_grid.cr(make_file("run2.raw", 1000), "/grid/run2.raw")
    tape_grid.release("/grid/run2.raw")
    request = tape_grid.bring_online("/grid/run2.raw")
    assert request is not None
    tape_grid.abort_stage(request)
    assert request.wait(30) is RequestState.ABORTED
    assert set(tape_grid.locality("/grid/run2.raw").values()) == {Locality.NEARLINE}


def test_reads_prefer_disk_ses_to_tape(tape_grid: Grid, make_file) -> None:
    tape_grid.cr(make_file("run3.raw", 1000), "/grid/run3.raw")
    tape_grid.rep("/grid/run3.raw", "ral-disk")
    for _ in range(5):  # the tape SE is local, yet the disk copy abroad comes first
        with tape_grid.open("/grid/run3.raw", buffering=0) as stream:
            assert stream.replica.se == "ral-disk"
    assert tape_grid.bring_online("/grid/run3.raw") is None


def test_turls_and_expired_pins(tape_grid: Grid, make_file) -> None:
    tape_grid.cr(make_file("a", 100), "/grid/a")
    tape_grid.cr(make_file("b", 100), "/grid/b")
    (surl_a,) = tape_grid.lr("/grid/a")
    assert tape_grid.turls("/grid/a")[surl_a].startswith("file:///")
    assert tape_grid.turls("/grid/a", ["root"]) == {}  # the SE speaks file:// only
    tape_grid.release("/grid/a")
    assert tape_grid.turls("/grid/a") == {}  # on tape only: no TURL before a stage
    request = tape_grid.bring_online("/grid/a", pin_lifetime_s=0.01)
    assert request is not None
    assert request.wait(30) is RequestState.DONE
    assert tape_grid.locality("/grid/a") == {surl_a: Locality.ONLINE_AND_NEARLINE}
    time.sleep(0.05)
    tape_grid.release("/grid/b")
    request_b = tape_grid.bring_online("/grid/b")  # makes room: a's pin is over
    assert request_b is not None
    assert tape_grid.locality("/grid/a") == {surl_a: Locality.NEARLINE}
    assert request_b.wait(30) is RequestState.DONE


def test_holds_is_false_only_when_both_areas_say_absent(tape_grid: Grid, make_file) -> None:
    """What the transfer agents' sweeps ask before unregistering: "cannot see" is not "gone"."""
    tape_grid.cr(make_file("run2.raw", 1000), "/grid/run2.raw")
    (surl,) = tape_grid.lr("/grid/run2.raw")
    se, stager = tape_grid.ses.get("cern-tape"), tape_grid.storage.stager
    assert stager.holds(se, surl)
    tape_grid.release("/grid/run2.raw")
    assert stager.holds(se, surl)  # on tape only
    assert se.tape is not None
    library = Path(turl_to_path(se.tape))
    library.rename(library.with_name("away"))  # the tape library unmounted
    assert stager.locality(se, surl) is Locality.UNAVAILABLE
    with pytest.raises(GridError, match="cannot look in cern-tape's area"):
        stager.holds(se, surl)
    library.with_name("away").rename(library)
    stager.purge(se, surl)
    assert not stager.holds(se, surl)
