"""The gfal layer: POSIX-like calls on LFNs and lcg-utils operations.

The module-level functions work on a default :class:`Grid` built from the
configuration file on first use; build a :class:`Grid` yourself to use
several grids or an explicit configuration.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import BinaryIO

from gridfs.catalog import Replica, Stat
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.fileobj import GridRawReader
from gridfs.gfal.grid import Grid
from gridfs.gfal.policy import Candidate, rank_replicas

__all__ = [
    "Candidate",
    "FailoverReader",
    "Grid",
    "GridRawReader",
    "cr",
    "default_grid",
    "listdir",
    "lr",
    "lstat",
    "makedirs",
    "mkdir",
    "open",
    "rank_replicas",
    "readlink",
    "rep",
    "scandir",
    "stat",
    "symlink",
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


def open(lfn: str, mode: str = "rb", buffering: int = -1) -> BinaryIO:
    """Open ``lfn`` for binary reading (see :meth:`Grid.open`)."""
    return default_grid().open(lfn, mode, buffering)


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
