"""A throwaway PostgreSQL server for tests, and the pytest fixtures that use it.

The server is a private cluster: ``initdb`` into a temp dir, trust authentication,
listening only on 127.0.0.1 on a free port, with durability switched off because
nothing in it has to survive the test session. Each test gets its own database.

PostgreSQL refuses to run as root, so under root the server commands run as the
``postgres`` system user (through ``runuser``) in a temp dir that user can reach.

Use from ``tests/conftest.py``::

    from tests.pgserver import postgres_server, postgres_url
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.processes import free_port, read_log

if TYPE_CHECKING:
    import psycopg

SKIP_REASON = "PostgreSQL server not installed (apt install postgresql)"

# The account that runs the server when we are root, as Debian's packages create it.
SERVER_ACCOUNT = "postgres"

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30
PORT_ATTEMPTS = 5

# Written to postgresql.conf rather than passed on the command line: pg_ctl hands
# ``-o`` through a shell, and a temp path with odd characters would need quoting.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    # Nothing here has to survive a crash; skipping the flushes makes DDL much faster.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PostgresServerError(RuntimeError):
    """The test server could not be set up, started or stopped."""


def find_postgres_bin() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None if not installed.

    Debian keeps the server outside PATH, one directory per major version; the
    newest wins. ``pg_config`` and PATH cover other layouts (Fedora, Homebrew).
    """
    candidates: list[Path] = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True
    )
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            result = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(Path(result.stdout.strip()))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """Sorts /usr/lib/postgresql/<version>/bin numerically, so 16 beats 9.6."""
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


class PostgresServer:
    """One private PostgreSQL cluster, started and stopped explicitly.

    ``start`` runs ``initdb`` and ``pg_ctl start``; ``stop`` shuts the server down
    and removes whatever temp dirs it made outside ``base_dir``. ``url`` names a
    database for SQLAlchemy; ``create_database``/``drop_database`` manage them.
    """

    def __init__(self, bin_dir: Path | None = None, user: str = "gridfs") -> None:
        found = bin_dir or find_postgres_bin()
        if found is None:
            raise PostgresServerError(SKIP_REASON)
        self.bin_dir = found
        self.user = user
        self.port: int | None = None
        self.data_dir: Path | None = None
        self.log_path: Path | None = None
        self._base_dir: Path | None = None
        # Holds the unix socket (paths over ~100 bytes are refused, so it is short)
        # and, under root, the data dir and log too.
        self._runtime_dir: Path | None = None
        self._as_root = os.geteuid() == 0

    # -- lifecycle ---------------------------------------------------------------

    def start(self, base_dir: Path) -> None:
        """Create a cluster and start the server; the log ends up in ``base_dir``."""
        if self.port is not None:
            raise PostgresServerError("the server is already running")
        self._base_dir = base_dir
        base_dir.mkdir(parents=True, exist_ok=True)
        self._runtime_dir = Path(tempfile.mkdtemp(prefix="gridfs-pg-"))
        # From here on a failure must not leave a cluster or temp dirs behind.
        atexit.register(self.stop)
        try:
            if self._as_root:
                # pytest's temp dirs are private to root, so the postgres user could not
                # reach a data dir there; keep it in our own temp dir and copy the log back.
                shutil.chown(self._runtime_dir, user=SERVER_ACCOUNT, group=SERVER_ACCOUNT)
                cluster_dir = self._runtime_dir
            else:
                cluster_dir = base_dir
            self.data_dir = cluster_dir / "data"
            self.log_path = cluster_dir / "postgres.log"
            self._initdb()
            self._start_on_free_port()
            self._wait_until_accepting()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Shut the server down (fast mode) and clean up; safe to call more than once."""
        atexit.unregister(self.stop)
        try:
            if self.data_dir is not None and (self.data_dir / "postmaster.pid").exists():
                self._shutdown()
        finally:
            self._keep_log()
            if self._runtime_dir is not None:
                shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None
            self.data_dir = None
            self.port = None

    # -- databases ---------------------------------------------------------------

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self._running_port()}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        """A psycopg connection in autocommit mode, as CREATE/DROP DATABASE require."""
        import psycopg  # noqa: PLC0415 - only tests that use PostgreSQL need the driver

        return psycopg.connect(
            host="127.0.0.1",
            port=self._running_port(),
            user=self.user,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self, name: str) -> None:
        """Create an empty database called ``name``."""
        from psycopg import sql  # noqa: PLC0415 - see connect()

        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, ending any sessions a test left open on it."""
        from psycopg import sql  # noqa: PLC0415 - see connect()

        with self.connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- internals ---------------------------------------------------------------

    def _running_port(self) -> int:
        if self.port is None:
            raise PostgresServerError("the server is not running")
        return self.port

    def _run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Run a server tool from ``bin_dir``, as the postgres account when we are root."""
        command = [str(self.bin_dir / str(args[0])), *map(str, args[1:])]
        if self._as_root:
            command = ["runuser", "-u", SERVER_ACCOUNT, "--", *command]
        # The tools chdir back to the cwd; the postgres account may not be allowed in ours.
        return subprocess.run(
            command, cwd=self._runtime_dir, capture_output=True, text=True, check=False
        )

    def _initdb(self) -> None:
        assert self.data_dir is not None
        self.data_dir.mkdir(mode=0o700)
        if self._as_root:
            shutil.chown(self.data_dir, user=SERVER_ACCOUNT, group=SERVER_ACCOUNT)
        common = ("-D", self.data_dir, "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        # C.UTF-8 sorts like SQLite's BINARY collation yet still knows non-ASCII case;
        # fall back to plain C where the libc has no such locale.
        result = self._run("initdb", *common, "--locale=C.UTF-8")
        if result.returncode != 0:
            # initdb insists on an empty data dir; clear what the failed run left.
            for leftover in self.data_dir.iterdir():
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
            result = self._run("initdb", *common, "--no-locale")
        if result.returncode != 0:
            raise PostgresServerError(f"initdb failed:\n{result.stdout}{result.stderr}")
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self._runtime_dir}'"}
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# gridfs test server\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _start_on_free_port(self) -> None:
        """``pg_ctl start`` on a free port, trying another if someone grabs it first."""
        assert self.data_dir is not None
        assert self.log_path is not None
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            log_size = self.log_path.stat().st_size if self.log_path.exists() else 0
            # -w makes pg_ctl wait for the postmaster and notice at once if it exits.
            result = self._run(
                "pg_ctl",
                "start",
                "-D",
                self.data_dir,
                "-l",
                self.log_path,
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                str(int(STARTUP_TIMEOUT)),
            )
            if result.returncode == 0:
                self.port = port
                return
            if "Address already in use" not in self._read_log(since=log_size):
                raise PostgresServerError(
                    f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n{self._log_tail()}"
                )
        raise PostgresServerError(f"no free port after {PORT_ATTEMPTS} attempts")

    def _wait_until_accepting(self) -> None:
        """Poll until a real client connection over TCP works, as the tests will use."""
        import psycopg  # noqa: PLC0415 - see connect()

        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                with self.connect():
                    return
            except psycopg.OperationalError as error:
                if self._postmaster_pid() is None:
                    raise PostgresServerError(
                        f"the server died while starting\n{self._log_tail()}"
                    ) from error
                if time.monotonic() > deadline:
                    raise PostgresServerError(
                        f"the server did not accept connections within {STARTUP_TIMEOUT:.0f} s"
                        f"\n{self._log_tail()}"
                    ) from error
                time.sleep(0.05)

    def _shutdown(self) -> None:
        assert self.data_dir is not None
        result = self._run(
            "pg_ctl", "stop", "-D", self.data_dir, "-m", "fast", "-w", "-t", str(STOP_TIMEOUT)
        )
        if result.returncode == 0:
            return
        pid = self._postmaster_pid()
        if pid is None:
            return  # it went away after all
        # SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends
        # down with it. SIGKILL only if even that hangs, since it orphans them.
        for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if self._postmaster_pid() is None:
                    return
                time.sleep(0.1)
        raise PostgresServerError(f"could not stop the postmaster (pid {pid})")

    def _postmaster_pid(self) -> int | None:
        """The live postmaster of our data dir, or None.

        The PID comes from postmaster.pid, and counts only if that process is still
        a postgres serving this data dir, so a recycled PID never gets signalled.
        """
        if self.data_dir is None:
            return None
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if not cmdline[0].endswith(b"postgres") or os.fsencode(self.data_dir) not in cmdline:
            return None
        # A zombie still has a /proc entry but no cmdline left, so it was rejected above.
        return pid

    def _read_log(self, since: int = 0) -> str:
        return read_log(self.log_path, since)

    def _log_tail(self, lines: int = 30) -> str:
        tail = self._read_log().splitlines()[-lines:]
        # Name the copy stop() keeps: the runtime dir is gone by the time anyone reads this.
        shown = self._base_dir / self.log_path.name if self._base_dir and self.log_path else None
        return f"--- {shown} (last {len(tail)} lines) ---\n" + "\n".join(tail)

    def _keep_log(self) -> None:
        """Copy a log that lives in the doomed runtime dir into ``base_dir``."""
        if self._base_dir is None or self.log_path is None or not self.log_path.exists():
            return
        kept = self._base_dir / self.log_path.name
        if kept != self.log_path:
            with contextlib.suppress(OSError):
                shutil.copyfile(self.log_path, kept)
                self.log_path = kept


# -- pytest fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session; tests skip if none is installed."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(SKIP_REASON)
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'psycopg[binary]')")
    server = PostgresServer(bin_dir)
    try:
        server.start(tmp_path_factory.mktemp("postgres"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh database, dropped after the test.

    The name carries the test's name so a leftover database is easy to trace.
    """
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{stem}_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(name)
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
