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
]

EntryId = NewType("EntryId", int)


class EntryKind(StrEnum):
    """What a catalog entry is; the values are stored in the database."""

    DIRECTORY = "d"
    FILE = "f"
    SYMLINK = "l"


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


_TYPE_BITS = {
    EntryKind.DIRECTORY: _stat.S_IFDIR,
    EntryKind.FILE: _stat.S_IFREG,
    EntryKind.SYMLINK: _stat.S_IFLNK,
}


@dataclass(frozen=True)
class Stat:
    """One catalog entry: a directory, a file or a symbolic link.

    ``mode`` holds the permission bits only; :attr:`st_mode` adds the type.
    Times are nanoseconds since the epoch. ``guid`` and the checksum are set
    for files; ``target`` for symbolic links.
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
