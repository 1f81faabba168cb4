"""Requests (BdbServer++): files matching a condition made available at an SE, shared and reused."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path

from gridfs.catalog import SUPERUSER
from gridfs.gfal import Grid, Identity
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from gridfs.transfer import Agent, FileState, JobState, Submission, Transfers
from tests.transfer.conftest import FAST, VO

GRIDFS = str(Path(sys.executable).with_name("gridfs"))
REQUEST = Submission(("infn-se",), query="n >= 0", verify_existing=True)


def collection(grid: Grid, put, count: int, size: int = 2_000) -> list[str]:
    """``VO/coll`` with ``count`` files, attribute n = 0..count-1, writable by group gilda."""
    lfns = [put(f"coll/e{i:03}", size, seed=i) for i in range(count)]
    grid.addattrs(f"{VO}/coll", {"n": "int"})
    admin = grid.as_identity(SUPERUSER)
    for index, lfn in enumerate(lfns):
        grid.setattr(lfn, {"n": index})
        admin.chmod(lfn, 0o664)  # any member of gilda may add replicas
    return lfns


def test_a_request_reuses_what_is_there_and_moves_the_rest(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    lfns = collection(tgrid, put, 6)
    tgrid.rep(lfns[0], "infn-se")
    tgrid.rep(lfns[1], "infn-se")
    (bad,) = [r for r in tgrid.replicas(lfns[1]) if r.se == "infn-se"]
    Path(turl_to_path(resolve_turl(bad.surl, tgrid.ses.get("infn-se"), ["file"]))).write_bytes(
        b"rotten"
    )
    job = transfers.submit([f"{VO}/coll"], REQUEST)
    run_agent()
    report = transfers.report(job)
    assert report.state is JobState.FINISHED
    assert report.reused == [lfns[0]]  # there and verified
    assert sorted(report.moved) == lfns[1:]  # the rotten copy is not reused: moved again
    assert report.failed == []
    assert [r.status.value for r in tgrid.replicas(lfns[1]) if r.surl == bad.surl] == ["bad"]


def test_overlapping_requests_share_transfers(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    collection(tgrid, put, 8)
    bob = Transfers(tgrid.as_identity(Identity("bob", ("gilda",))), transfers.store)
    first = transfers.submit([f"{VO}/coll"], Submission(("infn-se",), query="n < 6"))
    second = bob.submit([f"{VO}/coll"], Submission(("infn-se",), query="n >= 3"))
    followers = [f for f in transfers.status(second).files if f.follows is not None]
    assert len(followers) == 3  # n = 3, 4, 5 are copied by the first request
    run_agent()
    one, two = transfers.report(first), transfers.report(second)
    assert (len(one.moved), len(one.shared)) == (6, 0)
    assert (len(two.moved), len(two.shared)) == (2, 3)
    assert two.state is JobState.FINISHED
    assert len(transfers.status(first).files) == 6


def test_a_canceled_leader_leaves_its_followers_to_copy_on_their_own(
    transfers: Transfers, tgrid: Grid, put, run_agent
) -> None:
    collection(tgrid, put, 3)
    first = transfers.submit([f"{VO}/coll"], REQUEST)
    second = transfers.submit([f"{VO}/coll"], REQUEST)
    assert all(f.follows is not None for f in transfers.status(second).files)
    transfers.cancel(first)
    run_agent()
    assert transfers.status(first).state is JobState.CANCELED
    report = transfers.report(second)
    assert (report.state, len(report.moved)) == (JobState.FINISHED, 3)


def test_200_simultaneous_requests_from_different_users(
    transfers: Transfers, tgrid: Grid, put
) -> None:
    lfns = collection(tgrid, put, 40, size=500)

    def request(user: int) -> int:
        start = user % 31
        identity = Identity(f"user{user:03}", ("gilda",))
        mine = Transfers(tgrid.as_identity(identity), transfers.store)
        condition = f"n >= {start} and n < {start + 10}"
        return mine.submit([f"{VO}/coll"], Submission(("infn-se",), query=condition))

    # Leases long enough that a loaded machine's late heartbeat never loses one: no agent
    # dies here, and a lease taken over would only add attempts (tests/transfer/test_crashes).
    settings = dataclasses.replace(FAST, lease_s=60.0)
    agents = [Agent(tgrid, transfers.store, settings, name=f"agent{i}") for i in range(3)]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        jobs = list(pool.map(request, range(200)))
    threads = [threading.Thread(target=a.run, kwargs={"until_idle": True}) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not any(thread.is_alive() for thread in threads)
    reports = [transfers.report(job) for job in jobs]
    assert all(r.state is JobState.FINISHED for r in reports)
    assert all(not r.failed and not r.waiting for r in reports)
    assert all(len(r.reused) + len(r.moved) + len(r.shared) == 10 for r in reports)
    moved = [lfn for r in reports for lfn in r.moved]
    assert len(moved) == len(set(moved)) == 40  # each file copied once, for one request
    assert all(len([r for r in tgrid.replicas(lfn) if r.se == "infn-se"]) == 1 for lfn in lfns)
    assert {f.state for r in jobs for f in transfers.status(r).files} <= {
        FileState.FINISHED,
        FileState.NOT_USED,
    }


def test_gridfs_request_waits_reports_and_notifies(
    transfers: Transfers, tgrid: Grid, put, tmp_path: Path, catalog_url: str
) -> None:
    collection(tgrid, put, 4)
    tgrid.rep(f"{VO}/coll/e000", "infn-se")
    config = tmp_path / "request.toml"
    text = (tmp_path / "config.toml").read_text()
    config.write_text(
        text.replace('url = "sqlite:///catalog.db"', f'url = "{catalog_url}"')
        + "\n[transfer]\npoll = 0.05\n"
    )
    agent = Agent(tgrid, transfers.store, FAST)
    worker = threading.Thread(target=agent.run)
    worker.start()
    try:
        result = subprocess.run(
            [
                GRIDFS,
                "--config",
                str(config),
                "request",
                f"{VO}/coll",
                "-d",
                "infn-se",
                "--query",
                "n >= 0",
                "--report-file",
                str(tmp_path / "report.json"),
                "--notify",
                f"cat > {tmp_path / 'notified.json'}; echo $GRIDFS_REQUEST_STATE > "
                f"{tmp_path / 'state'}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        agent.stop()
        worker.join()
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(": finished: 1 reused, 3 moved, 0 shared, 0 failed\n")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["reused"] == [f"{VO}/coll/e000"]
    assert json.loads((tmp_path / "notified.json").read_text()) == report
    assert (tmp_path / "state").read_text() == "finished\n"
