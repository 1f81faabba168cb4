"""File and job states, in the FTS manner, and a job's state derived from its files'."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["TERMINAL", "WAITING", "FileState", "JobState", "job_state"]


class FileState(StrEnum):
    """Where one file of a job, to one destination, stands."""

    SUBMITTED = "submitted"  # queued, or waiting for its retry's backoff
    STAGING = "staging"  # its source is being brought online from tape
    ACTIVE = "active"  # an agent is copying it
    FINISHED = "finished"  # copied, verified and registered
    FAILED = "failed"  # given up: ``reason`` and ``errno`` say why
    CANCELED = "canceled"
    NOT_USED = "not_used"  # nothing to do: the destination holds the file already


class JobState(StrEnum):
    """A job's state, derived from its files' (never stored, so it never disagrees)."""

    SUBMITTED = "submitted"  # nothing started yet
    ACTIVE = "active"  # some files started, some not yet done
    FINISHED = "finished"  # every file is at its destination
    FINISHED_DIRTY = "finisheddirty"  # done, some files failed or were canceled
    FAILED = "failed"  # done, no file made it
    CANCELED = "canceled"  # canceled before any file made it


WAITING = frozenset({FileState.SUBMITTED, FileState.STAGING, FileState.ACTIVE})
"""The states of files an agent still has to deal with."""
TERMINAL = frozenset(FileState) - WAITING
_DONE = frozenset({FileState.FINISHED, FileState.NOT_USED})


def job_state(states: Iterable[FileState]) -> JobState:
    """The state of a job whose files are in ``states`` (one per file and destination)."""
    seen = set(states)
    if not seen or seen <= _DONE:
        return JobState.FINISHED
    if seen & WAITING:
        started = seen - {FileState.SUBMITTED}
        return JobState.ACTIVE if started else JobState.SUBMITTED
    if seen & _DONE:
        return JobState.FINISHED_DIRTY
    if FileState.CANCELED in seen:
        return JobState.CANCELED
    return JobState.FAILED
