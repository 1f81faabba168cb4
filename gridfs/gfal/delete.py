"""lcg-del: delete one replica of a file, or all of them and the file itself.

The order keeps catalog and storage consistent: a replica is first marked
unavailable (readers skip it from then on, and the mark checks that the
caller may change the file), then its stored copy is deleted, then it is
unregistered. If the deletion fails, the mark is taken back and the replica
stays as it was; if the process dies between deletion and unregistration,
the replica is left marked unavailable, never offered to a reader.

As lcg-del did, deleting the last replica of a file removes the file from
the catalog too (its GUID and aliases with it): a file without replicas is
no grid file.
"""

from __future__ import annotations

import contextlib
import logging

from gridfs.catalog import Replica, ReplicaStatus
from gridfs.errors import GridError, InvalidArgument, IsADirectory, NotFound
from gridfs.gfal.grid import Grid

__all__ = ["delete"]

log = logging.getLogger(__name__)


def delete(
    grid: Grid,
    lfn: str,
    *,
    se: str | None = None,
    surl: str | None = None,
    all_replicas: bool = False,
) -> list[str]:
    """Delete one replica of ``lfn``, or all of them and the file; returns the SURLs deleted.

    The replica is the one on ``se`` or the one named ``surl``; with
    ``all_replicas``, every replica and the file go. Exactly one of the three
    is given. ``lfn`` may be an alias: the file it leads to is meant.
    Deleting the only replica removes the file from the catalog (as lcg-del
    does).
    """
    if sum((se is not None, surl is not None, all_replicas)) != 1:
        raise InvalidArgument("say which replica to delete: an SE, a SURL, or all of them", lfn)
    entry = grid.stat(lfn)
    if not entry.is_file():
        raise IsADirectory(f"not a file: {lfn}", lfn)
    assert entry.guid is not None
    primary = grid.catalog.lfns_of(entry.guid)[0]
    replicas = grid.catalog.replicas(entry.id)
    if all_replicas:
        grid.unlink(primary)
        log.info("deleted %s and its %d replicas", primary, len(replicas))
        return [replica.surl for replica in replicas]
    # On an SE, the replica of the current content (a bad one too); a stale one only by its SURL.
    chosen = [r for r in replicas if r.surl == surl] or [
        r for r in replicas if r.se == se and r.status is not ReplicaStatus.STALE
    ]
    if not chosen:
        where = f"on {se}" if se is not None else str(surl)
        raise NotFound(f"{lfn} has no replica {where}", surl or lfn)
    if len(chosen) > 1:
        listed = ", ".join(r.surl for r in chosen)
        raise InvalidArgument(f"{lfn} has several replicas on {se}: give the SURL ({listed})", lfn)
    (replica,) = chosen
    current = [r for r in replicas if r.status is ReplicaStatus.AVAILABLE]
    if current == [replica] or len(replicas) == 1:  # the last copy: the file goes too
        grid.unlink(primary)
        log.info("deleted the last replica %s of %s, and the file", replica.surl, primary)
        return [replica.surl]
    _delete_one(grid, replica)
    log.info("deleted replica %s of %s", replica.surl, primary)
    left = grid.catalog.replicas(entry.id)
    if current and not any(r.status is ReplicaStatus.AVAILABLE for r in left):
        # Deletes running at once each took another copy: the file goes, as with the last.
        with contextlib.suppress(NotFound):
            grid.unlink(primary)
        log.info("no replica of %s is left: the file is removed too", primary)
    return [replica.surl]


def _delete_one(grid: Grid, replica: Replica) -> None:
    before = grid.catalog.begin_replica_deletion(replica.surl)
    try:
        grid.storage.delete_stored(replica)
    except BaseException:
        try:
            # Back as it was, unless a new version made it STALE meanwhile.
            grid.catalog.undo_replica_deletion(before)
        except GridError as exc:
            log.warning("replica %s stays marked unavailable: %s", replica.surl, exc)
        raise
    try:
        grid.catalog.remove_replica(replica.guid, replica.surl)
    except NotFound:
        log.info("replica %s was unregistered by someone else meanwhile", replica.surl)
