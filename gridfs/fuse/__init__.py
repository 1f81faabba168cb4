"""The /grid mount: pyfuse3 + trio over the gfal layer, read-only for now.

The only package of gridfs that imports pyfuse3.
"""

from gridfs.fuse.mount import default_log_file, mount, unmount
from gridfs.fuse.operations import GridOperations

__all__ = ["GridOperations", "default_log_file", "mount", "unmount"]
