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
| ``user.schema.<attr>`` | directories | type of metadata attribute <attr> | adds; removable |
| ``user.<attr>`` | entries | metadata value, typed by the dir's schema | yes; removable |

Reading ``user.status`` never stages. A name that is not set raises
ENODATA, a read-only one EPERM on write, other namespaces ENOTSUP, as
Linux filesystems answer. A metadata attribute named like one of the grid
attributes above is hidden by it (use :mod:`gridfs.metadata` for it).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from gridfs.catalog import Stat
from gridfs.errors import AlreadyExists, GridError, InvalidArgument, NotPermitted, UnknownSE
from gridfs.gfal.writer import DEFAULT_SE_PROPERTY
from gridfs.metadata import AttributeType, format_value, parse_type
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

SCHEMA_PREFIX = "user.schema."
_USER = "user."

_FILE_ONLY = (GUID, REPLICAS, STATUS, CHECKSUM, CHECKSUM_TYPE)
_READ_ONLY = (GUID, CHECKSUM, CHECKSUM_TYPE)
_GRID = (*_FILE_ONLY, COMMENT, DEFAULT_SE)


def _missing(name: str, lfn: str) -> GridError:
    return GridError(f"{lfn} has no attribute {name}", lfn, errno=errno.ENODATA)


def _check_namespace(name: str, lfn: str) -> None:
    if not name.startswith(_USER):
        raise GridError(
            f"attribute {name} of {lfn}: only user.* attributes are kept", lfn, errno=errno.ENOTSUP
        )


def _check_changeable(entry: Stat, lfn: str) -> None:
    """user.* attributes are for files and directories; Linux refuses them on links."""
    if entry.is_symlink():
        raise NotPermitted(f"{lfn} is a symbolic link: it has no user.* attributes", lfn)


def get(grid: Grid, entry: Stat, lfn: str, name: str) -> bytes:
    """The value of attribute ``name`` of ``entry`` (at ``lfn``)."""
    _check_namespace(name, lfn)
    if entry.is_symlink():
        raise _missing(name, lfn)
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
    if reader is None:
        return _metadata_value(grid, entry, lfn, name).encode()
    value = None if name in _FILE_ONLY and not entry.is_file() else reader()
    if value is None:
        raise _missing(name, lfn)
    return value.encode()


def _schema(grid: Grid, entry: Stat) -> dict[str, AttributeType]:
    """The metadata schema of the directory holding ``entry`` (none for the root)."""
    return {} if entry.parent_id is None else grid.metadata.listattr(entry.parent_id)


def _metadata_value(grid: Grid, entry: Stat, lfn: str, name: str) -> str:
    if name.startswith(SCHEMA_PREFIX):
        schema = grid.metadata.listattr(entry.id) if entry.is_dir() else {}
        kind = schema.get(name.removeprefix(SCHEMA_PREFIX))
        if kind is None:
            raise _missing(name, lfn)
        return str(kind)
    attribute = name.removeprefix(_USER)
    kind = _schema(grid, entry).get(attribute)
    value = grid.metadata.getattr(entry.id, [attribute])[attribute] if kind else None
    if kind is None or value is None:
        raise _missing(name, lfn)
    return format_value(kind, value)


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
    """The attribute names ``entry`` has (a symbolic link has none, as on Linux)."""
    names = [GUID, REPLICAS, STATUS] if entry.is_file() else []
    if entry.is_file() and entry.checksum is not None:  # none while being written
        names += [CHECKSUM, CHECKSUM_TYPE]
    if entry.comment is not None:
        names.append(COMMENT)
    if entry.is_dir() and DEFAULT_SE_PROPERTY in grid.catalog.properties(entry.id):
        names.append(DEFAULT_SE)
    if entry.is_dir():
        names += [SCHEMA_PREFIX + attribute for attribute in grid.metadata.listattr(entry.id)]
    if _schema(grid, entry):
        values = grid.metadata.getattr(entry.id)
        names += [
            _USER + attribute
            for attribute, value in values.items()
            if value is not None and _USER + attribute not in _GRID
        ]
    return names


def set_(grid: Grid, entry: Stat, lfn: str, name: str, value: bytes, *, flags: int = 0) -> None:
    """Set attribute ``name``; ``flags`` as :func:`os.setxattr` (XATTR_CREATE/REPLACE)."""
    _check_namespace(name, lfn)
    _check_changeable(entry, lfn)
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
    if name in _GRID:
        _set_grid(grid, entry, lfn, name, text)
    elif name.startswith(SCHEMA_PREFIX):
        _add_to_schema(grid, entry, lfn, name.removeprefix(SCHEMA_PREFIX), text)
    else:
        attribute = name.removeprefix(_USER)
        if attribute not in _schema(grid, entry):
            raise InvalidArgument(
                f"{lfn}: {attribute!r} is not in the metadata schema of its directory "
                f"(add it there with {SCHEMA_PREFIX}{attribute})",
                lfn,
            )
        grid.metadata.setattr(entry.id, {attribute: text})


def _set_grid(grid: Grid, entry: Stat, lfn: str, name: str, text: str) -> None:
    """Set one of the writable grid attributes."""
    if name == REPLICAS:
        _change_replicas(grid, lfn, text)
    elif name == STATUS:
        if text.strip() != Locality.ONLINE.value:
            raise InvalidArgument(f"{name} of {lfn}: only ONLINE can be asked for (a stage)", lfn)
        grid.bring_online(lfn)
    elif name == COMMENT:
        grid.set_comment(lfn, text)
    else:  # DEFAULT_SE
        if not entry.is_dir():
            raise GridError(f"{name} is for directories, not {lfn}", lfn, errno=errno.ENOTSUP)
        if text not in grid.ses:
            raise UnknownSE(f"{name} of {lfn}: no storage element {text!r} is configured", text)
        grid.catalog.set_property(entry.id, DEFAULT_SE_PROPERTY, text)


def _add_to_schema(grid: Grid, entry: Stat, lfn: str, attribute: str, type_name: str) -> None:
    if not entry.is_dir():
        raise GridError(f"a schema is kept on directories, not {lfn}", lfn, errno=errno.ENOTSUP)
    kind = parse_type(type_name)
    present = grid.metadata.listattr(entry.id).get(attribute)
    if present == kind:
        return  # what is there already: setfattr twice is not an error
    if present is not None:
        raise AlreadyExists(
            f"{lfn}: attribute {attribute} is {present} already; remove it to change its type",
            lfn,
        )
    grid.metadata.addattr(entry.id, attribute, type_name)


def remove(grid: Grid, entry: Stat, lfn: str, name: str) -> None:
    """Remove attribute ``name``: a comment, default SE, schema attribute or metadata value."""
    _check_namespace(name, lfn)
    _check_changeable(entry, lfn)
    if name not in listing(grid, entry):
        raise _missing(name, lfn)
    if name == COMMENT:
        grid.set_comment(lfn, None)
    elif name == DEFAULT_SE:
        grid.catalog.set_property(entry.id, DEFAULT_SE_PROPERTY, None)
    elif name in _GRID:
        raise NotPermitted(f"attribute {name} of {lfn} cannot be removed", lfn)
    elif name.startswith(SCHEMA_PREFIX):
        grid.metadata.removeattr(entry.id, name.removeprefix(SCHEMA_PREFIX))
    else:
        grid.metadata.clearattr(entry.id, [name.removeprefix(_USER)])


def _text(value: bytes, name: str, lfn: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{name} of {lfn}: the value is not UTF-8 text", lfn) from None


def _change_replicas(grid: Grid, lfn: str, text: str) -> None:
    """``+SURL`` registers a stored copy as a replica (lcg-rf), ``-SURL`` unregisters (lcg-uf)."""
    sign, surl = text[:1], text[1:].strip()
    if sign not in ("+", "-") or not surl:
        raise InvalidArgument(f"{REPLICAS} of {lfn}: write +SURL or -SURL, not {text!r}", lfn)
    if sign == "-":
        grid.uf(surl, lfn)
        return
    owners = [se.name for se in grid.ses if se.owns(surl)]
    if not owners:
        raise UnknownSE(f"{surl} is on no configured storage element", surl)
    grid.rf(surl, lfn, owners[0])
