"""Range reads over HTTP/1.1 keep-alive connections of the standard library, pooled per server.

The WebDAV backend reads bytes here and speaks the rest of WebDAV through
httpx. Measured on loopback against XRootD's HTTP door, 1 MiB range GETs:
http.client 0.6-0.8 GB/s one at a time and 1.3-2.0 GB/s eight at once,
httpx 0.14-0.26 and 0.25-0.49 (its stream reading costs more per byte than
the read itself). HTTP/2 would multiplex requests over one connection, which
a pool of HTTP/1.1 connections does as well for bulk reads, and few storage
servers offer it.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from gridfs.errors import GridError
from gridfs.storage.http_errors import mapped_errors

__all__ = ["RangeAnswer", "RangeClient"]

_IDLE_PER_SERVER = 16  # idle connections kept per server
# How long an idle connection is kept: long enough to carry a reader from one
# read to the next, short enough that the connections of grids nobody reads
# through any more do not pile up on a server (which may hold a thread each).
_IDLE_S = 4.0
_REDIRECTS = 5

Server = tuple[str, str, int]  # scheme, host, port


@dataclass(frozen=True)
class RangeAnswer:
    """What a server answered to a ranged GET: status, headers, and the whole body."""

    status: int
    reason: str
    content_type: str
    content_range: str
    body: bytes


class RangeClient:
    """GETs with a ``Range`` header, on pooled keep-alive connections; thread-safe.

    ``timeout_s`` bounds connecting and each read; ``context`` verifies TLS
    servers. A redirect is followed (dCache and EOS send reads to a pool node).
    A GET that the server answers with the whole file (200) is not read: its
    connection is dropped, and ``body`` is empty. A connection idle for
    ``idle_s`` is closed (by a timer thread); :meth:`close` closes them all.
    """

    def __init__(
        self, timeout_s: float, context: ssl.SSLContext, *, idle_s: float = _IDLE_S
    ) -> None:
        self._timeout = timeout_s
        self._idle_s = idle_s
        self._context = context
        self._lock = threading.Lock()
        # Per server, the idle connections and since when, the most recently used last.
        self._idle: dict[Server, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._sweeper: threading.Timer | None = None
        self._closed = False

    def close(self) -> None:
        """Close the idle connections; those in use close when their GET ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
            if self._sweeper is not None:
                self._sweeper.cancel()
        for connections in idle.values():
            for connection, _ in connections:
                connection.close()

    def _sweep(self) -> None:
        """Close the connections idle for ``idle_s``; come back for the others."""
        expired = []
        with self._lock:
            self._sweeper = None
            now = time.monotonic()
            for server, connections in list(self._idle.items()):
                kept = [(c, since) for c, since in connections if now - since < self._idle_s]
                expired += [c for c, since in connections if now - since >= self._idle_s]
                if kept:
                    self._idle[server] = kept
                else:
                    del self._idle[server]
            if self._idle and not self._closed:
                oldest = min(since for kept in self._idle.values() for _, since in kept)
                self._schedule_sweep(oldest + self._idle_s - now)
        for connection in expired:
            connection.close()

    def _schedule_sweep(self, delay: float) -> None:
        """Sweep in ``delay`` seconds, unless a sweep is due already; called with the lock held."""
        if self._sweeper is None:
            self._sweeper = threading.Timer(max(delay, 0.01), self._sweep)
            self._sweeper.daemon = True
            self._sweeper.start()

    def get(self, url: str, ranges: str, turl: str, doing: str) -> RangeAnswer:
        """GET ``url`` with ``Range: bytes=<ranges>``; errors mapped as :mod:`gridfs.errors` says.

        Raises :class:`StorageUnavailable` (ECONNREFUSED, ETIMEDOUT, EPROTO,
        EREMOTEIO) when the server cannot be reached or breaks off.
        """
        for _ in range(_REDIRECTS + 1):
            answer, location = self._get_once(url, ranges, turl, doing)
            if location is None:
                return answer
            url = urljoin(url, location)
        raise GridError(f"{turl}: {doing}: more than {_REDIRECTS} redirects", turl)

    def _get_once(
        self, url: str, ranges: str, turl: str, doing: str
    ) -> tuple[RangeAnswer, str | None]:
        parts = urlsplit(url)
        server = (parts.scheme, parts.hostname or "", parts.port or _default_port(parts.scheme))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Range": f"bytes={ranges}", "Host": parts.netloc}
        with mapped_errors(turl, doing):
            # A kept connection the server has closed meanwhile fails on first use:
            # that one GET is sent again on a new connection.
            for reused in (True, False):
                connection, was_idle = self._connection(server, fresh=not reused)
                try:
                    connection.request("GET", target, headers=headers)
                    response = connection.getresponse()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    connection.close()
                    if was_idle and reused:
                        continue
                    raise
                break
            try:
                location = response.getheader("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    response.read()
                    self._release(server, connection, response)
                    return _EMPTY, location
                body = b"" if response.status == 200 else response.read()
                answer = RangeAnswer(
                    response.status,
                    response.reason,
                    response.getheader("Content-Type", ""),
                    response.getheader("Content-Range", ""),
                    body,
                )
            except BaseException:
                connection.close()
                raise
            if response.status == 200:  # the whole file follows: not read, not kept
                connection.close()
            else:
                self._release(server, connection, response)
            return answer, None

    def _connection(
        self, server: Server, *, fresh: bool
    ) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection to ``server`` (unless ``fresh``), else a new one; and which."""
        if not fresh:
            with self._lock:
                if self._closed:
                    raise ValueError("read through a closed storage backend")
                idle = self._idle.get(server)
                if idle:
                    return idle.pop()[0], True
        scheme, host, port = server
        if scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._context
            ), False
        return http.client.HTTPConnection(host, port, timeout=self._timeout), False

    def _release(
        self,
        server: Server,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
    ) -> None:
        """Keep ``connection`` for the next GET to ``server`` if the server keeps it open."""
        if response.will_close:
            connection.close()
            return
        with self._lock:
            idle = self._idle.setdefault(server, [])
            if self._closed or len(idle) >= _IDLE_PER_SERVER:
                connection.close()
            else:
                idle.append((connection, time.monotonic()))
                self._schedule_sweep(self._idle_s)


_EMPTY = RangeAnswer(0, "", "", "", b"")


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
