"""The transfer service end to end: jobs submitted, agents copying, states, cancel and retry.

Real file:// SEs and a real catalog database (SQLite and PostgreSQL); the
agents run in this process unless the test is about them dying.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gridfs.config import Config, load_config
from gridfs.errors import IsADirectory, NotPermitted, UnknownSE
from gridfs.gfal import Grid, Identity, Locality
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from gridfs.transfer import Agent, FileState, JobState, Submission, Transfers, TransferStore
from gridfs.transfer import store as store_module
from tests.conftest import make_vo
from tests.transfer.conftest import FAST, VO


def stored_bytes(grid: Grid, surl: str, se: str) -> bytes:
    return Path(turl_to_path(resolve_turl(surl, grid.ses.get(se), ["file"]))).read_bytes()


def replicas_on(grid: Grid, lfn: str, se: str) -> list[str]:
    return [r.surl for r in grid.replicas(lfn) if r.se == se]


def test_a_job_is_copied_verified_and_registered(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    lfns = [put(f"run/f{i}.dat", 50_000 + i, seed=i) for i in range(5)]
    job = transfers.submit([f"{VO}/run"], Submission(("infn-se", "ral-se"), recursive=True))
    assert transfers.status(job).state is JobState.SUBMITTED
    agent = run_agent()
    record = transfers.status(job)
    assert record.state is JobState.FINISHED
    assert record.counts == {FileState.FINISHED: 10}
    assert agent.summary.ended[FileState.FINISHED] == 10
    for lfn in lfns:
        checksum = tgrid.stat(lfn).checksum
        for se in ("infn-se", "ral-se"):
            (surl,) = replicas_on(tgrid, lfn, se)
            assert f"{zlib.adler32(stored_bytes(tgrid, surl, se)):08x}" == checksum
    for file in record.files:
        assert file.source_se == "cern-se"
        assert file.dest_surl in replicas_on(tgrid, file.lfn, file.dest_se)
        assert file.attempts == 1
        assert file.lease_owner is None


def test_a_destination_that_holds_the_file_is_not_used(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    lfn = put("one.dat")
    tgrid.rep(lfn, "ral-se")
    job = transfers.submit([lfn], Submission(("infn-se", "ral-se", "cern-se")))
    states = {f.dest_se: f.state for f in transfers.status(job).files}
    assert states == {
        "infn-se": FileState.SUBMITTED,
        "ral-se": FileState.NOT_USED,
        "cern-se": FileState.NOT_USED,
    }
    run_agent()
    assert transfers.status(job).state is JobState.FINISHED
    assert len(replicas_on(tgrid, lfn, "ral-se")) == 1
    assert len(replicas_on(tgrid, lfn, "infn-se")) == 1


def test_a_replica_made_after_submission_makes_the_file_not_used(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    lfn = put("late.dat")
    job = transfers.submit([lfn], Submission(("infn-se",)))
    tgrid.rep(lfn, "infn-se")  # someone else was quicker
    run_agent()
    (file,) = transfers.status(job).files
    assert file.state is FileState.NOT_USED
    assert len(replicas_on(tgrid, lfn, "infn-se")) == 1


def test_cancel_then_retry(transfers: Transfers, tgrid: Grid, put, run_agent) -> None:
    lfns = [put(f"c{i}.dat", seed=i) for i in range(3)]
    job = transfers.submit(lfns, Submission(("infn-se",)))
    assert transfers.cancel(job) == 3
    record = transfers.status(job)
    assert record.state is JobState.CANCELED
    assert {f.reason for f in record.files} == {"canceled by the user"}
    run_agent()
    assert all(replicas_on(tgrid, lfn, "infn-se") == [] for lfn in lfns)
    assert transfers.retry(job) == 3
    run_agent()
    assert transfers.wait(job, timeout_s=5).state is JobState.FINISHED
    assert all(len(replicas_on(tgrid, lfn, "infn-se")) == 1 for lfn in lfns)


@pytest.mark.expect_warnings  # the failover and the agent say the source is gone
def test_a_file_whose_source_is_gone_fails_with_its_reason(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    good, bad = put("good.dat"), put("bad.dat", seed=1)
    (surl,) = tgrid.lr(bad)
    Path(turl_to_path(resolve_turl(surl, tgrid.ses.get("cern-se"), ["file"]))).unlink()
    job = transfers.submit([good, bad], Submission(("infn-se",)))
    run_agent()
    record = transfers.status(job)
    assert record.state is JobState.FINISHED_DIRTY
    failed = next(f for f in record.files if f.lfn == bad)
    assert failed.state is FileState.FAILED
    assert failed.attempts == 1  # a missing source is not worth a retry
    assert failed.errno is not None
    assert failed.reason
    assert replicas_on(tgrid, bad, "infn-se") == []
    infn = Path(turl_to_path(tgrid.ses.get("infn-se").protocols["file"]))
    assert [p for p in infn.rglob("*") if p.is_file()] == [
        Path(turl_to_path(resolve_turl(f.dest_surl or "", tgrid.ses.get("infn-se"), ["file"])))
        for f in record.files
        if f.lfn == good
    ]


def test_submission_errors_are_one_line_and_nothing_is_queued(transfers: Transfers, put) -> None:
    lfn = put("x.dat")
    with pytest.raises(UnknownSE):
        transfers.submit([lfn], Submission(("nowhere",)))
    with pytest.raises(IsADirectory):
        transfers.submit([VO], Submission(("infn-se",)))
    with pytest.raises(ValueError, match="priority"):
        transfers.submit([lfn], Submission(("infn-se",), priority=9))
    assert transfers.jobs() == []


def test_only_the_submitter_cancels(transfers: Transfers, tgrid: Grid, put) -> None:
    job = transfers.submit([put("mine.dat")], Submission(("infn-se",)))
    bob = Transfers(tgrid.as_identity(Identity("bob", ("cms",))), transfers.store)
    with pytest.raises(NotPermitted):
        bob.cancel(job)
    assert transfers.status(job).state is JobState.SUBMITTED


def test_a_metadata_query_selects_the_files(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    lfns = [put(f"coll/e{i}.dat", seed=i) for i in range(4)]
    tgrid.addattrs(f"{VO}/coll", {"run": "int"})
    for index, lfn in enumerate(lfns):
        tgrid.setattr(lfn, {"run": index})
    job = transfers.submit([f"{VO}/coll"], Submission(("ral-se",), query="run >= 2"))
    run_agent()
    assert sorted(f.lfn for f in transfers.status(job).files) == lfns[2:]
    assert all(replicas_on(tgrid, lfn, "ral-se") for lfn in lfns[2:])
    assert not any(replicas_on(tgrid, lfn, "ral-se") for lfn in lfns[:2])


def test_priorities_and_listing(transfers: Transfers, put, run_agent) -> None:
    low = transfers.submit([put("low.dat")], Submission(("infn-se",), priority=1))
    high = transfers.submit(
        [put("high.dat", seed=1)], Submission(("infn-se",), priority=5, activity="express")
    )
    assert [j.id for j in transfers.jobs()] == [high, low]
    assert [j.id for j in transfers.jobs(activity="express")] == [high]
    run_agent(dataclasses.replace(FAST, slots=1))
    started = {j: transfers.status(j).files[0] for j in (low, high)}
    assert all(f.state is FileState.FINISHED for f in started.values())
    assert [j.id for j in transfers.jobs(states=[JobState.FINISHED])] == [high, low]


def test_two_agents_share_the_work_and_no_file_is_done_twice(
    transfers: Transfers, tgrid: Grid, put
) -> None:
    lfns = [put(f"many/f{i}.dat", 20_000, seed=i) for i in range(24)]
    job = transfers.submit([f"{VO}/many"], Submission(("infn-se",), recursive=True))
    agents = [Agent(transfers.grid, transfers.store, FAST, name=f"a{i}") for i in range(2)]
    threads = [threading.Thread(target=a.run, kwargs={"until_idle": True}) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert transfers.status(job).state is JobState.FINISHED
    assert sum(a.summary.ended[FileState.FINISHED] for a in agents) == 24
    assert all(len(replicas_on(tgrid, lfn, "infn-se")) == 1 for lfn in lfns)
    assert all(f.attempts == 1 for f in transfers.status(job).files)


@pytest.mark.parametrize("catalog_url", ["postgresql"], indirect=True)
def test_a_file_submitted_between_the_claims_reads_waits_for_the_next_claim(
    transfers: Transfers, put, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL gives each statement its own snapshot: a claim may count a due file on a
    link it did not read (submitted after its read of the links). That file waits for the
    next claim; the claim takes the rest. On SQLite BEGIN IMMEDIATE rules this out."""
    first = transfers.submit([put("first")], Submission(("infn-se",)))
    counted = store_module.due_per_link
    raced: list[int] = []

    def submit_then_count(session: Session, now: float) -> dict[tuple[str, str], dict[str, int]]:
        if not raced:  # another submitter commits between the claim's two reads
            raced.append(transfers.submit([put("raced", se="ral-se")], Submission(("infn-se",))))
        return counted(session, now)

    monkeypatch.setattr(store_module, "due_per_link", submit_then_count)
    # The claims' clock is ahead, or the raced file would not be due yet when counted.
    claims = TransferStore(transfers.store.engine, clock=lambda: time.time() + 60)
    claimed = claims.claim("agent", 10, FAST)
    assert [c.lfn for c in claimed] == [f"{VO}/first"]
    monkeypatch.undo()
    (again,) = claims.claim("agent", 10, FAST)
    assert again.lfn == f"{VO}/raced"
    assert [transfers.status(job).files[0].state for job in (first, *raced)] == [
        FileState.ACTIVE,
        FileState.ACTIVE,
    ]


@pytest.fixture
def tape_grid(config: Config, tmp_path: Path, catalog_url: str) -> Iterator[Grid]:
    """The three-site grid plus a tape SE at CERN whose recalls take half a second."""
    path = tmp_path / "tape.toml"
    path.write_text(
        (tmp_path / "config.toml").read_text()
        + '[se.cern-tape]\nsite = "cern"\nroot = "tape-se/disk"\ntape = "tape-se/tape"\n'
        "stage_delay = 0.5\n"
    )
    tape_config = dataclasses.replace(load_config(path), catalog_url=catalog_url)
    with Grid.from_config(tape_config, create=True) as grid:
        make_vo(grid)
        yield grid


def test_sources_on_tape_are_staged_in_one_request_then_copied(
    tape_grid: Grid, catalog_url: str, make_file, caplog: pytest.LogCaptureFixture
) -> None:
    lfns = []
    for index in range(3):
        lfns.append(f"{VO}/raw{index}")
        tape_grid.cr(make_file(f"raw{index}", 30_000, seed=index), lfns[-1], "cern-tape")
        tape_grid.release(lfns[-1])  # on tape only now
    assert all(set(tape_grid.locality(lfn).values()) == {Locality.NEARLINE} for lfn in lfns)
    with Transfers(tape_grid, TransferStore.from_url(catalog_url), FAST) as transfers:
        job = transfers.submit(lfns, Submission(("infn-se",)))
        seen: set[FileState] = set()
        agent = Agent(tape_grid, transfers.store, FAST)
        worker = threading.Thread(target=agent.run, kwargs={"until_idle": True})
        worker.start()
        while worker.is_alive():
            seen |= {f.state for f in transfers.status(job).files}
            time.sleep(0.05)
        record = transfers.status(job)
    assert FileState.STAGING in seen
    assert record.state is JobState.FINISHED
    assert {f.source_se for f in record.files} == {"cern-tape"}
    staged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("staging ")]
    assert staged == ["staging 3 file(s) on cern-tape"]  # one request for the batch
    assert all(replicas_on(tape_grid, lfn, "infn-se") for lfn in lfns)


def test_the_optimizer_decides_each_link_and_says_why(transfers: Transfers, put, run_agent) -> None:
    for index in range(12):
        put(f"opt/f{index}.dat", 200_000, seed=index)
    transfers.submit([f"{VO}/opt"], Submission(("infn-se",), recursive=True))
    run_agent(dataclasses.replace(FAST, interval_s=0.01, slots=2))
    (link,) = transfers.links(decisions=100)
    assert (link.source_se, link.dest_se) == ("cern-se", "infn-se")
    assert link.decisions, "no decision was made"
    assert all(d.reason for d in link.decisions)
    assert all(1 <= d.new_concurrency <= FAST.optimizer.max_streams for d in link.decisions)


def test_a_transfer_through_extended_attributes(tgrid: Grid, transfers: Transfers, put) -> None:
    lfn = put("x.dat")
    with pytest.raises(OSError, match="has no attribute"):
        tgrid.getxattr(lfn, "user.grid.transfers")
    tgrid.setxattr(lfn, "user.grid.replicate", b"ral-se")
    (line,) = tgrid.getxattr(lfn, "user.grid.transfers").decode().splitlines()
    job = int(line.split()[0])
    assert line == f"{job} ral-se submitted"
    assert "user.grid.replicate" not in tgrid.listxattr(lfn)
    with pytest.raises(UnknownSE):
        tgrid.setxattr(lfn, "user.grid.replicate", b"moon-se")
    Agent(tgrid, transfers.store, FAST).run(until_idle=True)
    assert tgrid.getxattr(lfn, "user.grid.transfers") == f"{job} ral-se finished".encode()


def test_a_saved_query_selects_the_files(transfers: Transfers, tgrid: Grid, put, run_agent) -> None:
    lfns = [put(f"ds/e{i}.dat", seed=i) for i in range(4)]
    tgrid.addattrs(f"{VO}/ds", {"run": "int"})
    for index, lfn in enumerate(lfns):
        tgrid.setattr(lfn, {"run": index})
    tgrid.save_query(f"{VO}/ds", "odd", "run = 1 or run = 3")
    job = transfers.submit([f"{VO}/ds"], Submission(("ral-se",), saved_query="odd"))
    run_agent()
    assert sorted(f.lfn for f in transfers.status(job).files) == [lfns[1], lfns[3]]
    with pytest.raises(ValueError, match="not both"):
        transfers.submit([f"{VO}/ds"], Submission(("ral-se",), query="run > 0", saved_query="odd"))


def test_files_not_started_within_the_lifetime_fail(transfers: Transfers, put, run_agent) -> None:
    job = transfers.submit([put("late.dat")], Submission(("infn-se",), lifetime_s=0.01))
    time.sleep(0.05)
    run_agent()
    (file,) = transfers.status(job).files
    assert (file.state, file.reason) == (FileState.FAILED, "the job's lifetime ran out")
