"""Which processes still hold a file of the mount open for writing, from ``/proc``.

Why the mount needs to know: the kernel sends FLUSH at every close(2) of a
descriptor, also when other descriptors of the same open file live on in
this or other processes, and RELEASE only after the last one is gone, and
nobody waits for RELEASE. A shell redirection is shared like that:
``(for i in ...; do head ...; done) > f`` hands the subshell's descriptor
to each ``head``, whose exit flushes, and ``cat x > f`` itself closes the
descriptor it opened once it is copied to 1. Storing a version at each of
these FLUSHes would store each partial content as a finished version (and
an empty one first, which a later failure would leave in place of the
old). So a FLUSH commits only if no descriptor for writing is left: the
last closer's FLUSH stores the file, and its close(2) waits for that.

How: when FLUSH comes, the closing descriptor is already gone from its
process's table (a process that exits drops its whole table first), so
every descriptor still listed in ``/proc/PID/fd`` is another holder.
``readlink`` of those links and reading ``/proc/PID/fdinfo/N`` are answered
by the kernel without asking the mount (no deadlock while it serves FLUSH);
``fdinfo`` gives the access mode (``flags:``) and the inode (``ino:``).
Processes the mount may not inspect (other users', when it is not root)
are not seen; their files are stored at each FLUSH, as without this check.

Which processes: when the file has one open only, every descriptor on it
is one of that open's, and such a descriptor reaches another process only
through a fork after the open (or passed over a socket, not seen here, as
above): only the opener and processes made since the open can hold it.
Process ids are handed out in increasing order until they wrap, and the
kernel tells the last one made (``/proc/loadavg``): an open notes it
(:func:`pid_mark`), and its FLUSH looks at the opener and at the processes
with a higher id, a few or none (``tar x``, ``cp``), rather than at every
process and its every descriptor. If the ids wrapped since, all are looked at.
"""

from __future__ import annotations

import os

__all__ = ["pid_mark", "writers_holding"]

_PROC = "/proc"


def pid_mark() -> int:
    """The id of the process (or thread) made last: ``since`` for :func:`writers_holding`."""
    try:
        with open(f"{_PROC}/loadavg", encoding="ascii") as loadavg:
            return int(loadavg.read().split()[4])
    except (OSError, IndexError, ValueError):
        return 0  # then every process is looked at


def writers_holding(
    mountpoint: str, inode: int, *, opener: int | None = None, since: int = 0
) -> int:
    """The number of descriptors, in the processes we can see, open for writing on ``inode``.

    ``mountpoint`` is the mount's path as this process sees it, ``inode``
    the file's inode number in the mount. With ``opener`` (the process that
    opened the file) and ``since`` (:func:`pid_mark` before the open), for a
    file open once only, just the processes that can share that open are
    looked at: the opener and those made since. Without them, all.
    """
    inside = mountpoint.rstrip("/") + "/"
    count = 0
    for pid in _candidates(opener, since):
        fd_dir = f"{_PROC}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # ended meanwhile, or not ours to see
            continue
        for fd in fds:
            try:
                if not os.readlink(f"{fd_dir}/{fd}").startswith(inside):
                    continue
                with open(f"{_PROC}/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                    fields = dict(line.split(":", 1) for line in info if ":" in line)
            except OSError:  # closed meanwhile
                continue
            writable = int(fields.get("flags", "0"), 8) & os.O_ACCMODE != os.O_RDONLY
            # Without "ino:" (older kernels) every writer under the mount counts.
            same = fields.get("ino", str(inode)).strip() == str(inode)
            count += writable and same
    return count


def _candidates(opener: int | None, since: int) -> list[str]:
    """The processes to look at; ids made after ``since``, with the opener, unless they wrapped."""
    mark = pid_mark()
    if opener is not None and since > 0 and mark == since:
        return [str(opener)]  # none made since (tar x, cp): no need to list them all
    pids = [name for name in os.listdir(_PROC) if name.isdigit()]
    if opener is None or since <= 0 or mark < since:
        return pids
    return [str(opener), *(pid for pid in pids if int(pid) > since and int(pid) != opener)]
