"""The WebDAV backend: ``davs://``, ``https://``, ``dav://`` and ``http://``, through httpx."""

from __future__ import annotations

import contextlib
import email.utils
import errno
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.etree import ElementTree

import httpx

from gridfs.errors import (
    GridError,
    InvalidArgument,
    IsADirectory,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
)
from gridfs.storage.backend import (
    BackendOptions,
    Capability,
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
    clamp_ranges,
)
from gridfs.storage.checksum import DEFAULT_CHECKSUM, Adler32
from gridfs.storage.http_errors import mapped_errors, raise_for_status
from gridfs.storage.http_ranges import RangeClient
from gridfs.storage.naming import partial_upload_name

__all__ = ["WebDAVBackend"]

_WIRE_SCHEME = {"davs": "https", "https": "https", "dav": "http", "http": "http"}
_CHUNK = 1 << 20
_PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop>'
    b"<resourcetype/><getcontentlength/><getlastmodified/></prop></propfind>"
)
_PARTIAL_CHECKS = 10
# One multi-range request asks for at most this many ranges (its Range header
# stays well under the 8 KiB that servers take) and this many bytes.
_RANGES_PER_REQUEST = 256
_BYTES_PER_REQUEST = 64 << 20
# What a server without HTTP TPC answers a pull COPY: 400, 405, 501, or (plain
# WebDAV, copying the request's URL, here the new object, to no Destination) 404.
_NO_TPC = (400, 404, 405, 501)
# The source's statuses a failed pull reports that trying again cannot mend.
_SOURCE_ERRORS: dict[int, type[GridError]] = {
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
}
_PARALLEL_READS = 8  # range requests in flight at once for one vector of ranges

T = TypeVar("T")
R = TypeVar("R")
Part = tuple[int, bytes]  # the bytes of a file from an offset

log = logging.getLogger(__name__)


def _wire(turl: str) -> str:
    """The http(s) URL a WebDAV TURL is reached at."""
    parts = urlsplit(turl)
    if parts.scheme not in _WIRE_SCHEME or not parts.netloc:
        raise InvalidArgument(f"not a WebDAV URL: {turl}", turl)
    return urlunsplit(parts._replace(scheme=_WIRE_SCHEME[parts.scheme]))


def _raise_for(response: httpx.Response, turl: str, doing: str) -> None:
    raise_for_status(response.status_code, response.reason_phrase, turl, doing)


def _tpc_failure(outcome: str, source_turl: str, turl: str) -> GridError:
    """The error of an HTTP TPC ``failure: ...`` line: the source's own status if it says one."""
    message = f"{turl}: third-party copy from {source_turl}: {outcome}"
    found = re.search(r"status code (\d{3})", outcome)
    status = int(found.group(1)) if found else 0
    if status in _SOURCE_ERRORS:
        return _SOURCE_ERRORS[status](message, source_turl)
    return StorageUnavailable(message, turl, errno=errno.EREMOTEIO)


class _WebDAVReader(RangeReader):
    def __init__(self, backend: WebDAVBackend, turl: str, size: int) -> None:
        self._backend = backend
        self._turl = turl
        self._url = _wire(turl)
        self._closed = False
        self.size = size

    def readinto(self, offset: int, buffer: memoryview) -> int:
        data = self.pread(offset, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def pread(self, offset: int, size: int) -> bytes:
        """One range GET, on a pooled connection (:class:`RangeClient`)."""
        if self._closed:
            raise ValueError("read from a closed replica")
        if offset >= self.size or size <= 0:
            return b""
        last = min(offset + size, self.size) - 1
        answer = self._backend.ranges.get(self._url, f"{offset}-{last}", self._turl, "read")
        raise_for_status(answer.status, answer.reason, self._turl, "read")
        if answer.status != 206:
            raise StorageUnavailable(
                f"{self._turl}: the server ignores byte ranges", self._turl, errno=errno.EREMOTEIO
            )
        if len(answer.body) != last - offset + 1:
            raise StorageUnavailable(
                f"{self._turl}: the server sent {len(answer.body)} bytes for a range of "
                f"{last - offset + 1}",
                self._turl,
                errno=errno.EREMOTEIO,
            )
        return answer.body

    def readv(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The ranges by multi-range requests where the server answers them, else in parallel.

        The answer's parts are matched to the ranges by their Content-Range, so
        a server may coalesce ranges, or answer only the first one (WsgiDAV
        does): what it leaves out is read with one range request each.
        """
        wanted = clamp_ranges(ranges, self.size)
        spans = sorted({(offset, length) for offset, length in wanted if length})
        parts: list[Part] = []
        if len(spans) > 1 and self._backend.offers_multirange(self._url):
            for answer in self._backend.parallel(self._multirange, _batches(spans)):
                parts += answer
        found = {span: _covered(parts, *span) for span in spans}
        missing = [span for span, data in found.items() if data is None]
        for span, data in zip(missing, self._backend.parallel(self._range, missing), strict=True):
            found[span] = data
        return [found[offset, length] or b"" if length else b"" for offset, length in wanted]

    def _range(self, span: tuple[int, int]) -> bytes:
        return self.pread(*span)

    def _multirange(self, spans: list[tuple[int, int]]) -> list[Part]:
        """The parts one multi-range GET answers for ``spans``; few or none if it ignores some."""
        if self._closed:
            raise ValueError("read from a closed replica")
        wanted = ",".join(f"{offset}-{offset + length - 1}" for offset, length in spans)
        answer = self._backend.ranges.get(self._url, wanted, self._turl, "vector read")
        raise_for_status(answer.status, answer.reason, self._turl, "vector read")
        multipart = answer.content_type.startswith(_MULTIPART)
        if answer.status != 206 or not multipart:
            self._backend.note_no_multirange(self._url)
        if answer.status != 206:
            return []  # the whole file was on its way: left unread
        if multipart:
            return _parse_multipart(answer.body, answer.content_type, self._turl)
        return [(_content_range(answer.content_range, self._turl), answer.body)]

    def close(self) -> None:
        self._closed = True


_MULTIPART = "multipart/byteranges"


def _batches(spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """``spans`` in groups, each small enough for one multi-range request."""
    batches: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    size = 0
    for span in spans:
        if current and (len(current) == _RANGES_PER_REQUEST or size + span[1] > _BYTES_PER_REQUEST):
            batches.append(current)
            current, size = [], 0
        current.append(span)
        size += span[1]
    if current:
        batches.append(current)
    return batches


def _covered(parts: list[Part], offset: int, length: int) -> bytes | None:
    """The bytes ``offset:offset+length`` if one of ``parts`` holds them all."""
    for start, data in parts:
        if start <= offset and offset + length <= start + len(data):
            return data[offset - start : offset - start + length]
    return None


def _content_range(value: str, turl: str) -> int:
    """The first offset of a ``Content-Range: bytes FIRST-LAST/SIZE`` value."""
    unit, _, spec = value.strip().partition(" ")
    first = spec.partition("-")[0]
    if unit.lower() != "bytes" or not first.isdigit():
        raise StorageUnavailable(
            f"{turl}: vector read: a part with Content-Range {value!r}", turl, errno=errno.EREMOTEIO
        )
    return int(first)


def _parse_multipart(body: bytes, content_type: str, turl: str) -> list[Part]:
    """The parts of a ``multipart/byteranges`` body (RFC 9110 14.6), by their Content-Range.

    Each part's length comes from its Content-Range, never from a search for
    the boundary, which the data may well contain.
    """
    boundary = ""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise StorageUnavailable(
            f"{turl}: vector read: a multipart answer without a boundary",
            turl,
            errno=errno.EREMOTEIO,
        )
    delimiter = b"--" + boundary.encode()
    parts: list[Part] = []
    position = body.find(delimiter)
    while position >= 0:
        position += len(delimiter)
        if body.startswith(b"--", position):  # the closing delimiter
            return parts
        headers_end = body.find(b"\r\n\r\n", position)
        if headers_end < 0:
            break
        start = last = -1
        for line in body[position:headers_end].decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-range":
                start = _content_range(value, turl)
                last = int(value.partition("-")[2].partition("/")[0])
        if start < 0 or last < start:
            break
        data_start = headers_end + 4
        data = body[data_start : data_start + last - start + 1]
        if len(data) != last - start + 1:
            break
        parts.append((start, data))
        position = body.find(delimiter, data_start + len(data))
    raise StorageUnavailable(
        f"{turl}: vector read: a multipart answer cut short or malformed",
        turl,
        errno=errno.EREMOTEIO,
    )


class WebDAVBackend(StorageBackend):
    """Objects on a WebDAV server; uploads land under a temporary name, then MOVE.

    Reads are HTTP range requests, on keep-alive connections of the standard
    library's http.client (:mod:`gridfs.storage.http_ranges`: several times
    httpx's speed for bulk bytes); the rest of WebDAV goes through httpx. The
    checksum comes from the server when it answers ``Want-Digest: adler32``
    (RFC 3230), else it is computed while reading the object back: so it does
    not claim ``Capability.SERVER_CHECKSUM``, which not every server can
    honour. :meth:`close` closes its connection pools.

    Third-party copy is HTTP TPC's pull mode (``COPY`` with ``Source:``, as
    XrdHttp's libXrdHttpTPC, dCache and EOS serve it); only SEs configured for
    it (``tpc``) are asked.
    """

    capabilities = frozenset({Capability.THIRD_PARTY_COPY})

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        # One context for httpx and the range reads: each costs loading a CA
        # bundle (tens of ms, at the first open of a mount), and reads trust
        # what the stat before them trusted (httpx's default, certifi's CAs).
        if options.ca_file:
            context = ssl.create_default_context(cafile=options.ca_file)
        else:
            context = httpx.create_ssl_context()
        self.ranges = RangeClient(options.timeout_s, context)
        self.client = httpx.Client(
            verify=context,
            timeout=httpx.Timeout(options.timeout_s),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._readers = ThreadPoolExecutor(_PARALLEL_READS, thread_name_prefix="webdav-read")
        self._lock = threading.Lock()
        self._single_range_servers: set[str] = set()

    def close(self) -> None:
        self._readers.shutdown(wait=True, cancel_futures=True)
        self.ranges.close()
        self.client.close()

    def parallel(self, call: Callable[[T], R], items: list[T]) -> list[R]:
        """``call`` of each item, several at once on the backend's threads; results in order."""
        if len(items) <= 1:
            return [call(item) for item in items]
        return list(self._readers.map(call, items))

    def offers_multirange(self, url: str) -> bool:
        """Whether ``url``'s server may answer several ranges in one request (until it did not)."""
        with self._lock:
            return urlsplit(url).netloc not in self._single_range_servers

    def note_no_multirange(self, url: str) -> None:
        """``url``'s server answered a multi-range request with less than multipart: ask no more."""
        with self._lock:
            self._single_range_servers.add(urlsplit(url).netloc)

    def _request(self, method: str, turl: str, doing: str, **kwargs: Any) -> httpx.Response:
        with mapped_errors(turl, doing):
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

    def write(self, turl: str, chunks: Iterable[bytes], *, size: int | None = None) -> WriteResult:
        """PUT under a partial name, then MOVE into place.

        With ``size`` the body goes with a Content-Length, not chunked: XrdHttp
        (5.5) answers "Invalid chunked encoding" to a chunked body that does not
        come in the same packet as the headers, that is to every streamed upload.
        """
        url = _wire(turl)
        parts = urlsplit(url)
        directory, name = parts.path.rsplit("/", 1)
        partial = urlunsplit(parts._replace(path=f"{directory}/{partial_upload_name(name)}"))
        self._make_collections(turl, directory)
        digest = Adler32()
        total = 0

        def body() -> Iterator[bytes]:
            nonlocal total
            for chunk in chunks:
                digest.update(chunk)
                total += len(chunk)
                if size is not None and total > size:
                    break
                yield chunk
            # The source's fault, not the server's: said before httpx calls it a
            # protocol error (which would count against the SE's health).
            if size is not None and total != size:
                raise GridError(
                    f"{turl}: upload: the source changed size while it was sent "
                    f"({size} bytes expected)",
                    turl,
                )

        try:
            # httpx sends no Transfer-Encoding when it is given the length.
            length = {} if size is None else {"Content-Length": str(size)}
            self._request("PUT", partial, "upload", content=body(), headers=length)
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
        return WriteResult(size=total, checksum_type=DEFAULT_CHECKSUM, checksum=digest.hexdigest())

    def _remove_partial(self, turl: str, partial: str) -> None:
        """Delete an aborted upload's temporary object, best effort.

        A server may still be finishing the broken PUT when the DELETE comes, so
        it is checked for a moment and deleted again; what stays is logged.
        """
        for _ in range(_PARTIAL_CHECKS):
            try:
                with contextlib.suppress(NotFound):
                    self._request("DELETE", partial, "remove the partial upload")
                with mapped_errors(turl, "check the partial upload"):
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
            with mapped_errors(turl, "make collection"):
                response = self.client.request("MKCOL", urlunsplit(parts._replace(path=path + "/")))
            if response.status_code not in (201, 405):  # 405: it exists already
                _raise_for(response, turl, f"make collection {path}")

    def delete(self, turl: str) -> None:
        self._request("DELETE", turl, "delete")

    def mkdir(self, turl: str) -> None:
        self._make_collections(turl, urlsplit(_wire(turl)).path)

    def pull(self, source_turl: str, turl: str) -> None:
        """HTTP TPC, pull mode: ``COPY`` to ``turl`` with ``Source: source_turl``.

        The server answers 201 at once and streams performance markers; the
        outcome is the body's last line (``success: ...`` or ``failure: ...``).
        ``Overwrite: F`` keeps an existing object (412). A server that does
        not do TPC answers otherwise (:data:`_NO_TPC`): ENOTSUP, the caller
        may stream instead. Once the copy started, a failure deletes what it made
        (XrdHttp leaves the object it created).
        """
        url = _wire(turl)
        self._make_collections(turl, urlsplit(url).path.rsplit("/", 1)[0])
        headers = {"Source": _wire(source_turl), "Overwrite": "F", "Credential": "none"}
        started = False
        try:
            with (
                mapped_errors(turl, "third-party copy"),
                self.client.stream("COPY", url, headers=headers) as response,
            ):
                if response.status_code in _NO_TPC:
                    raise GridError(
                        f"{turl}: the server does not do HTTP third-party copy "
                        f"(COPY: HTTP {response.status_code} {response.reason_phrase})",
                        turl,
                        errno=errno.ENOTSUP,
                    )
                _raise_for(response, turl, "third-party copy")
                started = True
                lines = [line.strip() for line in response.iter_lines() if line.strip()]
            outcome = lines[-1] if lines else "failure: the reply ended without an outcome"
            if not outcome.startswith("success"):
                raise _tpc_failure(outcome, source_turl, turl)
        except BaseException:
            if started:
                with contextlib.suppress(GridError):  # nothing left there, or the server is away
                    self.delete(turl)
            raise

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
            mapped_errors(turl, "checksum"),
            self.client.stream("GET", _wire(turl)) as stream,
        ):
            _raise_for(stream, turl, "checksum")
            for piece in stream.iter_bytes(_CHUNK):
                computed.update(piece)
        return computed.hexdigest()
