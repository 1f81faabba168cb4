"""gfal-sum on LFNs: the catalog's checksum, or one recomputed from replicas."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from gridfs.catalog import Replica, Stat
from gridfs.errors import GridError, InvalidArgument, IsADirectory
from gridfs.gfal.grid import Grid
from gridfs.gfal.replicas import current_replicas
from gridfs.storage import DEFAULT_CHECKSUM
from gridfs.storage.checksum import CHECKSUM_TYPES, new_digest

__all__ = ["ChecksumReport", "ReplicaChecksum", "Verify", "checksum"]

log = logging.getLogger(__name__)

_CHUNK = 4 << 20


class Verify(StrEnum):
    """Which replicas :func:`checksum` recomputes the checksum from."""

    NONE = "none"  # the catalog's value only
    BEST = "best"  # the first replica that answers, in replica-choice order
    ALL = "all"  # every registered replica


@dataclass(frozen=True)
class ReplicaChecksum:
    """A replica's checksum as recomputed now, or why it could not be."""

    surl: str
    se: str
    value: str | None
    error: str | None = None


@dataclass(frozen=True)
class ChecksumReport:
    """The checksum of one file: the catalog's, and those recomputed from replicas."""

    lfn: str
    checksum_type: str
    catalog: str | None
    replicas: tuple[ReplicaChecksum, ...]
    verify: Verify = Verify.NONE

    @property
    def recomputed(self) -> str | None:
        """The first checksum recomputed from a replica, if any was."""
        return next((r.value for r in self.replicas if r.value is not None), None)

    @property
    def value(self) -> str | None:
        """The file's checksum: the catalog's, else the first one recomputed."""
        return self.catalog if self.catalog is not None else self.recomputed

    def mismatches(self) -> list[ReplicaChecksum]:
        """Replicas whose checksum differs from :attr:`value`; with ``ALL``, also unreadable ones.

        (With ``BEST``, a replica that could not be read was only the reason to try the next.)
        """
        reference = self.value
        return [
            r
            for r in self.replicas
            if (r.value is None and self.verify is Verify.ALL)
            or (r.value is not None and r.value != reference)
        ]


def checksum(
    grid: Grid, lfn: str, checksum_type: str = DEFAULT_CHECKSUM, *, verify: Verify = Verify.NONE
) -> ChecksumReport:
    """The checksum of file ``lfn`` of ``checksum_type`` (one of ``CHECKSUM_TYPES``).

    The catalog holds adler32 only; for another type, or with ``verify``, the
    checksum is recomputed from replicas: adler32 by the SE itself (as
    gfal-sum asks it), the other types by reading the replica here. With
    :attr:`Verify.BEST` the replicas are tried in replica-choice order until
    one answers; with :attr:`Verify.ALL` every one is, and
    :meth:`ChecksumReport.mismatches` names those that differ or failed.
    """
    checksum_type = checksum_type.lower()
    if checksum_type not in CHECKSUM_TYPES:
        raise InvalidArgument(
            f"unknown checksum type {checksum_type!r} (known: {', '.join(CHECKSUM_TYPES)})",
            checksum_type,
        )
    entry, replicas = grid.catalog.stat_replicas(lfn)
    if not entry.is_file():
        raise IsADirectory(f"not a file: {lfn}", lfn)
    catalog = entry.checksum if entry.checksum_type == checksum_type else None
    if catalog is None and verify is Verify.NONE:
        verify = Verify.BEST
    # Stale replicas hold an older version, on their way out: not this file's content.
    replicas = current_replicas(replicas)
    results: list[ReplicaChecksum] = []
    if verify is Verify.ALL:
        results = [_replica_checksum(grid, entry, r, checksum_type) for r in replicas]
    elif verify is Verify.BEST:
        for candidate in grid.storage.rank(replicas):
            result = _replica_checksum(grid, entry, candidate.replica, checksum_type)
            results.append(result)
            if result.value is not None:
                break
        if not any(r.value is not None for r in results):
            tried = "; ".join(f"{r.surl} ({r.error})" for r in results) or "it has no replicas"
            raise GridError(f"no replica of {lfn} could be checksummed: {tried}", lfn)
    return ChecksumReport(lfn, checksum_type, catalog, tuple(results), verify)


def _replica_checksum(
    grid: Grid, entry: Stat, replica: Replica, checksum_type: str
) -> ReplicaChecksum:
    try:
        if replica.se not in grid.ses:
            raise InvalidArgument(f"its SE {replica.se} is not configured", replica.surl)
        turl, backend = grid.storage.reach(replica.surl, grid.ses.get(replica.se))
        if checksum_type == DEFAULT_CHECKSUM:
            value = backend.checksum(turl, checksum_type)
        else:
            digest = new_digest(checksum_type)
            with backend.open_reader(turl) as reader:
                offset = 0
                for chunk in reader.chunks(_CHUNK):
                    digest.update(chunk)
                    offset += len(chunk)
            if offset != entry.size:
                raise GridError(f"{offset} bytes, the catalog says {entry.size}", replica.surl)
            value = digest.hexdigest()
    except GridError as exc:
        log.info("checksum of replica %s failed: %s", replica.surl, exc)
        return ReplicaChecksum(replica.surl, replica.se, None, str(exc))
    return ReplicaChecksum(replica.surl, replica.se, value)
