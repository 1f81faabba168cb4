"""Retries of transient failures, the circuit breaker, and replica choice that skips sick SEs."""

from __future__ import annotations

import errno
import logging
import random
from pathlib import Path

import pytest

from gridfs.catalog import EntryId, Replica, ReplicaStatus
from gridfs.config import load_config
from gridfs.errors import NotFound, StorageUnavailable
from gridfs.gfal import Grid, rank_replicas
from gridfs.storage import (
    BackendOptions,
    CircuitBreaker,
    RangeReader,
    RetryPolicy,
    SERegistry,
    StorageElement,
)
from gridfs.storage.file_backend import FileBackend
from gridfs.storage.retrying import RetryingBackend
from tests.conftest import make_vo
from tests.processes import free_port


def failing(errors: list[BaseException]):
    calls = []

    def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"

    return call, calls


def test_transient_failures_are_tried_again() -> None:
    policy = RetryPolicy(attempts=3, base_s=0.001)
    call, calls = failing([StorageUnavailable("busy", errno=errno.EAGAIN)] * 2)
    assert policy.call(call, "test") == "done"
    assert len(calls) == 3
    call, calls = failing([StorageUnavailable("cut", errno=errno.EREMOTEIO)] * 3)
    with pytest.raises(StorageUnavailable):
        policy.call(call, "test")
    assert len(calls) == 3


@pytest.mark.parametrize(
    "error",
    [
        StorageUnavailable("refused", errno=errno.ECONNREFUSED),
        # The timeout bounds the wait for one server; the next replica is the retry.
        StorageUnavailable("silent", errno=errno.ETIMEDOUT),
        NotFound("gone"),
        ValueError("bug"),
    ],
)
def test_other_failures_are_not(error: BaseException) -> None:
    call, calls = failing([error])
    with pytest.raises(type(error)):
        RetryPolicy(attempts=5, base_s=0.001).call(call, "test")
    assert len(calls) == 1


@pytest.mark.expect_warnings
def test_the_breaker_opens_cools_down_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure("ral-se")
    assert breaker.healthy("ral-se")
    breaker.record_failure("ral-se")
    assert not breaker.healthy("ral-se")
    assert breaker.unhealthy() == {"ral-se"}
    now[0] = 31.0  # cooled down: half-open, one probe may go
    assert breaker.healthy("ral-se")
    breaker.record_failure("ral-se")  # the probe failed: open again
    assert not breaker.healthy("ral-se")
    now[0] = 62.0
    breaker.record_success("ral-se")
    assert breaker.healthy("ral-se")
    assert breaker.statistics() == {}


@pytest.mark.expect_warnings
def test_a_timeout_opens_the_breaker_at_once_until_it_cools_down() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, clock=lambda: now[0])
    breaker.record_failure("ral-se", StorageUnavailable("refused", errno=errno.ECONNREFUSED))
    assert breaker.healthy("ral-se")
    assert breaker.timed_out("ral-se") is None  # a refusal is cheap to try again
    breaker.record_failure("ral-se", StorageUnavailable("no answer", errno=errno.ETIMEDOUT))
    assert not breaker.healthy("ral-se")
    assert breaker.timed_out("ral-se") == "no answer"
    now[0] = 31.0
    assert breaker.timed_out("ral-se") is None  # cooled down: worth a try again
    breaker.record_success("ral-se")
    assert breaker.healthy("ral-se")


def test_replica_choice_puts_unhealthy_ses_last() -> None:
    ses = SERegistry(
        [
            StorageElement("cern-se", "cern", "srm://c/grid"),
            StorageElement("ral-se", "ral", "srm://r/grid"),
        ]
    )
    replicas = [
        Replica(EntryId(1), "g", se, f"srm://{se}/f", ReplicaStatus.AVAILABLE, 0, 0)
        for se in ("cern-se", "ral-se")
    ]
    for seed in range(10):
        order = rank_replicas(
            replicas, ses, "cern", random.Random(seed), unhealthy=frozenset({"cern-se"})
        )
        assert [c.se.name for c in order] == ["ral-se", "cern-se"]


@pytest.mark.expect_warnings
def test_reads_stop_trying_a_dead_se(
    tmp_path: Path, make_file, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[site]\nname = "near"\n'
        '[storage]\ndefault_se = "far-se"\nprotocols = ["file", "dav"]\ntimeout = 5\n'
        '[se.far-se]\nsite = "far"\nroot = "far"\n'
        '[se.near-se]\nsite = "near"\nsurl_prefix = "srm://near/grid"\n'
        f'[se.near-se.protocols]\ndav = "dav://127.0.0.1:{free_port()}/data"\n'
    )
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
        entry = grid.cr(make_file("f", 1000), "/grid/f")
        grid.catalog.add_replica(
            entry.guid or "", "near-se", "srm://near/grid/f"
        )  # its server is down
        for _ in range(6):
            with grid.open("/grid/f") as stream:
                assert len(stream.read()) == 1000
        tries = [r for r in caplog.records if "replica srm://near/grid/f failed" in r.getMessage()]
        assert len(tries) == 3  # then the breaker opened and the far replica came first
        assert not grid.storage.health.healthy("near-se")
        assert any("skipped for" in r.getMessage() for r in caplog.records)
        assert logging.WARNING in {r.levelno for r in tries}


class _FlakyReader(RangeReader):
    def __init__(self, inner: RangeReader, failures: list[int]) -> None:
        self._inner = inner
        self._failures = failures
        self.size = inner.size
        self.closed = False

    def readinto(self, offset: int, buffer: memoryview) -> int:
        if self._failures:
            self._failures.pop()
            raise StorageUnavailable("connection reset", errno=errno.EREMOTEIO)
        return self._inner.readinto(offset, buffer)

    def close(self) -> None:
        self.closed = True
        self._inner.close()


class _FlakyBackend(FileBackend):
    """A file:// backend whose first read on each of the first handles breaks off."""

    def __init__(self, failures: int) -> None:
        super().__init__(BackendOptions(attempts=3))
        self.failures = [1] * failures
        self.opened: list[_FlakyReader] = []

    def open_reader(self, turl: str) -> RangeReader:
        reader = _FlakyReader(super().open_reader(turl), self.failures)
        self.opened.append(reader)
        return reader


def test_a_read_broken_off_reopens_the_replica_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"0123456789" * 1000)
    flaky = _FlakyBackend(failures=2)
    reader = RetryingBackend(flaky).open_reader(path.as_uri())
    assert reader.pread(5, 10) == b"5678901234"
    assert len(flaky.opened) == 3  # two broken handles replaced
    reader.close()
    assert all(handle.closed for handle in flaky.opened)
    with pytest.raises(ValueError, match="closed"):
        reader.pread(0, 1)
    assert len(flaky.opened) == 3  # a closed reader never reopens
