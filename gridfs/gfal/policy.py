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
    *,
    unhealthy: frozenset[str] = frozenset(),
    local_region: str | None = None,
) -> list[Candidate]:
    """The replicas to try, best first.

    Only available replicas on configured, readable SEs are candidates.
    Healthy SEs come before those in ``unhealthy`` (whose circuit breaker is
    open); then online SEs before nearline (tape) ones; then SEs of
    ``local_site``, then of ``local_region``, then the rest; among equals the
    order is random (drawn from ``rng``), which spreads readers over the SEs.
    """
    keyed = []
    for replica in replicas:
        if replica.status is not ReplicaStatus.AVAILABLE or replica.se not in ses:
            continue
        se = ses.get(replica.se)
        if se.readable:
            near = (
                0
                if se.site == local_site
                else 1
                if local_region and se.region == local_region
                else 2
            )
            key = (se.name in unhealthy, se.nearline, near, rng.random())
            keyed.append((key, Candidate(replica, se)))
    keyed.sort(key=lambda pair: pair[0])
    return [candidate for _, candidate in keyed]
