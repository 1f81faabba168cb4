"""`make demo`'s script runs, twice, in a temp dir (examples must not rot)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "examples" / "demo.sh"


@pytest.mark.mount
@pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None,
    reason="needs /dev/fuse and fusermount3 (apt install fuse3)",
)
def test_demo_runs_twice(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "DEMO_DIR": str(tmp_path / "demo"),
        "GRIDFS": str(bin_dir / "gridfs"),
        "PYTHON": sys.executable,
    }
    for _ in range(2):
        result = subprocess.run(
            [str(DEMO)], env=env, capture_output=True, text=True, check=False, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "all sha256 sums match" in result.stdout.replace("\n", " ")
        assert "11 files match" in result.stdout
        assert not os.path.ismount(tmp_path / "demo" / "grid")
