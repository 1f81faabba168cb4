"""Files on tape in the mount: one stage per file however many opens, and the wait for it.

Opening a file whose replicas are all NEARLINE requests a stage (gfal's
``Grid.bring_online``) and fails with EAGAIN; the mount then waits for the
stage up to ``stage_timeout`` and opens again, or with ``stage_eagain``
answers EAGAIN at once and lets the stage go on (``user.status`` shows it).
The wait polls in the trio loop, so a long recall holds no worker thread.
"""

from __future__ import annotations

import errno
import logging
import threading
from typing import TYPE_CHECKING, NoReturn

import trio

from gridfs.errors import GridError, NoReplicaAvailable
from gridfs.gfal import EntryId, Locality, Nodes, RequestState

if TYPE_CHECKING:
    from gridfs.gfal import StageRequest

__all__ = ["Stages", "is_staging"]

log = logging.getLogger(__name__)

_POLL_S = 0.1


def is_staging(error: BaseException) -> bool:
    """Whether an open failed because its file is being staged (EAGAIN)."""
    return isinstance(error, GridError) and error.errno == errno.EAGAIN


class Stages:
    """The stage requests of the mount's files on tape, by entry id. Thread-safe."""

    def __init__(self, pin_lifetime_s: float) -> None:
        self._pin = pin_lifetime_s
        self._requests: dict[EntryId, StageRequest] = {}
        self._lock = threading.Lock()

    def after_failed_open(
        self, nodes: Nodes, entry_id: EntryId, failure: NoReplicaAvailable
    ) -> NoReturn:
        """An open found no readable replica: stage the file if it is on tape, raising EAGAIN.

        Re-raises ``failure`` when the file is not on tape. Call it in a worker thread.
        """
        lfn = nodes.lfn(entry_id)
        if Locality.NEARLINE not in nodes.grid.locality(lfn).values():
            raise failure
        with self._lock:
            request = self._requests.get(entry_id)
            if request is None or request.state is not RequestState.QUEUED:
                # Also when a copy counts as online: it could not be read just now.
                request = nodes.grid.bring_online(lfn, self._pin, even_if_online=True)
                if request is None:
                    raise failure
                log.info("%s is on tape: staging it (request %d)", lfn, request.id)
                self._requests[entry_id] = request
        raise GridError(f"{lfn} is on tape, being staged", lfn, errno=errno.EAGAIN) from failure

    def opened(self, entry_id: EntryId) -> None:
        """The file opened: its stage, if any, is done with."""
        with self._lock:
            self._requests.pop(entry_id, None)

    async def wait(self, entry_id: EntryId, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the file's stage; raises if the stage failed."""
        request = self._requests.get(entry_id)
        with trio.move_on_after(timeout_s):
            while request is not None and request.state is RequestState.QUEUED:
                await trio.sleep(_POLL_S)
                request = self._requests.get(entry_id)
        if request is not None and request.state not in (RequestState.QUEUED, RequestState.DONE):
            self.opened(entry_id)
            raise GridError(f"staging failed ({request.state}): {request.error}")
