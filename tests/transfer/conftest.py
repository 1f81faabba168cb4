"""Fixtures of the transfer service: a grid, its transfer queue, and fast agent settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gridfs.config import Config
from gridfs.gfal import Grid
from gridfs.transfer import Agent, Transfers, TransferSettings, TransferStore
from gridfs.transfer.retries import Backoff
from tests.conftest import make_vo

VO = "/grid/gilda"

FAST = TransferSettings(
    slots=4,
    lease_s=3.0,
    poll_s=0.05,
    attempts=3,
    backoff=Backoff(0.05, 0.2),
    interval_s=0.2,
    stage_wait_s=1.0,
)
"""Agent settings that make a test quick: short leases, polls and backoffs."""


@pytest.fixture
def tgrid(config: Config, catalog_url: str) -> Iterator[Grid]:
    """Alice's grid of three file:// SEs, the catalog on SQLite or PostgreSQL."""
    with Grid.from_config(dataclasses.replace(config, catalog_url=catalog_url), create=True) as g:
        make_vo(g)
        yield g


@pytest.fixture
def transfers(tgrid: Grid, catalog_url: str) -> Iterator[Transfers]:
    with Transfers(tgrid, TransferStore.from_url(catalog_url), FAST) as opened:
        yield opened


@pytest.fixture
def run_agent(transfers: Transfers) -> Callable[..., Agent]:
    """Runs an agent in this process until no file is left to do; returns it."""

    def run(settings: TransferSettings = FAST, **options: object) -> Agent:
        agent = Agent(transfers.grid, transfers.store, settings, **options)  # type: ignore[arg-type]
        agent.run(until_idle=True)
        return agent

    return run


@pytest.fixture
def put(tgrid: Grid, make_file: Callable[..., Path]) -> Callable[..., str]:
    """Registers a file of ``size`` random bytes at ``VO/name`` on ``se``; returns its LFN."""

    def put(name: str, size: int = 100_000, se: str = "cern-se", seed: int = 0) -> str:
        lfn = f"{VO}/{name}"
        tgrid.makedirs(lfn.rsplit("/", 1)[0], exist_ok=True)
        tgrid.cr(make_file(name.replace("/", "_"), size, seed), lfn, se)
        return lfn

    return put
