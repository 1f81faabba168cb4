"""``gridfs serve``: the service on uvicorn, several worker processes, each an event loop.

Why uvicorn: its HTTP parser (httptools) and event loop (uvloop) are in C, so
a stat costs the server about a third of the CPU that gunicorn's ``gthread``
workers took (measured on this service: about 300 µs a request against 600 to
950 µs), and its keep-alive connections wait on the loop, not in threads. It
takes the :class:`ssl.SSLContext` we build (``ssl_context_factory``:
``VERIFY_ALLOW_PROXY_CERTS`` for RFC 3820 proxies, ``CERT_OPTIONAL`` so that
token clients need no certificate, a hashed CA directory), and uvloop's TLS
runs on it (OpenSSL through :mod:`ssl`). uvicorn does not yet fill the ASGI
TLS extension; :class:`_Protocol`, its httptools protocol, does: the chain
OpenSSL verified goes in ``scope["extensions"]["tls"]``, worked out once per
connection. It also bounds what a request line and headers may hold, as
gunicorn did. granian (Rust) would be faster still, but its TLS (rustls)
refuses proxy certificates and shows the application no client certificate.

Stateless: the catalog is a database (PostgreSQL for several workers or
hosts), so several servers behind one name serve the same catalog.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import socket
import ssl
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from gridfs.catalog import Catalog, Identity
from gridfs.metadata import Metadata
from gridfs.service.app import ServiceApp
from gridfs.service.auth import Authenticator
from gridfs.service.metrics import Metrics
from gridfs.service.settings import ServerSettings
from gridfs.service.x509 import server_context, verified_chain

__all__ = ["build_app", "serve"]

log = logging.getLogger(__name__)

_SERVICE = Identity("gridfs-serve", ("gridfs-serve",))
_MAX_LINE = 8190  # bytes of a request's URL (gunicorn's limit_request_line)
_MAX_FIELDS = 100  # header fields of a request
_MAX_FIELD = 8190  # bytes of one header field, name and value
_KEEPALIVE = 75  # seconds an idle client connection stays open
_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


def build_app(
    settings: ServerSettings, metrics_dir: Path, *, supervisor: int | None = None
) -> ServiceApp:
    """The ASGI application over the settings' catalog (one per worker process).

    A worker of process ``supervisor`` ends with it, even a killed one: it must not go
    on serving a port that no one would stop.
    """
    if supervisor is not None:
        _end_with(supervisor)
    # The catalog's own identity answers only the health check: each call runs as its caller.
    catalog = Catalog.from_url(settings.catalog_url, _SERVICE, connections=settings.threads + 1)
    return ServiceApp(
        catalog,
        Metadata(catalog),
        Authenticator(settings),
        Metrics(metrics_dir),
        max_request=settings.max_request,
        page=settings.page,
        threads=ThreadPoolExecutor(settings.threads, thread_name_prefix="gridfs-serve"),
    )


def _end_with(supervisor: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        log.warning("cannot tie the worker to its supervisor: errno %d", ctypes.get_errno())
    if os.getppid() != supervisor:  # gone before the tie was made
        os.kill(os.getpid(), signal.SIGTERM)


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the ASGI TLS extension and bounded headers."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls: dict[object, object] | None = None
        if isinstance(ssl_object, ssl.SSLObject):
            chain = [ssl.DER_cert_to_PEM_cert(der) for der in verified_chain(ssl_object)]
            self._tls = {
                "server_cert": None,
                "client_cert_chain": chain,
                "client_cert_name": None,
                "client_cert_error": None,
                "tls_version": None,
                "cipher_suite": None,
            }
        self._fields = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._fields = 0
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > _MAX_LINE:
            raise httptools.HttpParserError("request line too long")  # uvicorn answers 400

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > _MAX_FIELDS or len(name) + len(value) > _MAX_FIELD:
            raise httptools.HttpParserError("too many or too long header fields")
        super().on_header(name, value)


def _context(settings: ServerSettings, _config: object, _default: object) -> ssl.SSLContext:
    assert settings.cert is not None
    assert settings.key is not None
    return server_context(settings.cert, settings.key, settings.ca_dir)


def _bind(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, int(port)), family=family, backlog=2048)
    sock.set_inheritable(True)  # the workers serve on it
    return sock


def serve(settings: ServerSettings) -> None:
    """Run the service until SIGTERM or SIGINT (this process supervises the workers)."""
    if not settings.tls:
        log.warning("serving plain HTTP: bearer tokens travel in clear; put TLS in front")
    Catalog.from_url(settings.catalog_url, _SERVICE, create=True).close()  # made or upgraded once
    sockets = [_bind(address) for address in settings.listen]
    supervisor = os.getpid() if settings.workers > 1 else None
    with tempfile.TemporaryDirectory(prefix="gridfs-metrics-") as metrics_dir:
        config = uvicorn.Config(
            functools.partial(build_app, settings, Path(metrics_dir), supervisor=supervisor),
            factory=True,
            workers=settings.workers,
            loop="uvloop",
            http=_Protocol,
            ws="none",
            lifespan="off",
            interface="asgi3",
            ssl_context_factory=functools.partial(_context, settings) if settings.tls else None,
            timeout_keep_alive=_KEEPALIVE,
            timeout_graceful_shutdown=10,
            proxy_headers=False,
            server_header=False,
            access_log=False,
            log_level="warning",
        )
        if settings.workers > 1:
            Multiprocess(config, sockets=sockets).run()
        else:
            uvicorn.Server(config).run(sockets=sockets)
