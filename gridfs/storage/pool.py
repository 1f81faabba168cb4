"""Backends by URL scheme: the lazy registry, and the pool that owns what it makes."""

from __future__ import annotations

import contextlib
import importlib
import threading
from urllib.parse import urlsplit

from gridfs.errors import InvalidArgument
from gridfs.storage.backend import BackendOptions, StorageBackend
from gridfs.storage.retrying import RetryingBackend

__all__ = ["KNOWN_PROTOCOLS", "BackendPool"]

# Schemes map to "module:class, install hint", imported on first use so that a
# protocol's client library is needed only by those who use it. Schemes naming
# the same class are one family and share one backend in a pool.
_KNOWN_BACKENDS: dict[str, tuple[str, str]] = {
    "file": ("gridfs.storage.file_backend:FileBackend", ""),
    "root": ("gridfs.storage.root_backend:XRootDBackend", "pip install 'gridfs[xrootd]'"),
    "davs": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
    "dav": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
    "https": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
    "http": ("gridfs.storage.http_backend:WebDAVBackend", "pip install 'gridfs[webdav]'"),
}

KNOWN_PROTOCOLS: tuple[str, ...] = tuple(_KNOWN_BACKENDS)
"""The access protocols a backend exists for, local first: the default preference."""


def _family(url: str) -> str:
    """The registry's ``module:class`` for ``url``'s scheme; :class:`InvalidArgument` if none."""
    scheme = urlsplit(url).scheme
    known = _KNOWN_BACKENDS.get(scheme)
    if known is None:
        names = ", ".join(sorted(_KNOWN_BACKENDS))
        raise InvalidArgument(f"no backend for {scheme}:// (known: {names})", url)
    return known[0]


def _make(url: str, options: BackendOptions) -> RetryingBackend:
    """A new backend for ``url``'s scheme, its idempotent calls retried."""
    target = _family(url)
    scheme = urlsplit(url).scheme
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if (exc.name or "").startswith("gridfs"):
            raise  # our own bug, not a missing client library
        hint = _KNOWN_BACKENDS[scheme][1]
        raise InvalidArgument(
            f"{scheme}:// needs {exc.name}, which is not installed ({hint})", url
        ) from exc
    backend_class: type[StorageBackend] = getattr(module, class_name)
    return RetryingBackend(backend_class(options))


class BackendPool:
    """One backend per scheme family, made on first use, all with the same options.

    Thread-safe. Whoever builds the pool owns it: :meth:`close` closes every
    backend it made, after which :meth:`backend` raises :class:`ValueError`.
    A pool with other options is another pool.
    """

    def __init__(self, options: BackendOptions | None = None) -> None:
        self.options = options or BackendOptions()
        self._lock = threading.Lock()
        self._backends: dict[str, StorageBackend] = {}
        self._closed = False

    def backend(self, url: str) -> StorageBackend:
        """The pool's backend for ``url``'s scheme; :class:`InvalidArgument` for an unknown one."""
        family = _family(url)
        with self._lock:
            if self._closed:
                raise ValueError("backend asked of a closed pool")
            backend = self._backends.get(family)
            if backend is None:
                backend = self._backends[family] = _make(url, self.options)
        return backend

    def close(self) -> None:
        """Close every backend made so far; idempotent. A failure to close one spares the rest."""
        with self._lock:
            self._closed = True
            backends, self._backends = list(self._backends.values()), {}
        with contextlib.ExitStack() as stack:
            for backend in backends:
                stack.callback(backend.close)

    def __enter__(self) -> BackendPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
