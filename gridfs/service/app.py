"""The ASGI application of ``gridfs serve``: one POST per catalog or metadata operation.

``POST /v1/catalog/<op>`` and ``/v1/metadata/<op>`` take the operation's
arguments as a JSON object and answer ``{"result": ...}``, or for an iterating
operation one JSON line per page (``{"items": [...]}``), or an error
(:func:`~gridfs.service.wire.error_to_wire`) with an HTTP status for its
errno. ``GET /v1/whoami`` says who the server takes the caller for,
``/health`` whether the catalog answers, ``/metrics`` the counters.
Each call runs as the authenticated caller, never as anyone the client names:
a bearer token, or the client certificate chain that TLS verified (the ASGI
TLS extension, ``scope["extensions"]["tls"]["client_cert_chain"]``).

A call runs on the worker's event loop itself: a stat takes tens of
microseconds, less than handing it to a thread would cost. The calls that may
take long (listings and queries that stream, the bulk calls) run in the
worker's threads, so that they hold up no other connection.
"""

from __future__ import annotations

import asyncio
import errno as _errno
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor
from functools import partial
from itertools import islice
from typing import Any, TypeVar

import orjson

from gridfs.catalog import CatalogAPI
from gridfs.errors import GridError, InvalidArgument
from gridfs.metadata import MetadataAPI
from gridfs.service.auth import Authenticator, NoCredential, Principal
from gridfs.service.metrics import Metrics
from gridfs.service.scopes import authorize
from gridfs.service.tokens import TokenRefused
from gridfs.service.wire import Operation, WireError, encode, error_to_wire, operations

__all__ = ["ON_THE_LOOP", "ServiceApp"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_STATUS = {
    _errno.ENOENT: 404,
    _errno.EACCES: 403,
    _errno.EPERM: 403,
    _errno.EEXIST: 409,
    _errno.ENOTEMPTY: 409,
    _errno.EINVAL: 400,
    _errno.ENOTDIR: 400,
    _errno.EISDIR: 400,
    _errno.ELOOP: 400,
}
_JSON = (b"content-type", b"application/json")
_NDJSON = [(b"content-type", b"application/x-ndjson")]
_UNAUTHORIZED = (b"www-authenticate", b'Bearer realm="gridfs"')
# The calls answered on the worker's event loop: reads of one entry, which never
# wait (SQLite's WAL and PostgreSQL let readers pass writers) and are bounded, so
# that a thread hop (~150 us) would be most of their cost. Every other call runs in
# the worker's threads: a write may wait for the database's write lock (up to 30 s
# on SQLite), and listings, bulk and collection-wide calls take as long as their
# client asks; on the loop they would hold up every connection of the worker.
ON_THE_LOOP = frozenset(
    {
        "catalog.access",
        "catalog.getacl",
        "catalog.guid_of",
        "catalog.inherited_property",
        "catalog.lfn_of",
        "catalog.lfns_of",
        "catalog.lookup",
        "catalog.properties",
        "catalog.readlink",
        "catalog.replicas",
        "catalog.stat",
        "catalog.stat_id",
        "catalog.stat_replicas",
        "catalog.stat_walked",
        "catalog.surls_of",
        "metadata.entry_schema",
        "metadata.get_xattr",
        "metadata.getattr",
        "metadata.listattr",
        "metadata.xattr_names",
    }
)


class _TooLarge(InvalidArgument):
    """A request body over the server's limit."""


class _Request:
    """What the answer needs of an ASGI request: its credential and its body."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.receive = receive
        self.authorization = ""
        self.length: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                self.authorization = value.decode("latin-1")
            elif name == b"content-length":
                self.length = value.decode("latin-1")
        tls = scope.get("extensions", {}).get("tls") or {}
        self.chain: tuple[str, ...] = tuple(tls.get("client_cert_chain") or ())


class ServiceApp:
    """The catalog and metadata operations over HTTP, for an ASGI server's event loop."""

    def __init__(
        self,
        catalog: CatalogAPI,
        metadata: MetadataAPI,
        authenticator: Authenticator,
        metrics: Metrics,
        *,
        max_request: int,
        page: int,
        threads: Executor | None = None,
    ) -> None:
        self._catalog = catalog
        self._metadata = metadata
        self._auth = authenticator
        self._metrics = metrics
        self._max_request = max_request
        self._page = page
        self._threads = threads  # None: the loop's default executor
        self._operations = operations()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request (ASGI 3; ``http`` scopes only)."""
        if scope["type"] != "http":
            return  # no lifespan events are asked for, nor websockets
        started = time.perf_counter()
        path = str(scope["path"])
        operation = self._operations.get(path)
        name = f"{operation.interface}.{operation.name}" if operation else path
        status, body = await self._answer(scope, receive, path, operation)
        if not isinstance(body, bytes):
            await send({"type": "http.response.start", "status": 200, "headers": _NDJSON})
            try:
                await self._stream(body, receive, send)
            finally:
                self._metrics.record(name, 200, time.perf_counter() - started)
            return
        headers = [_JSON, (b"content-length", b"%d" % len(body))]
        if status == 401:
            headers.append(_UNAUTHORIZED)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self._metrics.record(name, status, time.perf_counter() - started)

    async def _answer(  # noqa: PLR0911 - one answer per kind of failure
        self, scope: Scope, receive: Receive, path: str, operation: Operation | None
    ) -> tuple[int, bytes | Iterator[bytes]]:
        method = scope["method"]
        if path == "/health" and method == "GET":
            return self._health()
        if path == "/metrics" and method == "GET":
            return 200, self._metrics.render().encode()
        if path != "/v1/whoami" and operation is None:
            return _error(404, GridError(f"no such operation: {path[:200]}"))
        if method != ("GET" if operation is None else "POST"):
            return _error(405, InvalidArgument(f"{method} {path[:200]}"))
        request = _Request(scope, receive)
        try:
            principal = self._auth.authenticate(request.authorization, request.chain)
            if operation is None:
                return 200, _dump({"result": _whoami(principal)})
            arguments = operation.decode_arguments(await self._read_json(request))
            name = f"{operation.interface}.{operation.name}"
            if name in ON_THE_LOOP:
                return self._call(principal, operation, arguments)
            return await self._in_thread(self._call, principal, operation, arguments)
        except (NoCredential, TokenRefused) as exc:
            return _error(401, exc)
        except _TooLarge as exc:
            return _error(413, exc)
        except GridError as exc:
            return _error(_STATUS.get(exc.errno or 0, 500), exc)
        except Exception:
            log.exception("%s failed", path)
            return _error(500, GridError("internal error of the server"))

    def _call(
        self, principal: Principal, operation: Operation, arguments: dict[str, Any]
    ) -> tuple[int, bytes | Iterator[bytes]]:
        catalog = self._catalog.as_identity(principal.identity)
        authorize(principal.scopes, f"{operation.interface}.{operation.name}", arguments, catalog)
        target: Any = catalog
        if operation.interface == "metadata":
            target = self._metadata.as_identity(principal.identity)
        result = getattr(target, operation.name)(**arguments)  # runs (and fails) now
        if operation.streams:
            return 200, self._pages(result)
        return 200, _dump({"result": encode(result)})

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, partial(function, *args))

    async def _stream(self, pages: Iterator[bytes], receive: Receive, send: Send) -> None:
        """Each page as it is read, in a thread (a page of a big query may take a while).

        A client that goes away ends the query: no page is read for no one.
        """
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            while not gone.done() and (line := await self._in_thread(next, pages, None)):
                await send({"type": "http.response.body", "body": line, "more_body": True})
        finally:
            gone.cancel()
            await self._in_thread(getattr(pages, "close"))  # noqa: B009 - a generator's
        await send({"type": "http.response.body", "body": b""})

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

    async def _read_json(self, request: _Request) -> object:
        try:
            length = int(request.length or 0)
        except ValueError:
            raise WireError("Content-Length is not a number") from None
        if length > self._max_request:  # refused unread: the server drops what follows
            raise _TooLarge(f"request body of {length} bytes: the limit is {self._max_request}")
        chunks, size = [], 0
        while True:
            message = await request.receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_request:  # a chunked body says its size only as it comes
                raise _TooLarge(f"request body over the limit of {self._max_request} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        data = b"".join(chunks) or b"{}"
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:  # also for bytes that are not UTF-8
            raise WireError(f"the request body is not JSON: {exc}") from exc

    def _health(self) -> tuple[int, bytes]:
        try:
            self._catalog.stat("/")
        except Exception as exc:
            log.warning("health check: the catalog fails: %s", exc)
            return 503, _dump({"status": "catalog unavailable"})
        return 200, _dump({"status": "ok"})


async def _disconnect(receive: Receive) -> None:
    """Until the client disconnects (its request's body is all read by then)."""
    while (await receive())["type"] != "http.disconnect":
        pass


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


def _error(status: int, error: GridError) -> tuple[int, bytes]:
    return status, _dump(error_to_wire(error))
