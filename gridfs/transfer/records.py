"""The transfer service's typed records: what is submitted, read, claimed and recorded."""

from __future__ import annotations

from dataclasses import dataclass, field

from gridfs.transfer.states import FileState, JobState

__all__ = [
    "AttemptRecord",
    "Claim",
    "DecisionRecord",
    "FileRecord",
    "JobRecord",
    "LinkRecord",
    "NewFile",
    "NewJob",
    "Tombstone",
]


@dataclass(frozen=True)
class NewJob:
    """What a submission asks for, beside its files."""

    submitter: str
    groups: tuple[str, ...]
    activity: str
    priority: int
    max_attempts: int
    lifetime_s: float
    verify_source: bool = False
    description: str | None = None


@dataclass(frozen=True)
class NewFile:
    """One file of a new job to one destination."""

    lfn: str
    guid: str
    size: int
    checksum: str
    dest_se: str
    source_se: str
    state: FileState = FileState.SUBMITTED
    reason: str | None = None


@dataclass(frozen=True)
class FileRecord:
    """One file of a job to one destination, as it stands."""

    id: int
    lfn: str
    guid: str
    size: int
    dest_se: str
    source_se: str
    source_surl: str | None
    dest_surl: str | None
    state: FileState
    reason: str | None
    errno: int | None
    attempts: int
    lease_owner: str | None
    follows: int | None = None
    job_id: int = 0

    def to_dict(self) -> dict[str, object]:
        """The record as JSON-able values."""
        return {
            "id": self.id,
            "lfn": self.lfn,
            "guid": self.guid,
            "size": self.size,
            "destination": self.dest_se,
            "source": self.source_se,
            "source_surl": self.source_surl,
            "dest_surl": self.dest_surl,
            "state": self.state.value,
            "reason": self.reason,
            "errno": self.errno,
            "attempts": self.attempts,
            "agent": self.lease_owner,
            "follows": self.follows,
            "job": self.job_id,
        }


@dataclass(frozen=True)
class JobRecord:
    """A job, its state derived from its files, and their counts per state."""

    id: int
    submitter: str
    activity: str
    priority: int
    max_attempts: int
    created: float
    expires: float
    state: JobState
    counts: dict[FileState, int]
    files: tuple[FileRecord, ...] = ()
    bytes_total: int = 0
    bytes_done: int = 0

    def to_dict(self) -> dict[str, object]:
        """The record as JSON-able values (the files too, when they were read)."""
        result: dict[str, object] = {
            "job": self.id,
            "state": self.state.value,
            "submitter": self.submitter,
            "activity": self.activity,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
            "created": self.created,
            "expires": self.expires,
            "files": {state.value: count for state, count in self.counts.items()},
            "bytes_total": self.bytes_total,
            "bytes_done": self.bytes_done,
        }
        if self.files:
            result["file_states"] = [record.to_dict() for record in self.files]
        return result


@dataclass(frozen=True)
class Claim:
    """A file leased to an agent, with what the agent needs of its job."""

    id: int
    job_id: int
    lfn: str
    guid: str
    size: int
    dest_se: str
    source_se: str
    attempts: int  # this one included
    max_attempts: int
    submitter: str
    groups: tuple[str, ...]
    verify_source: bool
    # What an earlier attempt may have left stored, and which agent (None: one that
    # ended but could not delete it, its SE being down); the claimer cleans it up first.
    left_by: str | None
    left_surl: str | None


@dataclass(frozen=True)
class Tombstone:
    """A STALE replica registered over a dead agent's copy, due to be swept."""

    id: int
    guid: str
    lfn: str
    dest_se: str
    surl: str
    submitter: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class AttemptRecord:
    """How one attempt went, to record."""

    started: float
    source_surl: str | None
    dest_surl: str | None
    bytes: int = 0
    ok: bool = False
    recoverable: bool = False
    reason: str | None = None
    errno: int | None = None


@dataclass(frozen=True)
class DecisionRecord:
    """One optimizer decision on a link."""

    at: float
    old_concurrency: int
    new_concurrency: int
    throughput: float | None
    ema: float | None
    success_rate: float | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        """The record as JSON-able values."""
        return {
            "at": self.at,
            "from": self.old_concurrency,
            "to": self.new_concurrency,
            "throughput": self.throughput,
            "ema": self.ema,
            "success_rate": self.success_rate,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class LinkRecord:
    """A link, its concurrency, what runs and waits on it, and its latest decisions."""

    source_se: str
    dest_se: str
    concurrency: int
    ema: float | None
    ramping: bool
    active: int
    queued: int
    decisions: tuple[DecisionRecord, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """The record as JSON-able values."""
        return {
            "source": self.source_se,
            "destination": self.dest_se,
            "concurrency": self.concurrency,
            "ema_bytes_per_s": self.ema,
            "ramping": self.ramping,
            "active": self.active,
            "queued": self.queued,
            "decisions": [decision.to_dict() for decision in self.decisions],
        }
