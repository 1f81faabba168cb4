"""The transfer service's tables, on the catalog's declarative base (migration 0009).

* ``transfer_jobs``: one submission: who, the activity and priority, the
  retry budget, the checksum policy and when the job expires.
* ``transfer_files``: one row per file per destination SE, in the FTS states
  (:class:`~gridfs.transfer.states.FileState`); the lease (owner, expiry) of the
  agent working on it, the source chosen, and the destination SURL written
  *before* the first byte is stored, so that a successor can tell what a dead
  agent left behind.
  A file that another job is copying to the same SE already *follows* it and
  shares its outcome (overlapping requests share transfers).
* ``transfer_attempts``: every try of a file, with its outcome and throughput.
* ``transfer_links``: per (source SE, destination SE) the concurrency the
  optimizer allows and what it knows of the link.
* ``transfer_decisions``: every optimizer decision, with its reason.
* ``transfer_tombstones`` (migration 0010): the STALE entries agents register
  over copies a dead agent left, so that it cannot register them if it only
  stalled; swept once older than a horizon (their copies are gone by then).

Times are epoch seconds (floats): leases are compared across hosts, as FTS does.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gridfs.catalog.models import Base

__all__ = [
    "AttemptModel",
    "DecisionModel",
    "FileModel",
    "JobModel",
    "LinkModel",
    "TombstoneModel",
]

_Id = BigInteger().with_variant(Integer(), "sqlite")


class JobModel(Base):
    """A transfer job: files to copy to destination SEs, submitted by one user."""

    __tablename__ = "transfer_jobs"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    submitter: Mapped[str] = mapped_column(String(255))
    groups: Mapped[str] = mapped_column(Text)  # the submitter's groups, comma-separated
    activity: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    verify_source: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[float] = mapped_column(Double)
    expires: Mapped[float] = mapped_column(Double)
    description: Mapped[str | None] = mapped_column(Text)


class FileModel(Base):
    """One file of a job to one destination SE."""

    __tablename__ = "transfer_files"
    __table_args__ = (
        # The queue: what may be claimed now, per link, by priority.
        Index("ix_transfer_files_state_source_se_dest_se", "state", "source_se", "dest_se"),
        # Leases that have run out, for the agents that take them over.
        Index("ix_transfer_files_lease_expiry", "lease_expiry"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("transfer_jobs.id", ondelete="CASCADE"), index=True
    )
    lfn: Mapped[str] = mapped_column(Text)
    guid: Mapped[str] = mapped_column(String(36), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(128))
    dest_se: Mapped[str] = mapped_column(String(255))
    source_se: Mapped[str] = mapped_column(String(255))  # the link's source, chosen at submit
    source_surl: Mapped[str | None] = mapped_column(Text)  # the replica read, once chosen
    dest_surl: Mapped[str | None] = mapped_column(Text)  # what the current attempt writes
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    errno: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Copied from the job: the claim reads one table.
    activity: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[float] = mapped_column(Double)  # the retry backoff
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expiry: Mapped[float | None] = mapped_column(Double)
    started: Mapped[float | None] = mapped_column(Double)
    finished: Mapped[float | None] = mapped_column(Double)
    # The file of another job that copies the same file to the same SE: this one
    # waits for it and shares its outcome instead of copying again.
    follows: Mapped[int | None] = mapped_column(
        _Id, ForeignKey("transfer_files.id", ondelete="SET NULL"), index=True
    )


class AttemptModel(Base):
    """One try at copying a file: where from, where to, and how it ended."""

    __tablename__ = "transfer_attempts"
    __table_args__ = (
        # The optimizer reads a link's recent attempts.
        Index("ix_transfer_attempts_source_se_dest_se_ended", "source_se", "dest_se", "ended"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("transfer_files.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str] = mapped_column(String(255))
    source_se: Mapped[str] = mapped_column(String(255))
    dest_se: Mapped[str] = mapped_column(String(255))
    source_surl: Mapped[str | None] = mapped_column(Text)
    dest_surl: Mapped[str | None] = mapped_column(Text)
    started: Mapped[float] = mapped_column(Double)
    ended: Mapped[float] = mapped_column(Double)
    bytes: Mapped[int] = mapped_column(BigInteger)
    ok: Mapped[bool] = mapped_column(Boolean)
    recoverable: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    errno: Mapped[int | None] = mapped_column(Integer)


class LinkModel(Base):
    """A link (source SE to destination SE): its concurrency and the optimizer's memory."""

    __tablename__ = "transfer_links"

    source_se: Mapped[str] = mapped_column(String(255), primary_key=True)
    dest_se: Mapped[str] = mapped_column(String(255), primary_key=True)
    concurrency: Mapped[int] = mapped_column(Integer)
    ema: Mapped[float | None] = mapped_column(Double)  # bytes/s, smoothed
    ramping: Mapped[bool] = mapped_column(Boolean)  # still doubling (slow start)
    decided: Mapped[float] = mapped_column(Double)  # when the last decision was made


class DecisionModel(Base):
    """One optimizer decision on a link, with its inputs and reason."""

    __tablename__ = "transfer_decisions"
    __table_args__ = (
        Index("ix_transfer_decisions_source_se_dest_se_at", "source_se", "dest_se", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    source_se: Mapped[str] = mapped_column(String(255))
    dest_se: Mapped[str] = mapped_column(String(255))
    at: Mapped[float] = mapped_column(Double)
    old_concurrency: Mapped[int] = mapped_column(Integer)
    new_concurrency: Mapped[int] = mapped_column(Integer)
    throughput: Mapped[float | None] = mapped_column(Double)  # bytes/s in the window
    ema: Mapped[float | None] = mapped_column(Double)
    success_rate: Mapped[float | None] = mapped_column(Double)
    queued: Mapped[int] = mapped_column(Integer)
    active: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)


class TombstoneModel(Base):
    """A STALE replica an agent registered at the SURL a dead agent was writing."""

    __tablename__ = "transfer_tombstones"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    file_id: Mapped[int | None] = mapped_column(_Id)  # the transfer's file, for the record
    guid: Mapped[str] = mapped_column(String(36))
    lfn: Mapped[str] = mapped_column(Text)
    dest_se: Mapped[str] = mapped_column(String(255))
    surl: Mapped[str] = mapped_column(Text)
    submitter: Mapped[str] = mapped_column(String(255))  # who the sweep acts as
    groups: Mapped[str] = mapped_column(Text)
    made: Mapped[float] = mapped_column(Double)
    sweep_at: Mapped[float] = mapped_column(Double, index=True)  # due then (or retried then)
