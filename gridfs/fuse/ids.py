"""Grid owners and groups shown as local uids and gids.

The mounting user's grid identity is shown as the mounting user's own uid and
gid; another grid name is shown as the local account or group of the same
name when there is one, else as the fallback (``nobody``/``nogroup``).
"""

from __future__ import annotations

import functools
import grp
import os
import pwd

from gridfs.catalog import Identity

__all__ = ["IdMapper"]

_NOBODY = 65534


class IdMapper:
    """Maps grid user and group names to local ids; lookups are cached."""

    def __init__(
        self, identity: Identity, fallback_uid: int = _NOBODY, fallback_gid: int = _NOBODY
    ):
        self._own_user = identity.user
        self._own_group = identity.group
        self._fallback_uid = fallback_uid
        self._fallback_gid = fallback_gid

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one mapper per mount, lives as long
    def uid(self, user: str) -> int:
        """The local uid that shows grid user ``user``."""
        if user == self._own_user:
            return os.getuid()
        try:
            return pwd.getpwnam(user).pw_uid
        except KeyError:
            return self._fallback_uid

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one mapper per mount, lives as long
    def gid(self, group: str) -> int:
        """The local gid that shows grid group ``group``."""
        if group == self._own_group:
            return os.getgid()
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return self._fallback_gid
