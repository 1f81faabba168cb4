"""The ``root://`` backend: XRootD servers, through the XRootD Python bindings."""

from __future__ import annotations

import bisect
import errno
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol, TypeVar, cast
from urllib.parse import urlsplit

from XRootD import client as xrdcl
from XRootD.client.copyprocess import CopyProcess
from XRootD.client.file import File
from XRootD.client.filesystem import FileSystem
from XRootD.client.flags import DirListFlags, MkDirFlags, OpenFlags, QueryCode, StatInfoFlags

from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    IsADirectory,
    NoSpace,
    NotFound,
    PermissionDenied,
    ReadOnly,
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
from gridfs.storage.naming import partial_upload_name

__all__ = ["XRootDBackend", "client_settings"]

log = logging.getLogger(__name__)

T = TypeVar("T")


# The bindings carry no annotations: these state the part of their surface used
# here, as the XRootD documentation gives it. Each call answers (status, response),
# the response None when the status is an error, or when the call has nothing to say.
class _Status(Protocol):
    ok: bool
    code: int
    errno: int
    message: str


_Reply = tuple[_Status, T | None]


class _StatInfo(Protocol):
    size: int
    modtime: int
    flags: int


class _Chunk(Protocol):
    offset: int
    length: int
    buffer: bytes


class _VectorReadInfo(Protocol):
    chunks: list[_Chunk]


class _DirEntry(Protocol):
    name: str
    statinfo: _StatInfo


class _File(Protocol):
    def open(self, url: str, flags: int = 0, mode: int = 0, timeout: int = 0) -> _Reply[None]: ...
    def stat(self, force: bool = False, timeout: int = 0) -> _Reply[_StatInfo]: ...
    def read(self, offset: int = 0, size: int = 0, timeout: int = 0) -> _Reply[bytes]: ...
    def vector_read(
        self, chunks: list[tuple[int, int]], timeout: int = 0
    ) -> _Reply[_VectorReadInfo]: ...
    def write(
        self, buffer: bytes, offset: int = 0, size: int = 0, timeout: int = 0
    ) -> _Reply[None]: ...
    def close(self, timeout: int = 0) -> _Reply[None]: ...
    def is_open(self) -> bool: ...


class _FileSystem(Protocol):
    def stat(self, path: str, timeout: int = 0) -> _Reply[_StatInfo]: ...
    def rm(self, path: str, timeout: int = 0) -> _Reply[None]: ...
    def mv(self, source: str, dest: str, timeout: int = 0) -> _Reply[None]: ...
    def mkdir(self, path: str, flags: int = 0, mode: int = 0, timeout: int = 0) -> _Reply[None]: ...
    def dirlist(
        self, path: str, flags: int = 0, timeout: int = 0
    ) -> _Reply[Iterable[_DirEntry]]: ...
    def query(self, querycode: int, arg: str, timeout: int = 0) -> _Reply[bytes]: ...


class _CopyProcess(Protocol):
    def add_job(self, source: str, target: str, **options: object) -> None: ...
    def prepare(self) -> _Status: ...
    def run(self) -> tuple[_Status, list[dict[str, object]]]: ...


_new_file = cast(Callable[[], _File], File)
_new_copy = cast(Callable[[], _CopyProcess], CopyProcess)
_new_filesystem = cast(Callable[[str], _FileSystem], FileSystem)
# XrdCl's process-wide settings (XrdClDefaultEnv): put answers False when the
# environment set the key already, and then leaves it.
_env_put_int = cast(Callable[[str, int], bool], getattr(xrdcl, "EnvPutInt"))  # noqa: B009 - untyped
_env_get_int = cast(Callable[[str], int], getattr(xrdcl, "EnvGetInt"))  # noqa: B009

# XRootD server error numbers (XProtocol.hh) that have an honest errno.
_SERVER_ERRORS: dict[int, type[GridError]] = {
    3009: NoSpace,  # kXR_NoSpace
    3010: PermissionDenied,  # kXR_NotAuthorized
    3011: NotFound,  # kXR_NotFound
    3016: IsADirectory,  # kXR_isDirectory
    3018: AlreadyExists,  # kXR_ItExists
    3021: NoSpace,  # kXR_overQuota
    3025: ReadOnly,  # kXR_fsReadOnly
}
_OVERLOADED = 3024  # kXR_Overloaded: worth another try later

# A vector read (kXR_readv) carries at most this many chunks of at most this
# many bytes each (XProtocol.hh: maxRvecsz, maxRvecln), and asks for at most
# _VECTOR_BYTES in one request, so that one answer stays a modest buffer.
_VECTOR_CHUNKS = 1024
_VECTOR_CHUNK_BYTES = 2097136
_VECTOR_BYTES = 64 << 20


# XrdCl status codes (XrdClStatus.hh) of a server that is gone or never answered.
_ERR_ERROR_RESPONSE = 400
_TIMEOUTS = {103, 206}  # errSocketTimeout, errOperationExpired
_BROKEN_OFF = {104, 107}  # errSocketDisconnected, errStreamDisconnect
_TLS = 110  # errTlsError
_UNREACHABLE = range(101, 111)  # errInvalidAddr .. errTlsError


# Connection-level codes and the errno each means.
_CONNECTION_ERRNO = {
    **dict.fromkeys(_TIMEOUTS, errno.ETIMEDOUT),
    **dict.fromkeys(_BROKEN_OFF, errno.EREMOTEIO),
    _TLS: errno.EPROTO,
}


_SUBSTREAMS = 4


def client_settings(timeout_s: float) -> dict[str, int]:
    """The XrdCl settings gridfs runs with, for network calls bounded by ``timeout_s``.

    XrdCl's defaults suit a batch job that may wait: a refused connection is
    tried again 5 times over a 120 s window, a request waits up to 1800 s,
    timeouts are checked every 15 s, and a server whose connection broke is
    shunned for 1800 s (StreamErrorWindow), so that a restarted server is not
    reached again for minutes. A filesystem must answer: a refused connection
    fails at once (ECONNREFUSED: the next replica is the better retry), a
    silent server is given up after the configured timeout (to the second),
    and a server that comes back is reached on the next request. Reads in
    flight at once go over several streams.
    """
    seconds = max(1, round(timeout_s))
    return {
        # Several TCP streams per server, over which XrdCl spreads the requests
        # in flight: one stream, served by one poller thread, caps parallel
        # reads at a third of what four give here (0.5 against 1.4-1.8 GB/s
        # for four 1 MiB reads in flight on loopback).
        "SubStreamsPerChannel": _SUBSTREAMS,
        "ConnectionRetry": 1,
        "ConnectionWindow": seconds,
        "StreamErrorWindow": 0,
        "StreamTimeout": seconds,
        "RequestTimeout": seconds,
        "TimeoutResolution": 1,
    }


def _configure_client(timeout_s: float) -> None:
    """Apply :func:`client_settings` to this process's XrdCl, before a backend uses it.

    XrdCl's settings are the process's; they apply to connections opened
    afterwards. A setting given in the environment (``XRD_CONNECTIONRETRY``...)
    is the user's and stays: XrdCl keeps it over ours.
    """
    for key, value in client_settings(timeout_s).items():
        if not _env_put_int(key, value):
            log.debug("XrdCl keeps %s=%s from the environment", key, _env_get_int(key))


def _error(status: _Status, turl: str, doing: str) -> GridError:
    """The one place where an XRootD status becomes a gridfs error."""
    message = f"{turl}: {doing}: {status.message.strip()}"
    if status.code == _ERR_ERROR_RESPONSE:
        if status.errno == _OVERLOADED:
            return StorageUnavailable(message, turl, errno=errno.EAGAIN)
        return _SERVER_ERRORS.get(status.errno, GridError)(message, turl)
    if status.code in _TIMEOUTS:  # errOperationExpired is no connection code (2xx)
        return StorageUnavailable(message, turl, errno=errno.ETIMEDOUT)
    if status.code in _UNREACHABLE:
        code = _CONNECTION_ERRNO.get(status.code, errno.ECONNREFUSED)
        return StorageUnavailable(message, turl, errno=code)
    return GridError(message, turl)


def _check(result: _Reply[object], turl: str, doing: str) -> None:
    """Raise the gridfs error of a failed call."""
    status, _ = result
    if not status.ok:
        raise _error(status, turl, doing)


def _answer(result: _Reply[T], turl: str, doing: str) -> T:
    """The response of a call that answers, or the gridfs error of a failed one."""
    _check(result, turl, doing)
    response = result[1]
    if response is None:
        raise GridError(f"{turl}: {doing}: the server gave no answer", turl)
    return response


def _split(turl: str) -> tuple[str, str]:
    """``root://host:port//abs/path`` -> (``root://host:port``, ``/abs/path``)."""
    parts = urlsplit(turl)
    if parts.scheme != "root" or not parts.netloc or not parts.path.startswith("/"):
        raise InvalidArgument(f"not an XRootD URL: {turl}", turl)
    return f"root://{parts.netloc}", "/" + parts.path.lstrip("/")


def _vector_requests(ranges: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Non-empty ``ranges`` as the chunk lists of vector reads, each within the protocol's limits.

    A range longer than a chunk may be is cut in pieces, in order, which the
    reply joins again.
    """
    requests: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    current_bytes = 0
    for offset, length in ranges:
        for start in range(offset, offset + length, _VECTOR_CHUNK_BYTES):
            piece = min(_VECTOR_CHUNK_BYTES, offset + length - start)
            if current and (
                len(current) == _VECTOR_CHUNKS or current_bytes + piece > _VECTOR_BYTES
            ):
                requests.append(current)
                current, current_bytes = [], 0
            current.append((start, piece))
            current_bytes += piece
    if current:
        requests.append(current)
    return requests


class _XRootDReader(RangeReader):
    """Reads of one open file, each a plain kXR_read (or kXR_readv for :meth:`readv`).

    Not kXR_pgread: its per-page CRC32C costs a third of the throughput here
    (xrdcp 0.46 GB/s with it, 1.5 with plain reads), and gridfs checks a file
    read whole against the catalog's adler32 anyway (``ReadCheck``), which also
    catches what a page CRC could not: a wrong replica. TCP guards each segment.
    """

    def __init__(self, turl: str, handle: _File, size: int, timeout: int) -> None:
        self._turl = turl
        self._handle: _File | None = handle
        self._timeout = timeout
        self.size = size

    def readinto(self, offset: int, buffer: memoryview) -> int:
        handle = self._handle
        if handle is None:
            raise ValueError("read from a closed replica")
        data = _answer(handle.read(offset, len(buffer), timeout=self._timeout), self._turl, "read")
        buffer[: len(data)] = data
        return len(data)

    def pread(self, offset: int, size: int) -> bytes:
        """The bytes as XRootD hands them over: no copy into a buffer of ours."""
        handle = self._handle
        if handle is None:
            raise ValueError("read from a closed replica")
        size = max(0, min(size, self.size - offset))
        data = _answer(handle.read(offset, size, timeout=self._timeout), self._turl, "read")
        if len(data) == size or not data:
            return data
        return data + super().pread(offset + len(data), size - len(data))  # a short answer

    def readv(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The ranges through XRootD's vector read: one round trip per 1024 chunks.

        Ranges that overlap are asked for as their union (the server answers
        a vector with a chunk repeated or overlapping as an invalid response).
        """
        handle = self._handle
        if handle is None:
            raise ValueError("read from a closed replica")
        wanted = clamp_ranges(ranges, self.size)
        unions = _unions(wanted)
        pieces: dict[tuple[int, int], bytes] = {}
        for chunks in _vector_requests(unions):
            reply = _answer(
                handle.vector_read(chunks, timeout=self._timeout), self._turl, "vector read"
            )
            if len(reply.chunks) != len(chunks):
                raise StorageUnavailable(
                    f"{self._turl}: vector read: {len(reply.chunks)} chunks for {len(chunks)}",
                    self._turl,
                    errno=errno.EREMOTEIO,
                )
            for (offset, length), chunk in zip(chunks, reply.chunks, strict=True):
                if len(chunk.buffer) != length:
                    raise StorageUnavailable(
                        f"{self._turl}: vector read: {len(chunk.buffer)} bytes at {offset}, "
                        f"not {length}",
                        self._turl,
                        errno=errno.EREMOTEIO,
                    )
                pieces[offset, length] = chunk.buffer
        joined = [(offset, _joined(pieces, offset, length)) for offset, length in unions]
        return [_cut(joined, offset, length) for offset, length in wanted]

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None and handle.is_open():
            handle.close(timeout=self._timeout)


def _unions(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The non-empty ``ranges`` in order, those that overlap or touch joined into one."""
    unions: list[tuple[int, int]] = []
    for offset, length in sorted(r for r in ranges if r[1]):
        if unions and offset <= unions[-1][0] + unions[-1][1]:
            start, size = unions[-1]
            unions[-1] = (start, max(size, offset + length - start))
        else:
            unions.append((offset, length))
    return unions


def _cut(unions: list[tuple[int, bytes]], offset: int, length: int) -> bytes:
    """Bytes ``offset:offset+length`` from the union read that holds them."""
    if not length:
        return b""
    index = bisect.bisect_right(unions, offset, key=lambda union: union[0]) - 1
    start, data = unions[index]
    return data[offset - start : offset - start + length]


def _joined(pieces: dict[tuple[int, int], bytes], offset: int, length: int) -> bytes:
    """One range again from the pieces :func:`_vector_requests` cut it into."""
    if length <= _VECTOR_CHUNK_BYTES:
        return pieces[offset, length] if length else b""
    return b"".join(
        pieces[start, min(_VECTOR_CHUNK_BYTES, offset + length - start)]
        for start in range(offset, offset + length, _VECTOR_CHUNK_BYTES)
    )


class XRootDBackend(StorageBackend):
    """Objects on an XRootD server; uploads land under a temporary name, then move.

    The server computes checksums. No connection is held here: XrdCl keeps
    its own, per server, for the whole process, with the settings of
    :func:`client_settings` for ``options.timeout_s`` (the process's: the
    last backend made sets them).
    """

    capabilities = frozenset({Capability.SERVER_CHECKSUM, Capability.THIRD_PARTY_COPY})

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        self._timeout = max(1, round(options.timeout_s))
        _configure_client(options.timeout_s)

    def close(self) -> None:
        pass  # XrdCl's connections are the process's, not this backend's

    def _fs(self, turl: str) -> tuple[_FileSystem, str]:
        server, path = _split(turl)
        return _new_filesystem(server), path

    def stat(self, turl: str) -> ObjectStat:
        fs, path = self._fs(turl)
        info = _answer(fs.stat(path, timeout=self._timeout), turl, "stat")
        if info.flags & StatInfoFlags.IS_DIR:
            raise IsADirectory(f"{turl} is a directory", turl)
        return ObjectStat(size=info.size, mtime_ns=info.modtime * 10**9)

    def open_reader(self, turl: str) -> RangeReader:
        _split(turl)
        handle = _new_file()
        _check(handle.open(turl, OpenFlags.READ, timeout=self._timeout), turl, "open")
        try:
            info = _answer(handle.stat(timeout=self._timeout), turl, "stat")
        except BaseException:
            handle.close(timeout=self._timeout)
            raise
        return _XRootDReader(turl, handle, info.size, self._timeout)

    def write(self, turl: str, chunks: Iterable[bytes], *, size: int | None = None) -> WriteResult:
        del size  # XRootD writes at offsets: the length is never announced
        fs, path = self._fs(turl)
        status, _ = fs.stat(path, timeout=self._timeout)
        if status.ok:
            raise AlreadyExists(f"{turl} exists already", turl)
        directory, name = path.rsplit("/", 1)
        partial_path = f"{directory}/{partial_upload_name(name)}"
        partial = turl[: len(turl) - len(path)] + partial_path
        handle = _new_file()
        _check(
            handle.open(partial, OpenFlags.NEW | OpenFlags.MAKEPATH, timeout=self._timeout),
            turl,
            "create",
        )
        digest = Adler32()
        total = 0
        try:
            for chunk in chunks:
                _check(handle.write(chunk, total, timeout=self._timeout), turl, "write")
                digest.update(chunk)
                total += len(chunk)
            _check(handle.close(timeout=self._timeout), turl, "close")
            _check(fs.mv(partial_path, path, timeout=self._timeout), turl, "move into place")
        except BaseException:
            if handle.is_open():
                handle.close(timeout=self._timeout)
            # Best effort: a dead server keeps the partial file, under its temporary name.
            status, _ = fs.rm(partial_path, timeout=self._timeout)
            if not status.ok:
                log.warning("a partial upload stays at %s: %s", partial, status.message.strip())
            raise
        return WriteResult(size=total, checksum_type=DEFAULT_CHECKSUM, checksum=digest.hexdigest())

    def delete(self, turl: str) -> None:
        fs, path = self._fs(turl)
        _check(fs.rm(path, timeout=self._timeout), turl, "delete")

    def pull(self, source_turl: str, turl: str) -> None:
        """XRootD third-party copy: the destination server reads the source server.

        Both need ``ofs.tpc`` in their configuration. The servers compare their
        adler32 of the two copies (end to end); ``posc`` has the destination
        remove a copy that did not complete.
        """
        _split(source_turl)
        fs, path = self._fs(turl)
        status, _ = fs.stat(path, timeout=self._timeout)
        if status.ok:
            raise AlreadyExists(f"{turl} exists already", turl)
        process = _new_copy()
        process.add_job(
            source_turl,
            turl,
            thirdparty="only",
            checksummode="end2end",
            checksumtype=DEFAULT_CHECKSUM,
            posc=True,
            force=False,
            mkdir=True,
        )
        prepared = process.prepare()
        if not prepared.ok:
            raise _error(prepared, turl, "third-party copy")
        status, results = process.run()
        outcome = cast(_Status, results[0]["status"]) if results else status
        if not outcome.ok:
            raise _error(outcome, turl, "third-party copy")

    def mkdir(self, turl: str) -> None:
        fs, path = self._fs(turl)
        _check(fs.mkdir(path, MkDirFlags.MAKEPATH, timeout=self._timeout), turl, "mkdir")

    def list(self, turl: str) -> Iterator[ListEntry]:
        fs, path = self._fs(turl)
        listing = _answer(fs.dirlist(path, DirListFlags.STAT, timeout=self._timeout), turl, "list")
        return iter(
            [
                ListEntry(
                    entry.name,
                    entry.statinfo.size,
                    bool(entry.statinfo.flags & StatInfoFlags.IS_DIR),
                )
                for entry in listing
            ]
        )

    def checksum(self, turl: str, checksum_type: str = DEFAULT_CHECKSUM) -> str:
        if checksum_type != DEFAULT_CHECKSUM:
            raise InvalidArgument(f"checksum type {checksum_type} is not supported here", turl)
        fs, path = self._fs(turl)
        reply = _answer(fs.query(QueryCode.CHECKSUM, path, timeout=self._timeout), turl, "checksum")
        algorithm, _, value = reply.rstrip(b"\0").decode().partition(" ")
        if algorithm != DEFAULT_CHECKSUM or not value:
            raise GridError(f"{turl}: the server answered {reply!r} for an adler32 checksum", turl)
        return f"{int(value, 16):08x}"
