"""The ``root://`` backend: XRootD servers, through the XRootD Python bindings."""

from __future__ import annotations

import errno
import logging
import secrets
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from XRootD import client
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
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
)
from gridfs.storage.checksum import DEFAULT_CHECKSUM, Adler32

__all__ = ["XRootDBackend"]

log = logging.getLogger(__name__)

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


def _error(status: client.responses.XRootDStatus, turl: str, doing: str) -> GridError:
    """The one place where an XRootD status becomes a gridfs error."""
    message = f"{turl}: {doing}: {status.message.strip()}"
    if status.code == _ERR_ERROR_RESPONSE:
        if status.errno == _OVERLOADED:
            return StorageUnavailable(message, turl, errno=errno.EAGAIN)
        return _SERVER_ERRORS.get(status.errno, GridError)(message, turl)
    if status.code in _UNREACHABLE:
        code = _CONNECTION_ERRNO.get(status.code, errno.ECONNREFUSED)
        return StorageUnavailable(message, turl, errno=code)
    return GridError(message, turl)


def _check(result: tuple[client.responses.XRootDStatus, object], turl: str, doing: str) -> object:
    status, response = result
    if not status.ok:
        raise _error(status, turl, doing)
    return response


def _split(turl: str) -> tuple[str, str]:
    """``root://host:port//abs/path`` -> (``root://host:port``, ``/abs/path``)."""
    parts = urlsplit(turl)
    if parts.scheme != "root" or not parts.netloc or not parts.path.startswith("/"):
        raise InvalidArgument(f"not an XRootD URL: {turl}", turl)
    return f"root://{parts.netloc}", "/" + parts.path.lstrip("/")


class _XRootDReader(RangeReader):
    def __init__(self, turl: str, handle: client.File, size: int, timeout: int) -> None:
        self._turl = turl
        self._handle: client.File | None = handle
        self._timeout = timeout
        self.size = size

    def readinto(self, offset: int, buffer: memoryview) -> int:
        handle = self._handle
        if handle is None:
            raise ValueError("read from a closed replica")
        data = _check(handle.read(offset, len(buffer), timeout=self._timeout), self._turl, "read")
        assert isinstance(data, bytes)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None and handle.is_open():
            handle.close(timeout=self._timeout)


class XRootDBackend(StorageBackend):
    """Objects on an XRootD server; uploads land under a temporary name, then move."""

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        self._timeout = max(1, round(options.timeout_s))

    def _fs(self, turl: str) -> tuple[client.FileSystem, str]:
        server, path = _split(turl)
        return client.FileSystem(server), path

    def stat(self, turl: str) -> ObjectStat:
        fs, path = self._fs(turl)
        info = _check(fs.stat(path, timeout=self._timeout), turl, "stat")
        if info.flags & StatInfoFlags.IS_DIR:  # type: ignore[attr-defined]
            raise IsADirectory(f"{turl} is a directory", turl)
        return ObjectStat(size=info.size, mtime_ns=info.modtime * 10**9)  # type: ignore[attr-defined]

    def open_reader(self, turl: str) -> RangeReader:
        _split(turl)
        handle = client.File()
        _check(handle.open(turl, OpenFlags.READ, timeout=self._timeout), turl, "open")
        try:
            info = _check(handle.stat(timeout=self._timeout), turl, "stat")
        except BaseException:
            handle.close(timeout=self._timeout)
            raise
        return _XRootDReader(turl, handle, info.size, self._timeout)  # type: ignore[attr-defined]

    def write(self, turl: str, chunks: Iterable[bytes]) -> WriteResult:
        fs, path = self._fs(turl)
        status, _ = fs.stat(path, timeout=self._timeout)
        if status.ok:
            raise AlreadyExists(f"{turl} exists already", turl)
        directory, name = path.rsplit("/", 1)
        partial_path = f"{directory}/.{name}.part-{secrets.token_hex(4)}"
        partial = turl[: len(turl) - len(path)] + partial_path
        handle = client.File()
        _check(
            handle.open(partial, OpenFlags.NEW | OpenFlags.MAKEPATH, timeout=self._timeout),
            turl,
            "create",
        )
        digest = Adler32()
        size = 0
        try:
            for chunk in chunks:
                _check(handle.write(chunk, size, timeout=self._timeout), turl, "write")
                digest.update(chunk)
                size += len(chunk)
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
        return WriteResult(size=size, checksum_type=DEFAULT_CHECKSUM, checksum=digest.hexdigest())

    def delete(self, turl: str) -> None:
        fs, path = self._fs(turl)
        _check(fs.rm(path, timeout=self._timeout), turl, "delete")

    def mkdir(self, turl: str) -> None:
        fs, path = self._fs(turl)
        _check(fs.mkdir(path, MkDirFlags.MAKEPATH, timeout=self._timeout), turl, "mkdir")

    def list(self, turl: str) -> Iterator[ListEntry]:
        fs, path = self._fs(turl)
        listing = _check(fs.dirlist(path, DirListFlags.STAT, timeout=self._timeout), turl, "list")
        return iter(
            [
                ListEntry(
                    entry.name,
                    entry.statinfo.size,
                    bool(entry.statinfo.flags & StatInfoFlags.IS_DIR),
                )
                for entry in listing  # type: ignore[attr-defined]
            ]
        )

    def checksum(self, turl: str, checksum_type: str = DEFAULT_CHECKSUM) -> str:
        if checksum_type != DEFAULT_CHECKSUM:
            raise InvalidArgument(f"checksum type {checksum_type} is not supported here", turl)
        fs, path = self._fs(turl)
        reply = _check(fs.query(QueryCode.CHECKSUM, path, timeout=self._timeout), turl, "checksum")
        assert isinstance(reply, bytes)
        algorithm, _, value = reply.rstrip(b"\0").decode().partition(" ")
        if algorithm != DEFAULT_CHECKSUM or not value:
            raise GridError(f"{turl}: the server answered {reply!r} for an adler32 checksum", turl)
        return f"{int(value, 16):08x}"
