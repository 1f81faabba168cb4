"""Reading a file from its replicas in turn: when one fails, the next goes on at the same offset."""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Sequence

from gridfs.catalog import Replica
from gridfs.errors import GridError, NoReplicaAvailable
from gridfs.gfal.policy import Candidate
from gridfs.storage import RangeReader

__all__ = ["FailoverReader"]

log = logging.getLogger(__name__)

OpenCandidate = Callable[[Candidate], tuple[RangeReader, str]]


class FailoverReader(RangeReader):
    """One logical file over its ranked replicas.

    ``open_candidate`` opens a replica (and raises a :class:`GridError` saying
    why it will not do); ``on_failure`` hears of every replica that failed.
    A read that fails on the current replica is retried on the next one, at
    the same offset, without the caller seeing an error; only when every
    replica has failed does :class:`NoReplicaAvailable` name them all.
    """

    def __init__(
        self,
        name: object,
        candidates: Sequence[Candidate],
        failures: list[str],
        open_candidate: OpenCandidate,
        on_failure: Callable[[Candidate, GridError], None],
    ) -> None:
        self._lfn = name  # asked for its text only when a message is made
        self._pending = list(candidates)
        self._failures = failures
        self._open_candidate = open_candidate
        self._on_failure = on_failure
        self._lock = threading.Lock()  # one switch at a time; reads run in parallel
        self._closed = False
        self._retired: list[RangeReader] = []  # failed readers, closed with this one
        self._reader, self._candidate, self.turl = self._next()
        self.size = self._reader.size

    @property
    def local_path(self) -> str | None:  # type: ignore[override]  # follows the current replica
        """The current replica's file on this machine, if it is one."""
        return self._reader.local_path

    @property
    def replica(self) -> Replica:
        """The replica serving reads now."""
        return self._candidate.replica

    def _next(self) -> tuple[RangeReader, Candidate, str]:
        while self._pending:
            candidate = self._pending.pop(0)
            try:
                reader, turl = self._open_candidate(candidate)
            except GridError as exc:
                self._fail(candidate, exc)
                continue
            log.debug("%s: reading replica %s", self._lfn, turl)
            return reader, candidate, turl
        tried = "; ".join(self._failures) if self._failures else "it has no replicas"
        name = str(self._lfn)
        raise NoReplicaAvailable(f"no replica of {name} could be read: {tried}", name)

    def _fail(self, candidate: Candidate, error: GridError) -> None:
        self._on_failure(candidate, error)
        # EAGAIN (on tape, not staged) is no fault of the replica's: worth no warning.
        level = logging.INFO if error.errno == errno.EAGAIN else logging.WARNING
        log.log(level, "%s: replica %s failed: %s", self._lfn, candidate.replica.surl, error)
        self._failures.append(f"{candidate.replica.surl} ({error})")

    def readinto(self, offset: int, buffer: memoryview) -> int:
        while True:
            with self._lock:
                if self._closed:
                    raise ValueError("read from a closed replica")
                reader, candidate = self._reader, self._candidate
            try:
                return reader.readinto(offset, buffer)
            except GridError as exc:
                with self._lock:
                    if self._closed:
                        raise
                    if self._candidate is candidate:  # not switched by another thread yet
                        self._fail(candidate, exc)
                        # Closed with the others: reads in flight may still use it.
                        self._retired.append(reader)
                        self._reader, self._candidate, self.turl = self._next()
                        log.info("%s: going on from %s at offset %d", self._lfn, self.turl, offset)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            readers = [self._reader, *self._retired]
        for reader in readers:
            try:
                reader.close()
            except GridError as exc:
                log.info("closing a replica of %s: %s", self._lfn, exc)
