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
    protocols: Sequence[str] | None = None,
) -> list[Candidate]:
    """The replicas to try, best first.

    Only available replicas on configured, readable SEs are candidates, and,
    given ``protocols`` (most preferred first), only on SEs that offer one of
    them. Healthy SEs come before those in ``unhealthy`` (whose circuit
    breaker is open); then online SEs before nearline (tape) ones; then SEs
    of ``local_site``, then of ``local_region``, then the rest; then SEs that
    offer a more preferred protocol; among equals the order is random (drawn
    from ``rng``), which spreads readers over the SEs.
    """
    keyed = []
    for replica in replicas:
        if replica.status is not ReplicaStatus.AVAILABLE or replica.se not in ses:
            continue
        se = ses.get(replica.se)
        if not se.readable:
            continue
        offered = [i for i, name in enumerate(protocols or ()) if name in se.protocols]
        if protocols is not None and not offered:
            continue
        in_region = local_region is not None and se.region == local_region
        near = 0 if se.site == local_site else 1 if in_region else 2
        preference = offered[0] if offered else 0
        key = (se.name in unhealthy, se.nearline, near, preference, rng.random())
        keyed.append((key, Candidate(replica, se)))
    keyed.sort(key=lambda pair: pair[0])
    return [candidate for _, candidate in keyed]
