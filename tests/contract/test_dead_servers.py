"""A dead SE fails fast, with the client settings gridfs chooses itself.

A server that is gone (nothing listens: killed by PID) refuses at once, with
ECONNREFUSED, and the next replica takes over; a server that accepts and never
answers (a listener socket of the test's) costs the configured timeout once, then
the circuit breaker skips it; a server that comes back is reached at once. The
bounds asserted are the configured timeout (was it waited out or not), never a speed.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.errors import NoReplicaAvailable
from gridfs.gfal import Grid
from tests.conftest import make_vo
from tests.storage_servers import LOOPBACK, WebDAVServer, XRootDServer

TIMEOUT = 20  # [storage] timeout: what a refused connection must not wait out
SILENT_TIMEOUT = 2  # the timeout of the grids that meet a silent server


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers a byte; yields the port."""
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(64)  # the kernel completes the handshakes; nobody reads
        yield listener.getsockname()[1]


def write_config(directory: Path, name: str, remote: str, timeout: float) -> Path:
    """A grid (one catalog per directory) whose SE "remote" is at ``remote``; "far" is file://."""
    scheme = remote.split(":", 1)[0]
    config = directory / name
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[identity]\nuser = "alice"\ngroups = ["gilda"]\n'
        '[site]\nname = "near"\n'
        f'[storage]\ndefault_se = "remote"\nprotocols = ["{scheme}", "file"]\n'
        f"timeout = {timeout}\n"
        '[se.remote]\nsite = "near"\nsurl_prefix = "srm://remote/grid"\n'
        f'[se.remote.protocols]\n{scheme} = "{remote}"\n'
        '[se.far]\nsite = "far"\nroot = "far-se"\n'
    )
    return config


def timed_open(grid: Grid, lfn: str) -> tuple[bytes | OSError, float]:
    """The content of ``lfn`` read whole, or the error of the open; and the seconds it took."""
    start = time.monotonic()
    try:
        with grid.open(lfn) as stream:
            result: bytes | OSError = stream.read()
    except OSError as exc:
        result = exc
    return result, time.monotonic() - start


@pytest.mark.expect_warnings
def test_a_killed_server_refuses_at_once_and_is_reached_when_back(
    private_xrootd: XRootDServer, tmp_path: Path, make_file
) -> None:
    config = write_config(tmp_path, "grid.toml", f"{private_xrootd.url}/se", TIMEOUT)
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid)
        both = make_file("both", 3 << 20, seed=1)
        only = make_file("only", 1 << 20, seed=2)
        grid.cr(both, "/grid/gilda/both")
        grid.rep("/grid/gilda/both", "far")
        grid.cr(only, "/grid/gilda/only")
        with grid.open("/grid/gilda/both", buffering=0) as reading:
            assert reading.replica.se == "remote"
            head = reading.read(1 << 20)
            private_xrootd.kill()
            start = time.monotonic()
            rest = reading.read()  # the far replica goes on at 1 MiB
            mid_read_s = time.monotonic() - start
            assert reading.replica.se == "far"
        assert head + rest == both.read_bytes()

        failed, refused_s = timed_open(grid, "/grid/gilda/only")
        assert isinstance(failed, NoReplicaAvailable)
        assert failed.errno == errno.ECONNREFUSED
        assert "Connection" in str(failed)
        served, failover_s = timed_open(grid, "/grid/gilda/both")
        assert served == both.read_bytes()

        private_xrootd.restart()
        back, back_s = timed_open(grid, "/grid/gilda/only")
        assert back == only.read_bytes()
    print(  # the measured times, for the report (pytest -s)
        f"mid-read failover {mid_read_s:.2f} s, refused open {refused_s:.2f} s, "
        f"open failing over {failover_s:.2f} s, first read once back {back_s:.2f} s"
    )
    for seconds in (mid_read_s, refused_s, failover_s, back_s):
        assert seconds < TIMEOUT  # nothing waited for a timeout


@pytest.mark.parametrize("scheme", ["root", "dav"])
@pytest.mark.expect_warnings
def test_a_silent_server_costs_the_timeout_once(
    scheme: str, tmp_path: Path, make_file, request: pytest.FixtureRequest
) -> None:
    """Files stored on a live server; then the SE's address answers nothing."""
    if scheme == "root":
        live: XRootDServer | WebDAVServer = request.getfixturevalue("xrootd_server")
        live_base = f"{live.url}/silent-{tmp_path.name}"
    else:
        live = request.getfixturevalue("webdav_server")
        live_base = "dav" + live.url[live.url.index("://") :] + f"silent-{tmp_path.name}"
    stored = write_config(tmp_path, "stored.toml", live_base, TIMEOUT)
    with Grid.from_config(load_config(stored), create=True) as grid:
        make_vo(grid)
        both = make_file("both", 1 << 20, seed=3)
        grid.cr(both, "/grid/gilda/both")
        grid.rep("/grid/gilda/both", "far")
        grid.cr(make_file("only", 1000, seed=4), "/grid/gilda/only")
    with silent_listener() as port:
        path = live_base.split("/", 3)[3]
        hung = f"{scheme}://{LOOPBACK}:{port}/{path}"
        config = write_config(tmp_path, "silent.toml", hung, SILENT_TIMEOUT)
        with Grid.from_config(load_config(config)) as grid:
            failed, first_s = timed_open(grid, "/grid/gilda/only")
            assert isinstance(failed, NoReplicaAvailable)
            assert failed.errno == errno.ETIMEDOUT
            # The SE's circuit is open now: the next opens do not wait for it.
            served, failover_s = timed_open(grid, "/grid/gilda/both")
            assert served == both.read_bytes()
            again, skipped_s = timed_open(grid, "/grid/gilda/only")
            assert isinstance(again, NoReplicaAvailable)
            assert again.errno == errno.ETIMEDOUT
            assert "skipped" in str(again)
    print(
        f"{scheme}: silent open {first_s:.2f} s, then failover {failover_s:.2f} s, "
        f"skipped {skipped_s:.2f} s"
    )
    assert first_s < TIMEOUT  # the configured timeout, once, not XrdCl's own minutes
    assert failover_s < SILENT_TIMEOUT
    assert skipped_s < SILENT_TIMEOUT
