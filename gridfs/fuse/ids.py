"""Grid owners and groups as local uids and gids, and local callers as grid identities.

The rules, both ways (the README's "Ownership" section says the same):

1. The mounting user's grid identity is the mounting user: its user shows as
   the daemon's uid, its primary group as the daemon's gid, and a request from
   that uid acts as that identity.
2. The ``[mount.users]`` and ``[mount.groups]`` tables map grid names to local
   ids (grid name = local id), one to one.
3. Otherwise a grid name is the local account or group of the same name.
4. A local id with no grid name given as an owner (chown 123) is stored as
   its number, a grid name of digits, and shows as that id again (as ``ls``
   shows an owner without an account); any other grid name known neither way
   shows as the fallback uid or gid. A caller with no grid name acts as the
   unprivileged ``nobody``, whatever entries carry its number.

A caller's groups are its primary gid and the supplementary groups of the
calling process (``/proc/PID/status``, kept a second; the account's groups
when there is no process to read), each mapped to a grid group (the
unmappable ones left out). A local caller is
never the grid superuser unless it is the mounting user with a superuser
identity.
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType

from gridfs.errors import InvalidArgument
from gridfs.gfal import Identity

__all__ = ["NOBODY", "IdMapper", "ProcessGroups"]

# Who a local caller without a grid name acts as: no user or group of that name
# is given anything by the catalog unless an administrator chose to.
NOBODY = Identity("nobody", ("nogroup",))

_EMPTY: Mapping[str, int] = MappingProxyType({})
_NO_ID = 2**32 - 1  # (uid_t) -1: "no change", never an id
_KEPT_PROCESSES = 4096  # processes whose groups are remembered, at most (before pruning)


class IdMapper:
    """Maps grid user and group names to local ids and back; lookups are cached.

    The lookups may ask a name service: call them from worker threads.
    """

    def __init__(
        self,
        identity: Identity,
        *,
        users: Mapping[str, int] = _EMPTY,
        groups: Mapping[str, int] = _EMPTY,
        fallback_uid: int = 65534,
        fallback_gid: int = 65534,
        own_uid: int | None = None,
        own_gid: int | None = None,
        processes: ProcessGroups | None = None,
    ) -> None:
        self.identity = identity
        self.own_uid = os.getuid() if own_uid is None else own_uid
        self.own_gid = os.getgid() if own_gid is None else own_gid
        self._users = dict(users)
        self._groups = dict(groups)
        self._user_of_uid = {uid: name for name, uid in users.items()}
        self._group_of_gid = {gid: name for name, gid in groups.items()}
        self._fallback_uid = fallback_uid
        self._fallback_gid = fallback_gid
        self._processes = processes or ProcessGroups()

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one mapper per mount, lives as long
    def uid(self, user: str) -> int:
        """The local uid that shows grid user ``user``."""
        if user == self.identity.user:
            return self.own_uid
        if user in self._users:
            return self._users[user]
        try:
            return pwd.getpwnam(user).pw_uid
        except KeyError:
            return _number(user, self._fallback_uid)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one mapper per mount, lives as long
    def gid(self, group: str) -> int:
        """The local gid that shows grid group ``group``."""
        if group == self.identity.group:
            return self.own_gid
        if group in self._groups:
            return self._groups[group]
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return _number(group, self._fallback_gid)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one mapper per mount, lives as long
    def user_name(self, uid: int) -> str | None:
        """The grid user that local ``uid`` stands for, or ``None``."""
        if uid == self.own_uid:
            return self.identity.user
        if uid in self._user_of_uid:
            return self._user_of_uid[uid]
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            return None
        # A name the table maps elsewhere is not this uid's (rule 2 before rule 3).
        return None if name in self._users or name == self.identity.user else name

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one mapper per mount, lives as long
    def group_name(self, gid: int) -> str | None:
        """The grid group that local ``gid`` stands for, or ``None``."""
        if gid == self.own_gid:
            return self.identity.group
        if gid in self._group_of_gid:
            return self._group_of_gid[gid]
        try:
            name = grp.getgrgid(gid).gr_name
        except KeyError:
            return None
        return None if name in self._groups or name == self.identity.group else name

    def owner(self, uid: int) -> str:
        """The grid user to give an entry to (chown): ``uid``'s, else the number itself."""
        name = self.user_name(uid)
        return str(_valid_id(uid)) if name is None else name

    def group(self, gid: int) -> str:
        """The grid group to give an entry to (chgrp): ``gid``'s, else the number itself."""
        name = self.group_name(gid)
        return str(_valid_id(gid)) if name is None else name

    def caller(self, uid: int, gid: int, pid: int = 0) -> Identity:
        """The grid identity a request from local ``uid``/``gid``, process ``pid``, acts as.

        Its groups are the process's own (those it holds now, after any
        setgroups(2)), read from ``/proc/PID/status``; without a process to
        read (``pid`` 0, or gone) they are the account's.
        """
        if uid == self.own_uid:
            return self.identity
        supplementary = self._processes.groups(pid) if pid else None
        if supplementary is None:
            supplementary = self._account_groups(uid, gid)
        return self._identity(uid, gid, supplementary)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one mapper per mount, lives as long
    def _identity(self, uid: int, gid: int, supplementary: tuple[int, ...]) -> Identity:
        user = self.user_name(uid)
        if user is None:
            return NOBODY
        local_gids = [gid, *(g for g in supplementary if g != gid)]
        names = [self.group_name(g) for g in local_gids]
        groups = tuple(dict.fromkeys(name for name in names if name is not None))
        return Identity(user, groups or NOBODY.groups)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one mapper per mount, lives as long
    def _account_groups(self, uid: int, gid: int) -> tuple[int, ...]:
        try:
            return tuple(os.getgrouplist(pwd.getpwuid(uid).pw_name, gid))
        except (KeyError, OSError):
            return ()  # an account unknown here: its primary group only


def _number(name: str, fallback: int) -> int:
    """The local id a grid name made of digits stands for (rule 4); else ``fallback``."""
    return int(name) if name.isascii() and name.isdigit() and int(name) < _NO_ID else fallback


def _valid_id(local_id: int) -> int:
    if not 0 <= local_id < _NO_ID:
        raise InvalidArgument(f"invalid local id {local_id}")
    return local_id


class ProcessGroups:
    """The supplementary groups of calling processes, as ``/proc/PID/status`` lists them.

    Each answer is kept ``ttl`` seconds: a process asks many requests in a
    row (a walk, a listing), and the groups of a process rarely change. A
    process that calls setgroups(2) is judged by its new groups within
    ``ttl``; a pid reused within ``ttl`` is judged by its predecessor's,
    which is why ``ttl`` is short.
    """

    def __init__(self, ttl: float = 1.0, proc: str = "/proc") -> None:
        self._ttl = ttl
        self._proc = proc
        self._lock = threading.Lock()
        self._known: dict[int, tuple[float, tuple[int, ...]]] = {}

    def groups(self, pid: int) -> tuple[int, ...] | None:
        """The supplementary gids of process ``pid``; ``None`` if it cannot be read."""
        now = time.monotonic()
        with self._lock:
            known = self._known.get(pid)
            if known is not None and now - known[0] < self._ttl:
                return known[1]
        found = self._read(pid)
        if found is None:
            return None
        with self._lock:
            if len(self._known) >= _KEPT_PROCESSES:  # old answers out, all at once
                self._known = {p: k for p, k in self._known.items() if now - k[0] < self._ttl}
            self._known[pid] = (now, found)
        return found

    def _read(self, pid: int) -> tuple[int, ...] | None:
        try:
            with open(f"{self._proc}/{pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("Groups:"):
                        return tuple(int(g) for g in line.split()[1:])
        except (OSError, ValueError):
            return None  # gone already, or a /proc we cannot read
        return None
