"""The one error vocabulary of gridfs.

Every expected failure is an :class:`OSError` with a fixed errno, so that the
FUSE layer, the CLI and Python callers can all treat it the way they treat
errors from :mod:`os`. Each class also derives from the matching builtin, so
``except FileNotFoundError`` works as it does for local files::

    GridError (OSError, EIO)
    ├── NotFound (FileNotFoundError, ENOENT)
    │   └── UnknownAttribute
    ├── AlreadyExists (FileExistsError, EEXIST)
    ├── NotADirectory (NotADirectoryError, ENOTDIR)
    ├── IsADirectory (IsADirectoryError, EISDIR)
    ├── PermissionDenied (PermissionError, EACCES)
    ├── NotPermitted (PermissionError, EPERM)
    ├── DirectoryNotEmpty (ENOTEMPTY)
    ├── ReadOnly (EROFS)
    ├── NoSpace (ENOSPC)
    ├── SymlinkLoop (ELOOP)
    ├── InvalidArgument (ValueError, EINVAL)
    │   ├── InvalidLFN
    │   ├── UnknownSE
    │   └── ConfigError
    ├── StorageUnavailable (ConnectionError; ECONNREFUSED, ETIMEDOUT, EREMOTEIO...)
    ├── ChecksumMismatch (EIO)
    ├── NoReplicaAvailable (EIO)
    └── Cancelled (ECANCELED)
"""

from __future__ import annotations

import errno as _errno

__all__ = [
    "AlreadyExists",
    "Cancelled",
    "ChecksumMismatch",
    "ConfigError",
    "DirectoryNotEmpty",
    "GridError",
    "InvalidArgument",
    "InvalidLFN",
    "IsADirectory",
    "NoReplicaAvailable",
    "NoSpace",
    "NotADirectory",
    "NotFound",
    "NotPermitted",
    "PermissionDenied",
    "ReadOnly",
    "StorageUnavailable",
    "SymlinkLoop",
    "UnknownAttribute",
    "UnknownSE",
    "from_os_error",
]


class GridError(OSError):
    """Base of all gridfs errors; ``errno`` is fixed per class.

    ``str(error)`` is the message alone, fit for a one-line report; ``filename``
    holds the LFN, SURL or path the error is about, when there is one.
    """

    default_errno = _errno.EIO

    def __init__(
        self, message: str, filename: str | None = None, *, errno: int | None = None
    ) -> None:
        super().__init__(errno or self.default_errno, message)
        self.filename = filename

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[object, ...]:
        # OSError pickles its (errno, strerror) args; ours take (message, filename, errno=).
        return (_rebuild, (type(self), str(self.strerror), self.filename, self.errno))


def _rebuild(cls: type[GridError], message: str, filename: str | None, code: int) -> GridError:
    return cls(message, filename, errno=code)


class NotFound(GridError, FileNotFoundError):
    """No such LFN, GUID, replica or local file."""

    default_errno = _errno.ENOENT


class UnknownAttribute(NotFound):
    """A metadata attribute that is not in the schema of the entry's directory."""


class AlreadyExists(GridError, FileExistsError):
    """The LFN (or SURL) is taken."""

    default_errno = _errno.EEXIST


class NotADirectory(GridError, NotADirectoryError):
    """A path component, or the target of a directory call, is not a directory."""

    default_errno = _errno.ENOTDIR


class IsADirectory(GridError, IsADirectoryError):
    """A file operation was asked of a directory."""

    default_errno = _errno.EISDIR


class PermissionDenied(GridError, PermissionError):
    """The identity may not do this."""

    default_errno = _errno.EACCES


class NotPermitted(GridError, PermissionError):
    """Only the owner (or the superuser) may do this."""

    default_errno = _errno.EPERM


class DirectoryNotEmpty(GridError):
    """A directory to remove or replace still has entries."""

    default_errno = _errno.ENOTEMPTY


class ReadOnly(GridError):
    """A write on something that only reads: a read-only SE or mount."""

    default_errno = _errno.EROFS


class NoSpace(GridError):
    """The storage is full or over quota."""

    default_errno = _errno.ENOSPC


class SymlinkLoop(GridError):
    """Too many symbolic links (aliases) on the way to an LFN."""

    default_errno = _errno.ELOOP


class InvalidArgument(GridError, ValueError):
    """A malformed argument: the message says which and why."""

    default_errno = _errno.EINVAL


class InvalidLFN(InvalidArgument):
    """An LFN that is not absolute, not normalised, or too long."""


class ConfigError(InvalidArgument):
    """The configuration file is missing something or holds a bad value."""


class UnknownSE(InvalidArgument):
    """No storage element of that name is configured."""


class StorageUnavailable(GridError, ConnectionError):
    """A storage element could not be reached or failed mid-transfer.

    The errno says how: ECONNREFUSED (nothing listens), ETIMEDOUT, EHOSTUNREACH,
    EREMOTEIO (the server broke off), EPROTO (a TLS certificate that does not verify).
    """

    default_errno = _errno.EHOSTUNREACH


class ChecksumMismatch(GridError):
    """A copy's checksum differs from its source's or the catalog's."""


class NoReplicaAvailable(GridError):
    """No replica of a file could be opened; the message lists what was tried."""


class Cancelled(GridError):
    """A copy stopped because it was cancelled (Ctrl-C); what it had stored is undone."""

    default_errno = _errno.ECANCELED


_BY_ERRNO: dict[int, type[GridError]] = {
    _errno.ENOENT: NotFound,
    _errno.EEXIST: AlreadyExists,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: NotPermitted,
    _errno.ENOTEMPTY: DirectoryNotEmpty,
    _errno.ENOSPC: NoSpace,
    _errno.EDQUOT: NoSpace,
    _errno.EISDIR: IsADirectory,
    _errno.ENOTDIR: NotADirectory,
    _errno.EROFS: ReadOnly,
    _errno.ELOOP: SymlinkLoop,
}


def from_os_error(exc: OSError, subject: str) -> GridError:
    """The gridfs error for a local ``OSError`` about ``subject`` (a path or URL).

    The caller raises it ``from exc``; an errno without a class of its own
    becomes a plain :class:`GridError` (EIO) that keeps the system's message,
    but for a size beyond the local filesystem's limit, which stays EFBIG (as
    truncate(2) says it).
    """
    if isinstance(exc, GridError):
        return exc
    message = f"{subject}: {exc.strerror or exc}"
    if exc.errno == _errno.EFBIG:
        return GridError(message, subject, errno=_errno.EFBIG)
    return _BY_ERRNO.get(exc.errno or 0, GridError)(message, subject)
