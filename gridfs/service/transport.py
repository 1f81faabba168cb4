"""Keep-alive HTTP/1.1 connections to one catalog server, pooled for the client's threads.

The standard library's :mod:`http.client` carries the requests: a call costs
the client about a quarter of the CPU that httpx took (measured over TLS on
this service: ~370 µs against ~1,300-1,800 µs), which every CLI verb and the
mount pay per catalog call. A connection is taken from the pool for one
request and its whole answer, and put back after it if the server keeps it
open; one that the server has closed while idle is seen before use and
dropped. Failures say whether the request may have reached the server:
:class:`Unreached` (nothing was sent) or :class:`Broken` (it may have been).

A proxy named by the environment (``https_proxy``/``HTTPS_PROXY``,
``http_proxy``, with ``no_proxy``, read as :mod:`urllib.request` reads them,
as httpx and curl do) is tunnelled through with ``CONNECT``: TLS still runs
end to end, so the server's certificate and the client's proxy certificate
are checked as without it.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Iterator, Mapping

from gridfs.errors import InvalidArgument

__all__ = ["Answer", "Broken", "Server", "Unreached"]

_KEEP = 32  # idle connections kept per server


class Unreached(OSError):
    """No connection to the server could be made: the request was not sent."""


class Broken(OSError):
    """The connection failed during the request: the server may have done it."""


class Answer:
    """A server's answer: its status, and its body read whole or line by line."""

    def __init__(self, server: Server, connection: http.client.HTTPConnection) -> None:
        self._server = server
        self._connection: http.client.HTTPConnection | None = connection
        self._response = connection.getresponse()
        self.status = self._response.status

    def read(self) -> bytes:
        """The whole body; the connection goes back to the pool."""
        try:
            data = self._response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Broken(f"the answer broke off: {exc}") from exc
        self._release()
        return data

    def lines(self) -> Iterator[bytes]:
        """The body's lines as they arrive (a streamed listing); closed at the end."""
        try:
            while line := self._response.readline():
                yield line
        except (OSError, http.client.HTTPException) as exc:
            raise Broken(f"the answer broke off: {exc}") from exc
        finally:
            if self._response.isclosed():
                self._release()
            else:
                self.close()  # left unread: this connection cannot carry another request

    def close(self) -> None:
        """Drop the connection (an answer not read to its end)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _release(self) -> None:
        if self._connection is not None:
            if self._response.will_close:
                self._connection.close()
            else:
                self._server.give_back(self._connection)
            self._connection = None


class Server:
    """One server's pool of connections; thread-safe."""

    def __init__(
        self, url: str, context: ssl.SSLContext, headers: Mapping[str, str], timeout: float
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self.url = url
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        self._context = context
        self._headers = dict(headers)
        self._timeout = timeout
        self._proxy = _proxy_for(parts.scheme, self._host)
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> Answer:
        """Send one request and read its answer's status and headers."""
        connection = self._idle_connection()
        if connection is None:
            connection = self._connect()
        try:
            connection.request(
                method, self._prefix + path, body=body, headers={**self._headers, **headers}
            )
            return Answer(self, connection)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise Broken(str(exc) or type(exc).__name__) from exc

    def give_back(self, connection: http.client.HTTPConnection) -> None:
        """Keep a connection whose answer was read whole, for the next request."""
        with self._lock:
            if len(self._idle) < _KEEP:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _idle_connection(self) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection = self._idle.pop()
            sock = connection.sock
            # Readable while idle: the server closed it (or broke the protocol). Not reused.
            if sock is not None and not _readable(sock):
                return connection
            connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        host, port = (self._host, self._port) if self._proxy is None else self._proxy[:2]
        if self._tls:
            connection = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
        if self._proxy is not None:  # TLS, if any, then runs to the server inside the tunnel
            connection.set_tunnel(self._host, self._port, headers=self._proxy[2])
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as exc:
            connection.close()
            raise Unreached(str(exc)) from exc
        sock = connection.sock
        if sock is not None:  # requests are small and each waits for its answer: no Nagle
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection


def _readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read (or is closed), without waiting.

    poll, not select: select refuses descriptors from 1024 on, which a
    process with many files open (a busy mount) gives its new sockets.
    """
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _proxy_for(scheme: str, host: str) -> tuple[str, int, dict[str, str]] | None:
    """The proxy the environment names for ``scheme`` URLs to ``host``: its host, port and
    the headers of its CONNECT (credentials from its URL); None: connect directly."""
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme != "http" or not parts.hostname:
        raise InvalidArgument(f"{scheme}_proxy is not an http:// proxy URL: {proxy}", proxy)
    headers = {}
    if parts.username is not None:
        credential = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        headers["Proxy-Authorization"] = "Basic " + b64encode(credential.encode()).decode()
    return parts.hostname, parts.port or 8080, headers
