"""Typed records the catalog returns: frozen, detached from any session."""

from __future__ import annotations

import stat as _stat
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

__all__ = [
    "EntryId",
    "EntryKind",
    "FileStatus",
    "NewFile",
    "Registration",
    "Replica",
    "ReplicaStatus",
    "Stat",
    "kind_of_mode",
]

EntryId = NewType("EntryId", int)


class EntryKind(StrEnum):
    """What a catalog entry is; the values are stored in the database."""

    DIRECTORY = "d"
    FILE = "f"
    SYMLINK = "l"
    # Special files: catalog entries only (no replica, no GUID); the kernel serves their I/O.
    FIFO = "p"
    SOCKET = "s"
    CHAR_DEVICE = "c"
    BLOCK_DEVICE = "b"

    @property
    def is_special(self) -> bool:
        """A FIFO, a socket or a device: made by mknod(2), its I/O none of the catalog's."""
        return self in _SPECIAL

    @property
    def is_device(self) -> bool:
        """A character or block device: it has a device number."""
        return self in (EntryKind.CHAR_DEVICE, EntryKind.BLOCK_DEVICE)


class FileStatus(StrEnum):
    """An entry's status, stored in the database: a file's, or a link's kind."""

    READY = "ready"
    WRITING = "writing"  # created by an open for writing; no content stored yet
    ALIAS = "alias"  # a link made by lcg-aa: it follows its file


class ReplicaStatus(StrEnum):
    """A replica's status, stored in the database."""

    AVAILABLE = "available"
    BEING_WRITTEN = "being-written"
    UNAVAILABLE = "unavailable"
    LOST = "lost"
    STALE = "stale"  # holds an older version of the file: never read, to be deleted
    BAD = "bad"  # a read found its bytes differ from the catalog's checksum: never read


_SPECIAL = frozenset(
    {EntryKind.FIFO, EntryKind.SOCKET, EntryKind.CHAR_DEVICE, EntryKind.BLOCK_DEVICE}
)

_TYPE_BITS = {
    EntryKind.DIRECTORY: _stat.S_IFDIR,
    EntryKind.FILE: _stat.S_IFREG,
    EntryKind.SYMLINK: _stat.S_IFLNK,
    EntryKind.FIFO: _stat.S_IFIFO,
    EntryKind.SOCKET: _stat.S_IFSOCK,
    EntryKind.CHAR_DEVICE: _stat.S_IFCHR,
    EntryKind.BLOCK_DEVICE: _stat.S_IFBLK,
}
_KIND_OF_TYPE = {bits: kind for kind, bits in _TYPE_BITS.items()}


def kind_of_mode(st_mode: int) -> EntryKind | None:
    """The entry kind of the file type in ``st_mode`` (as mknod(2) gets it), or ``None``."""
    return _KIND_OF_TYPE.get(_stat.S_IFMT(st_mode))


@dataclass(frozen=True)
class Stat:
    """One catalog entry: a directory, a file, a symbolic link or a special file.

    ``mode`` holds the permission bits only; :attr:`st_mode` adds the type.
    Times are nanoseconds since the epoch. ``guid`` and the checksum are set
    for files; ``target`` for symbolic links; ``rdev`` (the device number, as
    :func:`os.makedev` makes it) for character and block devices.
    """

    id: EntryId
    parent_id: EntryId | None
    name: str
    kind: EntryKind
    mode: int
    owner: str
    group: str
    size: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    guid: str | None = None
    checksum_type: str | None = None
    checksum: str | None = None
    status: FileStatus | None = None
    target: str | None = None
    comment: str | None = None
    has_acl: bool = False
    rdev: int = 0

    @property
    def st_mode(self) -> int:
        """Type and permission bits, as :func:`os.stat` gives them."""
        return _TYPE_BITS[self.kind] | self.mode

    def is_dir(self) -> bool:
        """True for a directory."""
        return self.kind is EntryKind.DIRECTORY

    def is_file(self) -> bool:
        """True for a regular file."""
        return self.kind is EntryKind.FILE

    def is_symlink(self) -> bool:
        """True for a symbolic link (an alias)."""
        return self.kind is EntryKind.SYMLINK


@dataclass(frozen=True)
class Replica:
    """One registered physical copy of a file."""

    entry_id: EntryId
    guid: str
    se: str
    surl: str
    status: ReplicaStatus
    ctime_ns: int
    atime_ns: int
    pin_expiry_ns: int | None = None
    space_token: str | None = None


@dataclass(frozen=True)
class NewFile:
    """One file to register, with its replicas, in bulk (:meth:`Catalog.add_files`)."""

    lfn: str
    size: int
    checksum: str | None = None
    checksum_type: str = "adler32"
    replicas: tuple[tuple[str, str], ...] = ()  # (se, surl)
    guid: str | None = None  # None: a new one
    mode: int = 0o664


@dataclass(frozen=True)
class Registration:
    """What a bulk registration did: files added, files found registered already, refusals.

    ``refused`` holds ``(index, reason)`` pairs, the index into the files given.
    """

    added: int
    present: int
    refused: tuple[tuple[int, str], ...] = ()
