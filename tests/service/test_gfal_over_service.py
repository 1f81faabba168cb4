"""The seam is complete over the wire: the gfal tests pass with the catalog behind a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.service_server import SERVICE_ENV
from tests.unit.test_seam import GFAL_TESTS

# It switches identity inside the client, which a service refuses: who calls is the credential's.
ACTS_AS_ANOTHER = "tests/unit/test_gfal.py::test_unlink_checks_permission_before_deleting_copies"


def test_the_gfal_tests_pass_over_gridfs_serve() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            "--deselect",
            ACTS_AS_ANOTHER,
            *GFAL_TESTS,
        ],
        cwd=Path(__file__).parents[2],
        env={**os.environ, SERVICE_ENV: "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=550,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout.splitlines()[-1]
