"""Request counts and latencies per operation, summed over the worker processes.

Each worker counts in memory and writes its totals to a file of its own in a
directory the workers share, at most once a second; ``/metrics`` adds up the
files (its own counts fresh), in the Prometheus text format.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from pathlib import Path

__all__ = ["Metrics"]

_FLUSH_EVERY = 1.0  # seconds between a worker's writes of its totals


class Metrics:
    """One worker's counters: (operation, status) -> count, operation -> seconds."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._seconds: defaultdict[str, float] = defaultdict(float)
        self._flushed = 0.0

    def record(self, operation: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        now = time.monotonic()
        with self._lock:
            self._counts[f"{operation} {status}"] += 1
            self._seconds[operation] += seconds
            due = now - self._flushed >= _FLUSH_EVERY
            if due:
                self._flushed = now
                snapshot = self._snapshot()
        if due:
            self._write(snapshot)

    def _snapshot(self) -> str:
        return json.dumps({"counts": self._counts, "seconds": self._seconds})

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
        lines = [
            "# TYPE gridfs_requests_total counter",
            *(
                f'gridfs_requests_total{{operation="{op}",status="{status}"}} {n}'
                for op, status, n in sorted((*k.split(" "), n) for k, n in counts.items())
            ),
            "# TYPE gridfs_request_seconds_total counter",
            *(
                f'gridfs_request_seconds_total{{operation="{op}"}} {s:.6f}'
                for op, s in sorted(seconds.items())
            ),
        ]
        return "\n".join(lines) + "\n"
