"""Throwaway storage servers for tests: a real XRootD daemon and a real WebDAV server.

``XRootDServer`` runs the ``xrootd`` daemon from Debian's xrootd-server package,
exporting one directory read-write without authentication and answering checksum
queries with adler32. ``WebDAVServer`` runs WsgiDAV on cheroot in a process of its
own, over http, or over https with a certificate signed by a test CA that
``make_test_ca`` makes. Both listen on 127.0.0.1 on a free port, and both are real
processes of ours, so a test can ``kill`` one mid-transfer and ``restart`` it on the
same URL with the same data.

No server library is imported at module level: this module must import on a
machine that has none of them, and the fixtures then skip and say what is missing.

Use from ``tests/conftest.py``::

    from tests.storage_servers import webdav_server, webdavs_server, xrootd_server

The servers are shared by the whole session, so a test that kills one must
``restart`` it before it ends (or start a private ``XRootDServer`` of its own).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import http.client
import importlib.util
import ipaddress
import itertools
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.processes import free_port, read_log

XROOTD_SKIP_REASON = "xrootd server not installed (apt install xrootd-server)"
XROOTD_BINDINGS_SKIP_REASON = "XRootD Python bindings not installed (pip install xrootd)"
WEBDAV_SKIP_REASON = "WsgiDAV not installed (pip install wsgidav cheroot)"
TLS_SKIP_REASON = "cryptography not installed (pip install cryptography)"

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 5
# After a kill the dead server's connections can hold its port for a moment, so restart()
# keeps trying that port this long before it gives up (it must not move to another one).
REBIND_TIMEOUT = 10.0

# The tests run the XRootD client with the settings gridfs gives it itself
# (gridfs.storage.root_backend.client_settings), never with their own.

# xrootd refuses to run as root ("Security reasons prohibit running as superuser"), so
# under root it runs as the account Debian's package creates, else as nobody.
XROOTD_ACCOUNTS = ("xrootd", "nobody")


class StorageServerError(RuntimeError):
    """A test storage server could not be set up, started or stopped."""


class _PortTaken(StorageServerError):
    """Someone else took the port between our probe and the server's bind."""


def find_xrootd() -> Path | None:
    """The ``xrootd`` daemon, or None if it is not installed.

    Falls back to the usual install directories, since IDEs and tox may run pytest
    with a PATH that leaves them out.
    """
    found = shutil.which("xrootd") or shutil.which(
        "xrootd", path=os.pathsep.join(("/usr/bin", "/usr/sbin", "/usr/local/bin"))
    )
    return Path(found) if found else None


def have_modules(*names: str) -> bool:
    """Whether all ``names`` can be imported, without importing them here."""
    return all(importlib.util.find_spec(name) is not None for name in names)


class _ServerProcess:
    """What both servers share: one child process of ours, its log, and its end.

    This class owns the ``Popen``, and the command it runs is the server itself (no
    shell, no ``runuser`` in between), so ``stop`` and ``kill`` signal exactly the
    PID we started and reap it, and a recycled PID can never be hit. Subclasses say
    how to launch (``_launch``) and what "ready" means (``_is_ready``).
    """

    # What the log tail and errors call the server.
    server_name: ClassVar[str] = "server"

    def __init__(self) -> None:
        self.port: int | None = None
        self.base_dir: Path | None = None
        self.log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The server's PID while it runs, else None."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the server process is alive (it may still be starting)."""
        return self.pid is not None

    def stop(self) -> None:
        """Shut the server down (SIGTERM, SIGKILL if that hangs) and clean up; idempotent."""
        atexit.unregister(self.stop)
        try:
            self._terminate()
        finally:
            self._cleanup()
            self.port = None

    def kill(self) -> None:
        """SIGKILL the server at once, as a crash would; ``restart`` brings it back.

        The port and the data stay reserved for it, so ``url`` keeps its value.
        """
        if self._process is not None:
            self._process.kill()  # a no-op if it has already exited
            self._process.wait()

    def restart(self) -> None:
        """Stop the server if it runs, then start it again on the same port with the same data."""
        port = self._running_port()
        self._terminate()
        try:
            self._start(port, retry_for=REBIND_TIMEOUT)
        except BaseException:
            # Leave nothing half-started; stop() still cleans up the rest as usual.
            self._terminate()
            raise

    # -- for subclasses ------------------------------------------------------------

    def _launch(self, port: int) -> None:
        """Start the server process on ``port`` (through ``_spawn``)."""
        raise NotImplementedError

    def _is_ready(self, since: int) -> bool:
        """Whether the server answers; ``since`` is where this launch's log begins."""
        raise NotImplementedError

    def _cleanup(self) -> None:
        """Remove whatever the server needed only while it ran."""

    # -- internals ---------------------------------------------------------------

    def _running_port(self) -> int:
        if self.port is None:
            raise StorageServerError(f"the {self.server_name} server is not running")
        return self.port

    def _spawn(self, command: list[str], **options: Any) -> None:
        """Run ``command`` with stdout and stderr appended to the log."""
        assert self.log_path is not None
        with self.log_path.open("ab") as log:
            # A session of its own: a Ctrl-C in the terminal must reach pytest only, so the
            # fixtures shut the servers down in order rather than under a running test.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **options,
            )

    def _start(self, port: int | None, retry_for: float = 0.0) -> None:
        """Launch on ``port`` (None: a free one) and wait until the server answers.

        A fresh start that loses its port to someone else tries another; a restart,
        whose URL must not change, tries the same port again for ``retry_for`` seconds.
        """
        deadline = time.monotonic() + retry_for
        for attempt in itertools.count(1):
            log_size = self._log_size()
            self._launch(port if port is not None else free_port())
            try:
                self._wait_until_ready(since=log_size)
                return
            except _PortTaken:
                self._terminate()
                if port is None and attempt >= PORT_ATTEMPTS:
                    message = f"no free port after {PORT_ATTEMPTS} attempts"
                    raise StorageServerError(message) from None
                if port is not None and time.monotonic() > deadline:
                    raise StorageServerError(
                        f"port {port} stayed in use for {retry_for:.0f} s\n{self._log_tail()}"
                    ) from None
                time.sleep(0.1 if port is None else 0.5)

    def _wait_until_ready(self, since: int) -> None:
        """Poll ``_is_ready`` until it holds; fail at once, with the log, if the server exits."""
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            returncode = self._process.poll()
            if returncode is not None:
                if "address already in use" in self._read_log(since).lower():
                    raise _PortTaken
                raise StorageServerError(
                    f"the {self.server_name} server exited with status {returncode} while "
                    f"starting\n{self._log_tail()}"
                )
            if self._is_ready(since):
                return
            if time.monotonic() > deadline:
                raise StorageServerError(
                    f"the {self.server_name} server did not answer within "
                    f"{STARTUP_TIMEOUT:.0f} s\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _terminate(self) -> None:
        """SIGTERM our process and reap it; SIGKILL if it has not gone in STOP_TIMEOUT."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None

    def _log_size(self) -> int:
        if self.log_path is None or not self.log_path.exists():
            return 0
        return self.log_path.stat().st_size

    def _read_log(self, since: int = 0) -> str:
        return read_log(self.log_path, since)

    def _log_tail(self, lines: int = 30) -> str:
        tail = self._read_log().splitlines()[-lines:]
        return f"--- {self.log_path} (last {len(tail)} lines) ---\n" + "\n".join(tail)


# -- XRootD ----------------------------------------------------------------------------


def _xrootd_account() -> pwd.struct_passwd:
    for name in XROOTD_ACCOUNTS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise StorageServerError(
        f"xrootd will not run as root and none of the accounts {XROOTD_ACCOUNTS} exists"
    )


class XRootDServer(_ServerProcess):
    """One ``xrootd`` daemon exporting ``data_dir`` read-write to 127.0.0.1, no authentication.

    ``url`` is ``root://127.0.0.1:PORT/``; with ``http`` it also speaks HTTP (XrdHttp,
    the WebDAV door of grid sites' XRootD servers, which answers multi-range GETs) at
    ``http_url``; with ``tls`` (the CA, the server certificate and its key, as
    :func:`make_test_ca` makes them) that port speaks HTTPS too (``https_url``),
    and with ``tpc`` as well it does HTTP third-party copy (``COPY`` with a
    ``Source:``: libXrdHttpTPC, which XrdHttp loads only once HTTPS is configured).
    The file ``/a/b`` on the server is ``data_dir / "a/b"`` (``oss.localroot``). The
    log is ``base_dir/xrootd.log``; with ``trace_requests`` it has a line for each
    request a client sends (``... req=read dlen=8``), which benchmarks count.

    Under root the daemon runs as the ``xrootd`` account (or ``nobody``), which
    cannot reach pytest's private temp dirs, so the export then lives in a temp dir of
    its own with ``base_dir/xrootd-data`` a symlink to it; ``stop`` deletes it. Use
    ``put_file`` to plant files the server must be able to replace or delete.
    """

    server_name = "xrootd"

    def __init__(
        self,
        binary: Path | None = None,
        *,
        http: bool = False,
        trace_requests: bool = False,
        tpc: bool = False,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        super().__init__()
        self.http = http
        self.tls = tls
        self.trace_requests = trace_requests
        self.tpc = tpc  # third-party copy: it pulls from (and lets be pulled by) other servers
        self.http_port: int | None = None
        found = binary or find_xrootd()
        if found is None:
            raise StorageServerError(XROOTD_SKIP_REASON)
        self.binary = found
        self.data_dir: Path | None = None
        self.config_path: Path | None = None
        self._account = _xrootd_account() if os.geteuid() == 0 else None
        # The admin path holds a unix socket, whose path must stay under ~100 bytes, so it
        # is a short temp dir rather than somewhere under pytest's long base_dir.
        self._runtime_dir: Path | None = None

    @property
    def url(self) -> str:
        """The server's root URL, ``root://127.0.0.1:PORT/``."""
        return f"root://{LOOPBACK}:{self._running_port()}/"

    @property
    def http_url(self) -> str:
        """The server's HTTP root URL, ``http://127.0.0.1:PORT/`` (when started with ``http``)."""
        self._running_port()
        if self.http_port is None:
            raise StorageServerError("the xrootd server does not speak HTTP")
        return f"http://{LOOPBACK}:{self.http_port}/"

    @property
    def https_url(self) -> str:
        """The server's HTTPS root URL, ``https://127.0.0.1:PORT/`` (with ``http`` and ``tls``)."""
        if self.tls is None:
            raise StorageServerError("the xrootd server has no TLS certificate")
        return self.http_url.replace("http:", "https:", 1)

    def start(self, base_dir: Path) -> None:
        """Write the config and start the daemon on a free port; returns once it answers."""
        if self._process is not None:
            raise StorageServerError("the xrootd server is already running")
        base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir = base_dir
        self.log_path = base_dir / "xrootd.log"
        self._runtime_dir = Path(tempfile.mkdtemp(prefix="gridfs-xrd-"))
        # From here on a failure must not leave a daemon or temp dirs behind.
        atexit.register(self.stop)
        try:
            self._make_data_dir(base_dir)
            self._write_config()
            self._start(None)
        except BaseException:
            self.stop()
            raise

    def put_file(self, relative: str, data: bytes) -> Path:
        """Write ``data`` to ``relative`` under ``data_dir`` as if the server had written it.

        Under root a file or directory the test made would belong to root, and the
        daemon, running as another account, could then not replace or delete it.
        """
        if self.data_dir is None:
            raise StorageServerError("the xrootd server is not running")
        target = self.data_dir / relative.lstrip("/")
        if not target.resolve().is_relative_to(self.data_dir.resolve()):
            raise ValueError(f"{relative!r} is outside the export")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if self._account is not None:
            for path in (target, *target.parents):
                if path == self.data_dir:
                    break
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        return target

    # -- internals ---------------------------------------------------------------

    def _make_data_dir(self, base_dir: Path) -> None:
        assert self._runtime_dir is not None
        link = base_dir / "xrootd-data"
        if self._account is None:
            self.data_dir = link
            self.data_dir.mkdir(exist_ok=True)
            return
        # pytest's temp dirs are private to root, so the daemon's account could not
        # traverse them; keep the export in our temp dir and point base_dir at it.
        self.data_dir = self._runtime_dir / "xrootd-data"
        self.data_dir.mkdir()
        for path in (self._runtime_dir, self.data_dir):
            os.chown(path, self._account.pw_uid, self._account.pw_gid)
        if link.is_symlink():
            link.unlink()
        if not link.exists():
            link.symlink_to(self.data_dir, target_is_directory=True)

    def _write_config(self) -> None:
        assert self._runtime_dir is not None
        assert self.data_dir is not None
        for path in (self.data_dir, self._runtime_dir):
            # The config language splits on blanks and has no quoting.
            if any(char.isspace() for char in str(path)):
                raise StorageServerError(f"xrootd cannot use a path with blanks: {path}")
        lines = [
            "# gridfs test server, written by tests/storage_servers.py",
            # A plain data server: no redirector, no cmsd.
            "all.role server",
            "all.export /",
            # Files appear under the export as they do on the server: /a/b -> data_dir/a/b.
            f"oss.localroot {self.data_dir}",
            # The defaults (/tmp, /var/spool/xrootd) are shared with other instances.
            f"all.adminpath {self._runtime_dir}",
            f"all.pidpath {self._runtime_dir}",
            # Checksum queries (kXR_Qcksum) answer "adler32 <8 hex digits>".
            "xrootd.chksum adler32",
            # xrootd 5 has no bind address: it always listens on the wildcard address.
            # Accepting connections from the loopback address only is the next best thing.
            f"xrd.allow host {LOOPBACK}",
            "xrd.allow host localhost",
        ]
        if self.tls is not None:
            ca, cert, key = self._tls_files()
            lines += [f"xrd.tls {cert} {key}", f"xrd.tlsca certfile {ca}"]
        if self.http_port is not None:
            lines.append(f"xrd.protocol XrdHttp:{self.http_port} libXrdHttp.so")
            if self.tpc and self.tls is not None:
                # The destination pulls with libcurl, trusting the CA of xrd.tlsca.
                lines.append("http.exthandler xrdtpc libXrdHttpTPC.so")
        if self.trace_requests:
            lines.append("xrootd.trace request")
        if self.tpc:
            # The destination runs xrdcp to pull; the source checks its rendezvous key.
            xrdcp = self.binary.with_name("xrdcp")
            lines.append(f"ofs.tpc pgm {xrdcp} --server")
        # No sec.protocol: without one the server authenticates nobody and lets
        # everyone read and write, which is all a test needs.
        self.config_path = self._runtime_dir / "xrootd.cfg"
        self.config_path.write_text("\n".join(lines) + "\n")
        self.config_path.chmod(0o644)

    def _tls_files(self) -> tuple[Path, Path, Path]:
        """Copies of the TLS files the daemon can read (its key its own, mode 0600)."""
        assert self.tls is not None
        assert self._runtime_dir is not None
        copies = []
        for given in self.tls:
            copy = self._runtime_dir / f"tls-{given.name}"
            if not copy.exists():
                copy.touch(mode=0o600)
                copy.write_bytes(given.read_bytes())
                if self._account is not None:
                    os.chown(copy, self._account.pw_uid, self._account.pw_gid)
            copies.append(copy)
        return copies[0], copies[1], copies[2]

    def _launch(self, port: int) -> None:
        if self.http and (self.http_port is None or port != self.port):
            # A fresh start (or one that lost its port) takes a new HTTP port; a restart
            # keeps its own, as it keeps the root port.
            self.http_port = free_port()
            self._write_config()
        assert self.config_path is not None
        options: dict[str, Any] = {"cwd": self._runtime_dir}
        if self._account is not None:
            # setuid in the child before exec, so the PID we hold is xrootd itself;
            # runuser would sit in between and a SIGKILL to it would orphan the daemon.
            options |= {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
            }
        # The port goes on the command line so the config stays the same across restarts.
        self._spawn([str(self.binary), "-c", str(self.config_path), "-p", str(port)], **options)
        self.port = port

    def _is_ready(self, since: int) -> bool:
        # xrootd logs "------ xrootd anon@host:PORT initialization completed." once every
        # protocol is loaded and it accepts connections (the earlier "... initialization
        # completed" lines are for parts of it). A client that connects earlier to a server
        # that then fails would sit out XrdCl's 15 s timer instead of failing fast.
        # With XrdHttp too, that line names the HTTP port, the last one bound.
        last_port = self.port if self.http_port is None else self.http_port
        if f":{last_port} initialization completed" not in self._read_log(since):
            return False
        try:
            from XRootD import client  # noqa: PLC0415 - only tests that use XRootD need it
        except ImportError:
            try:
                socket.create_connection((LOOPBACK, self._running_port()), timeout=1).close()
            except OSError:
                return False
            return True
        # XrdCl keeps one connection per user@host:port for the life of the process, and
        # with its default settings it shuns one whose server was killed for ~90 s. A
        # user name of our own gets a fresh connection, so restart() is not held up.
        probe_url = f"root://gridfs-probe-{uuid.uuid4().hex[:8]}@{LOOPBACK}:{self.port}/"
        status, _ = client.FileSystem(probe_url).stat("/", timeout=5)
        if status.errno:
            # The server itself refused (say, nothing exported): waiting will not help.
            raise StorageServerError(
                f"xrootd is up but refuses stat /: {status.message.strip()}\n{self._log_tail()}"
            )
        return bool(status.ok)

    def _cleanup(self) -> None:
        if self.base_dir is not None and self._account is not None:
            link = self.base_dir / "xrootd-data"
            if link.is_symlink():
                link.unlink()
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None
            if self._account is not None:
                self.data_dir = None


# -- WebDAV ----------------------------------------------------------------------------

# What the runner prints once it listens; the helper waits for it before probing, so
# that a probe can never reach some other program that took the port first.
_WSGIDAV_READY = "gridfs-webdav-ready"

# Started as ``python wsgidav_runner.py SETTINGS.json PORT``. The helper picks the port
# (and retries on a clash) rather than letting cheroot bind port 0: cheroot only sets
# SO_REUSEADDR for a fixed port, and without it restart() after kill() cannot bind the
# same port while the killed server's connections linger in FIN_WAIT.
_WSGIDAV_RUNNER = '''\
"""A WsgiDAV server for gridfs tests, written and started by tests/storage_servers.py."""

import json
import sys
from pathlib import Path

from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp

settings = json.loads(Path(sys.argv[1]).read_text())
app = WsgiDAVApp(
    {
        "provider_mapping": {"/": settings["root"]},
        # No authentication: every request is an anonymous user allowed everything.
        "simple_dc": {"user_mapping": {"*": True}},
        "http_authenticator": {"domain_controller": None},
        # A GET on a collection answers 403 instead of an HTML listing.
        "dir_browser": {"enable": False},
        "property_manager": True,
        "lock_storage": True,
        # verbose 3 logs one line per request, which the helper shows on failure.
        "verbose": 3,
        "logging": {"enable": True},
    }
)
# cheroot gives each open connection a thread, and every grid a test leaves open keeps
# keep-alive connections for a few seconds (gridfs.storage.http_ranges, httpx): with 16
# threads, later tests of the session queued behind idle connections and timed out.
server = wsgi.Server(
    ("127.0.0.1", int(sys.argv[2])), app, numthreads=128, server_name="gridfs-test-webdav"
)
if settings["cert"]:
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    server.ssl_adapter = BuiltinSSLAdapter(settings["cert"], settings["key"])
server.prepare()
print(settings["ready_marker"], "serving", settings["root"], "on", server.bind_addr, flush=True)
server.serve()
'''


class WebDAVServer(_ServerProcess):
    """A WsgiDAV server in a process of its own, serving ``data_dir`` read-write, no auth.

    ``url`` is ``http://127.0.0.1:PORT/`` or, with ``tls``, ``https://...`` with a
    certificate for 127.0.0.1/::1/localhost signed by a test CA; clients must trust
    ``ca_file``. The files, the log (``wsgidav.log``), the generated runner and the
    TLS material all live in ``base_dir``.
    """

    server_name = "WebDAV"

    def __init__(self) -> None:
        super().__init__()
        if not have_modules("wsgidav", "cheroot"):
            raise StorageServerError(WEBDAV_SKIP_REASON)
        self.tls = False
        self.data_dir: Path | None = None
        self.ca_file: Path | None = None
        self._settings_path: Path | None = None
        self._runner_path: Path | None = None

    @property
    def url(self) -> str:
        """The server's root URL, ``http(s)://127.0.0.1:PORT/``."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{LOOPBACK}:{self._running_port()}/"

    def start(self, base_dir: Path, tls: bool = False) -> None:
        """Start serving ``base_dir/dav-data``, over https if ``tls``; returns once it answers."""
        if self._process is not None:
            raise StorageServerError("the WebDAV server is already running")
        base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir = base_dir
        self.tls = tls
        self.data_dir = base_dir / "dav-data"
        self.data_dir.mkdir(exist_ok=True)
        self.log_path = base_dir / "wsgidav.log"
        self._runner_path = base_dir / "wsgidav_runner.py"
        self._settings_path = base_dir / "wsgidav.json"
        cert = key = None
        if tls:
            self.ca_file, cert, key = make_test_ca(base_dir / "tls")
        self._runner_path.write_text(_WSGIDAV_RUNNER)
        settings = {
            "root": str(self.data_dir),
            "cert": str(cert) if cert else None,
            "key": str(key) if key else None,
            "ready_marker": _WSGIDAV_READY,
        }
        self._settings_path.write_text(json.dumps(settings, indent=2) + "\n")
        atexit.register(self.stop)
        try:
            self._start(None)
        except BaseException:
            self.stop()
            raise

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly the test CA (for http.client, urllib)."""
        if self.ca_file is None:
            raise StorageServerError("the WebDAV server does not use TLS")
        return ssl.create_default_context(cafile=str(self.ca_file))

    # -- internals ---------------------------------------------------------------

    def _launch(self, port: int) -> None:
        assert self._runner_path is not None
        self._spawn(
            [sys.executable, str(self._runner_path), str(self._settings_path), str(port)],
            cwd=self.base_dir,
        )
        self.port = port

    def _is_ready(self, since: int) -> bool:
        if _WSGIDAV_READY not in self._read_log(since):
            return False
        # A real request through the same TLS checks a client makes: the port being
        # open is not enough, the handshake and the WSGI app must work too.
        return self._probe("OPTIONS", "/") is not None

    def _probe(self, method: str, path: str) -> int | None:
        """The status of one request, or None if the server did not answer."""
        port = self._running_port()
        connection: http.client.HTTPConnection
        if self.tls:
            connection = http.client.HTTPSConnection(
                LOOPBACK, port, timeout=5, context=self.ssl_context()
            )
        else:
            connection = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        try:
            connection.request(method, path)
            return connection.getresponse().status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()


# -- a test CA ---------------------------------------------------------------------


def make_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed, as PEM files in ``directory``.

    Returns ``(ca_cert, server_cert, server_key)``. The server certificate names
    127.0.0.1, ::1 and localhost. Nothing trusts the CA unless told to (httpx:
    ``verify=str(ca_cert)``), so the system store rejects the server, as it should.
    """
    from cryptography import x509  # noqa: PLC0415 - only TLS tests need cryptography
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    # Backdated a little so a client whose clock is slightly behind still accepts it.
    not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)

    # EC keys: generating RSA keys would cost most of a TLS server's start-up time.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gridfs test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        # Clients match the host against the SAN only; the URL uses the IP address.
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        # Strict verifiers (Python 3.13's VERIFY_X509_STRICT) insist on the AKI.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server-key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


# -- pytest fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def xrootd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRootDServer]:
    """An xrootd daemon for the whole session; tests skip if xrootd or its bindings are missing."""
    if find_xrootd() is None:
        pytest.skip(XROOTD_SKIP_REASON)
    if not have_modules("XRootD"):
        pytest.skip(XROOTD_BINDINGS_SKIP_REASON)
    server = XRootDServer()
    try:
        server.start(tmp_path_factory.mktemp("xrootd"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_xrootd(tmp_path: Path) -> Iterator[XRootDServer]:
    """An xrootd daemon of the test's own, which it may kill, freeze and restart."""
    if find_xrootd() is None:
        pytest.skip(XROOTD_SKIP_REASON)
    if not have_modules("XRootD"):
        pytest.skip(XROOTD_BINDINGS_SKIP_REASON)
    server = XRootDServer()
    try:
        server.start(tmp_path / "xrootd")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def xrdhttp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRootDServer]:
    """An xrootd daemon that also speaks HTTP (``http_url``), for the whole session."""
    if find_xrootd() is None:
        pytest.skip(XROOTD_SKIP_REASON)
    if not have_modules("XRootD"):
        pytest.skip(XROOTD_BINDINGS_SKIP_REASON)
    server = XRootDServer(http=True)
    try:
        server.start(tmp_path_factory.mktemp("xrdhttp"))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDAVServer]:
    """A WebDAV server over plain http for the whole session; skips if WsgiDAV is missing."""
    if not have_modules("wsgidav", "cheroot"):
        pytest.skip(WEBDAV_SKIP_REASON)
    server = WebDAVServer()
    try:
        server.start(tmp_path_factory.mktemp("webdav"))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def webdavs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDAVServer]:
    """A WebDAV server over https (trust ``ca_file``) for the whole session."""
    if not have_modules("wsgidav", "cheroot"):
        pytest.skip(WEBDAV_SKIP_REASON)
    if not have_modules("cryptography"):
        pytest.skip(TLS_SKIP_REASON)
    server = WebDAVServer()
    try:
        server.start(tmp_path_factory.mktemp("webdavs"), tls=True)
        yield server
    finally:
        server.stop()
