"""The gfal layer: POSIX-like calls on LFNs and lcg-utils operations.

The module-level functions work on a default :class:`Grid` built from the
configuration file on first use; build a :class:`Grid` yourself to use
several grids or an explicit configuration.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from gridfs.catalog import (
    SUPERUSER,
    AclEdit,
    EntryId,
    Identity,
    Replica,
    Stat,
    format_acl,
    parse_acl,
    parse_acl_keys,
)
from gridfs.gfal.checksums import ChecksumReport, Verify, checksum
from gridfs.gfal.copy import Copied, copy, resolve_destination
from gridfs.gfal.delete import delete
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.fileobj import GridFile, GridRawReader
from gridfs.gfal.grid import Grid
from gridfs.gfal.locations import parse_location
from gridfs.gfal.nodes import CallerNodes, Nodes
from gridfs.gfal.policy import Candidate, rank_replicas
from gridfs.gfal.readcheck import Corrupt, ReadCheck
from gridfs.gfal.replicas import ReplicaAccess
from gridfs.gfal.writer import StagedFile, clear_staging_leftovers
from gridfs.metadata import FoundEntry, Value, format_value, parse_type
from gridfs.storage import (
    DEFAULT_CHECKSUM,
    Locality,
    RequestState,
    StageRequest,
    make_private_dirs,
)
from gridfs.storage.checksum import CHECKSUM_TYPES

__all__ = [
    "CHECKSUM_TYPES",
    "DEFAULT_CHECKSUM",
    "SUPERUSER",
    "AclEdit",
    "CallerNodes",
    "Candidate",
    "ChecksumReport",
    "Copied",
    "Corrupt",
    "EntryId",
    "FailoverReader",
    "FoundEntry",
    "Grid",
    "GridFile",
    "GridRawReader",
    "Identity",
    "Locality",
    "Nodes",
    "ReadCheck",
    "Replica",
    "ReplicaAccess",
    "RequestState",
    "StageRequest",
    "StagedFile",
    "Stat",
    "Value",
    "Verify",
    "access",
    "chmod",
    "chown",
    "clear_staging_leftovers",
    "cp",
    "cr",
    "default_grid",
    "format_acl",
    "format_value",
    "getxattr",
    "listdir",
    "listxattr",
    "lr",
    "lstat",
    "make_private_dirs",
    "makedirs",
    "mkdir",
    "open",
    "parse_acl",
    "parse_acl_keys",
    "parse_type",
    "rank_replicas",
    "readlink",
    "removexattr",
    "rename",
    "rep",
    "rm",
    "rmdir",
    "scandir",
    "setxattr",
    "stat",
    "sum",
    "symlink",
    "unlink",
    "utime",
]

_default: Grid | None = None
_default_lock = threading.Lock()


def default_grid() -> Grid:
    """The grid of the configuration file, opened once per process."""
    global _default  # noqa: PLW0603 - one shared grid per process, like a default session
    with _default_lock:
        if _default is None:
            _default = Grid.from_config()
        return _default


def stat(lfn: str) -> Stat:
    """The entry at ``lfn`` (see :meth:`Grid.stat`)."""
    return default_grid().stat(lfn)


def lstat(lfn: str) -> Stat:
    """The entry at ``lfn``, not following a link (see :meth:`Grid.lstat`)."""
    return default_grid().lstat(lfn)


def listdir(lfn: str) -> list[str]:
    """The names in directory ``lfn`` (see :meth:`Grid.listdir`)."""
    return default_grid().listdir(lfn)


def scandir(lfn: str) -> Iterator[Stat]:
    """The entries of directory ``lfn`` (see :meth:`Grid.scandir`)."""
    return default_grid().scandir(lfn)


def mkdir(lfn: str, mode: int = 0o775) -> Stat:
    """Create directory ``lfn`` (see :meth:`Grid.mkdir`)."""
    return default_grid().mkdir(lfn, mode)


def makedirs(lfn: str, mode: int = 0o775, exist_ok: bool = False) -> Stat:
    """Create ``lfn`` and its missing ancestors (see :meth:`Grid.makedirs`)."""
    return default_grid().makedirs(lfn, mode, exist_ok)


def symlink(target: str, lfn: str) -> Stat:
    """Create symbolic link ``lfn`` to ``target`` (see :meth:`Grid.symlink`)."""
    return default_grid().symlink(target, lfn)


def readlink(lfn: str) -> str:
    """The target of symbolic link ``lfn`` (see :meth:`Grid.readlink`)."""
    return default_grid().readlink(lfn)


def rmdir(lfn: str) -> None:
    """Remove the empty directory ``lfn`` (see :meth:`Grid.rmdir`)."""
    default_grid().rmdir(lfn)


def unlink(lfn: str) -> None:
    """Remove file or link ``lfn`` and the file's stored replicas (see :meth:`Grid.unlink`)."""
    default_grid().unlink(lfn)


def rename(source: str, destination: str) -> None:
    """Move ``source`` to ``destination`` (see :meth:`Grid.rename`)."""
    default_grid().rename(source, destination)


def chmod(lfn: str, mode: int) -> Stat:
    """Change the mode bits of ``lfn`` (see :meth:`Grid.chmod`)."""
    return default_grid().chmod(lfn, mode)


def chown(lfn: str, owner: str | None = None, group: str | None = None) -> Stat:
    """Change the owner and/or group of ``lfn`` (see :meth:`Grid.chown`)."""
    return default_grid().chown(lfn, owner, group)


def utime(lfn: str, atime_ns: int | None = None, mtime_ns: int | None = None) -> Stat:
    """Set the times of ``lfn`` (see :meth:`Grid.utime`)."""
    return default_grid().utime(lfn, atime_ns, mtime_ns)


def access(lfn: str, mode: int) -> bool:
    """Whether ``lfn`` exists and allows ``mode``, as os.access (see :meth:`Grid.access`)."""
    return default_grid().access(lfn, mode)


def getxattr(lfn: str, name: str) -> bytes:
    """An extended attribute of ``lfn`` (see :meth:`Grid.getxattr`)."""
    return default_grid().getxattr(lfn, name)


def setxattr(lfn: str, name: str, value: bytes, flags: int = 0) -> None:
    """Set an extended attribute of ``lfn`` (see :meth:`Grid.setxattr`)."""
    default_grid().setxattr(lfn, name, value, flags)


def listxattr(lfn: str) -> list[str]:
    """The extended attribute names of ``lfn`` (see :meth:`Grid.listxattr`)."""
    return default_grid().listxattr(lfn)


def removexattr(lfn: str, name: str) -> None:
    """Remove an extended attribute of ``lfn`` (see :meth:`Grid.removexattr`)."""
    default_grid().removexattr(lfn, name)


def open(
    lfn: str,
    mode: str = "rb",
    buffering: int = -1,
    *,
    protocols: Sequence[str] | None = None,
    se: str | None = None,
) -> BinaryIO:
    """Open ``lfn`` as a binary file for reading or writing (see :meth:`Grid.open`)."""
    return default_grid().open(lfn, mode, buffering, protocols=protocols, se=se)


def cr(
    source: str | os.PathLike[str], lfn: str, se: str | None = None, *, guid: str | None = None
) -> Stat:
    """Copy a local file to an SE and register it (see :meth:`Grid.cr`)."""
    return default_grid().cr(source, lfn, se, guid=guid)


def rep(lfn: str, se: str) -> Replica:
    """Replicate ``lfn`` to SE ``se`` and register the copy (see :meth:`Grid.rep`)."""
    return default_grid().rep(lfn, se)


def lr(lfn: str) -> list[str]:
    """The SURLs of ``lfn``'s replicas (see :meth:`Grid.lr`)."""
    return default_grid().lr(lfn)


def cp(
    source: str,
    destination: str,
    se: str | None = None,
    *,
    overwrite: bool = False,
    parents: bool = False,
) -> Copied:
    """Copy one file, verified end to end: grid to local, local to grid, or within the grid.

    As gfal-copy: an LFN is ``lfn:/grid/...`` or a path under ``/grid``, anything
    else a local path (see :func:`~gridfs.gfal.locations.parse_location`); a
    destination that is a directory receives the file under its own name.
    """
    grid = default_grid()
    origin = parse_location(source)
    target = resolve_destination(grid, origin, parse_location(destination))
    return copy(grid, origin, target, se, overwrite=overwrite, parents=parents)


def rm(lfn: str, *, se: str | None = None, surl: str | None = None) -> list[str]:
    """Delete one replica of ``lfn`` (on ``se``, or ``surl``), else every replica and the file.

    As lcg-del; deleting the last replica removes the file. Returns the SURLs deleted.
    """
    all_replicas = se is None and surl is None
    return delete(default_grid(), lfn, se=se, surl=surl, all_replicas=all_replicas)


def sum(lfn: str, *, verify: Verify = Verify.NONE) -> ChecksumReport:
    """The adler32 of ``lfn`` from the catalog, recomputed from replicas with ``verify``."""
    return checksum(default_grid(), lfn, verify=verify)
