"""The /grid mount: pyfuse3 + trio over the gfal layer.

The only package of gridfs that imports pyfuse3.
"""

from gridfs.fuse.mount import default_log_file, mount, unmount
from gridfs.fuse.operations import GridOperations
from gridfs.fuse.options import parse_options

__all__ = ["GridOperations", "default_log_file", "mount", "parse_options", "unmount"]
