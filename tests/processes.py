"""Small helpers shared by the test servers and the tests that need a dead port."""

from __future__ import annotations

import socket
from pathlib import Path

__all__ = ["free_port", "read_log"]


def free_port() -> int:
    """A TCP port nobody listens on right now (a server may still lose a race for it).

    Probed on the wildcard address, which covers 127.0.0.1 too: xrootd binds the wildcard.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def read_log(path: Path | None, since: int = 0) -> str:
    """A server's log from byte ``since`` on; empty if there is none yet."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as log:
        log.seek(since)
        return log.read().decode(errors="replace")
