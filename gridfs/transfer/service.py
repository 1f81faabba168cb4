"""The transfer service's Python API: submit, status, list, cancel, retry, wait, links.

::

    with Transfers.from_config() as transfers:
        job = transfers.submit(["/grid/gilda/run1"], ["infn-se"], recursive=True)
        print(transfers.wait(job).state)

Jobs persist in the catalog's database; agents (``gridfs transfer agent``,
:class:`~gridfs.transfer.agent.Agent`) do the copies, wherever they run.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from gridfs.catalog import Replica, Stat
from gridfs.config import Config, load_config
from gridfs.errors import (
    ChecksumMismatch,
    GridError,
    InvalidArgument,
    IsADirectory,
    NotFound,
    NotPermitted,
    StorageUnavailable,
)
from gridfs.gfal import DEFAULT_CHECKSUM, Grid
from gridfs.gfal.dataset import walk_files
from gridfs.gfal.register import check_copy
from gridfs.gfal.replicas import current_replicas
from gridfs.transfer.records import JobRecord, LinkRecord, NewFile, NewJob
from gridfs.transfer.settings import TransferSettings, load_transfer_settings
from gridfs.transfer.shares import DEFAULT_ACTIVITY
from gridfs.transfer.states import TERMINAL, FileState, JobState
from gridfs.transfer.store import TransferStore

__all__ = ["DEFAULT_PRIORITY", "RequestReport", "Submission", "Transfers"]

log = logging.getLogger(__name__)

DEFAULT_PRIORITY = 3  # FTS's default, on its 1 (lowest) to 5 (highest) scale
_PAGE = 1000  # files whose replicas are looked up at once


@dataclass(frozen=True)
class Submission:
    """What to transfer where, and how (the options of ``gridfs transfer submit``)."""

    destinations: tuple[str, ...]
    recursive: bool = False
    query: str | None = None  # a metadata condition on the directories given
    saved_query: str | None = None  # or the name of a query saved on them (a dataset)
    priority: int = DEFAULT_PRIORITY
    activity: str = DEFAULT_ACTIVITY
    attempts: int | None = None  # default: [transfer] attempts
    lifetime_s: float | None = None  # default: [transfer] lifetime
    verify_source: bool = False  # also check the source replica's own checksum first
    verify_existing: bool = False  # a replica at the destination counts once its SE checks it
    description: str | None = None


@dataclass
class RequestReport:
    """How a request (a job) went: per file, whether it was reused, moved, shared or failed."""

    job: int
    state: JobState
    reused: list[str] = field(default_factory=list)  # at the SE already (verified)
    moved: list[str] = field(default_factory=list)  # copied there for this job
    shared: list[str] = field(default_factory=list)  # copied there by another job's transfer
    failed: list[tuple[str, str]] = field(default_factory=list)  # with the reason
    waiting: list[str] = field(default_factory=list)  # not done yet

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-able values."""
        return {
            "job": self.job,
            "state": self.state.value,
            "reused": self.reused,
            "moved": self.moved,
            "shared": self.shared,
            "failed": [{"lfn": lfn, "reason": reason} for lfn, reason in self.failed],
            "waiting": self.waiting,
        }

    def summary(self) -> str:
        """One line: the counts."""
        return (
            f"request {self.job}: {self.state.value}: {len(self.reused)} reused, "
            f"{len(self.moved)} moved, {len(self.shared)} shared, {len(self.failed)} failed"
            + (f", {len(self.waiting)} waiting" if self.waiting else "")
        )


class Transfers:
    """Transfer jobs on one grid: its catalog's database holds them, its SEs are the ends."""

    def __init__(
        self,
        grid: Grid,
        store: TransferStore,
        settings: TransferSettings | None = None,
        *,
        owned: bool = False,
    ) -> None:
        self.grid = grid
        self.store = store
        self.settings = settings or TransferSettings()
        self._owned = owned

    @classmethod
    def from_config(cls, config: Config | None = None, *, grid: Grid | None = None) -> Transfers:
        """The transfers of the grid ``config`` describes (default: the configuration file).

        With ``grid``, that grid is used (and not closed by :meth:`close`).
        """
        config = config or load_config()
        store = TransferStore.from_url(config.catalog_url)
        owned = grid is None
        try:
            grid = grid or Grid.from_config(config)
        except BaseException:
            store.close()
            raise
        return cls(grid, store, load_transfer_settings(config), owned=owned)

    def close(self) -> None:
        """Release the database (and the grid, if this object opened it)."""
        self.store.close()
        if self._owned:
            self.grid.close()

    def __enter__(self) -> Transfers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- submitting ------------------------------------------------------------

    def submit(self, lfns: Sequence[str], submission: Submission) -> int:
        """Submit a job copying ``lfns`` to each destination SE; returns the job's id.

        A directory needs ``recursive`` (every file under it), a ``query``
        (the files in it whose metadata match; with ``recursive`` also below
        it) or a ``saved_query`` of it (a dataset, as ``gridfs meta`` saves
        it). Each (file, destination) becomes one file of the job: NOT_USED
        when the destination holds a replica already, FAILED at once when the
        file cannot be verified (no adler32) or has no readable replica. The
        caller must be allowed to add replicas to every file (write
        permission), checked here so that no copy is made for nothing. A
        file that another job copies to the same SE already shares that copy
        (:meth:`TransferStore.add_job`).
        """
        if not submission.destinations:
            raise InvalidArgument("a transfer needs at least one destination SE (-d SE)")
        if not lfns:
            raise InvalidArgument("a transfer needs at least one file")
        if submission.query is not None and submission.saved_query is not None:
            raise InvalidArgument("give a query or a saved query, not both")
        if not 1 <= submission.priority <= 5:  # FTS's scale
            raise InvalidArgument(f"priority {submission.priority} is not in 1..5")
        destinations = tuple(dict.fromkeys(submission.destinations))
        for name in destinations:
            self.grid.storage.writable_se(name)  # unknown or read-only: fails the submission
        files: list[NewFile] = []
        seen: set[tuple[str, str]] = set()
        for page in _pages(self._files(lfns, submission)):
            held = self.grid.catalog.replicas_many([lfn for lfn, _ in page])
            for lfn, entry in page:
                if entry.guid is None:
                    continue
                replicas = current_replicas(held.get(lfn, []))
                for dest in destinations:
                    if (entry.guid, dest) in seen:
                        continue  # the same file twice (an alias, a directory and a file in it)
                    seen.add((entry.guid, dest))
                    replicas = self._checked_there(lfn, replicas, dest, submission)
                    files.append(self._new_file(lfn, entry, replicas, dest))
        if not files:
            raise InvalidArgument(f"no files to transfer in {', '.join(lfns)}")
        identity = self.grid.identity
        job = NewJob(
            submitter=identity.user,
            groups=identity.groups,
            activity=submission.activity,
            priority=submission.priority,
            max_attempts=submission.attempts or self.settings.attempts,
            lifetime_s=submission.lifetime_s or self.settings.lifetime_s,
            verify_source=submission.verify_source,
            description=submission.description,
        )
        return self.store.add_job(job, files)

    def _files(self, lfns: Sequence[str], submission: Submission) -> Iterator[tuple[str, Stat]]:
        for given in lfns:
            lfn = given.removeprefix("lfn:")
            entry = self.grid.stat(lfn)
            if submission.query is not None or submission.saved_query is not None:
                if not entry.is_dir():
                    raise InvalidArgument(f"a query selects files in a directory: {lfn}", lfn)
                rows = (
                    self.grid.run_saved_query(lfn, submission.saved_query)
                    if submission.saved_query is not None
                    else self.grid.find(lfn, submission.query or "", recursive=submission.recursive)
                )
                # Read whole first: the query holds its connection while it is read.
                for match in list(rows):
                    found = self.grid.stat(match)
                    if found.is_file():
                        yield match, found
            elif entry.is_dir():
                if not submission.recursive:
                    raise IsADirectory(f"{lfn} is a directory (transfer it with -r)", lfn)
                yield from walk_files(self.grid, lfn)
            else:
                yield lfn, entry

    def _checked_there(
        self, lfn: str, replicas: list[Replica], dest: str, submission: Submission
    ) -> list[Replica]:
        """``replicas``, less those on ``dest`` not verified to be the file.

        Only with ``verify_existing``: a request's files already at the SE are
        reused once the SE's size and adler32 of them are the catalog's. One
        the SE says is not the file is marked bad; one that cannot be checked
        (the catalog has no adler32 of the file, or the SE does not answer) is
        only not reused.
        """
        there = [r for r in replicas if r.se == dest]
        if not submission.verify_existing or not there:
            return replicas
        entry = self.grid.stat(lfn)
        if entry.checksum_type != DEFAULT_CHECKSUM or not entry.checksum:
            return [r for r in replicas if r.se != dest]  # a size alone verifies nothing
        kept = list(replicas)
        for replica in there:
            try:
                check_copy(
                    self.grid.storage,
                    self.grid.storage.se_of(replica),
                    replica.surl,
                    size=entry.size,
                    checksum=entry.checksum,
                )
            except (ChecksumMismatch, NotFound) as exc:
                self.grid.mark_bad(replica, str(exc))
                kept.remove(replica)
            except StorageUnavailable as exc:
                log.info("%s: not reused, its SE does not answer: %s", replica.surl, exc)
                kept.remove(replica)
        return kept

    def _new_file(self, lfn: str, entry: Stat, replicas: list[Replica], dest: str) -> NewFile:
        assert entry.guid is not None
        storage = self.grid.storage

        def new(state: FileState, source: str, reason: str | None = None) -> NewFile:
            return NewFile(
                lfn=lfn,
                guid=entry.guid or "",
                size=entry.size,
                checksum=entry.checksum or "",
                dest_se=dest,
                source_se=source,
                state=state,
                reason=reason,
            )

        if any(r.se == dest for r in replicas):
            return new(FileState.NOT_USED, dest, f"{lfn} has a replica on {dest} already")
        if entry.checksum_type != DEFAULT_CHECKSUM or not entry.checksum:
            return new(FileState.FAILED, "", f"cannot verify a copy: no {DEFAULT_CHECKSUM} of it")
        if not self.grid.access(lfn, os.W_OK):
            raise NotPermitted(f"may not add replicas to {lfn} (no write permission)", lfn)
        ranked = storage.rank(replicas, near=storage.ses.get(dest), by_health=False)
        if not ranked:
            return new(FileState.FAILED, "", f"no readable replica of {lfn}")
        return new(FileState.SUBMITTED, ranked[0].se.name)

    # -- following and controlling ----------------------------------------------

    def status(self, job_id: int) -> JobRecord:
        """Job ``job_id``, its derived state and every file's."""
        return self.store.job(job_id)

    def jobs(
        self,
        *,
        mine: bool = False,
        activity: str | None = None,
        states: Sequence[JobState] = (),
        limit: int = 100,
    ) -> list[JobRecord]:
        """The newest jobs, optionally the caller's only, of an activity, in given states."""
        return self.store.jobs(
            submitter=self.grid.identity.user if mine else None,
            activity=activity,
            states=states,
            limit=limit,
        )

    def _require_owner(self, job_id: int) -> None:
        identity = self.grid.identity
        owner = self.store.submitter_of(job_id)
        if owner != identity.user and not identity.superuser:
            raise NotPermitted(f"job {job_id} is {owner}'s", str(job_id))

    def cancel(self, job_id: int) -> int:
        """Cancel what is not done of job ``job_id`` (the submitter's or the superuser's)."""
        self._require_owner(job_id)
        return self.store.cancel(job_id)

    def retry(self, job_id: int) -> int:
        """Submit the failed and canceled files of job ``job_id`` again; how many."""
        self._require_owner(job_id)
        return self.store.retry(job_id)

    def wait(
        self, job_id: int, timeout_s: float | None = None, *, poll_s: float = 0.5
    ) -> JobRecord:
        """Wait until every file of job ``job_id`` is done; the job then.

        Raises a :class:`GridError` (ETIMEDOUT) when ``timeout_s`` passes first.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            record = self.store.job(job_id, files=False)
            if set(record.counts) <= TERMINAL:
                return self.store.job(job_id)
            if deadline is not None and time.monotonic() >= deadline:
                raise GridError(
                    f"job {job_id} is still {record.state.value} after {timeout_s} s",
                    str(job_id),
                    errno=errno.ETIMEDOUT,
                )
            time.sleep(poll_s)

    def report(self, job_id: int) -> RequestReport:
        """What job ``job_id`` reused, moved, shared with other jobs and failed to deliver."""
        record = self.store.job(job_id)
        report = RequestReport(job=job_id, state=record.state)
        for file in record.files:
            if file.state is FileState.NOT_USED:
                report.reused.append(file.lfn)
            elif file.state is FileState.FINISHED:
                (report.shared if file.follows is not None else report.moved).append(file.lfn)
            elif file.state in TERMINAL:
                report.failed.append((file.lfn, file.reason or file.state.value))
            else:
                report.waiting.append(file.lfn)
        return report

    def links(self, decisions: int = 5) -> list[LinkRecord]:
        """Every link, its concurrency and load, with the optimizer's latest decisions."""
        return self.store.links(decisions)


def _pages(files: Iterator[tuple[str, Stat]]) -> Iterator[list[tuple[str, Stat]]]:
    page: list[tuple[str, Stat]] = []
    for item in files:
        page.append(item)
        if len(page) == _PAGE:
            yield page
            page = []
    if page:
        yield page
