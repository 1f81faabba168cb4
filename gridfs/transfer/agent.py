"""The transfer agent (``gridfs transfer agent``): claims files, copies them, records it all.

An agent leases files from the queue (:meth:`TransferStore.claim`), copies
each through the one verified replication path (:meth:`Grid.rep`: the source
ranked as seen from the destination, read with failover, the copy's adler32
checked against the catalog's before it is registered, deleted on any
failure) acting as the job's submitter, and records every attempt. Any
number of agents run against one database, on any hosts that reach it and
the SEs.

What keeps a file from being lost, copied twice or left as dark data:

- The destination SURL is recorded *before* a byte is written. An agent
  that takes over a file whose lease ran out (its agent died) finds it
  there: registered, the file is finished; not registered, it is registered
  STALE (the agent it was, if it only stalled, can no longer register it),
  then the copy and any partial upload of it are deleted before the file is
  copied again. The STALE entry (a tombstone) is swept after ``tombstone_s``;
  an agent that registers a copy after losing its lease checks, when it
  ends, that the copy is still stored, and unregisters it if not.
- A heartbeat renews the agent's leases every third of their length. A file
  that is canceled, or that another agent took over, drops out of the
  renewal: its copy is stopped at the next chunk and undone.
- Just before registering, the lease is checked and extended (a fence), and
  a replica on the destination that appeared meanwhile stops the copy
  (undone, the file NOT_USED): never a second replica on one SE.
- Sources on tape are brought online first (the files are STAGING, using no
  stream of their link), in one request per tape SE for the files claimed
  together; once online they are queued again and copied as any other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import secrets
import socket
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gridfs.catalog import Identity, Replica, ReplicaStatus
from gridfs.errors import (
    AlreadyExists,
    Cancelled,
    ChecksumMismatch,
    GridError,
    NoReplicaAvailable,
    NotFound,
)
from gridfs.gfal import Grid
from gridfs.gfal.cancel import CancelToken
from gridfs.gfal.replicas import current_replicas
from gridfs.storage import (
    DEFAULT_CHECKSUM,
    Locality,
    RequestState,
    StageRequest,
    StorageElement,
    is_partial_upload,
    resolve_turl,
)
from gridfs.transfer.records import AttemptRecord, Claim, Tombstone
from gridfs.transfer.retries import classify
from gridfs.transfer.settings import TransferSettings
from gridfs.transfer.states import FileState
from gridfs.transfer.store import TransferStore

__all__ = ["Agent", "AgentSummary"]

log = logging.getLogger(__name__)


class _LeaseLost(Cancelled):
    """The file was canceled or taken over: this agent must stop and change nothing more."""


class _Appeared(AlreadyExists):
    """A replica on the destination SE appeared while the copy was made."""


@dataclass
class AgentSummary:
    """What one run of an agent did, per final state of the files it ended."""

    ended: dict[FileState, int] = field(default_factory=lambda: defaultdict(int))
    attempts: int = 0
    bytes: int = 0


@dataclass
class _Work:
    claim: Claim
    token: CancelToken = field(default_factory=CancelToken)
    started: float = field(default_factory=time.time)
    source_surl: str | None = None
    dest_surl: str | None = None
    staging: bool = False
    deciding: bool = True  # not yet known whether its source must be staged first


@dataclass
class _Stage:
    request: StageRequest
    works: list[_Work]


class Agent:
    """One transfer agent: a pool of copy threads, a heartbeat, and the claim loop.

    ``grid`` provides the SEs and the catalog (each copy runs as the job's
    submitter on it); ``store`` is the queue.
    """

    def __init__(
        self,
        grid: Grid,
        store: TransferStore,
        settings: TransferSettings | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.grid = grid
        self.store = store
        self.settings = settings or TransferSettings()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.summary = AgentSummary()
        self._lock = threading.Lock()
        self._works: dict[int, _Work] = {}  # every file leased to this agent
        self._staging: list[_Stage] = []
        self._to_stage: list[tuple[_Work, StorageElement, str]] = []
        self._grids: dict[tuple[str, tuple[str, ...]], Grid] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._next_cleanup = 0.0  # monotonic time of the next look for copies left behind

    def stop(self) -> None:
        """Ask :meth:`run` to end: copies in progress are stopped and given back to the queue."""
        self._stop.set()
        self._wake.set()

    def run(self, *, until_idle: bool = False) -> AgentSummary:
        """Work until :meth:`stop` (or, ``until_idle``, until no file is left to do anywhere)."""
        log.info("transfer agent %s started (%d slots)", self.name, self.settings.slots)
        heartbeat = threading.Thread(target=self._heartbeat, name="transfer-heartbeat", daemon=True)
        heartbeat.start()
        with ThreadPoolExecutor(self.settings.slots, thread_name_prefix="transfer") as pool:
            try:
                self._loop(pool, until_idle)
            finally:
                self._stop.set()
                with self._lock:
                    for work in self._works.values():
                        work.token.cancel()
                    for stage in self._staging:
                        self.grid.storage.abort(stage.request)
                pool.shutdown(wait=True)
                self._give_back_staging()
        heartbeat.join()
        return self.summary

    def _loop(self, pool: ThreadPoolExecutor, until_idle: bool) -> None:
        while not self._stop.is_set():
            self.store.optimize(self.settings)
            self._housekeeping()
            self._stage_batches()
            self._start_staged()
            with self._lock:
                staging = sum(1 for w in self._works.values() if w.staging)
                copying = len(self._works) - staging
            # Files staging take no copy slot, up to a batch's worth of them.
            free = self.settings.slots - copying if staging < self.settings.stage_batch else 0
            claims = self.store.claim(self.name, free, self.settings)
            for claim in claims:
                work = _Work(claim)
                with self._lock:
                    self._works[claim.id] = work
                pool.submit(self._run_one, work)
            with self._lock:
                busy = bool(self._works)
            if until_idle and not busy and not claims and self.store.pending() == 0:
                return
            if not claims:
                self._wake.wait(0.2 if busy else self.settings.poll_s)
                self._wake.clear()

    # -- leases ------------------------------------------------------------------

    def _heartbeat(self) -> None:
        every = self.settings.lease_s / 3
        while not self._stop.wait(every):
            with self._lock:
                ids = set(self._works)
            if not ids:
                continue
            try:
                kept = self.store.renew(self.name, ids, self.settings.lease_s)
            except GridError as exc:  # the database is away: the leases may run out
                log.warning("could not renew the leases of %d files: %s", len(ids), exc)
                continue
            with self._lock:
                for file_id in ids - kept:
                    work = self._works.get(file_id)
                    if work is not None:
                        log.info("%s: canceled or taken over: stopping", work.claim.lfn)
                        work.token.cancel()

    # -- one file ----------------------------------------------------------------

    def _grid_for(self, claim: Claim) -> Grid:
        """The grid acting as the job's submitter (with the submitter's permissions)."""
        return self._grid_for_identity(Identity(claim.submitter, claim.groups or ("nogroup",)))

    def _grid_for_identity(self, identity: Identity) -> Grid:
        key = (identity.user, tuple(identity.groups))
        with self._lock:
            grid = self._grids.get(key)
            if grid is None:
                grid = self._grids[key] = self.grid.as_identity(identity)
            return grid

    def _run_one(self, work: _Work) -> None:
        """Copy one claimed file, and record how it went (never raises)."""
        claim = work.claim
        retry_at, leftover = None, None
        try:
            state, attempt = self._copy(work)
        except Exception as exc:  # every failure is recorded, with its reason
            state, attempt, retry_at = self._failed(work, exc)
            leftover = self._undo(work)
        if state is FileState.STAGING:
            return  # the staging request holds the work now
        with self._lock:
            self._works.pop(claim.id, None)
        try:
            ended = self.store.finish(
                claim, self.name, attempt, state, retry_at=retry_at, leftover=leftover
            )
        except GridError as exc:  # the lease runs out and another agent finds the file
            log.warning("could not record the end of %s: %s", claim.lfn, exc)
            return
        if not ended and state is FileState.FINISHED and attempt.dest_surl is not None:
            self._registered_late(work, attempt.dest_surl)
        with self._lock:
            self.summary.attempts += 1
            if state is not FileState.SUBMITTED:
                self.summary.ended[state] += 1
            if state is FileState.FINISHED:
                self.summary.bytes += attempt.bytes
        self._wake.set()

    def _registered_late(self, work: _Work, surl: str) -> None:
        """A copy registered after its lease was lost: unregistered if its object is gone.

        The agent stalled past its fence; whoever took the file over deleted
        the copy as left behind, and its tombstone, swept since, no longer
        kept the SURL from being registered. A copy still stored stays: the
        successor found it registered, and finished the file with it.
        """
        grid = self._grid_for(work.claim)
        try:
            if self._stored(grid, work.claim.dest_se, surl):
                return
            grid.catalog.remove_replica(work.claim.guid, surl)
        except GridError as exc:
            log.warning(
                "%s: registered %s late, and cannot check it: %s", work.claim.lfn, surl, exc
            )
            return
        log.warning(
            "%s: registered %s after losing the lease, its copy deleted meanwhile: unregistered",
            work.claim.lfn,
            surl,
        )

    def _undo(self, work: _Work) -> str | None:
        """After a failure: the copy the attempt may have left, if it cannot be deleted now.

        :meth:`Grid.rep` deletes its copy on failure, but not when the SE is
        down by then, and a partial upload may stay with it; they are tried
        again here, and what still cannot go is handed on (never registered:
        a failed attempt registers nothing).
        """
        if work.dest_surl is None:
            return None
        try:
            self._remove_unregistered(
                self._grid_for(work.claim), work.claim.dest_se, work.dest_surl
            )
        except GridError as exc:
            log.info("%s stays for the next attempt to delete: %s", work.dest_surl, exc)
            return work.dest_surl
        return None

    def _failed(
        self, work: _Work, error: Exception
    ) -> tuple[FileState, AttemptRecord, float | None]:
        claim = work.claim
        if self._stop.is_set() and isinstance(error, Cancelled):
            # Stopped, not failed: the file goes back to the queue at once.
            return (
                FileState.SUBMITTED,
                self._attempt(work, reason="the agent stopped", recoverable=True),
                time.time(),
            )
        outcome = classify(error)
        attempt = self._attempt(
            work, reason=outcome.reason, errno=outcome.errno, recoverable=outcome.recoverable
        )
        if outcome.recoverable and claim.attempts < claim.max_attempts:
            delay = self.settings.backoff.delay(claim.attempts)
            log.info("%s failed (%s); again in %.0f s", claim.lfn, outcome.reason, delay)
            return FileState.SUBMITTED, attempt, time.time() + delay
        log.warning("%s to %s failed: %s", claim.lfn, claim.dest_se, outcome.reason)
        return FileState.FAILED, attempt, None

    @staticmethod
    def _attempt(
        work: _Work,
        *,
        ok: bool = False,
        size: int = 0,
        recoverable: bool = False,
        reason: str | None = None,
        errno: int | None = None,
    ) -> AttemptRecord:
        return AttemptRecord(
            started=work.started,
            source_surl=work.source_surl,
            dest_surl=work.dest_surl,
            bytes=size,
            ok=ok,
            recoverable=recoverable,
            reason=reason,
            errno=errno,
        )

    def _copy(self, work: _Work) -> tuple[FileState, AttemptRecord]:
        claim = work.claim
        grid = self._grid_for(claim)
        if claim.left_surl is not None:
            work.dest_surl = claim.left_surl  # handed on again if it cannot be deleted now
            if self._left_registered(grid, claim):
                return FileState.FINISHED, self._attempt(
                    work, ok=True, reason=f"registered by {claim.left_by} before it ended"
                )
            work.dest_surl = None
        if claim.attempts > claim.max_attempts:
            return FileState.FAILED, self._attempt(
                work,
                reason=f"gave up after {claim.max_attempts} attempts (the last agent, "
                f"{claim.left_by}, died or lost its lease)",
            )
        entry, replicas = grid.catalog.stat_replicas(claim.lfn)
        if entry.guid != claim.guid:
            raise NotFound(f"{claim.lfn} names another file now (it was renamed)", claim.lfn)
        current = current_replicas(replicas)
        if any(r.se == claim.dest_se for r in current):
            return FileState.NOT_USED, self._attempt(
                work, ok=True, reason=f"a replica on {claim.dest_se} is registered already"
            )
        storage = grid.storage
        dest = storage.ses.get(claim.dest_se)
        ranked = storage.rank(current, near=dest)
        if not ranked:
            raise NoReplicaAvailable(f"no readable replica of {claim.lfn}", claim.lfn)
        places = {c.replica.surl: storage.locality(c.replica) for c in ranked}
        if all(places[c.replica.surl] is Locality.NEARLINE for c in ranked):
            best = ranked[0]
            work.source_surl = best.replica.surl
            if not self.store.staging(claim.id, self.name, best.replica.surl):
                raise _LeaseLost(f"{claim.lfn}: canceled or taken over", claim.lfn)
            with self._lock:
                work.staging, work.deciding = True, False
                self._to_stage.append((work, best.se, best.replica.surl))
            return FileState.STAGING, self._attempt(work)
        work.deciding = False
        if claim.verify_source:
            self._verify_source(grid, ranked[0].replica, ranked[0].se, entry.checksum)

        def before_write(surl: str, source: Replica) -> None:
            work.source_surl, work.dest_surl = source.surl, surl
            if not self.store.writing(claim.id, self.name, source.surl, surl):
                raise _LeaseLost(f"{claim.lfn}: canceled or taken over", claim.lfn)

        def before_register(surl: str) -> None:
            if not self.store.fence(claim.id, self.name, self.settings.lease_s):
                raise _LeaseLost(f"{claim.lfn}: canceled or taken over", claim.lfn)
            there = current_replicas(grid.replicas(claim.lfn))
            if any(r.se == claim.dest_se and r.surl != surl for r in there):
                raise _Appeared(f"a replica of {claim.lfn} on {claim.dest_se} appeared", surl)

        try:
            grid.rep(
                claim.lfn,
                claim.dest_se,
                cancel=work.token,
                before_write=before_write,
                before_register=before_register,
                fresh_name=claim.attempts > 1,
            )
        except AlreadyExists:  # a replica there already, or one that appeared meanwhile
            work.dest_surl = None  # rep deleted its own copy, if it made one
            return FileState.NOT_USED, self._attempt(
                work, ok=True, reason=f"a replica on {claim.dest_se} is registered already"
            )
        return FileState.FINISHED, self._attempt(work, ok=True, size=entry.size)

    def _verify_source(
        self, grid: Grid, replica: Replica, se: StorageElement, checksum: str | None
    ) -> None:
        """The source SE's own checksum of the replica must be the catalog's."""
        turl, backend = grid.storage.reach(replica.surl, se)
        stored = backend.checksum(turl, DEFAULT_CHECKSUM)
        if stored != checksum:
            raise ChecksumMismatch(
                f"source {replica.surl} has {DEFAULT_CHECKSUM} {stored}, the catalog {checksum}",
                replica.surl,
            )

    # -- what a dead agent left -----------------------------------------------------

    def _left_registered(self, grid: Grid, claim: Claim) -> bool:
        """Whether the dead agent's copy is registered; if not, it is deleted (no dark data).

        The agent it was may only have stalled past its lease after its fence,
        and register the copy at any time: its fence and the registration are
        no one transaction (the catalog may be another service). So the SURL
        is first registered here as STALE, atomically in the catalog (a SURL
        is registered once): the stalled agent's registration then fails, and
        the copy is deleted only after that. The STALE entry (a tombstone,
        recorded in the queue's database) is never read, and is swept once
        ``tombstone_s`` has passed (:meth:`_sweep_tombstones`); a stalled
        agent that registers later still finds its lease lost, and its copy
        gone, when it ends (:meth:`_registered_late`).
        """
        surl = claim.left_surl
        assert surl is not None
        left = self._registered(grid, claim.lfn, surl)
        if left is None:
            tombstone = self.store.add_tombstone(claim, surl, self.settings.tombstone_s)
            try:
                grid.catalog.add_replica(claim.guid, claim.dest_se, surl, ReplicaStatus.STALE)
            except AlreadyExists:  # registered just now by the agent it was, which only stalled
                self.store.drop_tombstone(tombstone)
                left = self._registered(grid, claim.lfn, surl)
        if left is not None and left.status is not ReplicaStatus.STALE:
            return True
        log.info("%s: removing what %s left at %s", claim.lfn, claim.left_by or "an attempt", surl)
        self._remove_unregistered(grid, claim.dest_se, surl)
        return False

    @staticmethod
    def _registered(grid: Grid, lfn: str, surl: str) -> Replica | None:
        """The replica of ``lfn`` registered at ``surl``, of any status; None if there is none."""
        return next((r for r in grid.replicas(lfn) if r.surl == surl), None)

    def _remove_unregistered(self, grid: Grid, se_name: str, surl: str) -> None:
        """Delete the object at ``surl`` and the partial uploads of it, if there are any."""
        storage = grid.storage
        se = storage.ses.get(se_name)
        if se.nearline:
            storage.stager.purge(se, surl)
        turl = resolve_turl(surl, se, storage.protocols)
        backend = storage.backend(turl)
        with contextlib.suppress(NotFound):
            backend.delete(turl)
        directory, name = posixpath.split(turl)
        try:
            entries = list(backend.list(directory))
        except NotFound:
            return
        for entry in entries:
            if is_partial_upload(entry.name) and entry.name.startswith(f".{name}.part-"):
                with contextlib.suppress(NotFound):
                    backend.delete(f"{directory}/{entry.name}")
                log.info("removed the partial upload %s/%s", directory, entry.name)

    def _housekeeping(self) -> None:
        """Once an interval: copies left behind, and tombstones due (an SE down is not hammered)."""
        now = time.monotonic()
        if now < self._next_cleanup:
            return
        self._next_cleanup = now + self.settings.interval_s
        self._clear_abandoned()
        self._sweep_tombstones()

    def _sweep_tombstones(self) -> None:
        """Unregister the STALE entries registered over dead agents' copies, once they are due.

        Only an entry still STALE at the tombstone's SURL whose object is gone
        from the SE goes: one the stalled agent registered first (not STALE)
        stays, and one whose copy could not yet be deleted waits for that.
        """
        for tombstone in self.store.due_tombstones(self.settings.interval_s):
            identity = Identity(tombstone.submitter, tombstone.groups or ("nogroup",))
            grid = self._grid_for_identity(identity)
            try:
                swept = self._sweep(grid, tombstone)
            except GridError as exc:  # the SE or the catalog is away: tried again later
                log.info("tombstone %s stays for now: %s", tombstone.surl, exc)
                continue
            if swept:
                log.info("swept the tombstone %s of %s", tombstone.surl, tombstone.lfn)
            self.store.drop_tombstone(tombstone.id)

    def _sweep(self, grid: Grid, tombstone: Tombstone) -> bool:
        """Unregister ``tombstone``'s STALE entry if its object is gone; whether it did.

        :class:`GridError` when it must be tried again (its copy is still stored).
        """
        try:
            lfn = grid.catalog.lfns_of(tombstone.guid)[0]
        except NotFound:  # the file is gone, its replicas with it
            return False
        entry = self._registered(grid, lfn, tombstone.surl)
        if entry is None or entry.status is not ReplicaStatus.STALE:
            return False  # never registered (its agent died first), or not a tombstone
        if self._stored(grid, tombstone.dest_se, tombstone.surl):
            raise GridError(f"its copy is still stored at {tombstone.surl}", tombstone.surl)
        grid.catalog.remove_replica(tombstone.guid, tombstone.surl)
        return True

    @staticmethod
    def _stored(grid: Grid, se_name: str, surl: str) -> bool:
        """Whether the SE holds an object at ``surl`` (a tape SE: on tape or on disk).

        False only on a positive answer that nothing is there; a look that
        fails raises, and the caller keeps what it would have removed.
        """
        storage = grid.storage
        se = storage.ses.get(se_name)
        if se.nearline:
            return storage.stager.holds(se, surl)
        turl = resolve_turl(surl, se, storage.protocols)
        try:
            storage.backend(turl).stat(turl)
        except NotFound:
            return False
        return True

    def _clear_abandoned(self) -> None:
        """Canceled files whose agent died holding a copy: the copies go (unless registered)."""
        for claim in self.store.abandoned(self.name, self.settings.lease_s):
            try:
                self._left_registered(self._grid_for(claim), claim)
            except GridError as exc:  # the SE is away: tried again at the next round
                log.info("could not remove %s yet: %s", claim.left_surl, exc)
                self.store.cleared(claim.id, self.name, removed=False)
                continue
            self.store.cleared(claim.id, self.name)

    # -- tape ----------------------------------------------------------------------

    def _stage_batches(self) -> None:
        """One bring-online request per tape SE for the files waiting to be staged.

        A request gathers the files that came to stage within ``stage_wait``
        of the first (claims of later rounds included: a link's streams do
        not bound them), once each file claimed is known to need staging or
        not; a full batch goes at once.
        """
        with self._lock:
            count = len(self._to_stage)
            if not count:
                return
            oldest = min(work.started for work, _, _ in self._to_stage)
            deciding = any(work.deciding for work in self._works.values())
            gathering = time.time() - oldest < self.settings.stage_wait_s or deciding
            if gathering and count < self.settings.stage_batch:
                return
            waiting, self._to_stage = self._to_stage, []
        by_se: dict[str, list[tuple[_Work, StorageElement, str]]] = defaultdict(list)
        for item in waiting:
            by_se[item[1].name].append(item)
        for items in by_se.values():
            se = items[0][1]
            surls = tuple(dict.fromkeys(surl for _, _, surl in items))
            works = [work for work, _, _ in items]
            try:
                request = self.grid.storage.stager.bring_online(
                    se, surls, self.settings.stage_pin_s
                )
            except GridError as exc:
                for work in works:
                    self._end_staging(work, exc)
                continue
            log.info("staging %d file(s) on %s", len(surls), se.name)
            with self._lock:
                self._staging.append(_Stage(request, works))

    def _start_staged(self) -> None:
        """Files whose staging is done are queued again; failed stagings fail them."""
        with self._lock:
            stages, self._staging = self._staging, []
        for stage in stages:
            state = stage.request.state
            if state is RequestState.QUEUED:
                live = [w for w in stage.works if not w.token.cancelled]
                for work in stage.works:
                    if work.token.cancelled:
                        self._end_staging(work, _LeaseLost("canceled or taken over"))
                if live:
                    with self._lock:
                        self._staging.append(_Stage(stage.request, live))
                continue
            for work in stage.works:
                if state is RequestState.DONE:
                    # Back to the queue, online now: its copy takes a stream of the link.
                    with self._lock:
                        self._works.pop(work.claim.id, None)
                    self.store.staged(work.claim.id, self.name)
                    self._wake.set()
                else:
                    error = GridError(f"staging {work.source_surl} failed: {stage.request.error}")
                    self._end_staging(work, error)

    def _end_staging(self, work: _Work, error: Exception) -> None:
        with self._lock:
            self._works.pop(work.claim.id, None)
        state, attempt, retry_at = self._failed(work, error)
        self.store.finish(work.claim, self.name, attempt, state, retry_at=retry_at)

    def _give_back_staging(self) -> None:
        with self._lock:
            stages, self._staging = self._staging, []
            waiting, self._to_stage = self._to_stage, []
        for work in [w for stage in stages for w in stage.works] + [w for w, _, _ in waiting]:
            self._end_staging(work, Cancelled("the agent stopped"))
