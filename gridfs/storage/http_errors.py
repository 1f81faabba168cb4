"""The one place where HTTP clients' errors and HTTP error statuses become gridfs errors.

The WebDAV backend speaks through two clients: httpx for WebDAV's verbs, and
the standard library's http.client for range reads
(:mod:`gridfs.storage.http_ranges`). Both map here, so a refused connection, a
timeout or a certificate that does not verify gets the same errno whichever
client met it.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import socket
import ssl
from collections.abc import Iterator

import httpx

from gridfs.errors import (
    AlreadyExists,
    GridError,
    IsADirectory,
    NoSpace,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
)

__all__ = ["mapped_errors", "raise_for_status"]

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


def raise_for_status(status: int, reason: str, turl: str, doing: str) -> None:
    """Raise the gridfs error of an HTTP error status; nothing below 400."""
    if status < 400:
        return
    message = f"{turl}: {doing}: HTTP {status} {reason}"
    if status in _STATUS_ERRORS:
        raise _STATUS_ERRORS[status](message, turl)
    if status >= 500:
        raise StorageUnavailable(message, turl, errno=errno.EREMOTEIO)
    raise GridError(message, turl)


# Most specific first: the errno and the words of each way of failing to reach a
# server; any other is the server breaking off mid-request, or answering garbage.
_UNREACHABLE: list[tuple[type[BaseException], int, str]] = [
    (socket.gaierror, errno.EHOSTUNREACH, "unknown host"),
    (ConnectionRefusedError, errno.ECONNREFUSED, "cannot connect"),
    (httpx.ConnectError, errno.ECONNREFUSED, "cannot connect"),
    (TimeoutError, errno.ETIMEDOUT, "timed out"),
    (httpx.TimeoutException, errno.ETIMEDOUT, "timed out"),
]


@contextlib.contextmanager
def mapped_errors(turl: str, doing: str) -> Iterator[None]:
    """Turn httpx's, http.client's and the socket's errors into gridfs errors with honest errnos.

    Raises :class:`StorageUnavailable` with ECONNREFUSED (nothing listens),
    ETIMEDOUT, EHOSTUNREACH (an unknown host), EPROTO (a TLS certificate that
    does not verify) or EREMOTEIO (the server broke off, or answered garbage).
    """
    try:
        yield
    except GridError:
        raise
    except httpx.StreamConsumed as exc:
        # A redirected upload (dCache and EOS send one to a pool node) would need
        # the body again; a stream cannot give it twice.
        raise GridError(
            f"{turl}: {doing}: the server redirected a streamed upload; "
            "give the TURL of the node that stores the data",
            turl,
        ) from exc
    except (OSError, http.client.HTTPException, httpx.TransportError) as exc:
        code, words = _unreachable(exc)
        raise StorageUnavailable(f"{turl}: {doing}: {words} ({exc})", turl, errno=code) from exc
    except (httpx.HTTPError, httpx.StreamError) as exc:  # redirect loops, bad encodings...
        raise GridError(f"{turl}: {doing}: {exc}", turl) from exc


def _unreachable(exc: BaseException) -> tuple[int, str]:
    """The errno and words of a failure to reach a server or to hear it out."""
    # httpx wraps the socket's error: a refused connection, an unknown host and
    # a certificate that does not verify are all ConnectErrors, told by their cause.
    cause = exc.__context__ if isinstance(exc, httpx.ConnectError) else exc
    if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY" in str(exc):
        return errno.EPROTO, "the server's TLS certificate does not verify"
    for kind, code, words in _UNREACHABLE:
        if isinstance(cause, kind) or isinstance(exc, kind):
            return code, words
    return errno.EREMOTEIO, "the server broke off"
