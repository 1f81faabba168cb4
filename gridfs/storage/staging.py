"""SRM-style staging for nearline (tape-backed) storage elements.

A nearline SE keeps every replica in its tape area; a replica can be read only
once it is staged (recalled) into the SE's disk area, which takes the SE's
``stage_delay_s`` and is done by the stager in a worker thread: a real copy,
tape to disk. A staged copy is pinned for a lifetime; released (or expired),
it may be evicted. Locality is read from what is where and never stages.
Both areas are local or NFS directories here (``file://``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from gridfs.errors import GridError, InvalidArgument, NotFound, from_os_error
from gridfs.storage.file_backend import FILE_MODE, make_private_dirs, turl_to_path
from gridfs.storage.resolve import resolve_turl
from gridfs.storage.se import StorageElement

__all__ = ["Locality", "RequestState", "StageRequest", "Stager"]

log = logging.getLogger(__name__)

_PINS = ".pins"  # in the disk area: one file per pinned replica, holding its expiry


class Locality(StrEnum):
    """Where a replica is, as SRM reports it."""

    ONLINE = "ONLINE"
    NEARLINE = "NEARLINE"
    ONLINE_AND_NEARLINE = "ONLINE_AND_NEARLINE"
    UNAVAILABLE = "UNAVAILABLE"


class RequestState(StrEnum):
    """The state of a bring-online request."""

    QUEUED = "QUEUED"
    DONE = "DONE"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


@dataclass
class StageRequest:
    """A bring-online request: poll ``state``, or ``wait()`` for it."""

    id: int
    surls: tuple[str, ...]
    pin_lifetime_s: float
    state: RequestState = RequestState.QUEUED
    error: str | None = None
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)
    _abort: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout_s: float | None = None) -> RequestState:
        """Wait until the request is finished (or ``timeout_s`` passed); returns the state."""
        self._finished.wait(timeout_s)
        return self.state


def _paths(se: StorageElement, surl: str) -> tuple[Path, Path]:
    """The disk-area and tape-area paths of ``surl`` on nearline SE ``se``."""
    if se.tape is None:
        raise InvalidArgument(f"storage element {se.name} is not nearline", surl)
    disk = Path(turl_to_path(resolve_turl(surl, se, ["file"])))
    relative = surl[len(se.surl_prefix.rstrip("/")) + 1 :]
    return disk, Path(turl_to_path(se.tape)) / relative


def _pin_path(se: StorageElement, surl: str) -> Path:
    root = Path(turl_to_path(se.protocols["file"]))
    return root / _PINS / surl[len(se.surl_prefix.rstrip("/")) + 1 :]


def _copy(source: Path, target: Path) -> None:
    """Copy under a temporary name, then link into place: never a half copy, never over one."""
    make_private_dirs(target.parent)
    partial = target.with_name(f".{target.name}.stage-{os.getpid()}-{threading.get_ident()}")
    try:
        # Owner-only from the start, as every stored copy (see file_backend).
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        with open(fd, "wb") as stream, source.open("rb") as original:
            os.fchmod(fd, FILE_MODE)
            shutil.copyfileobj(original, stream)
            stream.flush()
            os.fsync(fd)
        with contextlib.suppress(FileExistsError):  # staged meanwhile by another request
            os.link(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


class Stager:
    """Locality, migration to tape, bring-online with pins, release and abort."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # pins are read and rewritten

    def locality(self, se: StorageElement, surl: str) -> Locality:
        """Where ``surl`` is; only looks, never stages."""
        if not se.nearline:
            return Locality.ONLINE
        disk, tape = _paths(se, surl)
        on_disk, on_tape = disk.is_file(), tape.is_file()
        if on_tape:
            return Locality.ONLINE_AND_NEARLINE if on_disk else Locality.NEARLINE
        return Locality.ONLINE if on_disk else Locality.UNAVAILABLE

    def holds(self, se: StorageElement, surl: str) -> bool:
        """Whether nearline ``se`` holds ``surl``, on tape or on disk; never stages.

        False only when both areas answer that it is absent. Unlike
        :meth:`locality`, which reads what it cannot see as UNAVAILABLE, a look
        that fails (an area not there, as an unmounted tape library's, or not
        readable) raises: callers that remove what is absent must not take
        "cannot see" for "gone".
        """
        disk, tape = _paths(se, surl)
        for area in (se.protocols["file"], se.tape):
            assert area is not None  # _paths has refused an SE without a tape area
            if not Path(turl_to_path(area)).is_dir():
                raise GridError(f"cannot look in {se.name}'s area {area}: not there", surl)
        for path in (tape, disk):
            try:
                path.stat()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise from_os_error(exc, str(path)) from exc
            return True
        return False

    def migrate(self, se: StorageElement, surl: str) -> None:
        """Copy a new replica from the disk area to tape (the SE's migration)."""
        disk, tape = _paths(se, surl)
        try:
            _copy(disk, tape)
        except OSError as exc:
            raise from_os_error(exc, str(tape)) from exc
        if tape.stat().st_size != disk.stat().st_size:
            raise GridError(f"migration of {surl} to tape is incomplete", surl)

    def bring_online(
        self, se: StorageElement, surls: tuple[str, ...], pin_lifetime_s: float
    ) -> StageRequest:
        """Start recalling ``surls`` from tape; each is pinned for ``pin_lifetime_s``."""
        for surl in surls:
            if self.locality(se, surl) is Locality.UNAVAILABLE:
                raise NotFound(f"{surl} is neither on tape nor on disk of {se.name}", surl)
        self.evict_expired(se)  # the disk buffer makes room as recalls come in
        request = StageRequest(next(self._ids), surls, pin_lifetime_s)
        worker = threading.Thread(
            target=self._stage, args=(se, request), name=f"stage-{request.id}", daemon=True
        )
        worker.start()
        return request

    def _stage(self, se: StorageElement, request: StageRequest) -> None:
        try:
            # The tape mount and positioning: a request can still be aborted meanwhile.
            if request._abort.wait(se.stage_delay_s):
                request.state = RequestState.ABORTED
                return
            for surl in request.surls:
                disk, tape = _paths(se, surl)
                if not disk.is_file():
                    _copy(tape, disk)
                self._pin(se, surl, request.pin_lifetime_s)
            request.state = RequestState.DONE
            log.info("staged %d file(s) on %s", len(request.surls), se.name)
        except Exception as exc:  # reported through the request, as SRM does
            request.state = RequestState.FAILED
            request.error = str(exc)
            log.warning("staging on %s failed: %s", se.name, exc)
        finally:
            request._finished.set()

    def _pin(self, se: StorageElement, surl: str, lifetime_s: float) -> None:
        pin = _pin_path(se, surl)
        make_private_dirs(pin.parent)
        with self._lock:
            expiry = time.time() + lifetime_s
            with contextlib.suppress(FileNotFoundError, ValueError):
                expiry = max(expiry, float(pin.read_text()))
            pin.write_text(f"{expiry}\n")

    def pinned_until(self, se: StorageElement, surl: str) -> float | None:
        """The pin expiry (epoch seconds) of a staged replica, if it is pinned."""
        with contextlib.suppress(FileNotFoundError, ValueError):
            return float(_pin_path(se, surl).read_text())
        return None

    def evict_expired(self, se: StorageElement) -> list[str]:
        """Evict the disk copies whose pins have expired (the tape copies stay); their SURLs."""
        pins = Path(turl_to_path(se.protocols["file"])) / _PINS
        evicted = []
        now = time.time()
        for pin in pins.rglob("*") if pins.is_dir() else ():
            if not pin.is_file():
                continue
            with contextlib.suppress(ValueError, FileNotFoundError):
                if float(pin.read_text()) > now:
                    continue
            surl = f"{se.surl_prefix.rstrip('/')}/{pin.relative_to(pins).as_posix()}"
            self.release(se, surl)
            evicted.append(surl)
        if evicted:
            log.info("evicted %d expired disk copies from %s", len(evicted), se.name)
        return evicted

    def abort(self, request: StageRequest) -> None:
        """Abort a request that has not finished staging."""
        request._abort.set()

    def purge(self, se: StorageElement, surl: str) -> None:
        """Delete a replica from the SE altogether: tape copy, disk copy and pin."""
        disk, tape = _paths(se, surl)
        for path in (tape, disk, _pin_path(se, surl)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise from_os_error(exc, str(path)) from exc

    def release(self, se: StorageElement, surl: str) -> None:
        """Unpin a staged replica and evict its disk copy (the tape copy stays)."""
        disk, tape = _paths(se, surl)
        with contextlib.suppress(FileNotFoundError):
            _pin_path(se, surl).unlink()
        if tape.is_file():  # never evict the only copy
            with contextlib.suppress(FileNotFoundError):
                disk.unlink()
