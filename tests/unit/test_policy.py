"""Replica ranking: local site first, random among equals, unusable ones dropped."""

from __future__ import annotations

import random
from collections import Counter

from gridfs.catalog import EntryId, Replica, ReplicaStatus
from gridfs.gfal import rank_replicas
from gridfs.storage import SERegistry, StorageElement

SES = SERegistry(
    [
        StorageElement("cern-se", "cern", "srm://cern/grid"),
        StorageElement("cern-tape", "cern", "srm://cern-tape/grid"),
        StorageElement("infn-se", "infn", "srm://infn/grid"),
        StorageElement("ral-se", "ral", "srm://ral/grid"),
        StorageElement("closed-se", "ral", "srm://closed/grid", readable=False),
    ]
)


def replica(se: str) -> Replica:
    return Replica(EntryId(1), "guid", se, f"srm://{se}/grid/f", ReplicaStatus.AVAILABLE, 0, 0)


def ranked(ses: list[str], site: str | None, seed: int) -> list[str]:
    chosen = rank_replicas([replica(s) for s in ses], SES, site, random.Random(seed))
    return [c.se.name for c in chosen]


def test_local_site_first() -> None:
    for seed in range(20):
        assert ranked(["ral-se", "infn-se", "cern-se"], "cern", seed)[0] == "cern-se"
        order = ranked(["ral-se", "cern-se", "infn-se", "cern-tape"], "cern", seed)
        assert set(order[:2]) == {"cern-se", "cern-tape"}


def test_random_among_equals() -> None:
    firsts = Counter(ranked(["ral-se", "infn-se"], "cern", seed)[0] for seed in range(200))
    assert set(firsts) == {"ral-se", "infn-se"}
    assert min(firsts.values()) > 50
    firsts = Counter(ranked(["ral-se", "infn-se", "cern-se"], None, seed)[0] for seed in range(300))
    assert set(firsts) == {"ral-se", "infn-se", "cern-se"}


def test_unusable_replicas_are_not_candidates() -> None:
    assert ranked(["closed-se", "unknown-se", "infn-se"], "ral", 1) == ["infn-se"]
    assert ranked([], "cern", 1) == []
