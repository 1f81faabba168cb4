"""gridfs: grid data management on a workstation.

A file catalog of logical file names (LFNs), storage elements holding their
replicas, and POSIX-like calls that tie them together::

    import gridfs
    with gridfs.open("/grid/gilda/trailers/matrix.mpg") as f:
        header = f.read(4096)

The same library backs the ``gridfs`` command line and the FUSE mount.
"""

from gridfs import errors
from gridfs.catalog import EntryKind, Identity, Replica, Stat
from gridfs.config import Config, load_config
from gridfs.errors import GridError
from gridfs.gfal import (
    Grid,
    cr,
    default_grid,
    listdir,
    lr,
    lstat,
    makedirs,
    mkdir,
    open,
    readlink,
    rep,
    scandir,
    stat,
    symlink,
)

__all__ = [
    "Config",
    "EntryKind",
    "Grid",
    "GridError",
    "Identity",
    "Replica",
    "Stat",
    "cr",
    "default_grid",
    "errors",
    "listdir",
    "load_config",
    "lr",
    "lstat",
    "makedirs",
    "mkdir",
    "open",
    "readlink",
    "rep",
    "scandir",
    "stat",
    "symlink",
]
