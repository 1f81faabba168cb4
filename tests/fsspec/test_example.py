"""The analysis example of examples/ runs (examples must not rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "analysis.py"


def test_the_analysis_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "mean pt over 100000 events" in done.stdout
    assert "events in all runs: 100000" in done.stdout  # dask over the grid directory
