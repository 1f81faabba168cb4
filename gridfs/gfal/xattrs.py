"""Extended attributes of LFNs: the grid's own attributes, in the style of gfal2.

| name | on | value | write |
| --- | --- | --- | --- |
| ``user.guid`` | files | the GUID | no |
| ``user.replicas`` | files | the SURLs, one per line | ``+SURL`` registers, ``-SURL`` unregisters |
| ``user.status`` | files | ONLINE, NEARLINE, ONLINE_AND_NEARLINE, UNAVAILABLE | ``ONLINE`` stages |
| ``user.checksum`` | files | the checksum, hex | no |
| ``user.chksumtype`` | files | its type (adler32) | no |
| ``user.comment`` | all | the comment | yes; removable |
| ``user.grid.default_se`` | directories | SE of new files below | yes; removable |

Reading ``user.status`` never stages. A name that is not set raises
ENODATA, a read-only one EPERM on write, other namespaces ENOTSUP, as
Linux filesystems answer.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from gridfs.catalog import Stat
from gridfs.errors import GridError, InvalidArgument, NotPermitted, UnknownSE
from gridfs.gfal.writer import DEFAULT_SE_PROPERTY
from gridfs.storage import Locality

if TYPE_CHECKING:
    from gridfs.gfal.grid import Grid

__all__ = ["GUID", "REPLICAS", "STATUS", "get", "listing", "remove", "set_"]

GUID = "user.guid"
REPLICAS = "user.replicas"
STATUS = "user.status"
CHECKSUM = "user.checksum"
CHECKSUM_TYPE = "user.chksumtype"
COMMENT = "user.comment"
DEFAULT_SE = "user.grid.default_se"

_FILE_ONLY = (GUID, REPLICAS, STATUS, CHECKSUM, CHECKSUM_TYPE)
_READ_ONLY = (GUID, CHECKSUM, CHECKSUM_TYPE)


def _missing(name: str, lfn: str) -> GridError:
    return GridError(f"{lfn} has no attribute {name}", lfn, errno=errno.ENODATA)


def _check_namespace(name: str, lfn: str) -> None:
    if not name.startswith("user."):
        raise GridError(
            f"attribute {name} of {lfn}: only user.* attributes are kept", lfn, errno=errno.ENOTSUP
        )


def get(grid: Grid, entry: Stat, lfn: str, name: str) -> bytes:
    """The value of attribute ``name`` of ``entry`` (at ``lfn``)."""
    _check_namespace(name, lfn)
    readers: dict[str, Callable[[], str | None]] = {
        GUID: lambda: entry.guid,
        REPLICAS: lambda: "\n".join(grid.lr(lfn)),
        STATUS: lambda: status(grid, lfn),
        CHECKSUM: lambda: entry.checksum,
        CHECKSUM_TYPE: lambda: entry.checksum_type,
        COMMENT: lambda: entry.comment,
        DEFAULT_SE: lambda: (
            grid.catalog.properties(entry.id).get(DEFAULT_SE_PROPERTY) if entry.is_dir() else None
        ),
    }
    reader = readers.get(name)
    value = None if reader is None or (name in _FILE_ONLY and not entry.is_file()) else reader()
    if value is None:
        raise _missing(name, lfn)
    return value.encode()


def status(grid: Grid, lfn: str) -> str:
    """Where the file's replicas are, as SRM says it; never stages."""
    places = set(grid.locality(lfn).values()) - {Locality.UNAVAILABLE}
    online = bool(places & {Locality.ONLINE, Locality.ONLINE_AND_NEARLINE})
    nearline = bool(places & {Locality.NEARLINE, Locality.ONLINE_AND_NEARLINE})
    if online and nearline:
        return Locality.ONLINE_AND_NEARLINE.value
    if online:
        return Locality.ONLINE.value
    return Locality.NEARLINE.value if nearline else Locality.UNAVAILABLE.value


def listing(grid: Grid, entry: Stat) -> list[str]:
    """The attribute names ``entry`` has."""
    names = list(_FILE_ONLY) if entry.is_file() else []
    if entry.comment is not None:
        names.append(COMMENT)
    if entry.is_dir() and DEFAULT_SE_PROPERTY in grid.catalog.properties(entry.id):
        names.append(DEFAULT_SE)
    return names


def set_(grid: Grid, entry: Stat, lfn: str, name: str, value: bytes, *, flags: int = 0) -> None:
    """Set attribute ``name``; ``flags`` as :func:`os.setxattr` (XATTR_CREATE/REPLACE)."""
    _check_namespace(name, lfn)
    text = _text(value, name, lfn)
    if flags & (os.XATTR_CREATE | os.XATTR_REPLACE):
        exists = name in listing(grid, entry)
        if flags & os.XATTR_CREATE and exists:
            raise GridError(f"{lfn} has attribute {name} already", lfn, errno=errno.EEXIST)
        if flags & os.XATTR_REPLACE and not exists:
            raise _missing(name, lfn)
    if name in _READ_ONLY:
        raise NotPermitted(f"attribute {name} of {lfn} is read-only", lfn)
    if name in _FILE_ONLY and not entry.is_file():
        raise _missing(name, lfn)
    if name == REPLICAS:
        _change_replicas(grid, lfn, text)
    elif name == STATUS:
        if text.strip() != Locality.ONLINE.value:
            raise InvalidArgument(f"{name} of {lfn}: only ONLINE can be asked for (a stage)", lfn)
        grid.bring_online(lfn)
    elif name == COMMENT:
        grid.set_comment(lfn, text)
    elif name == DEFAULT_SE and entry.is_dir():
        if text not in grid.ses:
            raise UnknownSE(f"{name} of {lfn}: no storage element {text!r} is configured", text)
        grid.catalog.set_property(entry.id, DEFAULT_SE_PROPERTY, text)
    else:
        raise GridError(f"{lfn}: no attribute {name} can be set here", lfn, errno=errno.ENOTSUP)


def remove(grid: Grid, entry: Stat, lfn: str, name: str) -> None:
    """Remove attribute ``name`` (only the comment and a directory's default SE can go)."""
    _check_namespace(name, lfn)
    if name not in listing(grid, entry):
        raise _missing(name, lfn)
    if name == COMMENT:
        grid.set_comment(lfn, None)
    elif name == DEFAULT_SE:
        grid.catalog.set_property(entry.id, DEFAULT_SE_PROPERTY, None)
    else:
        raise NotPermitted(f"attribute {name} of {lfn} cannot be removed", lfn)


def _text(value: bytes, name: str, lfn: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{name} of {lfn}: the value is not UTF-8 text", lfn) from None


def _change_replicas(grid: Grid, lfn: str, text: str) -> None:
    """``+SURL`` registers a stored copy as a replica (lcg-rf), ``-SURL`` unregisters (lcg-uf)."""
    sign, surl = text[:1], text[1:].strip()
    if sign not in "+-" or not sign or not surl:
        raise InvalidArgument(f"{REPLICAS} of {lfn}: write +SURL or -SURL, not {text!r}", lfn)
    if sign == "-":
        grid.uf(surl, lfn)
        return
    owners = [se.name for se in grid.ses if se.owns(surl)]
    if not owners:
        raise UnknownSE(f"{surl} is on no configured storage element", surl)
    grid.rf(surl, lfn, owners[0])
