"""The transfer service (FTS-like): persistent jobs, agents that share them, per-link optimizer.

:class:`Transfers` submits and follows jobs; :class:`Agent` does the copies.
Both keep their state in the catalog's database (migration 0009), so a job
survives every process, and agents on several hosts share the queue.
"""

from __future__ import annotations

from gridfs.transfer.agent import Agent, AgentSummary
from gridfs.transfer.records import FileRecord, JobRecord, LinkRecord
from gridfs.transfer.service import DEFAULT_PRIORITY, RequestReport, Submission, Transfers
from gridfs.transfer.settings import TransferSettings, load_transfer_settings
from gridfs.transfer.states import FileState, JobState
from gridfs.transfer.store import TransferStore

__all__ = [
    "DEFAULT_PRIORITY",
    "Agent",
    "AgentSummary",
    "FileRecord",
    "FileState",
    "JobRecord",
    "JobState",
    "LinkRecord",
    "RequestReport",
    "Submission",
    "TransferSettings",
    "TransferStore",
    "Transfers",
    "load_transfer_settings",
]
