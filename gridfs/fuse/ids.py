"""Grid owners and groups as local uids and gids, and local callers as grid identities.

The rules, both ways (the README's "Ownership" section says the same):

1. The mounting user's grid identity is the mounting user: its user shows as
   the daemon's uid, its primary group as the daemon's gid, and a request from
   that uid acts as that identity.
2. The ``[mount.users]`` and ``[mount.groups]`` tables map grid names to local
   ids (grid name = local id), one to one.
3. Otherwise a grid name is the local account or group of the same name.
4. A grid name known neither way shows as the fallback uid or gid; a local id
   with no grid name cannot be given as an owner (EINVAL), and a caller with
   no grid name acts as the unprivileged ``nobody``.

A caller's groups are its primary gid and the groups its account belongs to,
each mapped to a grid group (the unmappable ones left out). A local caller is
never the grid superuser unless it is the mounting user with a superuser
identity.
"""

from __future__ import annotations

import functools
import grp
import os
import pwd
from collections.abc import Mapping
from types import MappingProxyType

from gridfs.errors import InvalidArgument
from gridfs.gfal import Identity

__all__ = ["NOBODY", "IdMapper"]

# Who a local caller without a grid name acts as: no user or group of that name
# is given anything by the catalog unless an administrator chose to.
NOBODY = Identity("nobody", ("nogroup",))

_EMPTY: Mapping[str, int] = MappingProxyType({})


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
            return self._fallback_uid

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
            return self._fallback_gid

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
        """The grid user to give an entry to (chown); EINVAL if ``uid`` has none."""
        name = self.user_name(uid)
        if name is None:
            raise InvalidArgument(f"local uid {uid} stands for no grid user")
        return name

    def group(self, gid: int) -> str:
        """The grid group to give an entry to (chgrp); EINVAL if ``gid`` has none."""
        name = self.group_name(gid)
        if name is None:
            raise InvalidArgument(f"local gid {gid} stands for no grid group")
        return name

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one mapper per mount, lives as long
    def caller(self, uid: int, gid: int) -> Identity:
        """The grid identity a request from local ``uid``/``gid`` acts as."""
        if uid == self.own_uid:
            return self.identity
        user = self.user_name(uid)
        if user is None:
            return NOBODY
        local_gids = [gid]
        try:
            account = pwd.getpwuid(uid).pw_name
            local_gids += [g for g in os.getgrouplist(account, gid) if g != gid]
        except (KeyError, OSError):
            pass  # an account unknown here: its primary group only
        names = [self.group_name(g) for g in local_gids]
        groups = tuple(dict.fromkeys(name for name in names if name is not None))
        return Identity(user, groups or NOBODY.groups)
