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

from gridfs.catalog import ReplicaStatus
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from gridfs.transfer import Agent, FileRecord, JobState, Submission, Transfers, TransferStore
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
