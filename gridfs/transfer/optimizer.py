"""The per-link concurrency optimizer: one pure decision, in the spirit of FTS3's.

Every interval, each link with work gets one :func:`decide` on what it did in
the last window: the throughput (bytes finished per second, all its streams
together), smoothed by an exponential moving average; the success rate,
counted on recoverable failures only (a missing source says nothing about
the link); the queue and what is active.

- The queue is empty and nothing runs: hold.
- The success rate is below the threshold: step down.
- Nothing finished in the window, or nothing waits beyond what runs (more
  streams would have nothing to do): hold.
- The smoothed throughput did not fall: step up. It fell: step down one.

FTS3 steps by a constant (±2 a minute), so a fat link that wants 64 streams
takes half an hour to get them. Here a link starts in slow start (``ramping``),
as TCP does: while a step up brings a real gain (``gain``, 10%) the
concurrency doubles; the first doubling that does not is undone, which ends
the ramp, and the link goes on one stream at a time; a fall steps back down.
(The gain is that of the window's throughput over the window before: the
average lags behind a step up and would seem to rise for several windows
after it.) The FTS3 way stays available (``ramp = "linear"``) and the benchmark compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Decision", "LinkSample", "OptimizerSettings", "Ramp", "decide"]


class Ramp(StrEnum):
    """How the concurrency climbs while throughput rises."""

    DOUBLING = "doubling"  # slow start: doubles while each step gains, then +1
    LINEAR = "linear"  # FTS3: +2 per decision


@dataclass(frozen=True)
class OptimizerSettings:
    """The optimizer's bounds and thresholds."""

    min_streams: int = 1
    max_streams: int = 64
    start_streams: int = 2
    alpha: float = 0.3  # weight of the newest sample in the moving average
    success_threshold: float = 0.9
    tolerance: float = 0.05  # a throughput within 5% below the last counts as not falling
    gain: float = 0.1  # a doubling must bring 10% more to double again
    ramp: Ramp = Ramp.DOUBLING
    linear_step: int = 2


@dataclass(frozen=True)
class LinkSample:
    """What a link did in the last window, and what the optimizer remembers of it."""

    concurrency: int
    ema: float | None  # bytes/s, smoothed, up to the last decision
    ramping: bool
    throughput: float | None  # bytes/s in this window; None when nothing finished
    successes: int
    recoverable_failures: int
    queued: int
    active: int
    last_throughput: float | None = None  # bytes/s in the window before this one


@dataclass(frozen=True)
class Decision:
    """The new concurrency of a link, the optimizer's new memory, and why."""

    concurrency: int
    ema: float | None
    ramping: bool
    success_rate: float | None
    reason: str


def _rate(bytes_per_s: float | None) -> str:
    return "none" if bytes_per_s is None else f"{bytes_per_s / 1e6:.1f} MB/s"


def decide(sample: LinkSample, settings: OptimizerSettings) -> Decision:
    """The link's next concurrency (see the module docstring for the rules)."""
    previous = sample.ema
    ema = previous
    if sample.throughput is not None:
        alpha = settings.alpha
        ema = (
            sample.throughput
            if previous is None
            else alpha * sample.throughput + (1 - alpha) * previous
        )
    attempts = sample.successes + sample.recoverable_failures
    rate = sample.successes / attempts if attempts else None
    concurrency, ramping, reason = _rule(sample, settings, ema, rate)
    bounded = max(settings.min_streams, min(settings.max_streams, concurrency))
    return Decision(bounded, ema, ramping, rate, reason)


def _rule(  # noqa: PLR0911 - one return per rule, in the order they apply
    sample: LinkSample, settings: OptimizerSettings, ema: float | None, rate: float | None
) -> tuple[int, bool, str]:
    """The first rule that applies: (concurrency, ramping, reason)."""
    current, previous = sample.concurrency, sample.ema
    hold = (current, sample.ramping)
    if sample.queued == 0 and sample.active == 0:
        return (*hold, "queue empty: holding")
    if rate is not None and rate < settings.success_threshold:
        step = current // 2 if settings.ramp is Ramp.DOUBLING else settings.linear_step
        threshold = f"{settings.success_threshold:.0%}"
        return current - max(1, step), False, f"success rate {rate:.0%} below {threshold}: down"
    if sample.throughput is None or ema is None:
        return (*hold, "nothing finished in the window: holding")
    if sample.queued == 0:
        return (*hold, f"nothing waiting beyond the {sample.active} running: holding")
    if previous is not None and ema < previous * (1 - settings.tolerance):
        return current - 1, False, f"throughput fell from {_rate(previous)} to {_rate(ema)}: -1"
    # A link's first measured window has no window of its own before it: the last
    # decision's throughput, if any, is of an older life of the link (another job's).
    before = sample.last_throughput if previous is not None else None
    # The ramp goes on while this window beats the one before (the step up it follows
    # paid); the average lags behind a step up and would seem to rise for several windows.
    paid = before is None or sample.throughput >= before * (1 + settings.gain)
    doubling = settings.ramp is Ramp.DOUBLING and sample.ramping
    if doubling and not paid:
        # The last doubling did not pay: back to where it came from, then +1 at a time.
        window = _rate(sample.throughput)
        return current // 2, False, f"doubling to {current} bought little ({window}): back, then +1"
    if current >= settings.max_streams:
        return (*hold, f"at the maximum of {settings.max_streams} streams: holding")
    if settings.ramp is Ramp.LINEAR:
        step = settings.linear_step
        return current + step, False, f"throughput {_rate(ema)} did not fall: +{step}"
    if doubling:
        window = _rate(sample.throughput)
        return current * 2, True, f"throughput {window} rose over {_rate(before)}: doubling"
    return current + 1, False, f"throughput {_rate(ema)} holds: +1"
