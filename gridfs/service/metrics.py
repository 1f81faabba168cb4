"""Request counts and latency histograms per operation, summed over the worker processes.

Each worker counts in memory and writes its totals to a file of its own in a
directory the workers share, at most once a second; ``/metrics`` adds up the
files (its own counts fresh), in the Prometheus text format:
``gridfs_requests_total{operation,status}`` and the histogram
``gridfs_request_seconds{operation}`` (``_bucket{le}``, ``_sum``, ``_count``).
"""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
from collections import defaultdict
from pathlib import Path

__all__ = ["BUCKETS", "Metrics"]

_FLUSH_EVERY = 1.0  # seconds between a worker's writes of its totals
# Upper bounds of the latency buckets, in seconds: a stat takes about a millisecond.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One worker's counters: (operation, status) -> count; operation -> seconds, buckets."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._seconds: defaultdict[str, float] = defaultdict(float)
        # Per operation, the count in each bucket (not cumulative), the last one above all.
        self._buckets: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._flushed = 0.0

    def record(self, operation: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        now = time.monotonic()
        slot = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._counts[f"{operation} {status}"] += 1
            self._seconds[operation] += seconds
            self._buckets[operation][slot] += 1
            due = now - self._flushed >= _FLUSH_EVERY
            if due:
                self._flushed = now
                snapshot = self._snapshot()
        if due:
            self._write(snapshot)

    def _snapshot(self) -> str:
        return json.dumps(
            {"counts": self._counts, "seconds": self._seconds, "buckets": self._buckets}
        )

    def _write(self, snapshot: str) -> None:
        path = self._directory / f"{os.getpid()}.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(snapshot)
        partial.replace(path)

    def render(self) -> str:
        """All workers' counters in the Prometheus text format."""
        with self._lock:
            own = self._snapshot()
        counts: defaultdict[str, int] = defaultdict(int)
        seconds: defaultdict[str, float] = defaultdict(float)
        buckets: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        mine = f"{os.getpid()}.json"
        texts = [own] + [p.read_text() for p in self._directory.glob("*.json") if p.name != mine]
        for text in texts:
            try:
                data = json.loads(text)
            except ValueError:
                continue  # a worker's file being replaced
            for key, value in data["counts"].items():
                counts[key] += value
            for key, value in data["seconds"].items():
                seconds[key] += value
            for key, values in data.get("buckets", {}).items():
                buckets[key] = [a + b for a, b in zip(buckets[key], values, strict=True)]
        lines = [
            "# TYPE gridfs_requests_total counter",
            *(
                f'gridfs_requests_total{{operation="{op}",status="{status}"}} {n}'
                for op, status, n in sorted((*k.split(" "), n) for k, n in counts.items())
            ),
            "# TYPE gridfs_request_seconds histogram",
        ]
        for op in sorted(buckets):
            cumulative = 0
            for bound, count in zip((*BUCKETS, "+Inf"), buckets[op], strict=True):
                cumulative += count
                lines.append(
                    f'gridfs_request_seconds_bucket{{operation="{op}",le="{bound}"}} {cumulative}'
                )
            lines.append(f'gridfs_request_seconds_sum{{operation="{op}"}} {seconds[op]:.6f}')
            lines.append(f'gridfs_request_seconds_count{{operation="{op}"}} {cumulative}')
        return "\n".join(lines) + "\n"
