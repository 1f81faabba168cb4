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
    GridFile,
    access,
    chmod,
    chown,
    cr,
    default_grid,
    getxattr,
    listdir,
    listxattr,
    lr,
    lstat,
    makedirs,
    mkdir,
    open,
    readlink,
    removexattr,
    rename,
    rep,
    rmdir,
    scandir,
    setxattr,
    stat,
    symlink,
    unlink,
    utime,
)

__all__ = [
    "Config",
    "EntryKind",
    "Grid",
    "GridError",
    "GridFile",
    "Identity",
    "Replica",
    "Stat",
    "access",
    "chmod",
    "chown",
    "cr",
    "default_grid",
    "errors",
    "getxattr",
    "listdir",
    "listxattr",
    "load_config",
    "lr",
    "lstat",
    "makedirs",
    "mkdir",
    "open",
    "readlink",
    "removexattr",
    "rename",
    "rep",
    "rmdir",
    "scandir",
    "setxattr",
    "stat",
    "symlink",
    "unlink",
    "utime",
]
