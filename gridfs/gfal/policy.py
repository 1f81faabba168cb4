"""Replica choice: one pure ranking policy, tested from tables."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from gridfs.catalog import Replica, ReplicaStatus
from gridfs.storage import SERegistry, StorageElement

__all__ = ["Candidate", "rank_replicas"]


@dataclass(frozen=True)
class Candidate:
    """A replica worth trying, with the SE that holds it."""

    replica: Replica
    se: StorageElement


def rank_replicas(
    replicas: Sequence[Replica],
    ses: SERegistry,
    local_site: str | None,
    rng: random.Random,
) -> list[Candidate]:
    """The replicas to try, best first.

    Only available replicas on configured, readable SEs are candidates. SEs of
    ``local_site`` come first, then all others; among equals the order is
    random (drawn from ``rng``), which spreads readers over the SEs.
    """
    candidates = [
        Candidate(replica, ses.get(replica.se))
        for replica in replicas
        if replica.status is ReplicaStatus.AVAILABLE
        and replica.se in ses
        and ses.get(replica.se).readable
    ]
    keys = {id(c): (c.se.site != local_site, rng.random()) for c in candidates}
    return sorted(candidates, key=lambda c: keys[id(c)])
