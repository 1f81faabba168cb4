"""The catalog service as each local caller of a shared mount: with that caller's own credential.

A mount with ``allow_other`` over ``gridfs serve`` must never lend the
mounting user's rights to another local user. Each caller's requests go to
the service with the credential file of its own uid
(:func:`~gridfs.service.credentials.caller_file`); a caller without one, or
with one that others may read, is refused (EACCES). A client is kept per uid
and made again when the file changes (a refreshed token, a new proxy).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from gridfs.catalog import Identity
from gridfs.errors import PermissionDenied
from gridfs.service.client import RemoteCatalog, RemoteMetadata, open_service
from gridfs.service.credentials import CALLER_PLACES, CallerFile, caller_credential, caller_file

__all__ = ["CallerServices"]

log = logging.getLogger(__name__)

# Not sent: the server decides who the caller is; open_service only logs the difference.
_UNKNOWN = Identity("nobody", ("nogroup",))


@dataclass(frozen=True)
class _Opened:
    stamp: tuple[int, int, int, int]
    catalog: RemoteCatalog
    metadata: RemoteMetadata


class CallerServices:
    """The service at ``url`` as each local uid's own credential proves it; thread-safe."""

    def __init__(self, url: str, *, places: tuple[str, ...] = CALLER_PLACES) -> None:
        self._url = url
        self._places = places
        self._opened: dict[int, _Opened] = {}
        # A replaced client may still carry a call in flight: it is closed one change later.
        self._retired: dict[int, _Opened] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    def of(self, uid: int) -> tuple[RemoteCatalog, RemoteMetadata]:
        """The catalog and metadata acting as local user ``uid`` says with its credential file.

        Raises :class:`PermissionDenied` (EACCES) when ``uid`` has no usable credential
        or the server refuses it.
        """
        found = caller_file(uid, self._places)
        if found is None:
            where = ", ".join(place.format(uid=uid) for place in self._places)
            raise PermissionDenied(f"uid {uid} has no credential for the catalog ({where})")
        opened = self._opened.get(uid)
        if opened is None or opened.stamp != found.stamp:
            with self._lock_of(uid):
                opened = self._opened.get(uid)
                if opened is None or opened.stamp != found.stamp:
                    opened = self._open(found)
        return opened.catalog, opened.metadata

    def _lock_of(self, uid: int) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(uid, threading.Lock())

    def _open(self, found: CallerFile) -> _Opened:
        uid = found.uid
        with caller_credential(found) as credential:
            catalog, metadata = open_service(self._url, _UNKNOWN, credential=credential)
        opened = _Opened(found.stamp, catalog, metadata)
        with self._lock:
            previous = self._opened.get(uid)
            self._opened[uid] = opened
            if previous is not None:
                older = self._retired.pop(uid, None)
                self._retired[uid] = previous
                if older is not None:
                    older.catalog.close()
        log.info("uid %d acts as grid user %s (%s)", uid, catalog.identity.user, found.path)
        return opened

    def close(self) -> None:
        """Close every caller's connections."""
        with self._lock:
            for opened in [*self._opened.values(), *self._retired.values()]:
                opened.catalog.close()
            self._opened.clear()
            self._retired.clear()
