"""Who a catalog call runs as."""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

__all__ = ["SUPERUSER", "Identity"]


@dataclass(frozen=True)
class Identity:
    """A grid user name and its groups; the first group is the primary one.

    A ``superuser`` passes every permission check, as root does on Unix.
    """

    user: str
    groups: tuple[str, ...]
    superuser: bool = False

    def __post_init__(self) -> None:
        if not self.user or not self.groups:
            raise ValueError("an identity needs a user name and at least one group")

    @property
    def group(self) -> str:
        """The primary group: new entries belong to it."""
        return self.groups[0]

    @classmethod
    def local(cls) -> Identity:
        """The local Unix user running this process, with its groups; root is the superuser."""
        uid, gid = os.getuid(), os.getgid()
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        names = []
        for group_id in [gid, *(g for g in os.getgroups() if g != gid)]:
            try:
                names.append(grp.getgrgid(group_id).gr_name)
            except KeyError:
                names.append(str(group_id))
        return cls(user=user, groups=tuple(names), superuser=uid == 0)


# The administrator's identity: it owns the root directory of a new catalog.
SUPERUSER = Identity("root", ("root",), superuser=True)
