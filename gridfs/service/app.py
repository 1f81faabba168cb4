"""The WSGI application of ``gridfs serve``: one POST per catalog or metadata operation.

``POST /v1/catalog/<op>`` and ``/v1/metadata/<op>`` take the operation's
arguments as a JSON object and answer ``{"result": ...}``, or for an iterating
operation one JSON line per page (``{"items": [...]}``), or an error
(:func:`~gridfs.service.wire.error_to_wire`) with an HTTP status for its
errno. ``GET /v1/whoami`` says who the server takes the caller for,
``/health`` whether the catalog answers, ``/metrics`` the counters.
Each call runs as the authenticated caller, never as anyone the client names.
"""

from __future__ import annotations

import errno as _errno
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import orjson

from gridfs.catalog import CatalogAPI
from gridfs.errors import GridError, InvalidArgument
from gridfs.metadata import MetadataAPI
from gridfs.service.auth import Authenticator, NoCredential, Principal
from gridfs.service.metrics import Metrics
from gridfs.service.scopes import authorize
from gridfs.service.tokens import TokenRefused
from gridfs.service.wire import Operation, WireError, encode, error_to_wire, operations

__all__ = ["ServiceApp"]

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_STATUS = {
    _errno.ENOENT: "404 Not Found",
    _errno.EACCES: "403 Forbidden",
    _errno.EPERM: "403 Forbidden",
    _errno.EEXIST: "409 Conflict",
    _errno.ENOTEMPTY: "409 Conflict",
    _errno.EINVAL: "400 Bad Request",
    _errno.ENOTDIR: "400 Bad Request",
    _errno.EISDIR: "400 Bad Request",
    _errno.ELOOP: "400 Bad Request",
}
_JSON = [("Content-Type", "application/json")]
_DRAIN_FACTOR = 16  # a body up to this many times the limit is read (and dropped) before the 413


class _TooLarge(InvalidArgument):
    """A request body over the server's limit."""


class ServiceApp:
    """The catalog and metadata operations over HTTP, for a WSGI server's threads."""

    def __init__(
        self,
        catalog: CatalogAPI,
        metadata: MetadataAPI,
        authenticator: Authenticator,
        metrics: Metrics,
        *,
        max_request: int,
        page: int,
    ) -> None:
        self._catalog = catalog
        self._metadata = metadata
        self._auth = authenticator
        self._metrics = metrics
        self._max_request = max_request
        self._page = page
        self._operations = operations()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request."""
        started = time.perf_counter()
        path = str(environ.get("PATH_INFO", ""))
        operation = self._operations.get(path)
        name = f"{operation.interface}.{operation.name}" if operation else path
        status, body = self._answer(environ, path, operation)
        if not isinstance(body, bytes):
            start_response("200 OK", [("Content-Type", "application/x-ndjson")])
            return self._timed(body, name, started)
        headers = [*_JSON, ("Content-Length", str(len(body)))]
        if status.startswith("401"):
            headers.append(("WWW-Authenticate", 'Bearer realm="gridfs"'))
        start_response(status, headers)
        self._metrics.record(name, int(status[:3]), time.perf_counter() - started)
        return [body]

    def _answer(  # noqa: PLR0911 - one answer per kind of failure
        self, environ: dict[str, Any], path: str, operation: Operation | None
    ) -> tuple[str, bytes | Iterator[bytes]]:
        method = environ.get("REQUEST_METHOD")
        if path == "/health" and method == "GET":
            return self._health()
        if path == "/metrics" and method == "GET":
            return "200 OK", self._metrics.render().encode()
        if path != "/v1/whoami" and operation is None:
            return _error("404 Not Found", GridError(f"no such operation: {path[:200]}"))
        if method != ("GET" if operation is None else "POST"):
            return _error("405 Method Not Allowed", InvalidArgument(f"{method} {path[:200]}"))
        try:
            principal = self._auth.authenticate(environ)
            if operation is None:
                return "200 OK", _dump({"result": _whoami(principal)})
            arguments = operation.decode_arguments(self._read_json(environ))
            return self._call(principal, operation, arguments)
        except (NoCredential, TokenRefused) as exc:
            return _error("401 Unauthorized", exc)
        except _TooLarge as exc:
            return _error("413 Content Too Large", exc)
        except GridError as exc:
            return _error(_STATUS.get(exc.errno or 0, "500 Internal Server Error"), exc)
        except Exception:
            log.exception("%s failed", path)
            return _error("500 Internal Server Error", GridError("internal error of the server"))

    def _call(
        self, principal: Principal, operation: Operation, arguments: dict[str, Any]
    ) -> tuple[str, bytes | Iterator[bytes]]:
        catalog = self._catalog.as_identity(principal.identity)
        authorize(principal.scopes, f"{operation.interface}.{operation.name}", arguments, catalog)
        target: Any = catalog
        if operation.interface == "metadata":
            target = self._metadata.as_identity(principal.identity)
        result = getattr(target, operation.name)(**arguments)  # runs (and fails) now
        if operation.streams:
            return "200 OK", self._pages(result)
        return "200 OK", _dump({"result": encode(result)})

    def _pages(self, rows: Iterator[Any]) -> Iterator[bytes]:
        """The items of an iterating result, a page a line; an error ends the stream."""
        try:
            while page := list(islice(rows, self._page)):
                yield _dump({"items": [encode(item) for item in page]}) + b"\n"
            yield b'{"end": true}\n'
        except GridError as exc:
            yield _dump(error_to_wire(exc)) + b"\n"
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    def _timed(self, body: Iterator[bytes], name: str, started: float) -> Iterator[bytes]:
        try:
            yield from body
        finally:
            self._metrics.record(name, 200, time.perf_counter() - started)

    def _read_json(self, environ: dict[str, Any]) -> object:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise WireError("Content-Length is not a number") from None
        if length > self._max_request:
            if length <= _DRAIN_FACTOR * self._max_request:
                _drain(environ["wsgi.input"], length)  # the connection stays good for the next
            raise _TooLarge(f"request body of {length} bytes: the limit is {self._max_request}")
        data = environ["wsgi.input"].read(length) if length else b"{}"
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:  # also for bytes that are not UTF-8
            raise WireError(f"the request body is not JSON: {exc}") from exc

    def _health(self) -> tuple[str, bytes]:
        try:
            self._catalog.stat("/")
        except Exception as exc:
            log.warning("health check: the catalog fails: %s", exc)
            return "503 Service Unavailable", _dump({"status": "catalog unavailable"})
        return "200 OK", _dump({"status": "ok"})


def _drain(stream: Any, length: int) -> None:
    while length > 0:
        chunk = stream.read(min(length, 1 << 16))
        if not chunk:
            return
        length -= len(chunk)


def _whoami(principal: Principal) -> dict[str, object]:
    identity = principal.identity
    return {
        "user": identity.user,
        "groups": list(identity.groups),
        "superuser": identity.superuser,
        "method": principal.method,
        "subject": principal.subject,
        "scopes": None if principal.scopes is None else principal.scopes.describe(),
    }


def _dump(data: object) -> bytes:
    return orjson.dumps(data)


def _error(status: str, error: GridError) -> tuple[str, bytes]:
    return status, _dump(error_to_wire(error))
