"""``gridfs serve``: the service on gunicorn, several worker processes of several threads.

Why gunicorn: of the maintained production servers it is the one that gives
both things the grid's authentication needs. Its ``ssl_context`` hook lets us
build the :class:`ssl.SSLContext` ourselves (``VERIFY_ALLOW_PROXY_CERTS`` for
RFC 3820 proxies, ``CERT_OPTIONAL`` so that token clients need no
certificate), and its WSGI environ carries the TLS socket
(``gunicorn.socket``), whose verified chain names the end-entity DN under a
proxy. uvicorn and hypercorn do not expose the peer certificate to the
application (the ASGI TLS extension is not implemented); cheroot does, in
``SSL_CLIENT_*`` variables, but runs in one process. gunicorn's ``gthread``
workers keep connections alive and run requests in threads over the
thread-safe catalog.

Stateless: the catalog is a database (PostgreSQL for several workers or
hosts), so several servers behind one name serve the same catalog.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from gridfs.catalog import Catalog, Identity
from gridfs.metadata import Metadata
from gridfs.service.app import ServiceApp
from gridfs.service.auth import Authenticator
from gridfs.service.metrics import Metrics
from gridfs.service.settings import ServerSettings
from gridfs.service.x509 import server_context

__all__ = ["build_app", "serve"]

log = logging.getLogger(__name__)

_SERVICE = Identity("gridfs-serve", ("gridfs-serve",))


def build_app(settings: ServerSettings, metrics_dir: Path) -> ServiceApp:
    """The WSGI application over the settings' catalog (one per worker process)."""
    # The catalog's own identity answers only the health check: each call runs as its caller.
    catalog = Catalog.from_url(settings.catalog_url, _SERVICE, connections=settings.threads)
    return ServiceApp(
        catalog,
        Metadata(catalog),
        Authenticator(settings),
        Metrics(metrics_dir),
        max_request=settings.max_request,
        page=settings.page,
    )


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
    def __init__(self, settings: ServerSettings, metrics_dir: Path) -> None:
        self._settings = settings
        self._metrics_dir = metrics_dir
        super().__init__()

    def load_config(self) -> None:
        settings = self._settings
        options: dict[str, Any] = {
            "bind": list(settings.listen),
            "workers": settings.workers,
            "worker_class": "gthread",
            "threads": settings.threads,
            "keepalive": 75,  # seconds an idle client connection stays open
            "timeout": 120,
            "graceful_timeout": 10,
            "limit_request_line": 8190,
            "limit_request_fields": 50,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "gridfs-serve",
        }
        if settings.cert is not None and settings.key is not None:
            cert_file, key_file = settings.cert, settings.key
            context = functools.cache(lambda: server_context(cert_file, key_file, settings.ca_dir))
            options |= {
                "certfile": str(cert_file),
                "keyfile": str(key_file),
                # One context per worker, made at its first connection (gunicorn asks at each).
                "ssl_context": lambda _config, _default: context(),
            }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> ServiceApp:
        return build_app(self._settings, self._metrics_dir)


def serve(settings: ServerSettings) -> None:
    """Run the service until SIGTERM or SIGINT (gunicorn's master process is this one)."""
    if not settings.tls:
        log.warning("serving plain HTTP: bearer tokens travel in clear; put TLS in front")
    Catalog.from_url(settings.catalog_url, _SERVICE, create=True).close()  # made or upgraded once
    with tempfile.TemporaryDirectory(prefix="gridfs-metrics-") as metrics_dir:
        _Gunicorn(settings, Path(metrics_dir)).run()
