"""Overlapping requests submitted at the same moment by separate processes share their copies.

Each process is a user of its own (as ``gridfs request`` runs), released at
once by a barrier: however their submissions interleave, each file is
copied once, by one of the requests, and the others share that copy.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from threading import Barrier

from gridfs.catalog import Identity
from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.transfer import Agent, FileState, JobState, Submission, Transfers
from tests.transfer.conftest import FAST, VO
from tests.transfer.test_requests import collection

USERS = 6


def submit(config_file: str, user: str, condition: str, barrier: Barrier) -> int:
    """In a process of its own: ``user``'s request for the files matching ``condition``."""
    config = load_config(Path(config_file))
    with Grid.from_config(config) as grid:
        mine = grid.as_identity(Identity(user, ("gilda",)))
        with Transfers.from_config(config, grid=mine) as transfers:
            barrier.wait(60)
            return transfers.submit(
                [f"{VO}/coll"], Submission(("infn-se",), query=condition, verify_existing=True)
            )


def test_simultaneous_overlapping_requests_share_each_copy(
    transfers: Transfers, tgrid: Grid, put, tmp_path: Path, catalog_url: str
) -> None:
    lfns = collection(tgrid, put, 12, size=1_000)
    config = tmp_path / "requests.toml"
    config.write_text(
        (tmp_path / "config.toml")
        .read_text()
        .replace('url = "sqlite:///catalog.db"', f'url = "{catalog_url}"')
    )
    # Each user asks for 8 of the 12 files: every file is asked for by several users.
    conditions = [f"n >= {2 * u} and n < {2 * u + 8}" if u < 3 else "n >= 4" for u in range(USERS)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(USERS, mp_context=context) as pool:
        barrier = manager.Barrier(USERS)
        futures = [
            pool.submit(submit, str(config), f"user{u}", conditions[u], barrier)
            for u in range(USERS)
        ]
        jobs = [future.result(timeout=120) for future in futures]
    files = [f for job in jobs for f in transfers.status(job).files]
    leaders = [f.lfn for f in files if f.follows is None]
    assert sorted(leaders) == lfns  # one copy queued per file; the other requests follow it
    Agent(tgrid, transfers.store, FAST).run(until_idle=True)
    reports = [transfers.report(job) for job in jobs]
    assert all(r.state is JobState.FINISHED and not r.failed for r in reports)
    moved = sorted(lfn for r in reports for lfn in r.moved)
    assert moved == lfns  # each file copied once, for one request
    assert sum(len(r.shared) for r in reports) == len(files) - len(lfns)
    assert {f.state for job in jobs for f in transfers.status(job).files} == {FileState.FINISHED}
    assert all(len([r for r in tgrid.replicas(lfn) if r.se == "infn-se"]) == 1 for lfn in lfns)
