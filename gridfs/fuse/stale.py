"""Stale mount points: a FUSE mount whose daemon is gone ("Transport endpoint is not connected").

When a mount daemon dies (killed, crashed) the kernel keeps the mount, and
every access to it fails with ENOTCONN until it is unmounted. A stale mount
of gridfs's own (type ``fuse.gridfs``) serves nothing and holds nothing, so
``gridfs mount`` unmounts it and mounts afresh, saying so; any other stale
mount is explained and left alone.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from gridfs.errors import GridError

__all__ = [
    "GRIDFS_TYPE",
    "clear_stale",
    "is_stale",
    "mount_device",
    "mount_type",
    "unmount_command",
]

log = logging.getLogger(__name__)

GRIDFS_TYPE = "fuse.gridfs"  # the kernel's name for our mounts (subtype=gridfs)
_MOUNTINFO = Path("/proc/self/mountinfo")
_ESCAPE = re.compile(r"\\([0-7]{3})")


def is_stale(target: Path) -> bool:
    """Whether ``target`` is a mount point whose filesystem's daemon is gone.

    Asked with statfs(2), which FUSE always sends to the daemon: a stat(2) of
    the mount point may be answered from the kernel's attribute cache.
    """
    try:
        os.statvfs(target)
    except OSError as exc:
        return exc.errno == errno.ENOTCONN
    return False


def mount_type(target: Path) -> str | None:
    """The filesystem type mounted at ``target`` last (``fuse.gridfs``...), None if none."""
    entry = _mounted_last(target)
    return None if entry is None else entry[1].split()[0]


def mount_device(target: Path) -> tuple[int, int] | None:
    """The device (major, minor) mounted at ``target`` last, read without asking its daemon."""
    entry = _mounted_last(target)
    if entry is None:
        return None
    major, _, minor = entry[0][2].partition(":")
    return int(major), int(minor)


def _mounted_last(target: Path) -> tuple[list[str], str] | None:
    """The fields and the tail after " - " of the last mountinfo line for ``target``."""
    found = None
    try:
        lines = _MOUNTINFO.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts = fields.split()
        if len(parts) > 4 and _unescape(parts[4]) == str(target) and tail:
            found = parts, tail
    return found


def _unescape(field: str) -> str:
    """A mountinfo path: the kernel writes space, tab, newline and backslash as octal."""
    return _ESCAPE.sub(lambda match: chr(int(match[1], 8)), field)


def unmount_command(target: Path) -> list[str]:
    """The command that unmounts ``target``: fusermount3 -u (umount as a fallback)."""
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    return [tool, "-u", str(target)] if tool else ["umount", str(target)]


def clear_stale(target: Path) -> None:
    """Unmount the stale gridfs mount at ``target``; any other stale mount is an error.

    The error explains the state in one line and how to clear it by hand.
    """
    kind = mount_type(target)
    if kind != GRIDFS_TYPE:
        raise GridError(
            f"{target} is a stale mount point (Transport endpoint is not connected): the "
            f"daemon of its {kind or 'FUSE'} filesystem is gone; unmount it with "
            f"fusermount3 -u {target}",
            str(target),
            errno=errno.ENOTCONN,
        )
    result = subprocess.run(unmount_command(target), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
        raise GridError(
            f"{target} is a stale gridfs mount (its daemon is gone) and cannot be unmounted: "
            f"{reason}",
            str(target),
            errno=errno.ENOTCONN,
        )
    log.warning("%s was a stale gridfs mount (its daemon had died): unmounted it", target)
