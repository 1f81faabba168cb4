"""The WebDAV backend: ``davs://``, ``https://``, ``dav://`` and ``http://``, through httpx."""

from __future__ import annotations

import contextlib
import email.utils
import errno
import logging
import ssl
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.etree import ElementTree

import httpx

from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    IsADirectory,
    NoSpace,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
)
from gridfs.storage.backend import (
    BackendOptions,
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
)
from gridfs.storage.checksum import DEFAULT_CHECKSUM, Adler32
from gridfs.storage.naming import partial_upload_name

__all__ = ["WebDAVBackend"]

_WIRE_SCHEME = {"davs": "https", "https": "https", "dav": "http", "http": "http"}
_STATUS_ERRORS: dict[int, type[GridError]] = {
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
    405: IsADirectory,  # e.g. GET or PUT on a collection
    409: NotFound,  # a parent collection is missing
    412: AlreadyExists,  # MOVE with Overwrite: F onto an existing object
    413: NoSpace,
    507: NoSpace,  # Insufficient Storage
}
_CHUNK = 1 << 20
_PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop>'
    b"<resourcetype/><getcontentlength/><getlastmodified/></prop></propfind>"
)
_PARTIAL_CHECKS = 10

log = logging.getLogger(__name__)


def _wire(turl: str) -> str:
    """The http(s) URL a WebDAV TURL is reached at."""
    parts = urlsplit(turl)
    if parts.scheme not in _WIRE_SCHEME or not parts.netloc:
        raise InvalidArgument(f"not a WebDAV URL: {turl}", turl)
    return urlunsplit(parts._replace(scheme=_WIRE_SCHEME[parts.scheme]))


@contextlib.contextmanager
def _mapped_errors(turl: str, doing: str) -> Iterator[None]:
    """The one place where httpx errors become gridfs errors, with honest errno values."""
    try:
        yield
    except GridError:
        raise
    except httpx.ConnectError as exc:
        if isinstance(exc.__context__, ssl.SSLCertVerificationError) or "CERTIFICATE" in str(exc):
            raise StorageUnavailable(
                f"{turl}: {doing}: the server's TLS certificate does not verify ({exc})",
                turl,
                errno=errno.EPROTO,
            ) from exc
        raise StorageUnavailable(
            f"{turl}: {doing}: cannot connect ({exc})", turl, errno=errno.ECONNREFUSED
        ) from exc
    except httpx.TimeoutException as exc:
        raise StorageUnavailable(
            f"{turl}: {doing}: timed out ({exc})", turl, errno=errno.ETIMEDOUT
        ) from exc
    except httpx.TransportError as exc:  # the server broke off mid-request
        raise StorageUnavailable(
            f"{turl}: {doing}: the server broke off ({exc})", turl, errno=errno.EREMOTEIO
        ) from exc
    except httpx.StreamConsumed as exc:
        # A redirected upload (dCache and EOS send one to a pool node) would need
        # the body again; a stream cannot give it twice.
        raise GridError(
            f"{turl}: {doing}: the server redirected a streamed upload; "
            "give the TURL of the node that stores the data",
            turl,
        ) from exc
    except (httpx.HTTPError, httpx.StreamError) as exc:  # redirect loops, bad encodings...
        raise GridError(f"{turl}: {doing}: {exc}", turl) from exc


def _raise_for(response: httpx.Response, turl: str, doing: str) -> None:
    if response.status_code < 400:
        return
    message = f"{turl}: {doing}: HTTP {response.status_code} {response.reason_phrase}"
    if response.status_code in _STATUS_ERRORS:
        raise _STATUS_ERRORS[response.status_code](message, turl)
    if response.status_code >= 500:
        raise StorageUnavailable(message, turl, errno=errno.EREMOTEIO)
    raise GridError(message, turl)


class _WebDAVReader(RangeReader):
    def __init__(self, backend: WebDAVBackend, turl: str, size: int) -> None:
        self._backend = backend
        self._turl = turl
        self._url = _wire(turl)
        self._closed = False
        self.size = size

    def readinto(self, offset: int, buffer: memoryview) -> int:
        if self._closed or self._backend.client.is_closed:
            raise ValueError("read from a closed replica")
        if offset >= self.size or not len(buffer):
            return 0
        last = min(offset + len(buffer), self.size) - 1
        headers = {"Range": f"bytes={offset}-{last}"}
        filled = 0
        with (
            _mapped_errors(self._turl, "read"),
            self._backend.client.stream("GET", self._url, headers=headers) as response,
        ):
            _raise_for(response, self._turl, "read")
            if response.status_code != 206:
                raise StorageUnavailable(
                    f"{self._turl}: the server ignores byte ranges",
                    self._turl,
                    errno=errno.EREMOTEIO,
                )
            for piece in response.iter_bytes(_CHUNK):
                if filled + len(piece) > len(buffer):
                    raise StorageUnavailable(
                        f"{self._turl}: the server sent more than the range asked for",
                        self._turl,
                        errno=errno.EREMOTEIO,
                    )
                buffer[filled : filled + len(piece)] = piece
                filled += len(piece)
        return filled

    def close(self) -> None:
        self._closed = True


class WebDAVBackend(StorageBackend):
    """Objects on a WebDAV server; uploads land under a temporary name, then MOVE.

    Reads are HTTP range requests; the checksum comes from the server when it
    answers ``Want-Digest: adler32`` (RFC 3230), else it is computed while
    reading the object back: so it does not claim
    ``Capability.SERVER_CHECKSUM``, which not every server can honour.
    :meth:`close` closes its connection pool.
    """

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        verify: ssl.SSLContext | bool = True
        if options.ca_file:
            verify = ssl.create_default_context(cafile=options.ca_file)
        self.client = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(options.timeout_s),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def close(self) -> None:
        self.client.close()

    def _request(self, method: str, turl: str, doing: str, **kwargs: Any) -> httpx.Response:
        with _mapped_errors(turl, doing):
            response = self.client.request(method, _wire(turl), **kwargs)  # httpx's own options
        _raise_for(response, turl, doing)
        return response

    def stat(self, turl: str) -> ObjectStat:
        response = self._request(
            "PROPFIND", turl, "stat", headers={"Depth": "0"}, content=_PROPFIND_BODY
        )
        try:
            prop = ElementTree.fromstring(response.content).find(".//{DAV:}prop")
        except ElementTree.ParseError as exc:
            raise GridError(f"{turl}: stat: the server's PROPFIND reply is not XML", turl) from exc
        if prop is None:
            raise GridError(f"{turl}: stat: no properties in the server's reply", turl)
        if prop.find("{DAV:}resourcetype/{DAV:}collection") is not None:
            raise IsADirectory(f"{turl} is a collection", turl)
        length = prop.findtext("{DAV:}getcontentlength")
        if length is None:
            raise GridError(f"{turl}: stat: the server gives no size", turl)
        modified = prop.findtext("{DAV:}getlastmodified")
        mtime = email.utils.parsedate_to_datetime(modified).timestamp() if modified else 0.0
        return ObjectStat(size=int(length), mtime_ns=int(mtime * 1e9))

    def open_reader(self, turl: str) -> RangeReader:
        return _WebDAVReader(self, turl, self.stat(turl).size)

    def write(self, turl: str, chunks: Iterable[bytes]) -> WriteResult:
        url = _wire(turl)
        parts = urlsplit(url)
        directory, name = parts.path.rsplit("/", 1)
        partial = urlunsplit(parts._replace(path=f"{directory}/{partial_upload_name(name)}"))
        self._make_collections(turl, directory)
        digest = Adler32()
        size = 0

        def body() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        try:
            self._request("PUT", partial, "upload", content=body())
            # MOVE with Overwrite: F is atomic and never replaces an existing replica.
            self._request(
                "MOVE",
                partial,
                "move into place",
                headers={"Destination": url, "Overwrite": "F"},
            )
        except BaseException:
            self._remove_partial(turl, partial)
            raise
        return WriteResult(size=size, checksum_type=DEFAULT_CHECKSUM, checksum=digest.hexdigest())

    def _remove_partial(self, turl: str, partial: str) -> None:
        """Delete an aborted upload's temporary object, best effort.

        A server may still be finishing the broken PUT when the DELETE comes, so
        it is checked for a moment and deleted again; what stays is logged.
        """
        for _ in range(_PARTIAL_CHECKS):
            try:
                with contextlib.suppress(NotFound):
                    self._request("DELETE", partial, "remove the partial upload")
                with _mapped_errors(turl, "check the partial upload"):
                    if self.client.head(partial).status_code == 404:
                        return
            except GridError as exc:
                log.warning("could not remove the partial upload %s: %s", partial, exc)
                return
            time.sleep(0.1)
        log.warning("a partial upload stays at %s", partial)

    def _make_collections(self, turl: str, directory: str) -> None:
        """MKCOL the parents of an upload, from the top, as WebDAV has no mkdir -p."""
        parts = urlsplit(_wire(turl))
        path = ""
        for component in [c for c in directory.split("/") if c]:
            path += f"/{component}"
            with _mapped_errors(turl, "make collection"):
                response = self.client.request("MKCOL", urlunsplit(parts._replace(path=path + "/")))
            if response.status_code not in (201, 405):  # 405: it exists already
                _raise_for(response, turl, f"make collection {path}")

    def delete(self, turl: str) -> None:
        self._request("DELETE", turl, "delete")

    def mkdir(self, turl: str) -> None:
        self._make_collections(turl, urlsplit(_wire(turl)).path)

    def list(self, turl: str) -> Iterator[ListEntry]:
        url = _wire(turl).rstrip("/") + "/"
        response = self._request(
            "PROPFIND", url, "list", headers={"Depth": "1"}, content=_PROPFIND_BODY
        )
        own = unquote(urlsplit(url).path).rstrip("/")
        found = []
        try:
            replies = ElementTree.fromstring(response.content).findall("{DAV:}response")
        except ElementTree.ParseError as exc:
            raise GridError(f"{turl}: list: the server's PROPFIND reply is not XML", turl) from exc
        for reply in replies:
            path = unquote(urlsplit(reply.findtext("{DAV:}href") or "").path).rstrip("/")
            if path == own or not path:
                continue
            is_dir = reply.find(".//{DAV:}resourcetype/{DAV:}collection") is not None
            length = reply.findtext(".//{DAV:}getcontentlength") or "0"
            found.append(ListEntry(path.rsplit("/", 1)[-1], int(length), is_dir))
        return iter(found)

    def checksum(self, turl: str, checksum_type: str = DEFAULT_CHECKSUM) -> str:
        if checksum_type != DEFAULT_CHECKSUM:
            raise InvalidArgument(f"checksum type {checksum_type} is not supported here", turl)
        response = self._request("HEAD", turl, "checksum", headers={"Want-Digest": "adler32"})
        for digest in response.headers.get("Digest", "").split(","):
            algorithm, _, value = digest.strip().partition("=")
            if algorithm.lower() == "adler32" and value:
                return f"{int(value, 16):08x}"
        computed = Adler32()
        with (
            _mapped_errors(turl, "checksum"),
            self.client.stream("GET", _wire(turl)) as stream,
        ):
            _raise_for(stream, turl, "checksum")
            for piece in stream.iter_bytes(_CHUNK):
                computed.update(piece)
        return computed.hexdigest()
