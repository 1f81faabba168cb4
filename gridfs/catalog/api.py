"""The catalog seam: what the gfal layer, the mount and the CLI may ask of a catalog.

:class:`CatalogAPI` is a typed :class:`~typing.Protocol`; the SQL
:class:`~gridfs.catalog.Catalog` is one implementation, a client of the
catalog service another. Each method is one atomic operation of the
implementation (one transaction of the SQL catalog, one request of a
remote one): there is no client-side transaction in the interface.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from gridfs.catalog.identity import Identity
from gridfs.catalog.permissions import AclEdit, AclEntry
from gridfs.catalog.records import (
    EntryId,
    EntryKind,
    FileStatus,
    NewFile,
    Registration,
    Replica,
    ReplicaStatus,
    Stat,
)

__all__ = ["CatalogAPI"]


class CatalogAPI(Protocol):
    """An LFC-style file and replica catalog acting as one identity.

    The contracts (permissions checked, errors raised) are those documented
    on :class:`~gridfs.catalog.Catalog`.
    """

    @property
    def identity(self) -> Identity:
        """Who the calls run as."""
        ...

    def as_identity(self, identity: Identity) -> CatalogAPI:
        """The same catalog acting as another identity."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...

    # -- lookups
    def stat(self, lfn: str, *, follow_symlinks: bool = True) -> Stat:
        """The entry at ``lfn``."""
        ...

    def stat_id(self, entry_id: EntryId) -> Stat:
        """The entry with id ``entry_id``."""
        ...

    def lookup(self, parent_id: EntryId, name: str) -> Stat:
        """The child ``name`` of directory ``parent_id``, the way to it searchable."""
        ...

    def lfn_of(self, entry_id: EntryId) -> str:
        """The LFN of an entry."""
        ...

    def readlink(self, lfn_or_id: str | EntryId) -> str:
        """The target of a symbolic link."""
        ...

    def iterdir(self, directory: str | EntryId, *, after: int = 0) -> Iterator[Stat]:
        """The entries of a directory, in id order, after id ``after``."""
        ...

    def list_page(self, directory_id: EntryId, *, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` entries of a directory with ids above ``after``."""
        ...

    def children(self, directory_id: EntryId, *, after: int = 0, limit: int) -> list[Stat]:
        """What :meth:`lookup` gives for each child, a page at a time, in one request."""
        ...

    def guid_of(self, lfn: str) -> str:
        """The GUID of file ``lfn``."""
        ...

    def lfns_of(self, guid: str) -> list[str]:
        """The primary LFN of a GUID, then its aliases."""
        ...

    def access(self, lfn: str, mode: int) -> bool:
        """Whether ``lfn`` exists and allows ``mode``, as :func:`os.access`."""
        ...

    def stat_walked(self, entry_id: EntryId, mode: int = 0) -> Stat:
        """The entry ``entry_id``, its ancestors searchable and ``mode`` allowed on it."""
        ...

    def getacl(self, lfn: str) -> list[AclEntry]:
        """The whole ACL of ``lfn``."""
        ...

    def properties(self, lfn_or_id: str | EntryId) -> dict[str, str]:
        """The grid properties of an entry."""
        ...

    def inherited_property(self, entry_id: EntryId, name: str) -> str | None:
        """A property of an entry, else of its nearest readable ancestor that has it."""
        ...

    # -- namespace changes
    def mkdir(
        self, lfn: str, mode: int = 0o775, *, parents: bool = False, exist_ok: bool = False
    ) -> Stat:
        """Create directory ``lfn``."""
        ...

    def symlink(self, target: str, lfn: str, *, alias: bool = False) -> Stat:
        """Create ``lfn`` as a symbolic link to ``target``."""
        ...

    def mknod(self, lfn: str, kind: EntryKind, mode: int = 0o644, *, rdev: int = 0) -> Stat:
        """Create special file ``lfn`` (a FIFO, a socket, a device numbered ``rdev``)."""
        ...

    def add_file(
        self,
        lfn: str,
        *,
        size: int,
        checksum: str | None = None,
        checksum_type: str = "adler32",
        replicas: Sequence[tuple[str, str]] = (),
        guid: str | None = None,
        mode: int = 0o664,
        space_token: str | None = None,
        status: FileStatus = FileStatus.READY,
    ) -> Stat:
        """Register file ``lfn`` and its ``(se, surl)`` replicas."""
        ...

    def add_files(
        self, files: Sequence[NewFile], *, space_token: str | None = None
    ) -> Registration:
        """Register many files with their replicas at once; refusals named, the rest registered."""
        ...

    def unlink(self, lfn: str) -> list[Replica]:
        """Remove file or link ``lfn``; returns the replicas it unregistered."""
        ...

    def abandon_writing(self, entry_id: EntryId) -> bool:
        """Remove file ``entry_id`` if it is still WRITING; whether it was removed."""
        ...

    def rmdir(self, lfn: str) -> None:
        """Remove the empty directory ``lfn``."""
        ...

    def rename(self, source: str, destination: str) -> list[Replica]:
        """Move ``source`` to ``destination``; returns the replicas of a replaced file.

        A file renamed over a file (an editor's save) keeps its id, GUID and
        replicas, and takes the replaced file's metadata values and comment
        (those it has none of) and aliases.
        """
        ...

    def chmod(self, lfn: str, mode: int) -> Stat:
        """Change the permission bits."""
        ...

    def chown(
        self,
        lfn: str,
        owner: str | None = None,
        group: str | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Change owner and/or group (of a link itself, without ``follow_symlinks``)."""
        ...

    def utime(
        self,
        lfn: str,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Set access and modification times (of a link itself, without ``follow_symlinks``)."""
        ...

    def set_comment(self, lfn: str, comment: str | None) -> None:
        """Set or delete the comment of ``lfn``."""
        ...

    def setacl(self, lfn: str, entries: Sequence[AclEntry]) -> list[AclEntry]:
        """Replace the ACL of ``lfn``."""
        ...

    def edit_acl(self, lfn: str, edit: AclEdit) -> list[AclEntry]:
        """Change the ACL of ``lfn`` as setfacl's ``-b``, ``-k``, ``-x`` and ``-m`` do."""
        ...

    def set_property(self, lfn_or_id: str | EntryId, name: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a grid property."""
        ...

    def add_alias(self, lfn: str, alias: str) -> Stat:
        """Make ``alias`` a link to the primary LFN of file ``lfn``."""
        ...

    def remove_alias(self, alias: str) -> None:
        """Remove alias ``alias``."""
        ...

    # -- replicas
    def replicas(self, lfn_or_id: str | EntryId) -> list[Replica]:
        """The replicas of a file, for a reader."""
        ...

    def stat_replicas(self, lfn_or_id: str | EntryId) -> tuple[Stat, list[Replica]]:
        """The entry, checked for reading, and its replicas: one atomic open."""
        ...

    def replicas_to_replace(self, entry_id: EntryId) -> list[Replica]:
        """The replicas of a file, for its writer."""
        ...

    def replicas_many(self, lfns: Sequence[str]) -> dict[str, list[Replica]]:
        """The replicas of many readable files at once."""
        ...

    def replicas_for_removal(self, lfn: str) -> list[Replica]:
        """The replicas of file ``lfn``, if the identity may remove it."""
        ...

    def drop_replicas(self, lfn: str, surls: Sequence[str]) -> None:
        """Unregister replicas of ``lfn`` whose copies are gone."""
        ...

    def surls_of(self, guid: str) -> list[str]:
        """The SURLs of the replicas of a GUID."""
        ...

    def space_used(self, se: str, space_token: str) -> int:
        """Bytes that the replicas in a space token of an SE occupy."""
        ...

    def commit_version(
        self,
        entry_id: EntryId,
        *,
        size: int,
        checksum: str,
        checksum_type: str,
        se: str,
        surl: str,
        space_token: str | None = None,
    ) -> tuple[Stat, list[Replica]]:
        """Make stored copy ``surl`` the new content of a file; returns it and the stale ones."""
        ...

    def add_replica(
        self,
        guid: str,
        se: str,
        surl: str,
        status: ReplicaStatus = ReplicaStatus.AVAILABLE,
        *,
        pin_expiry_ns: int | None = None,
        space_token: str | None = None,
        checksum: str | None = None,
    ) -> Replica:
        """Register one more replica of a GUID."""
        ...

    def remove_replica(self, guid: str, surl: str) -> Replica:
        """Unregister one replica of a GUID."""
        ...

    def set_replica_status(
        self, surl: str, status: ReplicaStatus, *, pin_expiry_ns: int | None = None
    ) -> Replica:
        """Change a replica's status and pin expiry."""
        ...

    def mark_replica_bad(self, entry_id: EntryId, surl: str, reason: str) -> Replica:
        """Mark an available replica BAD (its bytes are wrong); any reader may."""
        ...

    def begin_replica_deletion(self, surl: str) -> Replica:
        """Mark a replica UNAVAILABLE; returns it as it was."""
        ...

    def undo_replica_deletion(self, replica: Replica) -> None:
        """Put back a replica's status unless it is no longer UNAVAILABLE."""
        ...
