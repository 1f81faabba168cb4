"""An agent that stalls past its lease between its fence and its registration.

Another agent takes the file over and deletes the copy as dark data; the
stalled agent must not then register it: never a replica without its object.
The interleaving is forced: the stalled agent waits right after its fence
while the other, its clock ahead by more than a lease, does its part.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gridfs.catalog import ReplicaStatus
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from gridfs.transfer import (
    Agent,
    FileRecord,
    JobState,
    Submission,
    Transfers,
    TransferStore,
)
from tests.transfer.conftest import FAST

STALLED = dataclasses.replace(FAST, slots=1, lease_s=30.0)
"""The stalled agent's settings: its heartbeat does not come round during a test."""

AHEAD = 100.0
"""How far the other agent's clock is ahead: the stalled agent's lease has run out for it."""


class _StallAfterFence(TransferStore):
    """A store whose agent stalls once its fence has passed, until ``resume`` is set."""

    def __init__(self, store: TransferStore) -> None:
        super().__init__(store.engine)
        self.fenced = threading.Event()
        self.resume = threading.Event()

    def fence(self, file_id: int, agent: str, lease_s: float) -> bool:
        held = super().fence(file_id, agent, lease_s)
        self.fenced.set()
        assert self.resume.wait(30)
        return held


@contextmanager
def stalled_after_fence(tgrid: Grid, transfers: Transfers, job: int) -> Iterator[FileRecord]:
    """An agent copying ``job``'s one file, stalled after its fence; the file as it left it."""
    stalling = _StallAfterFence(transfers.store)
    agent = Agent(tgrid, stalling, STALLED, name="stalled")
    worker = threading.Thread(target=agent.run, kwargs={"until_idle": True})
    worker.start()
    try:
        assert stalling.fenced.wait(30)
        (left,) = transfers.status(job).files
        assert left.lease_owner == "stalled"
        assert left.dest_surl is not None
        yield left
    finally:
        stalling.resume.set()
        worker.join(30)
    assert not worker.is_alive()


def run_later(tgrid: Grid, transfers: Transfers) -> None:
    """Run another agent, to whom the stalled agent's lease has run out, until nothing is left."""
    later = TransferStore(transfers.store.engine, clock=lambda: time.time() + AHEAD)
    Agent(tgrid, later, FAST, name="successor").run(until_idle=True)


def stored(tgrid: Grid, surl: str) -> bool:
    return Path(turl_to_path(resolve_turl(surl, tgrid.ses.get("infn-se"), ["file"]))).exists()


def available_on_dest(tgrid: Grid, lfn: str) -> list[str]:
    return [
        r.surl
        for r in tgrid.replicas(lfn)
        if r.se == "infn-se" and r.status is ReplicaStatus.AVAILABLE
    ]


def test_a_file_taken_over_from_a_stalled_agent_is_copied_once(
    tgrid: Grid, transfers: Transfers, put: Callable[..., str]
) -> None:
    lfn = put("taken-over")
    job = transfers.submit([lfn], Submission(("infn-se",)))
    with stalled_after_fence(tgrid, transfers, job) as left:
        run_later(tgrid, transfers)
    record = transfers.status(job)
    assert record.state is JobState.FINISHED, record
    (file,) = record.files
    assert file.dest_surl != left.dest_surl
    assert available_on_dest(tgrid, lfn) == [file.dest_surl]
    assert stored(tgrid, file.dest_surl)
    assert left.dest_surl is not None
    assert not stored(tgrid, left.dest_surl)


def test_a_stalled_agent_cannot_register_the_copy_a_cleanup_deleted(
    tgrid: Grid, transfers: Transfers, put: Callable[..., str]
) -> None:
    lfn = put("canceled")
    job = transfers.submit([lfn], Submission(("infn-se",)))
    with stalled_after_fence(tgrid, transfers, job) as left:
        transfers.cancel(job)  # its copy, left by an agent whose lease ran out, is cleaned up
        run_later(tgrid, transfers)
    assert left.dest_surl is not None
    assert available_on_dest(tgrid, lfn) == []  # not registered: its object is gone
    assert not stored(tgrid, left.dest_surl)


KEEP = dataclasses.replace(FAST, tombstone_s=10.0)
"""The successor's settings: the tombstones it makes are due 10 s after (on its clock)."""


def run_at(tgrid: Grid, transfers: Transfers, ahead: float, name: str) -> None:
    """Run an agent whose clock is ``ahead`` of this one until nothing is left to do."""
    store = TransferStore(transfers.store.engine, clock=lambda: time.time() + ahead)
    Agent(tgrid, store, KEEP, name=name).run(until_idle=True)


def registered_at(tgrid: Grid, lfn: str, surl: str) -> list[ReplicaStatus]:
    return [r.status for r in tgrid.replicas(lfn) if r.surl == surl]


def test_a_tombstone_is_swept_once_due_and_not_before(
    tgrid: Grid, transfers: Transfers, put: Callable[..., str]
) -> None:
    lfn = put("swept")
    job = transfers.submit([lfn], Submission(("infn-se",)))
    with stalled_after_fence(tgrid, transfers, job) as left:
        run_at(tgrid, transfers, AHEAD, "successor")
    assert left.dest_surl is not None
    assert registered_at(tgrid, lfn, left.dest_surl) == [ReplicaStatus.STALE]
    assert transfers.store.tombstones() == 1
    run_at(tgrid, transfers, AHEAD + 5, "early")  # within the successor's 10 s
    assert registered_at(tgrid, lfn, left.dest_surl) == [ReplicaStatus.STALE]
    run_at(tgrid, transfers, AHEAD + 20, "sweeper")
    assert registered_at(tgrid, lfn, left.dest_surl) == []
    assert transfers.store.tombstones() == 0
    (file,) = transfers.status(job).files
    assert available_on_dest(tgrid, lfn) == [file.dest_surl]


def test_a_tombstone_whose_copy_is_still_stored_is_not_swept(
    tgrid: Grid, transfers: Transfers, put: Callable[..., str]
) -> None:
    lfn = put("kept")
    job = transfers.submit([lfn], Submission(("infn-se",)))
    with stalled_after_fence(tgrid, transfers, job) as left:
        run_at(tgrid, transfers, AHEAD, "successor")
    assert left.dest_surl is not None
    path = Path(turl_to_path(resolve_turl(left.dest_surl, tgrid.ses.get("infn-se"), ["file"])))
    path.write_bytes(b"not yet deleted")  # as if the successor's delete had not got through
    run_at(tgrid, transfers, AHEAD + 20, "sweeper")
    assert registered_at(tgrid, lfn, left.dest_surl) == [ReplicaStatus.STALE]
    assert transfers.store.tombstones() == 1
    path.unlink()
    run_at(tgrid, transfers, AHEAD + 40, "later")  # put off by an interval, due again
    assert registered_at(tgrid, lfn, left.dest_surl) == []
    assert transfers.store.tombstones() == 0


@pytest.mark.expect_warnings
def test_a_stalled_agent_registering_after_the_sweep_unregisters_its_copy(
    tgrid: Grid, transfers: Transfers, put: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    """Canceled, its copy cleaned up and the tombstone swept: the late registration is undone."""
    lfn = put("late")
    job = transfers.submit([lfn], Submission(("infn-se",)))
    with stalled_after_fence(tgrid, transfers, job) as left:
        transfers.cancel(job)
        run_at(tgrid, transfers, AHEAD, "cleaner")
        run_at(tgrid, transfers, AHEAD + 20, "sweeper")
        assert left.dest_surl is not None
        assert registered_at(tgrid, lfn, left.dest_surl) == []
    # The stalled agent has resumed and registered its copy, whose object is gone.
    late = [r.getMessage() for r in caplog.records if "after losing the lease" in r.getMessage()]
    assert late == [
        f"{lfn}: registered {left.dest_surl} after losing the lease, its copy "
        "deleted meanwhile: unregistered"
    ]
    assert registered_at(tgrid, lfn, left.dest_surl) == []
    assert transfers.status(job).state is JobState.CANCELED
    assert available_on_dest(tgrid, lfn) == []
