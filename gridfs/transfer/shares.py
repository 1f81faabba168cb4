"""Fair shares between activities: how the free streams of a link are shared out."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_ACTIVITY", "share_out"]

DEFAULT_ACTIVITY = "default"


def share_out(
    room: int,
    waiting: Mapping[str, int],
    running: Mapping[str, int],
    shares: Mapping[str, float],
) -> dict[str, int]:
    """How many of ``room`` new streams each activity gets.

    Each stream goes to the activity with waiting files whose running
    streams, per unit of share, are fewest, so that over time each runs in
    proportion to its share (FTS's activity shares). An activity with no
    share configured gets the default activity's, else 1. Ties go to the
    activity named first in alphabetical order, so the result is stable.
    """
    fallback = shares.get(DEFAULT_ACTIVITY, 1.0)
    given = dict.fromkeys(waiting, 0)
    left = {activity: count for activity, count in waiting.items() if count > 0}
    for _ in range(max(0, room)):
        if not left:
            break
        activity = min(
            sorted(left),
            key=lambda name: (running.get(name, 0) + given[name]) / shares.get(name, fallback),
        )
        given[activity] += 1
        left[activity] -= 1
        if not left[activity]:
            del left[activity]
    return {activity: count for activity, count in given.items() if count}
