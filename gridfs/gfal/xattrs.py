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
| ``user.grid.replicate`` | files | none (ENODATA) | an SE name submits a transfer there |
| ``user.grid.transfers`` | files | its transfers: ``JOB SE STATE[: reason]`` per line | no |
| ``user.schema.<attr>`` | directories | type of metadata attribute <attr> | adds; removable |
| ``user.<attr>`` in the schema | entries | value, typed by the dir's schema | yes; removable |
| any other ``user.<name>`` | entries | free-form bytes (up to 64 KiB) | yes; removable |

The grid attributes are the rows of :data:`GRID_ATTRIBUTES`: a new one is
one row. Reading ``user.status`` never stages. A name that is not set raises
ENODATA, a read-only one EPERM on write, other namespaces ENOTSUP, as Linux
filesystems answer. A metadata attribute named like one of the grid
attributes above is hidden by it (use :mod:`gridfs.metadata` for it).

The attributes that describe a file's stored copies (``user.guid``,
``user.replicas``, ``user.status``, ``user.checksum``, ``user.chksumtype``)
are read by name but not listed: ``cp --preserve=xattr``, ``rsync -X`` and
``tar --xattrs`` copy what ``listxattr`` names, and a copy is a new file with
its own GUID, checksum and replicas (CephFS keeps its ``ceph.*`` attributes
unlisted for the same reason). What is listed (comment, default SE, schema,
typed and free-form values) can be written back as it was read.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from gridfs.catalog import CatalogAPI, EntryId, Replica, Stat
from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    NotPermitted,
    UnknownSE,
)
from gridfs.gfal.placement import DEFAULT_SE_PROPERTY
from gridfs.metadata import MetadataAPI, parse_type
from gridfs.storage import Locality, SERegistry, StageRequest

__all__ = [
    "GRID_ATTRIBUTES",
    "GUID",
    "REPLICAS",
    "STATUS",
    "Applies",
    "XattrHost",
    "XattrSpec",
    "get",
    "listing",
    "remove",
    "set_value",
]

GUID = "user.guid"
REPLICAS = "user.replicas"
STATUS = "user.status"
CHECKSUM = "user.checksum"
CHECKSUM_TYPE = "user.chksumtype"
COMMENT = "user.comment"
DEFAULT_SE = "user.grid.default_se"
REPLICATE = "user.grid.replicate"
TRANSFERS = "user.grid.transfers"

SCHEMA_PREFIX = "user.schema."
_USER = "user."


class XattrHost(Protocol):
    """What the attributes need of a grid (:class:`~gridfs.gfal.Grid` is one)."""

    @property
    def catalog(self) -> CatalogAPI: ...
    @property
    def metadata(self) -> MetadataAPI: ...
    @property
    def ses(self) -> SERegistry: ...
    def lr(self, lfn: str) -> list[str]: ...
    def locality(self, lfn: str) -> dict[str, Locality]: ...
    def bring_online(self, lfn: str) -> StageRequest | None: ...
    def set_comment(self, lfn: str, comment: str | None) -> None: ...
    def rf(self, surl: str, lfn: str, se: str | None = None) -> Replica: ...
    def uf(self, surl: str, lfn: str) -> Replica: ...
    def replicate(self, lfn: str, se: str) -> int: ...
    def transfer_states(self, lfn: str) -> list[str]: ...


@dataclass(frozen=True)
class Target:
    """The entry whose attributes are asked for, and the grid it is on.

    ``lfn`` is anything whose ``str`` is the entry's LFN: it is computed only
    when a message or an LFN-addressed call needs it.
    """

    host: XattrHost
    entry: Stat
    lfn: object

    @property
    def path(self) -> str:
        """The entry's LFN."""
        return str(self.lfn)


class Applies(Enum):
    """Which entries a grid attribute belongs to."""

    FILES = "files"
    DIRECTORIES = "directories"
    ALL = "all"

    def fits(self, entry: Stat) -> bool:
        """Whether ``entry`` has attributes of this kind."""
        if self is Applies.FILES:
            return entry.is_file()
        return entry.is_dir() if self is Applies.DIRECTORIES else True


@dataclass(frozen=True)
class XattrSpec:
    """One grid attribute: its name, the entries it is on, and how to get, set and remove it.

    ``listed`` says whether ``listxattr`` names it (default: when it has a
    value; the attributes of a file's stored copies are never listed, see the
    module's docstring); a missing ``set``/``remove`` makes it read-only/not removable.
    """

    name: str
    applies: Applies
    get: Callable[[Target], str | None]
    set: Callable[[Target, str], None] | None = None
    remove: Callable[[Target], None] | None = None
    listed: Callable[[Target], bool] | None = None

    def lists(self, target: Target, *, every: bool = False) -> bool:
        """Whether ``target`` shows this attribute in its listing (``every``: if it has a value)."""
        if not self.applies.fits(target.entry):
            return False
        if self.listed is not None and not every:
            return self.listed(target)
        return self.get(target) is not None


def status(host: XattrHost, lfn: str) -> str:
    """Where the file's replicas are, as SRM says it; never stages."""
    places = set(host.locality(lfn).values()) - {Locality.UNAVAILABLE}
    online = bool(places & {Locality.ONLINE, Locality.ONLINE_AND_NEARLINE})
    nearline = bool(places & {Locality.NEARLINE, Locality.ONLINE_AND_NEARLINE})
    if online and nearline:
        return Locality.ONLINE_AND_NEARLINE.value
    if online:
        return Locality.ONLINE.value
    return Locality.NEARLINE.value if nearline else Locality.UNAVAILABLE.value


def _stage(target: Target, text: str) -> None:
    if text.strip() != Locality.ONLINE.value:
        raise InvalidArgument(
            f"{STATUS} of {target.path}: only ONLINE can be asked for (a stage)", target.path
        )
    target.host.bring_online(target.path)


def _change_replicas(target: Target, text: str) -> None:
    """``+SURL`` registers a stored copy as a replica (lcg-rf), ``-SURL`` unregisters (lcg-uf).

    A copy is registered only if it is the file's content (see :meth:`Grid.rf`).
    """
    lfn = target.path
    sign, surl = text[:1], text[1:].strip()
    if sign not in ("+", "-") or not surl:
        raise InvalidArgument(f"{REPLICAS} of {lfn}: write +SURL or -SURL, not {text!r}", lfn)
    if sign == "-":
        target.host.uf(surl, lfn)
    else:
        target.host.rf(surl, lfn)


def _default_se(target: Target) -> str | None:
    return target.host.catalog.properties(target.entry.id).get(DEFAULT_SE_PROPERTY)


def _set_default_se(target: Target, text: str) -> None:
    if text not in target.host.ses:
        raise UnknownSE(
            f"{DEFAULT_SE} of {target.path}: no storage element {text!r} is configured", text
        )
    target.host.catalog.set_property(target.entry.id, DEFAULT_SE_PROPERTY, text)


def _unlisted(target: Target) -> bool:
    return False


def _replicate(target: Target, text: str) -> None:
    se = text.strip()
    if se not in target.host.ses:
        raise UnknownSE(f"{REPLICATE} of {target.path}: no storage element {se!r}", se)
    target.host.replicate(target.path, se)


def _transfers(target: Target) -> str | None:
    return "\n".join(target.host.transfer_states(target.path)) or None


GRID_ATTRIBUTES: tuple[XattrSpec, ...] = (
    XattrSpec(GUID, Applies.FILES, lambda t: t.entry.guid, listed=_unlisted),
    XattrSpec(
        REPLICAS,
        Applies.FILES,
        lambda t: "\n".join(t.host.lr(t.path)),
        set=_change_replicas,
        listed=_unlisted,
    ),
    XattrSpec(
        STATUS, Applies.FILES, lambda t: status(t.host, t.path), set=_stage, listed=_unlisted
    ),
    XattrSpec(CHECKSUM, Applies.FILES, lambda t: t.entry.checksum, listed=_unlisted),
    XattrSpec(CHECKSUM_TYPE, Applies.FILES, lambda t: t.entry.checksum_type, listed=_unlisted),
    XattrSpec(
        COMMENT,
        Applies.ALL,
        lambda t: t.entry.comment,
        set=lambda t, text: t.host.set_comment(t.path, text),
        remove=lambda t: t.host.set_comment(t.path, None),
    ),
    XattrSpec(
        DEFAULT_SE,
        Applies.DIRECTORIES,
        _default_se,
        set=_set_default_se,
        remove=lambda t: t.host.catalog.set_property(t.entry.id, DEFAULT_SE_PROPERTY, None),
    ),
    XattrSpec(REPLICATE, Applies.FILES, lambda t: None, set=_replicate, listed=_unlisted),
    XattrSpec(TRANSFERS, Applies.FILES, _transfers, listed=_unlisted),
)

_BY_NAME = {spec.name: spec for spec in GRID_ATTRIBUTES}


def _missing(name: str, target: Target) -> GridError:
    return GridError(f"{target.path} has no attribute {name}", target.path, errno=errno.ENODATA)


def _check_namespace(name: str, target: Target) -> None:
    if not name.startswith(_USER):
        raise GridError(
            f"attribute {name} of {target.path}: only user.* attributes are kept",
            target.path,
            errno=errno.ENOTSUP,
        )


def _check_changeable(target: Target) -> None:
    """user.* attributes are for files and directories; Linux refuses them on links."""
    if target.entry.is_symlink():
        raise NotPermitted(
            f"{target.path} is a symbolic link: it has no user.* attributes", target.path
        )


def get(target: Target, name: str) -> bytes:
    """The value of attribute ``name`` of the target entry."""
    _check_namespace(name, target)
    if target.entry.is_symlink():
        raise _missing(name, target)
    spec = _BY_NAME.get(name)
    if spec is None:
        return _metadata_value(target, name)
    value = spec.get(target) if spec.applies.fits(target.entry) else None
    if value is None:
        raise _missing(name, target)
    return value.encode()


def _metadata_value(target: Target, name: str) -> bytes:
    entry, metadata = target.entry, target.host.metadata
    if name.startswith(SCHEMA_PREFIX):
        schema = metadata.listattr(entry.id) if entry.is_dir() else {}
        kind = schema.get(name.removeprefix(SCHEMA_PREFIX))
        if kind is None:
            raise _missing(name, target)
        return str(kind).encode()
    return metadata.get_xattr(entry.id, name.removeprefix(_USER))


def listing(target: Target, *, every: bool = False) -> list[str]:
    """The attribute names the target has (a symbolic link has none, as on Linux).

    With ``every``, the unlisted grid attributes that have a value too (as
    gfal-xattr shows them).
    """
    entry, metadata = target.entry, target.host.metadata
    if entry.is_symlink():
        return []
    names = [spec.name for spec in GRID_ATTRIBUTES if spec.lists(target, every=every)]
    if entry.is_dir():
        names += [SCHEMA_PREFIX + attribute for attribute in metadata.listattr(entry.id)]
    names += [
        _USER + attribute
        for attribute in metadata.xattr_names(entry.id)
        if _USER + attribute not in _BY_NAME
    ]
    return names


def set_value(target: Target, name: str, value: bytes, *, flags: int = 0) -> None:
    """Set attribute ``name``; ``flags`` as :func:`os.setxattr` (XATTR_CREATE/REPLACE)."""
    _check_namespace(name, target)
    _check_changeable(target)
    if flags & (os.XATTR_CREATE | os.XATTR_REPLACE):
        spec = _BY_NAME.get(name)
        if spec is not None:  # some are never listed
            exists = spec.applies.fits(target.entry) and spec.get(target) is not None
        else:
            exists = name in listing(target)
        if flags & os.XATTR_CREATE and exists:
            raise GridError(
                f"{target.path} has attribute {name} already", target.path, errno=errno.EEXIST
            )
        if flags & os.XATTR_REPLACE and not exists:
            raise _missing(name, target)
    spec = _BY_NAME.get(name)
    if spec is not None:
        _set_grid(spec, target, _text(value, name, target.lfn))
    elif name.startswith(SCHEMA_PREFIX):
        _add_to_schema(target, name.removeprefix(SCHEMA_PREFIX), _text(value, name, target.lfn))
    else:
        target.host.metadata.set_xattr(target.entry.id, name.removeprefix(_USER), value)


def is_metadata_value(name: str) -> bool:
    """Whether ``name`` is a metadata value's attribute (``user.<attr>``, not a grid one)."""
    return name.startswith(_USER) and name not in _BY_NAME and not name.startswith(SCHEMA_PREFIX)


def set_metadata_value(host: XattrHost, entry_id: EntryId, name: str, value: bytes) -> None:
    """Set the metadata value ``name`` (see :func:`is_metadata_value`) of entry ``entry_id``.

    One request to the metadata catalog, which checks the permission and,
    for a name in the schema, the type; any other name is stored free-form.
    A link is refused (it has no values of its own).
    """
    host.metadata.set_xattr(entry_id, name.removeprefix(_USER), value)


def _set_grid(spec: XattrSpec, target: Target, text: str) -> None:
    """Set one of the grid attributes, if it is writable and belongs to the target."""
    if spec.set is None:
        raise NotPermitted(f"attribute {spec.name} of {target.path} is read-only", target.path)
    if not spec.applies.fits(target.entry):
        if spec.applies is Applies.FILES:
            raise _missing(spec.name, target)
        raise GridError(
            f"{spec.name} is for {spec.applies.value}, not {target.path}",
            target.path,
            errno=errno.ENOTSUP,
        )
    spec.set(target, text)


def _add_to_schema(target: Target, attribute: str, type_name: str) -> None:
    entry, lfn = target.entry, target.path
    if not entry.is_dir():
        raise GridError(f"a schema is kept on directories, not {lfn}", lfn, errno=errno.ENOTSUP)
    kind = parse_type(type_name)
    present = target.host.metadata.listattr(entry.id).get(attribute)
    if present == kind:
        return  # what is there already: setfattr twice is not an error
    if present is not None:
        raise AlreadyExists(
            f"{lfn}: attribute {attribute} is {present} already; remove it to change its type",
            lfn,
        )
    target.host.metadata.addattrs(entry.id, {attribute: type_name})


def remove(target: Target, name: str) -> None:
    """Remove attribute ``name``: a comment, default SE, schema attribute or metadata value."""
    _check_namespace(name, target)
    _check_changeable(target)
    spec = _BY_NAME.get(name)
    if spec is not None:
        if not spec.applies.fits(target.entry) or spec.get(target) is None:
            raise _missing(name, target)
        if spec.remove is None:
            raise NotPermitted(f"attribute {name} of {target.path} cannot be removed", target.path)
        spec.remove(target)
    elif name.startswith(SCHEMA_PREFIX):
        if name not in listing(target):
            raise _missing(name, target)
        target.host.metadata.removeattrs(target.entry.id, [name.removeprefix(SCHEMA_PREFIX)])
    else:  # the metadata catalog answers ENODATA for a value the entry does not have
        target.host.metadata.remove_xattr(target.entry.id, name.removeprefix(_USER))


def _text(value: bytes, name: str, lfn: object) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{name} of {lfn}: the value is not UTF-8 text", str(lfn)) from None
