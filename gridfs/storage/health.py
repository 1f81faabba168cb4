"""Storage health: retries for transient failures, and a circuit breaker per SE."""

from __future__ import annotations

import errno
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gridfs.errors import StorageUnavailable

__all__ = ["CircuitBreaker", "RetryPolicy", "is_transient"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# A timeout or a connection broken off may well succeed when tried again; a
# refused connection (nothing listens) or a missing file will not.
_TRANSIENT = {errno.ETIMEDOUT, errno.EREMOTEIO, errno.ECONNRESET, errno.EAGAIN}


def is_transient(error: BaseException) -> bool:
    """True for failures worth another try of the same call."""
    return isinstance(error, StorageUnavailable) and error.errno in _TRANSIENT


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff: attempt n waits up to ``base_s * 2**n``, capped."""

    attempts: int = 3
    base_s: float = 0.2
    cap_s: float = 5.0

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, tried again after transient failures only; the last error is raised.

        A timeout is not tried again here: the configured timeout is how long
        one call may wait for a server, and the next replica is the better try
        (a whole transfer that timed out may well be, by its own caller).
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except StorageUnavailable as exc:
                timed_out = exc.errno == errno.ETIMEDOUT
                if attempt == self.attempts or timed_out or not is_transient(exc):
                    raise
                delay = random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))
                log.info("%s failed (%s); trying again in %.2f s", what, exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")


class CircuitBreaker:
    """Marks an SE unhealthy after ``threshold`` failures in a row, for ``cooldown_s``.

    A timeout opens the circuit at once, and while it is open :meth:`timed_out`
    says why, so that opens do not wait for that SE again: a silent server
    costs one timeout per cool-down, not one per open. (A refused connection
    costs nothing to try again, and so finds a restarted server at once.)
    After the cool-down the SE is tried again: a success closes the circuit,
    a failure opens it for another cool-down. Thread-safe; ``clock`` is
    injectable for tests.
    """

    def __init__(
        self,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, float] = {}
        self._timeouts: dict[str, str] = {}  # SE -> the timeout that opened its circuit
        self._lock = threading.Lock()

    def healthy(self, se: str) -> bool:
        """False while ``se``'s circuit is open (it failed too often, too recently)."""
        with self._lock:
            until = self._open_until.get(se)
            return until is None or self._clock() >= until

    def unhealthy(self) -> frozenset[str]:
        """The SEs whose circuit is open now."""
        with self._lock:
            now = self._clock()
            return frozenset(se for se, until in self._open_until.items() if now < until)

    def timed_out(self, se: str) -> str | None:
        """The timeout that keeps ``se``'s circuit open now, or None: it is worth a try."""
        with self._lock:
            until = self._open_until.get(se)
            if until is None or self._clock() >= until:
                return None
            return self._timeouts.get(se)

    def record_success(self, se: str) -> None:
        """``se`` answered: close its circuit."""
        with self._lock:
            self._failures.pop(se, None)
            self._timeouts.pop(se, None)
            if self._open_until.pop(se, None) is not None:
                log.info("storage element %s is healthy again", se)

    def record_failure(self, se: str, error: BaseException | None = None) -> None:
        """``se`` failed to answer (with ``error``); open its circuit at the threshold.

        A timeout opens it at once.
        """
        timeout = isinstance(error, OSError) and error.errno == errno.ETIMEDOUT
        with self._lock:
            count = self._failures.get(se, 0) + 1
            self._failures[se] = count
            if timeout:
                self._timeouts[se] = str(error)
            else:
                self._timeouts.pop(se, None)
            if count >= self._threshold or timeout:
                if se not in self._open_until or self._clock() >= self._open_until[se]:
                    why = "timed out" if timeout else f"failed {count} times in a row"
                    log.warning(
                        "storage element %s %s: skipped for %.0f s", se, why, self._cooldown_s
                    )
                self._open_until[se] = self._clock() + self._cooldown_s

    def statistics(self) -> dict[str, int]:
        """Consecutive failures per SE (those with any)."""
        with self._lock:
            return dict(self._failures)
