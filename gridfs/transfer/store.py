"""The transfer queue in the catalog's database: jobs, claims with leases, attempts, links.

Every call is one transaction. Agents on any host share the queue:

- A claim takes files whose turn has come (submitted and past their backoff,
  or active under a lease that has run out: a dead agent's) and leases them
  to the agent. On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED``,
  so claims never wait on rows another transaction holds; the limits (per
  link, per SE inbound and outbound) are counted under a transaction-scoped
  advisory lock, so that two claims never both take the last stream. On
  SQLite the claim's ``BEGIN IMMEDIATE`` serialises them (one host).
- Every write an agent makes about a file is conditional on its lease: an
  agent that lost one (its heartbeat stopped, another took the file over)
  changes nothing any more, and hears so.
- The optimizer's decisions are made by whichever agent finds a link due,
  under the same lock, once per interval.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from gridfs.catalog.engine import database_errors, open_catalog_engine
from gridfs.errors import InvalidArgument, NotFound
from gridfs.gfal.services import is_service_url
from gridfs.transfer.link_calls import LinkCalls
from gridfs.transfer.loads import (
    RUNNING_STATES,
    WAITING_STATES,
    due_per_link,
    is_due,
    links_in_use,
    running_per_link,
)
from gridfs.transfer.models import AttemptModel, FileModel, JobModel
from gridfs.transfer.records import (
    AttemptRecord,
    Claim,
    FileRecord,
    JobRecord,
    NewFile,
    NewJob,
)
from gridfs.transfer.settings import TransferSettings
from gridfs.transfer.shares import share_out
from gridfs.transfer.states import TERMINAL, FileState, JobState, job_state
from gridfs.transfer.tombstones import TombstoneCalls

__all__ = ["TransferStore"]

_CLAIM_LOCK = 0x6674730A  # "fts\n": the advisory lock the claims' counting runs under
_SUBMIT_LOCK = 0x66747353  # "ftsS": the one that submissions looking for leaders take
_ENDED = tuple(state.value for state in TERMINAL)


def _file_record(row: FileModel) -> FileRecord:
    return FileRecord(
        id=row.id,
        lfn=row.lfn,
        guid=row.guid,
        size=row.size,
        dest_se=row.dest_se,
        source_se=row.source_se,
        source_surl=row.source_surl,
        dest_surl=row.dest_surl,
        state=FileState(row.state),
        reason=row.reason,
        errno=row.errno,
        attempts=row.attempts,
        lease_owner=row.lease_owner,
        follows=row.follows,
        job_id=row.job_id,
    )


class TransferStore(TombstoneCalls, LinkCalls):
    """The transfer tables of one catalog database; thread-safe (a session per call)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        self._postgresql = engine.dialect.name == "postgresql"
        self._write_turn = threading.Lock()
        self._next_decision = 0.0  # no link is due before then (on this store's clock)

    @classmethod
    def from_url(cls, url: str) -> TransferStore:
        """The store of the catalog database at ``url`` (its schema brought up to date)."""
        if is_service_url(url):
            raise InvalidArgument(
                f"transfers keep their queue in the catalog's database: {url} is a catalog "
                "service, give the agents and submitters its database URL ([catalog] url)",
                url,
            )
        return cls(open_catalog_engine(url))

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        # SQLite: this process's writers take turns here rather than in SQLite's busy
        # handler, whose sleeps (up to 100 ms each) would dominate a small file's copy.
        turn = self._write_turn if write and not self._postgresql else contextlib.nullcontext()
        with turn, database_errors(self.engine), self.engine.connect() as connection:
            if write:
                connection.execution_options(gridfs_write=True)
            with connection.begin(), Session(bind=connection) as session:
                yield session
                session.flush()

    def _lock_claims(self, session: Session) -> None:
        """Serialise the counting of claims (SQLite's BEGIN IMMEDIATE does it already)."""
        if self._postgresql:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})

    # -- submitting and reading --------------------------------------------

    def add_job(self, job: NewJob, files: Sequence[NewFile]) -> int:
        """Record a new job and its files; returns the job's id.

        A file to copy that another job copies to the same SE already (not
        done yet) *follows* that one and shares its copy. The look and the
        insert are one transaction, one submission at a time (an advisory
        lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): two simultaneous
        submissions of one file cannot both become its leader.
        """
        now = self._clock()
        with self._session(write=True) as session:
            if self._postgresql:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SUBMIT_LOCK})
            queued = [(f.guid, f.dest_se) for f in files if f.state is FileState.SUBMITTED]
            leaders = self._leaders(session, queued)
            row = JobModel(
                submitter=job.submitter,
                groups=",".join(job.groups),
                activity=job.activity,
                priority=job.priority,
                max_attempts=job.max_attempts,
                verify_source=job.verify_source,
                created=now,
                expires=now + job.lifetime_s,
                description=job.description,
            )
            session.add(row)
            session.flush()
            session.add_all(
                FileModel(
                    job_id=row.id,
                    lfn=new.lfn,
                    guid=new.guid,
                    size=new.size,
                    checksum=new.checksum,
                    dest_se=new.dest_se,
                    source_se=new.source_se,
                    state=new.state.value,
                    reason=new.reason,
                    attempts=0,
                    activity=job.activity,
                    priority=job.priority,
                    not_before=now,
                    finished=now if new.state in TERMINAL else None,
                    follows=leaders.get((new.guid, new.dest_se))
                    if new.state is FileState.SUBMITTED
                    else None,
                )
                for new in files
            )
            return row.id

    @staticmethod
    def _leaders(session: Session, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The files of jobs not done that copy these (GUID, destination SE) pairs already."""
        wanted = set(pairs)
        guids = sorted({guid for guid, _ in wanted})
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(guids), 1000):
            query = (
                select(FileModel.guid, FileModel.dest_se, FileModel.id)
                .where(
                    FileModel.guid.in_(guids[start : start + 1000]),
                    FileModel.state.in_(WAITING_STATES),
                    FileModel.follows.is_(None),
                )
                .order_by(FileModel.id)
            )
            for guid, dest, file_id in session.execute(query):
                if (guid, dest) in wanted:
                    found.setdefault((guid, dest), file_id)
        return found

    def files_of(self, guid: str, limit: int = 20) -> list[FileRecord]:
        """The transfers of the file with GUID ``guid``, newest first."""
        with self._session() as session:
            rows = session.scalars(
                select(FileModel)
                .where(FileModel.guid == guid)
                .order_by(FileModel.id.desc())
                .limit(limit)
            )
            return [_file_record(row) for row in rows]

    def job(self, job_id: int, *, files: bool = True) -> JobRecord:
        """Job ``job_id`` with its files; :class:`NotFound` if there is none."""
        with self._session() as session:
            row = session.get(JobModel, job_id)
            if row is None:
                raise NotFound(f"no transfer job {job_id}", str(job_id))
            counts, sizes = self._counts(session, [job_id])
            records: tuple[FileRecord, ...] = ()
            if files:
                rows = session.scalars(
                    select(FileModel).where(FileModel.job_id == job_id).order_by(FileModel.id)
                )
                records = tuple(_file_record(r) for r in rows)
            return self._job_record(row, counts.get(job_id, {}), sizes.get(job_id, (0, 0)), records)

    def jobs(
        self,
        *,
        submitter: str | None = None,
        activity: str | None = None,
        states: Iterable[JobState] = (),
        limit: int = 100,
    ) -> list[JobRecord]:
        """The newest jobs first, filtered by submitter, activity and (derived) state."""
        wanted = set(states)
        found: list[JobRecord] = []
        with self._session() as session:
            query = select(JobModel).order_by(JobModel.id.desc())
            if submitter is not None:
                query = query.where(JobModel.submitter == submitter)
            if activity is not None:
                query = query.where(JobModel.activity == activity)
            last: int | None = None
            while len(found) < limit:
                page_query = query if last is None else query.where(JobModel.id < last)
                page = list(session.scalars(page_query.limit(500)))
                if not page:
                    break
                last = page[-1].id
                counts, sizes = self._counts(session, [row.id for row in page])
                for row in page:
                    record = self._job_record(
                        row, counts.get(row.id, {}), sizes.get(row.id, (0, 0)), ()
                    )
                    if not wanted or record.state in wanted:
                        found.append(record)
        return found[:limit]

    @staticmethod
    def _counts(
        session: Session, job_ids: Sequence[int]
    ) -> tuple[dict[int, dict[FileState, int]], dict[int, tuple[int, int]]]:
        counts: dict[int, dict[FileState, int]] = defaultdict(dict)
        sizes: dict[int, tuple[int, int]] = {}
        query = (
            select(FileModel.job_id, FileModel.state, func.count(), func.sum(FileModel.size))
            .where(FileModel.job_id.in_(job_ids))
            .group_by(FileModel.job_id, FileModel.state)
        )
        for job_id, state, count, size in session.execute(query):
            counts[job_id][FileState(state)] = count
            total, done = sizes.get(job_id, (0, 0))
            finished = size if state == FileState.FINISHED.value else 0
            sizes[job_id] = (total + int(size or 0), done + int(finished or 0))
        return counts, sizes

    @staticmethod
    def _job_record(
        row: JobModel,
        counts: dict[FileState, int],
        sizes: tuple[int, int],
        files: tuple[FileRecord, ...],
    ) -> JobRecord:
        return JobRecord(
            id=row.id,
            submitter=row.submitter,
            activity=row.activity,
            priority=row.priority,
            max_attempts=row.max_attempts,
            created=row.created,
            expires=row.expires,
            state=job_state(counts),
            counts=counts,
            files=files,
            bytes_total=sizes[0],
            bytes_done=sizes[1],
        )

    def submitter_of(self, job_id: int) -> str:
        """Who submitted job ``job_id``."""
        with self._session() as session:
            row = session.get(JobModel, job_id)
            if row is None:
                raise NotFound(f"no transfer job {job_id}", str(job_id))
            return row.submitter

    # -- cancel and retry ----------------------------------------------------

    def cancel(self, job_id: int) -> int:
        """Cancel the files of ``job_id`` not done yet; returns how many.

        A file being copied keeps its lease: its agent hears of the cancel at
        its next heartbeat, stops, and deletes what it had stored.
        """
        now = self._clock()
        with self._session(write=True) as session:
            self._require_job(session, job_id)
            result = session.execute(
                update(FileModel)
                .where(FileModel.job_id == job_id, FileModel.state.in_(WAITING_STATES))
                .values(
                    state=FileState.CANCELED.value,
                    reason="canceled by the user",
                    finished=now,
                )
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    def retry(self, job_id: int) -> int:
        """Submit the failed and canceled files of ``job_id`` again, with new attempts."""
        now = self._clock()
        with self._session(write=True) as session:
            job = self._require_job(session, job_id)
            if job.expires < now:
                job.expires = now + (job.expires - job.created)  # a new lifetime, as long
            done = (FileState.FAILED.value, FileState.CANCELED.value)
            result = session.execute(
                update(FileModel)
                .where(
                    FileModel.job_id == job_id,
                    FileModel.state.in_(done),
                    # A canceled copy whose agent has not cleaned up yet waits for it.
                    FileModel.lease_owner.is_(None),
                )
                .values(
                    state=FileState.SUBMITTED.value,
                    attempts=0,
                    not_before=now,
                    reason=None,
                    errno=None,
                    finished=None,
                )
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _require_job(session: Session, job_id: int) -> JobModel:
        row = session.get(JobModel, job_id)
        if row is None:
            raise NotFound(f"no transfer job {job_id}", str(job_id))
        return row

    # -- claims and leases ---------------------------------------------------

    def claim(self, agent: str, free: int, settings: TransferSettings) -> list[Claim]:
        """Lease up to ``free`` files whose turn has come to ``agent``, within every limit.

        Per link, the room is its concurrency less what runs on it (and no
        more than its destination's inbound and its source's outbound limits
        leave); it is shared out between activities by their shares, and
        within an activity the highest priority goes first, then the oldest.
        A file whose lease ran out is taken over: the claim says whose it was
        and what it was writing, for the new agent to clean up. Files of
        expired jobs fail here.
        """
        if free <= 0:
            return []
        now = self._clock()
        with self._session(write=True) as session:
            self._lock_claims(session)
            self._expire_jobs(session, now)
            self._settle_followers(session, now)
            running = running_per_link(session, now)
            links = links_in_use(session, now, settings.optimizer)
            inbound: dict[str, int] = defaultdict(int)
            outbound: dict[str, int] = defaultdict(int)
            for (source, dest, _), count in running.items():
                inbound[dest] += count
                outbound[source] += count
            claims: list[Claim] = []
            for (source, dest), waiting in due_per_link(session, now).items():
                link = links.get((source, dest))
                if link is None:
                    # Submitted after the links were read (PostgreSQL reads each
                    # statement's own snapshot): its link is there next round.
                    continue
                busy = sum(c for (s, d, _), c in running.items() if (s, d) == (source, dest))
                unlimited = free  # an SE without a limit of its own
                room = min(
                    free - len(claims),
                    link.concurrency - busy,
                    settings.inbound.get(dest, unlimited + inbound[dest]) - inbound[dest],
                    settings.outbound.get(source, unlimited + outbound[source]) - outbound[source],
                )
                if room <= 0:
                    continue
                on_link = {a: c for (s, d, a), c in running.items() if (s, d) == (source, dest)}
                for activity, count in share_out(room, waiting, on_link, settings.shares).items():
                    taken = self._take(
                        session,
                        agent=agent,
                        now=now,
                        lease_s=settings.lease_s,
                        link=(source, dest),
                        activity=activity,
                        count=count,
                    )
                    claims += taken
                    inbound[dest] += len(taken)
                    outbound[source] += len(taken)
                if len(claims) >= free:
                    break
            return claims

    def _take(
        self,
        session: Session,
        *,
        agent: str,
        now: float,
        lease_s: float,
        link: tuple[str, str],
        activity: str,
        count: int,
    ) -> list[Claim]:
        source, dest = link
        query = (
            select(FileModel, JobModel)
            .join(JobModel, JobModel.id == FileModel.job_id)
            .where(
                FileModel.source_se == source,
                FileModel.dest_se == dest,
                FileModel.activity == activity,
                is_due(now),
            )
            .order_by(FileModel.priority.desc(), FileModel.id)
            .limit(count)
        )
        if self._postgresql:
            query = query.with_for_update(skip_locked=True, of=FileModel)
        claims = []
        for row, job in session.execute(query):
            if row.state == FileState.SUBMITTED.value:
                row.lease_owner = None  # a retry: nobody held it
            row.attempts += 1
            claims.append(self._claim(row, job))
            row.state = FileState.ACTIVE.value
            row.lease_owner = agent
            row.lease_expiry = now + lease_s
            row.started = row.started or now
        session.flush()
        return claims

    @staticmethod
    def _settle_followers(session: Session, now: float) -> None:
        """Files following one that ended: its copy is theirs, or they copy on their own.

        A leader that finished (or found the file there) ends its followers
        the same way; one that failed or was canceled leaves them to be
        copied for their own jobs.
        """
        waiting = select(FileModel.id).where(
            FileModel.follows.is_not(None), FileModel.state == FileState.SUBMITTED.value
        )
        if session.scalar(waiting.limit(1)) is None:
            return  # the usual case, found on the index of follows: no follower waits
        leader = aliased(FileModel)
        query = (
            select(FileModel, leader)
            .join(leader, leader.id == FileModel.follows)
            .where(FileModel.state == FileState.SUBMITTED.value, leader.state.in_(_ENDED))
        )
        for row, ended in session.execute(query):
            if ended.state in (FileState.FINISHED.value, FileState.NOT_USED.value):
                row.state = ended.state
                row.reason = f"copied there by job {ended.job_id} (shared)"
                row.dest_surl = ended.dest_surl
                row.source_surl = ended.source_surl
                row.finished = now
            else:
                row.follows = None

    @staticmethod
    def _expire_jobs(session: Session, now: float) -> None:
        expired = select(JobModel.id).where(JobModel.expires < now).scalar_subquery()
        session.execute(
            update(FileModel)
            .where(FileModel.state == FileState.SUBMITTED.value, FileModel.job_id.in_(expired))
            .values(state=FileState.FAILED.value, reason="the job's lifetime ran out", finished=now)
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    def _owned(file_id: int, agent: str, now: float) -> ColumnElement[bool]:
        return and_(
            FileModel.id == file_id,
            FileModel.lease_owner == agent,
            FileModel.state.in_(RUNNING_STATES),
            FileModel.lease_expiry >= now,
        )

    def _update_owned(self, file_id: int, agent: str, **values: object) -> bool:
        now = self._clock()
        with self._session(write=True) as session:
            result = session.execute(
                update(FileModel)
                .where(self._owned(file_id, agent, now))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, agent: str, file_ids: Iterable[int], lease_s: float) -> set[int]:
        """Extend ``agent``'s leases on ``file_ids``; returns those it still holds.

        A file canceled, or taken over after the lease ran out, is not among
        them: its agent stops copying it.
        """
        ids = list(file_ids)
        if not ids:
            return set()
        now = self._clock()
        with self._session(write=True) as session:
            owned = and_(
                FileModel.id.in_(ids),
                FileModel.lease_owner == agent,
                FileModel.state.in_(RUNNING_STATES),
                FileModel.lease_expiry >= now,
            )
            session.execute(
                update(FileModel)
                .where(owned)
                .values(lease_expiry=now + lease_s)
                .execution_options(synchronize_session=False)
            )
            return set(session.scalars(select(FileModel.id).where(owned)))

    def staging(self, file_id: int, agent: str, source_surl: str) -> bool:
        """Mark the file staging from ``source_surl``; False if the lease is lost."""
        return self._update_owned(
            file_id, agent, state=FileState.STAGING.value, source_surl=source_surl
        )

    def writing(self, file_id: int, agent: str, source_surl: str, dest_surl: str) -> bool:
        """Record what the file is copied from and to, before a byte is written.

        The destination SURL is what a successor deletes if this agent dies
        before it registers the copy. False if the lease is lost.
        """
        return self._update_owned(
            file_id,
            agent,
            state=FileState.ACTIVE.value,
            source_surl=source_surl,
            dest_surl=dest_surl,
        )

    def staged(self, file_id: int, agent: str) -> bool:
        """The file's source is online: queue it again, its claim not counted as an attempt."""
        now = self._clock()
        with self._session(write=True) as session:
            result = session.execute(
                update(FileModel)
                .where(self._owned(file_id, agent, now))
                .values(
                    state=FileState.SUBMITTED.value,
                    attempts=FileModel.attempts - 1,
                    lease_owner=None,
                    lease_expiry=None,
                    not_before=now,
                )
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def fence(self, file_id: int, agent: str, lease_s: float) -> bool:
        """Check the lease is still held just before registering, and extend it."""
        return self._update_owned(file_id, agent, lease_expiry=self._clock() + lease_s)

    def finish(
        self,
        claim: Claim,
        agent: str,
        attempt: AttemptRecord,
        state: FileState,
        *,
        retry_at: float | None = None,
        leftover: str | None = None,
    ) -> bool:
        """Record ``attempt`` and end the claim in ``state`` (SUBMITTED again with ``retry_at``).

        The file changes only while ``agent`` holds it (a canceled file
        included, whose copy the agent has just undone or registered);
        returns whether it did. The attempt is recorded either way.
        ``leftover`` is a copy the attempt could not delete: the next claim
        of the file, or :meth:`abandoned`, hands it on to be cleaned up.
        """
        now = self._clock()
        with self._session(write=True) as session:
            session.add(
                AttemptModel(
                    file_id=claim.id,
                    attempt=claim.attempts,
                    agent=agent,
                    source_se=claim.source_se,
                    dest_se=claim.dest_se,
                    source_surl=attempt.source_surl,
                    dest_surl=attempt.dest_surl,
                    started=attempt.started,
                    ended=now,
                    bytes=attempt.bytes,
                    ok=attempt.ok,
                    recoverable=attempt.recoverable,
                    reason=attempt.reason,
                    errno=attempt.errno,
                )
            )
            mine = and_(
                FileModel.id == claim.id,
                FileModel.lease_owner == agent,
                FileModel.state.in_((*RUNNING_STATES, FileState.CANCELED.value)),
            )
            values: dict[str, object] = {
                "lease_owner": None,
                "lease_expiry": None,
                "dest_surl": attempt.dest_surl if state is FileState.FINISHED else leftover,
                "source_surl": attempt.source_surl,
            }
            if state is FileState.SUBMITTED:
                values |= {"not_before": retry_at or now}
            else:
                values |= {"finished": now}
            values |= {"reason": attempt.reason, "errno": attempt.errno}
            # A canceled file stays canceled unless its copy was registered after all.
            canceled = FileModel.state == FileState.CANCELED.value
            keep = state is not FileState.FINISHED
            result = session.execute(
                update(FileModel)
                .where(mine, canceled)
                .values(
                    lease_owner=None,
                    lease_expiry=None,
                    dest_surl=leftover if keep else attempt.dest_surl,
                    **({} if keep else {"state": state.value, "reason": None}),
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
            result = session.execute(
                update(FileModel)
                .where(mine)
                .values(state=state.value, **values)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def abandoned(self, agent: str, lease_s: float, limit: int = 100) -> list[Claim]:
        """Ended files that may have left a copy stored, leased to ``agent`` to clean up.

        They are canceled files whose agent died holding them, and failed or
        canceled ones whose agent could not delete its copy (its SE was down).
        Each claim's ``left_surl`` is the copy; the caller deletes it unless it
        is registered, then calls :meth:`cleared`.
        """
        now = self._clock()
        ended = (FileState.CANCELED.value, FileState.FAILED.value)
        with self._session(write=True) as session:
            query = (
                select(FileModel, JobModel)
                .join(JobModel, JobModel.id == FileModel.job_id)
                .where(
                    FileModel.state.in_(ended),
                    or_(
                        and_(FileModel.lease_owner.is_not(None), FileModel.lease_expiry < now),
                        and_(FileModel.lease_owner.is_(None), FileModel.dest_surl.is_not(None)),
                    ),
                )
                .limit(limit)
            )
            if self._postgresql:
                query = query.with_for_update(skip_locked=True, of=FileModel)
            found = []
            for row, job in session.execute(query):
                if row.dest_surl is None:  # nothing stored: only the lease to drop
                    row.lease_owner = row.lease_expiry = None
                    continue
                found.append(self._claim(row, job))
                row.lease_owner, row.lease_expiry = agent, now + lease_s
            return found

    @staticmethod
    def _claim(row: FileModel, job: JobModel) -> Claim:
        return Claim(
            id=row.id,
            job_id=row.job_id,
            lfn=row.lfn,
            guid=row.guid,
            size=row.size,
            dest_se=row.dest_se,
            source_se=row.source_se,
            attempts=row.attempts,
            max_attempts=job.max_attempts,
            submitter=job.submitter,
            groups=tuple(g for g in job.groups.split(",") if g),
            verify_source=job.verify_source,
            left_by=row.lease_owner,
            left_surl=row.dest_surl,
        )

    def cleared(self, file_id: int, agent: str, *, removed: bool = True) -> None:
        """Release an :meth:`abandoned` file: its copy is gone, or (``removed`` off) is not yet."""
        values: dict[str, object] = {"lease_owner": None, "lease_expiry": None}
        if removed:
            values["dest_surl"] = None
        with self._session(write=True) as session:
            session.execute(
                update(FileModel)
                .where(FileModel.id == file_id, FileModel.lease_owner == agent)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def pending(self) -> int:
        """Files not done yet, in every job."""
        with self._session() as session:
            return int(
                session.scalar(select(func.count()).where(FileModel.state.in_(WAITING_STATES))) or 0
            )
