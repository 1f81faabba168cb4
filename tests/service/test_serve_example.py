"""examples/serve_demo.py runs: a TLS server, a test CA and token issuer, two users."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "serve_demo.py"


def test_the_two_user_service_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEARER_", "X509_"))}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "alice lists: ['data']" in done.stdout
    assert "bob is refused:" in done.stdout
    assert "a token for /grid/gilda/foo:" in done.stdout
