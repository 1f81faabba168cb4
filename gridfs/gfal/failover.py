"""Reading a file from its replicas in turn: when one fails, the next goes on at the same offset."""

from __future__ import annotations

import errno
import itertools
import logging
import threading
from collections.abc import Callable, Generator, Sequence
from typing import TypeVar

from gridfs.catalog import Replica
from gridfs.errors import GridError, NoReplicaAvailable, StorageUnavailable
from gridfs.gfal.policy import Candidate
from gridfs.gfal.readcheck import Corrupt, ReadCheck
from gridfs.storage import RangeReader, clamp_ranges

__all__ = ["FailoverReader"]

log = logging.getLogger(__name__)

T = TypeVar("T")

OpenCandidate = Callable[[Candidate], tuple[RangeReader, str]]


class FailoverReader(RangeReader):
    """One logical file over its ranked replicas.

    ``open_candidate`` opens a replica (and raises a :class:`GridError` saying
    why it will not do); ``on_failure`` hears of every replica that failed.
    A read that fails on the current replica is retried on the next one, at
    the same offset, without the caller seeing an error; only when every
    replica has failed does :class:`NoReplicaAvailable` name them all. A
    replica whose bytes a reader found wrong is handed to :meth:`reject`:
    ``on_corrupt`` hears of it (to mark it bad) and reads go on from the next.
    """

    def __init__(
        self,
        name: object,
        candidates: Sequence[Candidate],
        failures: list[str],
        open_candidate: OpenCandidate,
        on_failure: Callable[[Candidate, GridError], None],
        *,
        on_corrupt: Callable[[Replica, str], object] | None = None,
    ) -> None:
        self._lfn = name  # asked for its text only when a message is made
        self._pending = list(candidates)
        self._replicas = {c.replica.surl: c.replica for c in candidates}
        self._failures = failures
        self._errnos: list[int | None] = [None] * len(failures)  # connection errno per failure
        self._open_candidate = open_candidate
        self._on_failure = on_failure
        self._on_corrupt = on_corrupt
        self._exhausted: NoReplicaAvailable | None = None  # every replica failed or was rejected
        self._lock = threading.Lock()  # one switch at a time; reads run in parallel
        self._closed = False
        self._retired: list[RangeReader] = []  # failed readers, closed with this one
        self._reader, self._candidate, self.turl = self._next()
        self.size = self._reader.size

    @property
    def local_path(self) -> str | None:  # type: ignore[override]  # follows the current replica
        """The current replica's file on this machine, if it is one."""
        return self._reader.local_path if self._exhausted is None else None

    @property
    def replica(self) -> Replica:
        """The replica serving reads now."""
        return self._candidate.replica

    def __str__(self) -> str:
        return str(self._lfn)

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
        # When every replica failed the same way (the one SE refuses connections,
        # say), that errno says more than EIO.
        reasons = set(self._errnos)
        code = reasons.pop() if len(reasons) == 1 else NoReplicaAvailable.default_errno
        raise NoReplicaAvailable(f"no replica of {name} could be read: {tried}", name, errno=code)

    def _fail(self, candidate: Candidate, error: GridError) -> None:
        self._on_failure(candidate, error)
        # EAGAIN (on tape, not staged) is no fault of the replica's: worth no warning.
        level = logging.INFO if error.errno == errno.EAGAIN else logging.WARNING
        log.log(level, "%s: replica %s failed: %s", self._lfn, candidate.replica.surl, error)
        self._failures.append(f"{candidate.replica.surl} ({error})")
        self._errnos.append(error.errno if isinstance(error, StorageUnavailable) else None)

    def readinto(self, offset: int, buffer: memoryview) -> int:
        return self.readinto_from(offset, buffer)[0]

    def readinto_from(self, offset: int, buffer: memoryview) -> tuple[int, str]:
        """Like :meth:`readinto`, and the SURL of the replica that served the bytes."""
        return self._failing_over(lambda reader: reader.readinto(offset, buffer), offset)

    def pread(self, offset: int, size: int) -> bytes:
        return self.pread_from(offset, size)[0]

    def pread_from(self, offset: int, size: int) -> tuple[bytes, str]:
        """Like :meth:`pread`, and the SURL of the replica that served the bytes.

        One replica serves them all: the backend's own pread, which spares a
        copy where its client hands over bytes (XRootD).
        """
        return self._failing_over(lambda reader: reader.pread(offset, size), offset)

    def readv(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The bytes of each ``(offset, size)`` (see :meth:`RangeReader.readv`), failing over.

        All of them come from one replica: one that fails hands the whole
        vector to the next.
        """
        wanted = clamp_ranges(ranges, self.size)  # a bad range is the caller's, no replica's
        if not wanted:
            return []
        return self._failing_over(lambda reader: reader.readv(wanted), wanted[0][0])[0]

    def _failing_over(self, call: Callable[[RangeReader], T], offset: int) -> tuple[T, str]:
        """``call`` on the current replica's reader, then on the next ones while it fails."""
        while True:
            with self._lock:
                if self._closed:
                    raise ValueError("read from a closed replica")
                if self._exhausted is not None:
                    raise self._exhausted
                reader, candidate = self._reader, self._candidate
            try:
                return call(reader), candidate.replica.surl
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

    def checked_chunks(
        self, check: ReadCheck, size: int = 1 << 20, *, buffers: int = 1
    ) -> Generator[memoryview, None, None]:
        """The bytes in order, as :meth:`chunks` gives them, checked by ``check`` on the way.

        The chunks take turns in ``buffers`` buffers: each stays as it is while
        the next ``buffers - 1`` are read (for :func:`~gridfs.gfal.readahead.read_ahead`).
        If they are wrong, :class:`Corrupt` comes instead of the last chunk,
        after the replica that served them all (if one did) is rejected: read
        again from the start, from the next replica.
        """
        ring = [memoryview(bytearray(size)) for _ in range(buffers)]
        offset = 0
        for turn in itertools.count():
            buffer = ring[turn % buffers]
            count, surl = self.readinto_from(offset, buffer)
            if count == 0:
                return
            try:
                check.update(offset, buffer[:count], surl)
            except Corrupt as exc:
                if exc.source is not None:
                    self.reject(exc.source, exc)
                raise
            offset += count
            yield buffer[:count]

    def reject(self, surl: str, error: GridError) -> None:
        """Replica ``surl`` handed out wrong bytes (``error`` says how): never read it again.

        ``on_corrupt`` hears of it; if it serves reads now, the next replica
        takes over (when none is left, reads raise :class:`NoReplicaAvailable`).
        """
        replica = self._replicas.get(surl)
        if replica is None:
            raise ValueError(f"{surl} is no replica this reader reads")
        with self._lock:
            self._pending = [c for c in self._pending if c.replica.surl != surl]
            current = not self._closed and self._exhausted is None
            if current and self._candidate.replica.surl == surl:
                self._failures.append(f"{surl} ({error})")
                self._errnos.append(None)
                self._retired.append(self._reader)
                try:
                    self._reader, self._candidate, self.turl = self._next()
                except NoReplicaAvailable as exc:
                    self._exhausted = exc
            if self._exhausted is None:
                log.warning("%s: %s; going on from %s", self._lfn, error, self.turl)
            else:  # the error the reader meets says it all
                log.info("%s: %s; no replica is left", self._lfn, error)
        if self._on_corrupt is not None:
            try:
                self._on_corrupt(replica, str(error))
            except GridError as exc:  # the read fails anyway; the replica stays as it is
                log.warning("could not mark replica %s bad: %s", surl, exc)

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
