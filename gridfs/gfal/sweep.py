"""Dark data: objects on an SE that no replica names, found and removed.

Copies are stored, verified and registered, and every failure deletes what
was stored; but an SE that dies in the middle of an upload keeps the partial
upload under the temporary name its backend gave it (``.file-GUID.part-XXXX``),
and nobody can delete it while the SE is down; a process killed between
storing and registering leaves a whole object that no replica names. Neither
is ever registered. :func:`sweep` finds both kinds in the SE's ``generated/``
area, where ``cr``, ``rep`` and ``cp`` store, and deletes them. Only objects
older than ``older_than_s`` are touched, which spares uploads in progress and
copies about to be registered by another process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from gridfs.errors import InvalidArgument, NotFound, PermissionDenied
from gridfs.gfal.grid import Grid
from gridfs.storage import generated_surl, is_partial_upload, parse_replica_name, resolve_turl

__all__ = ["DarkObject", "sweep"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DarkObject:
    """An object on an SE that no replica names: a partial upload, or an unregistered copy."""

    surl: str
    size: int
    partial: bool


def sweep(
    grid: Grid, se: str, *, older_than_s: float = 3600.0, delete: bool = True
) -> list[DarkObject]:
    """The dark objects on SE ``se`` older than ``older_than_s``, deleted unless ``delete`` is off.

    An object counts as registered when the catalog has its SURL as a
    replica of the GUID in its name; one whose file the identity may not read
    is left alone (it cannot be told). Raises :class:`InvalidArgument` for a
    tape SE (its copies are the stager's to manage).
    """
    element = grid.ses.get(se)
    if element.nearline:
        raise InvalidArgument(f"{se} is a tape SE: its copies are the stager's", se)
    area = resolve_turl(generated_surl(element), element, grid.storage.protocols)
    backend = grid.storage.backend(area)
    try:
        days = [entry.name for entry in backend.list(area) if entry.is_dir]
    except NotFound:
        return []
    cutoff_ns = time.time_ns() - int(older_than_s * 1e9)
    found = []
    for day in sorted(days):
        directory = f"{area.rstrip('/')}/{day}"
        for entry in backend.list(directory):
            if entry.is_dir:
                continue
            partial = is_partial_upload(entry.name)
            name = parse_replica_name(entry.name)
            if not partial and name is None:
                continue  # not a name gridfs gives: not ours to judge
            surl = generated_surl(element, day, entry.name)
            if name is not None and _registered(grid, surl, name.guid):
                continue
            turl = f"{directory}/{entry.name}"
            try:
                if backend.stat(turl).mtime_ns > cutoff_ns:
                    continue
            except NotFound:
                continue  # finished (moved into place) or removed meanwhile
            found.append(DarkObject(surl, entry.size, partial))
            if delete:
                try:
                    backend.delete(turl)
                except NotFound:
                    continue
                log.info("deleted %s %s", "partial upload" if partial else "unregistered", surl)
    return found


def _registered(grid: Grid, surl: str, guid: str) -> bool:
    try:
        return surl in grid.catalog.surls_of(guid)
    except (NotFound, InvalidArgument):  # no such GUID, or not a GUID at all
        return False
    except PermissionDenied:
        log.info("%s: its file may not be read here; left alone", surl)
        return True
