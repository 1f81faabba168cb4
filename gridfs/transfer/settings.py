"""The ``[transfer]`` table of the configuration: how agents lease, retry and share links.

::

    [transfer]
    slots = 8               # files an agent copies at once
    lease = 60              # seconds a claim holds without a heartbeat (renewed each third)
    poll = 2                # seconds an idle agent waits before looking for work again
    attempts = 3            # tries per file (recoverable failures only), unless a job says
    backoff = 5             # seconds before the first retry; doubles, up to backoff_cap
    backoff_cap = 300
    lifetime = 604800       # seconds a job lives unless it says (then its files fail)
    stage_pin = 3600        # seconds a source staged from tape stays pinned
    stage_batch = 100       # files of one tape SE an agent stages in one request, at most
    stage_wait = 5          # seconds an agent gathers files to stage before it asks
    interval = 60           # seconds between two optimizer decisions on a link
    tombstone = 86400       # seconds the STALE entry over a dead agent's copy is kept
    min_streams = 1         # bounds of a link's concurrency
    max_streams = 64
    start_streams = 2
    success_threshold = 0.9 # below it (recoverable failures only), a link steps down
    ramp = "doubling"       # or "linear" (FTS3's +2 per decision)

    [transfer.shares]       # activity = weight; others get the "default" weight
    default = 1
    express = 4

    [transfer.inbound]      # SE = most files written to it at once (all links)
    cern-se = 20

    [transfer.outbound]     # SE = most files read from it at once
    tape-se = 4
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gridfs.config import Config
from gridfs.errors import ConfigError
from gridfs.transfer.optimizer import OptimizerSettings, Ramp
from gridfs.transfer.retries import Backoff

__all__ = ["TransferSettings", "load_transfer_settings", "parse_transfer_settings"]

_NUMBERS = {
    "slots": int,
    "lease": float,
    "poll": float,
    "attempts": int,
    "backoff": float,
    "backoff_cap": float,
    "lifetime": float,
    "stage_pin": float,
    "stage_batch": int,
    "stage_wait": float,
    "interval": float,
    "tombstone": float,
    "min_streams": int,
    "max_streams": int,
    "start_streams": int,
    "success_threshold": float,
}
_TABLES = {"shares", "inbound", "outbound"}


def _empty() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True)
class TransferSettings:
    """How the agents work, validated."""

    slots: int = 8
    lease_s: float = 60.0
    poll_s: float = 2.0
    attempts: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    lifetime_s: float = 7 * 86400.0
    stage_pin_s: float = 3600.0
    stage_batch: int = 100
    stage_wait_s: float = 5.0
    interval_s: float = 60.0
    # A tombstone blocks a stalled agent from registering a copy its successor deleted;
    # kept well past a lease, as a stall outlasts one only by a long pause.
    tombstone_s: float = 86400.0
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    shares: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    inbound: Mapping[str, int] = field(default_factory=_empty)
    outbound: Mapping[str, int] = field(default_factory=_empty)


def load_transfer_settings(config: Config) -> TransferSettings:
    """The ``[transfer]`` table of ``config``'s file (the defaults without one)."""
    if config.path is None or not config.path.exists():
        return TransferSettings()
    with config.path.open("rb") as stream:
        data = tomllib.load(stream)
    return parse_transfer_settings(data.get("transfer", {}), config.path)


def parse_transfer_settings(table: Any, path: Path | None = None) -> TransferSettings:
    """``table`` (a ``[transfer]`` table) as settings; :class:`ConfigError` names a bad key."""
    where = f"{path}: [transfer]" if path is not None else "[transfer]"

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{where} {message}", str(path) if path else None)

    if not isinstance(table, Mapping):
        raise fail("must be a table")
    unknown = set(table) - set(_NUMBERS) - _TABLES - {"ramp"}
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(unknown))}")
    values: dict[str, float] = {}
    for key, kind in _NUMBERS.items():
        if key not in table:
            continue
        value = table[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and not isinstance(value, int))
            or value <= 0
        ):
            raise fail(f"{key} must be a positive {'integer' if kind is int else 'number'}")
        values[key] = value
    if values.get("success_threshold", 0.5) > 1:
        raise fail("success_threshold is a fraction (0 to 1)")
    ramp = table.get("ramp", Ramp.DOUBLING.value)
    if ramp not in {r.value for r in Ramp}:
        raise fail(f"ramp must be one of {', '.join(r.value for r in Ramp)}")
    defaults = OptimizerSettings()
    optimizer = OptimizerSettings(
        min_streams=int(values.get("min_streams", defaults.min_streams)),
        max_streams=int(values.get("max_streams", defaults.max_streams)),
        start_streams=int(values.get("start_streams", defaults.start_streams)),
        success_threshold=float(values.get("success_threshold", defaults.success_threshold)),
        ramp=Ramp(ramp),
    )
    if not optimizer.min_streams <= optimizer.start_streams <= optimizer.max_streams:
        raise fail("needs min_streams <= start_streams <= max_streams")
    base = TransferSettings()
    if values.get("tombstone", base.tombstone_s) <= values.get("lease", base.lease_s):
        raise fail("tombstone must be longer than lease")
    return TransferSettings(
        slots=int(values.get("slots", base.slots)),
        lease_s=float(values.get("lease", base.lease_s)),
        poll_s=float(values.get("poll", base.poll_s)),
        attempts=int(values.get("attempts", base.attempts)),
        backoff=Backoff(
            float(values.get("backoff", base.backoff.base_s)),
            float(values.get("backoff_cap", base.backoff.cap_s)),
        ),
        lifetime_s=float(values.get("lifetime", base.lifetime_s)),
        stage_pin_s=float(values.get("stage_pin", base.stage_pin_s)),
        stage_batch=int(values.get("stage_batch", base.stage_batch)),
        stage_wait_s=float(values.get("stage_wait", base.stage_wait_s)),
        interval_s=float(values.get("interval", base.interval_s)),
        tombstone_s=float(values.get("tombstone", base.tombstone_s)),
        optimizer=optimizer,
        shares=_weights(table.get("shares", {}), "shares", fail, float),
        inbound=_weights(table.get("inbound", {}), "inbound", fail, int),
        outbound=_weights(table.get("outbound", {}), "outbound", fail, int),
    )


def _weights(value: Any, name: str, fail: Any, kind: type) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value.values()
    ):
        raise fail(f"[transfer.{name}] must be a table of name = positive number")
    if kind is int and not all(isinstance(v, int) for v in value.values()):
        raise fail(f"[transfer.{name}] limits are whole numbers of files")
    return MappingProxyType({str(k): kind(v) for k, v in value.items()})
