"""An entry's times, mode and owner set in SQLAlchemy Core: one walk, one update, no ORM.

``tar x`` and ``cp -p`` set the times, owner and mode of every file they write
(utimensat, fchown, fchmod: three catalog calls a file). Through the ORM each
costs a session and an entity per path level; here each is one write
transaction on one connection: the path walked in one query
(:func:`~gridfs.catalog.corewrites.walked`) and one UPDATE, both compiled once.

As in :mod:`~gridfs.catalog.corewrites`, only the plain case is taken: every
directory on the way plainly searchable, no symbolic link to follow, no ACL
on the entry where its permissions decide, no outer transaction. Any other
case, and every check that fails, returns
:data:`~gridfs.catalog.corewrites.FALLBACK` *before anything is written*,
and the caller runs its ORM path, which decides and raises the documented error.
"""

from __future__ import annotations

import stat as _stat
import time
from typing import Any, cast

from sqlalchemy import Table, bindparam, update

from gridfs.catalog.corewrites import FALLBACK, Fallback, WriteConnection, walked
from gridfs.catalog.models import EntryModel
from gridfs.catalog.permissions import WRITE
from gridfs.catalog.prepared import Prepared
from gridfs.catalog.records import EntryKind, Stat
from gridfs.catalog.store import CatalogStore

__all__ = ["chmod", "chown", "utime"]

_ENTRIES = cast(Table, EntryModel.__table__)
_SET_TIMES = Prepared(
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("entry"))
    .values(atime_ns=bindparam("atime"), mtime_ns=bindparam("mtime"), ctime_ns=bindparam("now"))
)
_SET_MODE = Prepared(
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("entry"))
    .values(mode=bindparam("mode"), ctime_ns=bindparam("now"))
)
_SET_OWNER = Prepared(
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("entry"))
    .values(
        owner=bindparam("owner"),
        group_name=bindparam("group"),
        mode=bindparam("mode"),
        ctime_ns=bindparam("now"),
    )
)


def _entry(
    store: CatalogStore, connection: WriteConnection, parts: tuple[str, ...], *, follow: bool
) -> Any:
    """The row of the entry at ``parts``, plainly reached (no link to follow); else FALLBACK."""
    found = walked(store, connection, parts)
    if isinstance(found, Fallback) or found.entry.id is None:
        return FALLBACK
    if follow and found.entry.kind == EntryKind.SYMLINK.value:
        return FALLBACK
    return found.entry


def utime(
    store: CatalogStore,
    connection: WriteConnection,
    parts: tuple[str, ...],
    times: tuple[int | None, int | None],
    *,
    follow: bool,
) -> Stat | Fallback:
    """Set the access and modification times of ``parts`` (both None: now), as ``Catalog.utime``.

    The owner (or the superuser) may set any time; another, with write
    permission, only "now".
    """
    entry = _entry(store, connection, parts, follow=follow)
    if isinstance(entry, Fallback):
        return FALLBACK
    identity = store.identity
    owner = identity.superuser or entry.owner == identity.user
    if times == (None, None):
        if entry.owner != identity.user and (entry.has_acl or not store.allows(entry, (), WRITE)):
            return FALLBACK
    elif not owner:
        return FALLBACK
    now = time.time_ns()
    atime = now if times[0] is None else times[0]
    mtime = now if times[1] is None else times[1]
    values = {"entry": entry.id, "atime": atime, "mtime": mtime, "now": now}
    _SET_TIMES.run(connection, values).close()
    return store.to_stat(entry._replace(atime_ns=atime, mtime_ns=mtime, ctime_ns=now))


def chmod(
    store: CatalogStore, connection: WriteConnection, parts: tuple[str, ...], mode: int
) -> Stat | Fallback:
    """Set the mode bits of ``parts`` (``0 <= mode <= 0o7777``), as ``Catalog.chmod``.

    Plainly only: by the owner or the superuser, on an entry without an ACL
    (whose mask would change too).
    """
    entry = _entry(store, connection, parts, follow=True)
    if isinstance(entry, Fallback) or entry.has_acl:
        return FALLBACK
    identity = store.identity
    if not identity.superuser and entry.owner != identity.user:
        return FALLBACK  # perhaps a writer dropping set-id bits: the ORM path decides
    foreign_group = entry.group_name not in identity.groups
    if entry.kind == EntryKind.FILE.value and foreign_group and not identity.superuser:
        mode &= ~_stat.S_ISGID  # as Linux: not for a group you are not in
    now = time.time_ns()
    _SET_MODE.run(connection, {"entry": entry.id, "mode": mode, "now": now}).close()
    return store.to_stat(entry._replace(mode=mode, ctime_ns=now))


def chown(
    store: CatalogStore,
    connection: WriteConnection,
    parts: tuple[str, ...],
    owner: str | None,
    group: str | None,
    *,
    follow: bool,
) -> Stat | Fallback:
    """Set the owner and/or group of ``parts``, as ``Catalog.chown``.

    Plainly only: the superuser, or the owner giving it to one of their
    groups. Any entry but a directory loses its set-user-ID bit, and its
    set-group-ID bit if group-executable.
    """
    entry = _entry(store, connection, parts, follow=follow)
    if isinstance(entry, Fallback):
        return FALLBACK
    identity = store.identity
    if not identity.superuser and (
        (owner is not None and owner != entry.owner)
        or entry.owner != identity.user
        or (group is not None and group not in identity.groups)
    ):
        return FALLBACK
    new_owner = entry.owner if owner is None else owner
    new_group = entry.group_name if group is None else group
    mode = entry.mode
    if entry.kind != EntryKind.DIRECTORY.value:
        mode &= ~_stat.S_ISUID
        if mode & _stat.S_IXGRP:
            mode &= ~_stat.S_ISGID
    now = time.time_ns()
    values = {"entry": entry.id, "owner": new_owner, "group": new_group, "mode": mode, "now": now}
    _SET_OWNER.run(connection, values).close()
    return store.to_stat(
        entry._replace(owner=new_owner, group_name=new_group, mode=mode, ctime_ns=now)
    )
