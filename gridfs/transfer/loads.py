"""What the transfer queue holds per link: the files due, the files running, the links in use.

The claims count these to find each link's room, and the optimizer and the
link listing to describe a link's load; one place, so they count alike.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from gridfs.transfer.models import FileModel, LinkModel
from gridfs.transfer.optimizer import OptimizerSettings
from gridfs.transfer.states import WAITING, FileState

__all__ = [
    "RUNNING_STATES",
    "WAITING_STATES",
    "due_per_link",
    "is_due",
    "links_in_use",
    "running_per_link",
]

RUNNING_STATES = (FileState.ACTIVE.value, FileState.STAGING.value)
WAITING_STATES = tuple(state.value for state in WAITING)


def is_due(now: float) -> ColumnElement[bool]:
    """Files whose turn has come: submitted and past their backoff, or leased by a dead agent."""
    return or_(
        and_(
            FileModel.state == FileState.SUBMITTED.value,
            FileModel.not_before <= now,
            FileModel.follows.is_(None),
        ),
        and_(FileModel.state.in_(RUNNING_STATES), FileModel.lease_expiry < now),
    )


def due_per_link(session: Session, now: float) -> dict[tuple[str, str], dict[str, int]]:
    """Files whose turn has come, per link and activity."""
    due: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    query = (
        select(FileModel.source_se, FileModel.dest_se, FileModel.activity, func.count())
        .where(is_due(now))
        .group_by(FileModel.source_se, FileModel.dest_se, FileModel.activity)
    )
    for source, dest, activity, count in session.execute(query):
        due[(source, dest)][activity] = count
    return due


def running_per_link(session: Session, now: float) -> dict[tuple[str, str, str], int]:
    """Files being copied under a live lease, per link and activity.

    Files staging from tape use no stream of their link: once staged they
    are queued again, and take one when the link has room.
    """
    query = (
        select(FileModel.source_se, FileModel.dest_se, FileModel.activity, func.count())
        .where(FileModel.state == FileState.ACTIVE.value, FileModel.lease_expiry >= now)
        .group_by(FileModel.source_se, FileModel.dest_se, FileModel.activity)
    )
    return {(s, d, a): count for s, d, a, count in session.execute(query)}


def links_in_use(
    session: Session, now: float, settings: OptimizerSettings
) -> dict[tuple[str, str], LinkModel]:
    """Every link with files waiting or running, made at its start concurrency if new."""
    links = {(r.source_se, r.dest_se): r for r in session.scalars(select(LinkModel))}
    used = session.execute(
        select(FileModel.source_se, FileModel.dest_se)
        .where(FileModel.state.in_(WAITING_STATES))
        .distinct()
    )
    for source, dest in used:
        if (source, dest) not in links:
            link = LinkModel(
                source_se=source,
                dest_se=dest,
                concurrency=settings.start_streams,
                ema=None,
                ramping=True,
                decided=now,
            )
            session.add(link)
            links[(source, dest)] = link
    session.flush()
    return links
