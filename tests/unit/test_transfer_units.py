"""The transfer service's pure parts: states, shares, retries, settings, optimizer, URLs."""

from __future__ import annotations

import errno
import random
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.errors import (
    ChecksumMismatch,
    ConfigError,
    InvalidArgument,
    NoReplicaAvailable,
    NotFound,
    StorageUnavailable,
)
from gridfs.gfal.services import is_service_url
from gridfs.transfer import TransferStore
from gridfs.transfer.optimizer import LinkSample, OptimizerSettings, Ramp, decide
from gridfs.transfer.retries import Backoff, classify
from gridfs.transfer.settings import parse_transfer_settings
from gridfs.transfer.shares import share_out
from gridfs.transfer.states import FileState, JobState, job_state

F = FileState


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([F.SUBMITTED, F.SUBMITTED], JobState.SUBMITTED),
        ([F.SUBMITTED, F.ACTIVE], JobState.ACTIVE),
        ([F.SUBMITTED, F.FINISHED], JobState.ACTIVE),
        ([F.STAGING], JobState.ACTIVE),
        ([F.FINISHED, F.NOT_USED], JobState.FINISHED),
        ([F.NOT_USED], JobState.FINISHED),
        ([F.FINISHED, F.FAILED], JobState.FINISHED_DIRTY),
        ([F.NOT_USED, F.CANCELED], JobState.FINISHED_DIRTY),
        ([F.FAILED, F.FAILED], JobState.FAILED),
        ([F.FAILED, F.CANCELED], JobState.CANCELED),
        ([F.CANCELED, F.ACTIVE], JobState.ACTIVE),  # a canceled copy still being undone
    ],
)
def test_a_jobs_state_follows_from_its_files(states: list[FileState], expected: JobState) -> None:
    assert job_state(states) is expected


def test_shares_divide_the_room_in_proportion() -> None:
    shares = {"express": 3, "default": 1}
    assert share_out(8, {"express": 100, "default": 100}, {}, shares) == {
        "express": 6,
        "default": 2,
    }
    # What runs already counts: express has 6 running, so default catches up first.
    assert share_out(4, {"express": 100, "default": 100}, {"express": 6}, shares) == {
        "express": 1,
        "default": 3,
    }
    # An activity with little waiting leaves the rest to others; unknown ones weigh as default.
    assert share_out(5, {"express": 1, "reprocessing": 50}, {}, shares) == {
        "express": 1,
        "reprocessing": 4,
    }
    assert share_out(0, {"express": 5}, {}, shares) == {}
    assert share_out(3, {}, {}, shares) == {}


def test_only_recoverable_failures_are_retried() -> None:
    assert classify(StorageUnavailable("timed out", errno=errno.ETIMEDOUT)).recoverable
    assert classify(StorageUnavailable("broke off", errno=errno.ECONNRESET)).recoverable
    assert classify(StorageUnavailable("busy", errno=errno.EAGAIN)).recoverable
    assert not classify(StorageUnavailable("refused", errno=errno.ECONNREFUSED)).recoverable
    assert not classify(NotFound("gone")).recoverable
    assert not classify(ChecksumMismatch("corrupt")).recoverable
    # The cause counts: no replica left to read because the one there timed out.
    try:
        try:
            raise StorageUnavailable("timed out", errno=errno.ETIMEDOUT)
        except StorageUnavailable as exc:
            raise NoReplicaAvailable("no replica could be read") from exc
    except NoReplicaAvailable as wrapped:
        outcome = classify(wrapped)
    assert outcome.recoverable
    assert outcome.reason == "no replica could be read"
    assert outcome.errno == errno.EIO


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base_s=4, cap_s=20)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng) for n in (1, 2, 3, 4, 5)]
    assert 2 <= delays[0] <= 4
    assert 4 <= delays[1] <= 8
    assert 8 <= delays[2] <= 16
    assert all(10 <= d <= 20 for d in delays[3:])


def test_settings_are_checked() -> None:
    settings = parse_transfer_settings(
        {"slots": 2, "lease": 10, "ramp": "linear", "shares": {"express": 4}, "inbound": {"a": 3}}
    )
    assert settings.slots == 2
    assert settings.lease_s == 10
    assert settings.optimizer.ramp is Ramp.LINEAR
    assert settings.shares == {"express": 4.0}
    assert settings.inbound == {"a": 3}
    assert parse_transfer_settings({"tombstone": 3600}).tombstone_s == 3600
    for bad, message in [
        ({"slots": 0}, "slots must be a positive integer"),
        ({"slots": 1.5}, "slots must be a positive integer"),
        ({"lease": "long"}, "lease must be a positive number"),
        ({"ramp": "fast"}, "ramp must be one of"),
        ({"colour": 1}, "unknown key(s): colour"),
        ({"inbound": {"a": 1.5}}, "whole numbers"),
        ({"min_streams": 10}, "min_streams <= start_streams"),
        ({"success_threshold": 2}, "a fraction"),
        ({"lease": 600, "tombstone": 60}, "tombstone must be longer than lease"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_transfer_settings(bad)


def sample(**changes: object) -> LinkSample:
    values: dict[str, object] = {
        "concurrency": 4,
        "ema": 100e6,
        "ramping": False,
        "throughput": 100e6,
        "successes": 10,
        "recoverable_failures": 0,
        "queued": 50,
        "active": 4,
    }
    values.update(changes)
    return LinkSample(**values)  # type: ignore[arg-type]


SETTINGS = OptimizerSettings()


def test_the_optimizer_rules() -> None:
    empty = decide(sample(queued=0, active=0), SETTINGS)
    assert (empty.concurrency, empty.reason) == (4, "queue empty: holding")
    failing = decide(sample(successes=8, recoverable_failures=2), SETTINGS)
    assert failing.concurrency == 2
    assert "success rate 80% below 90%" in failing.reason
    assert failing.success_rate == pytest.approx(0.8)
    idle = decide(sample(throughput=None, successes=0), SETTINGS)
    assert idle.concurrency == 4
    assert "nothing finished" in idle.reason
    drained = decide(sample(active=2, queued=0), SETTINGS)
    assert drained.concurrency == 4
    assert drained.reason == "nothing waiting beyond the 2 running: holding"
    fell = decide(sample(throughput=50e6), SETTINGS)
    assert fell.concurrency == 3
    assert fell.ema == pytest.approx(85e6)  # 0.3 * 50 + 0.7 * 100
    assert "fell from 100.0 MB/s to 85.0 MB/s" in fell.reason
    holds = decide(sample(), SETTINGS)
    assert (holds.concurrency, holds.ramping) == (5, False)
    ramping = decide(sample(ramping=True, throughput=200e6, last_throughput=100e6), SETTINGS)
    assert (ramping.concurrency, ramping.ramping, ramping.reason[-8:]) == (8, True, "doubling")
    plateau = decide(sample(ramping=True, throughput=102e6, last_throughput=100e6), SETTINGS)
    assert (plateau.concurrency, plateau.ramping) == (2, False)  # undone; +1 from now on
    first = decide(sample(ema=None, ramping=True), SETTINGS)
    assert first.concurrency == 8
    # A new link's first window is not held against another life's last one (a warm-up).
    renewed = decide(sample(ema=None, ramping=True, throughput=1e6, last_throughput=50e6), SETTINGS)
    assert (renewed.concurrency, renewed.ramping) == (8, True)
    top = decide(sample(concurrency=64, active=64), SETTINGS)
    assert (top.concurrency, top.reason) == (64, "at the maximum of 64 streams: holding")
    linear = decide(sample(ramping=True, throughput=200e6), OptimizerSettings(ramp=Ramp.LINEAR))
    assert linear.concurrency == 6
    flat = OptimizerSettings(ramp=Ramp.LINEAR)  # no slow start to undo: +2 while it holds
    assert (
        decide(sample(ramping=True, throughput=100e6, last_throughput=100e6), flat).concurrency == 6
    )
    # Failures that are not the link's (a missing source) are not counted: full rate.
    assert decide(sample(recoverable_failures=0, successes=1), SETTINGS).success_rate == 1.0


def ramp_up(settings: OptimizerSettings, capacity: int, decisions: int) -> list[int]:
    """The concurrency per decision where each stream moves 10 MB/s, up to ``capacity``."""
    concurrency, ema, ramping, seen = settings.start_streams, None, True, []
    last = None
    for _ in range(decisions):
        throughput = 10e6 * min(concurrency, capacity)
        decision = decide(
            LinkSample(concurrency, ema, ramping, throughput, 10, 0, 1000, concurrency, last),
            settings,
        )
        concurrency, ema, ramping = decision.concurrency, decision.ema, decision.ramping
        last = throughput
        seen.append(concurrency)
    return seen


def test_doubling_reaches_a_fat_links_capacity_far_sooner_than_fts3s_steps() -> None:
    doubling = ramp_up(OptimizerSettings(), capacity=48, decisions=30)
    linear = ramp_up(OptimizerSettings(ramp=Ramp.LINEAR), capacity=48, decisions=30)
    first_at = {
        name: next(i for i, c in enumerate(seen) if c >= 48)
        for name, seen in (("doubling", doubling), ("linear", linear))
    }
    assert doubling[:5] == [4, 8, 16, 32, 64]  # 2 -> 64 in five minutes
    assert first_at["doubling"] == 4
    assert first_at["linear"] == 22  # 2 -> 48 by +2: 23 minutes
    # Past the capacity it does not stay up for nothing: the doubling that bought nothing
    # is undone and ends the ramp; later steps are +1 only while throughput holds.
    narrow = ramp_up(OptimizerSettings(), capacity=20, decisions=7)
    assert narrow == [4, 8, 16, 32, 64, 32, 33]


def test_an_se_marked_for_third_party_copy(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[se.x]\nroot = "x"\ntpc = true\n[se.y]\nroot = "y"\n')
    ses = {se.name: se.third_party for se in load_config(path).ses}
    assert ses == {"x": True, "y": False}
    path.write_text('[se.x]\nroot = "x"\ntpc = "yes"\n')
    with pytest.raises(ConfigError, match=r"\[se.x\] tpc must be true or false"):
        load_config(path)


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://catalog.example:8443/", True),
        ("HTTP://127.0.0.1:8080", True),
        ("postgresql+psycopg://u@h/db", False),
        ("sqlite:///var/lib/gridfs/catalog.db", False),
        ("httpsish://x", False),
    ],
)
def test_a_catalog_service_url_has_no_transfer_queue(url: str, service: bool) -> None:
    assert is_service_url(url) is service
    if service:
        with pytest.raises(InvalidArgument, match="is a catalog service"):
            TransferStore.from_url(url)
