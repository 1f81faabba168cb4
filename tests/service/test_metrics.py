"""/metrics: counts and latency histograms per operation, added up over the workers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gridfs.service.metrics import BUCKETS, Metrics


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} not in {text}"
    return float(match.group(1))


def test_latencies_fall_in_cumulative_buckets_over_all_workers(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path)
    for seconds in (0.0002, 0.0008, 0.003, 0.003, 20.0):
        metrics.record("catalog.stat", 200, seconds)
    metrics.record("catalog.stat", 404, 0.0004)
    other = [0] * (len(BUCKETS) + 1)
    other[0] = 4  # another worker's four fast calls, as it writes them
    (tmp_path / "1.json").write_text(
        json.dumps(
            {
                "counts": {"catalog.stat 200": 4},
                "seconds": {"catalog.stat": 0.001},
                "buckets": {"catalog.stat": other},
            }
        )
    )
    text = metrics.render()
    series = 'gridfs_request_seconds_bucket{operation="catalog.stat",le="%s"}'
    assert _value(text, series % 0.0005) == 2 + 4
    assert _value(text, series % 0.001) == 3 + 4
    assert _value(text, series % 0.005) == 5 + 4
    assert _value(text, series % 10.0) == 5 + 4
    assert _value(text, series % "+Inf") == 6 + 4
    assert _value(text, 'gridfs_request_seconds_count{operation="catalog.stat"}') == 10
    total = _value(text, 'gridfs_request_seconds_sum{operation="catalog.stat"}')
    assert abs(total - (20.0074 + 0.001)) < 1e-6
    assert _value(text, 'gridfs_requests_total{operation="catalog.stat",status="404"}') == 1
    assert _value(text, 'gridfs_requests_total{operation="catalog.stat",status="200"}') == 9
