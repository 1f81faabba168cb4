"""Changes to the LFN namespace: directories, files, links, removal, renames, attributes."""

from __future__ import annotations

import contextlib
import stat as _stat
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import column, delete, exists, func, literal, or_, select, table, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridfs.catalog import coresetattr, corewrites
from gridfs.catalog.acls import store_acl
from gridfs.catalog.guids import new_guid, parse_guid
from gridfs.catalog.lfn import MAX_LFN_BYTES, join_lfn, split_lfn
from gridfs.catalog.models import AclModel, EntryModel
from gridfs.catalog.permissions import EXECUTE, WRITE, AclEntry, AclTag, inherit
from gridfs.catalog.records import EntryId, EntryKind, FileStatus, Replica, Stat
from gridfs.catalog.replicas import check_checksum, new_replica, replicas_of
from gridfs.catalog.store import ROOT_ID, CatalogStore, retry_on_conflict
from gridfs.errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    GridError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    NotPermitted,
)

__all__ = ["NamespaceCalls", "new_entry_attributes"]

_RENAME_LOCK = 0x72656E  # "ren": the advisory lock of directory moves (PostgreSQL)
_MAX_DEPTH = 4096  # far beyond any real tree: a walk that goes further is a loop


class NamespaceCalls:
    """The namespace part of :class:`~gridfs.catalog.Catalog`: each call one transaction."""

    store: CatalogStore

    @retry_on_conflict
    def mkdir(
        self, lfn: str, mode: int = 0o775, *, parents: bool = False, exist_ok: bool = False
    ) -> Stat:
        """Create directory ``lfn`` (and, with ``parents``, its missing ancestors).

        With ``exist_ok``, an existing directory (or a link to one) is returned
        instead of raising :class:`AlreadyExists`.
        """
        parts = split_lfn(lfn)
        for attempt in (1, 2):
            try:
                with self.store.session(write=True) as session:
                    made = self._mkdir(
                        session, parts, lfn, mode, parents=parents, exist_ok=exist_ok
                    )
                    return self.store.to_stat(made)
            except IntegrityError as exc:
                # Another writer made an entry between our check and our insert:
                # with exist_ok, look again (once); it may be what we wanted.
                if not exist_ok or attempt == 2 or self.store.in_transaction():
                    raise AlreadyExists(f"LFN exists: {lfn}", lfn) from exc
        raise AssertionError("unreachable")

    def _mkdir(
        self,
        session: Session,
        parts: tuple[str, ...],
        lfn: str,
        mode: int,
        *,
        parents: bool,
        exist_ok: bool,
    ) -> EntryModel:
        store = self.store
        if not parts:
            if exist_ok:
                return store.by_id(session, ROOT_ID)
            raise AlreadyExists("the root directory exists", lfn)
        if parents:
            parent = store.by_id(session, ROOT_ID)
            for index, name in enumerate(parts[:-1]):
                sub = join_lfn(parts[: index + 1])
                store.require(session, parent, EXECUTE, sub)
                child = store.child_or_none(session, parent, name)
                if child is None:
                    store.require(session, parent, WRITE, sub)
                    # As os.makedirs: the mode is the leaf's; ancestors get the usual one.
                    child = self._insert(session, parent, name, EntryKind.DIRECTORY, 0o775)
                elif child.kind == EntryKind.SYMLINK:
                    child = store.resolve(session, sub)
                if child.kind != EntryKind.DIRECTORY:
                    raise NotADirectory(f"not a directory: {sub}", lfn)
                parent = child
        else:
            parent = store.resolve_parent(session, parts, lfn)
        store.require(session, parent, EXECUTE, lfn)
        existing = store.child_or_none(session, parent, parts[-1])
        if existing is None:
            store.require(session, parent, WRITE, lfn)
            return self._insert(session, parent, parts[-1], EntryKind.DIRECTORY, mode)
        if exist_ok:
            with contextlib.suppress(NotFound):  # a dangling link is just "exists"
                target = store.resolve(session, lfn)
                if target.kind == EntryKind.DIRECTORY:
                    return target
        raise AlreadyExists(f"LFN exists: {lfn}", lfn)

    @retry_on_conflict
    def symlink(self, target: str, lfn: str, *, alias: bool = False) -> Stat:
        """Create ``lfn`` as a symbolic link to ``target``.

        An ``alias`` (lcg-aa) is a link that stays with its file: it follows
        the file when the file is renamed and goes when the file is removed. A
        plain link keeps its target, as POSIX links do.
        """
        if not target or "\0" in target or len(target.encode("utf-8")) > MAX_LFN_BYTES:
            raise InvalidArgument(f"invalid symbolic link target {target!r}", lfn)
        with self._creating(lfn) as (session, parent, name):
            entry = self._insert(
                session,
                parent,
                name,
                EntryKind.SYMLINK,
                0o777,
                target=target,
                size=len(target.encode("utf-8")),
                status=FileStatus.ALIAS.value if alias else None,
            )
            return self.store.to_stat(entry)

    @retry_on_conflict
    def mknod(self, lfn: str, kind: EntryKind, mode: int = 0o644, *, rdev: int = 0) -> Stat:
        """Create special file ``lfn``: a FIFO, a socket, or (superuser only) a device.

        The entry has a mode, an owner and times but no replica and no GUID:
        the kernel serves its I/O. ``rdev`` is a device's number
        (:func:`os.makedev`); other kinds have none. Raises
        :class:`InvalidArgument` for a kind that is not special (files,
        directories and links have their own calls) and :class:`NotPermitted`
        for a device made by anyone but the superuser, as Linux does.
        """
        if not kind.is_special:
            raise InvalidArgument(f"mknod makes FIFOs, sockets and devices, not a {kind.name}", lfn)
        device = kind.is_device
        if device and not self.store.identity.superuser:
            raise NotPermitted(f"only the superuser may make device {lfn}", lfn)
        if not 0 <= rdev < 2**63 or (rdev and not device):
            raise InvalidArgument(f"invalid device number {rdev} for {lfn}", lfn)
        with self._creating(lfn) as (session, parent, name):
            entry = self._insert(session, parent, name, kind, mode, rdev=rdev)
            return self.store.to_stat(entry)

    @retry_on_conflict
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
        """Register file ``lfn`` and its ``(se, surl)`` replicas in one transaction.

        A new GUID is made unless ``guid`` is given; the replicas occupy
        ``space_token`` of their SE, if given. A file opened for writing is
        registered with ``status`` WRITING and no replica until its first
        :meth:`commit_version`. Raises :class:`AlreadyExists` if the LFN, the
        GUID or one of the SURLs is registered already.
        """
        if size < 0:
            raise InvalidArgument(f"negative size for {lfn}", lfn)
        check_checksum(checksum_type, checksum, lfn)
        guid = parse_guid(guid) if guid is not None else new_guid()
        fields = {
            "size": size,
            "mode": mode,
            "guid": guid,
            "checksum_type": checksum_type if checksum is not None else None,
            "checksum": checksum,
            "status": status.value,
        }
        fast = self._add_file_fast(lfn, fields, replicas, space_token)
        if fast is not None:
            return fast
        with self._creating(lfn) as (session, parent, name):
            entry = self._insert(
                session,
                parent,
                name,
                EntryKind.FILE,
                mode,
                guid=guid,
                size=size,
                checksum_type=checksum_type if checksum is not None else None,
                checksum=checksum,
                status=status.value,
            )
            for se, surl in replicas:
                session.add(new_replica(entry.id, se, surl, space_token=space_token))
            session.flush()
            return self.store.to_stat(entry)

    def _add_file_fast(
        self,
        lfn: str,
        fields: dict[str, object],
        replicas: Sequence[tuple[str, str]],
        space_token: str | None,
    ) -> Stat | None:
        """:meth:`add_file` in Core (corewrites.py); None where the ORM path must run."""
        parts = split_lfn(lfn)
        if self.store.in_transaction():
            return None
        try:
            with corewrites.write_connection(self.store) as connection:
                added = corewrites.add_file(
                    self.store,
                    connection,
                    parts,
                    fields,
                    replicas=replicas,
                    space_token=space_token,
                )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"cannot create {lfn}: the LFN, its GUID or a replica SURL is registered already",
                lfn,
            ) from exc
        return None if isinstance(added, corewrites.Fallback) else added

    @contextmanager
    def _creating(self, lfn: str) -> Iterator[tuple[Session, EntryModel, str]]:
        """A write session, the parent directory, and the free name of a new entry."""
        parts = split_lfn(lfn)
        try:
            with self.store.session(write=True) as session:
                parent = self.store.resolve_parent(session, parts, lfn)
                self.store.require(session, parent, WRITE | EXECUTE, lfn)
                if self.store.child_or_none(session, parent, parts[-1]) is not None:
                    raise AlreadyExists(f"LFN exists: {lfn}", lfn)
                yield session, parent, parts[-1]
        except IntegrityError as exc:
            raise AlreadyExists(
                f"cannot create {lfn}: the LFN, its GUID or a replica SURL is registered already",
                lfn,
            ) from exc

    @retry_on_conflict
    def unlink(self, lfn: str) -> list[Replica]:
        """Remove file or link ``lfn``; returns the replicas it unregistered.

        The stored copies are the caller's to delete (the catalog knows no storage).
        """
        if not self.store.in_transaction():
            with corewrites.write_connection(self.store) as connection:
                removed = corewrites.remove(self.store, connection, split_lfn(lfn))
            if not isinstance(removed, corewrites.Fallback):
                return removed
        with self.store.session(write=True) as session:
            parent, entry = self.store.removable(session, lfn)
            if entry.kind == EntryKind.DIRECTORY:
                raise IsADirectory(f"is a directory: {lfn}", lfn)
            replicas = replicas_of(session, entry) if entry.kind == EntryKind.FILE else []
            self._remove(session, parent, entry)
            return replicas

    @retry_on_conflict
    def abandon_writing(self, entry_id: EntryId) -> bool:
        """Remove file ``entry_id`` if it is still WRITING (its content was never stored).

        One transaction, with the permission checks of :meth:`unlink` (search
        permission on the ancestors, write permission on the directory, the
        sticky-bit rule). Returns whether it was removed: an entry gone
        already, or one another writer has committed content to, stays as it is.
        """
        with self.store.session(write=True) as session:
            entry = session.get(EntryModel, entry_id)
            if entry is None or entry.parent_id is None:
                return False
            if entry.kind != EntryKind.FILE or entry.status != FileStatus.WRITING.value:
                return False
            lfn = self.store.lfn_checked(session, entry)
            parent = self.store.by_id(session, entry.parent_id)
            self.store.require(session, parent, WRITE | EXECUTE, lfn)
            self.store.sticky_check(parent, entry, lfn)
            self._remove(session, parent, entry, lfn)
            return True

    def _remove(
        self, session: Session, parent: EntryModel, entry: EntryModel, lfn: str | None = None
    ) -> None:
        """Delete ``entry`` (and, for a file, its aliases), checked for removal already."""
        if entry.kind == EntryKind.FILE:
            _drop_aliases(session, lfn or self.store.lfn_of(session, entry))
        session.delete(entry)
        _touch(parent)

    @retry_on_conflict
    def rmdir(self, lfn: str) -> None:
        """Remove the empty directory ``lfn``."""
        with self.store.session(write=True) as session:
            parent, entry = self.store.removable(session, lfn)
            if entry.kind != EntryKind.DIRECTORY:
                raise NotADirectory(f"not a directory: {lfn}", lfn)
            if session.scalar(select(exists().where(EntryModel.parent_id == entry.id))):
                raise DirectoryNotEmpty(f"directory not empty: {lfn}", lfn)
            session.delete(entry)
            _touch(parent)

    @retry_on_conflict
    def rename(self, source: str, destination: str) -> list[Replica]:
        """Move ``source`` to ``destination`` atomically, as rename(2) does.

        An existing destination is replaced (a file by a file, an empty
        directory by a directory); the replicas of a replaced file are
        unregistered and returned. The GUID stays with the file. Moving a
        directory into its own subtree raises :class:`InvalidArgument`.

        A file replaced by a file is how editors save (``sed -i`` writes a new
        file and renames it over the old one), so what describes the name
        rather than the bytes carries over (:func:`_carry_over`): the metadata
        values and the comment, when the moved file has none of its own, and
        the aliases. The moved file keeps its own id (the inode), GUID and
        replicas: the content is new.
        """
        store = self.store
        parts = split_lfn(destination)
        with store.session(write=True) as session:
            old_parent, entry = self.store.removable(session, source)
            old_lfn = store.lfn_of(session, entry)
            new_parent = store.resolve_parent(session, parts, destination)
            destination_lfn = f"{store.lfn_of(session, new_parent).rstrip('/')}/{parts[-1]}"
            store.require(session, new_parent, WRITE | EXECUTE, destination)
            if entry.kind == EntryKind.DIRECTORY:
                if new_parent.id != old_parent.id and not store.sqlite:
                    # As Linux's rename mutex: two directory moves checked one at a
                    # time, or crossing moves could both pass and make a loop.
                    session.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RENAME_LOCK}
                    )
                if self._is_within(session, new_parent, entry):
                    raise InvalidArgument(
                        f"cannot move {source} into its own subtree ({destination})", destination
                    )
                if new_parent.id != old_parent.id:
                    store.require(session, entry, WRITE, source)  # its ".." changes
            replaced: list[Replica] = []
            existing = store.child_or_none(session, new_parent, parts[-1])
            if existing is not None:
                if existing.id == entry.id:
                    return []
                store.sticky_check(new_parent, existing, destination)
                saving = existing.kind == entry.kind == EntryKind.FILE
                if saving:
                    _carry_over(session, existing, entry)
                replaced = _replace(session, entry, existing, destination)
                if existing.kind == EntryKind.FILE and not saving:
                    _drop_aliases(session, destination_lfn)
                session.flush()
            entry.parent_id = new_parent.id
            entry.name = parts[-1]
            entry.ctime_ns = time.time_ns()
            _touch(old_parent)
            _touch(new_parent)
            session.flush()
            _retarget_aliases(session, old_lfn, store.lfn_of(session, entry))
            return replaced

    def _set_fast(
        self,
        lfn: str,
        change: Callable[[corewrites.WriteConnection, tuple[str, ...]], Stat | corewrites.Fallback],
    ) -> Stat | None:
        """``change`` of an entry's attributes in Core (coresetattr.py); None: the ORM path runs."""
        if self.store.in_transaction():
            return None
        parts = split_lfn(lfn)
        with corewrites.write_connection(self.store) as connection:
            changed = change(connection, parts)
        return None if isinstance(changed, corewrites.Fallback) else changed

    @retry_on_conflict
    def chmod(self, lfn: str, mode: int) -> Stat:
        """Change the permission bits (and set-id and sticky bits); owner or superuser.

        Anyone who may write the file may also drop its set-id bits and change
        nothing else: a write does that (Linux clears them on a write by
        anyone but the superuser, and a mount is asked to before the write).
        """
        if not 0 <= mode <= 0o7777:
            raise InvalidArgument(f"invalid mode {mode:o} for {lfn}", lfn)
        fast = self._set_fast(lfn, lambda c, parts: coresetattr.chmod(self.store, c, parts, mode))
        if fast is not None:
            return fast
        with self.store.session(write=True) as session:
            entry = self.store.resolve(session, lfn)
            set_ids = _stat.S_ISUID | _stat.S_ISGID
            dropping = mode != entry.mode and mode | (entry.mode & set_ids) == entry.mode
            owner = entry.owner == self.store.identity.user
            if dropping and entry.kind == EntryKind.FILE and not owner:
                self.store.require(session, entry, WRITE, lfn)
            else:
                self.store.require_owner(entry, lfn)
            identity = self.store.identity
            foreign_group = entry.group_name not in identity.groups
            if entry.kind == EntryKind.FILE and foreign_group and not identity.superuser:
                mode &= ~_stat.S_ISGID  # as Linux: not for a group you are not in
            entry.mode = mode
            if entry.has_acl:
                # With an extended ACL, the group bits are the mask.
                session.execute(
                    update(AclModel)
                    .where(
                        AclModel.entry_id == entry.id,
                        AclModel.is_default.is_(False),
                        AclModel.tag == AclTag.MASK.value,
                    )
                    .values(perms=(mode >> 3) & 7)
                    .execution_options(synchronize_session=False)
                )
            entry.ctime_ns = time.time_ns()
            return self.store.to_stat(entry)

    @retry_on_conflict
    def chown(
        self,
        lfn: str,
        owner: str | None = None,
        group: str | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Change owner (superuser only) and/or group (the owner, to one of their groups).

        With ``follow_symlinks=False`` a link itself changes (lchown). As on
        Linux (ext4), whoever calls, a changed entry other than a directory
        loses its set-user-ID bit, and its set-group-ID bit if group-executable
        (without group execute that bit means mandatory locking, and stays).
        """
        fast = self._set_fast(
            lfn,
            lambda c, parts: coresetattr.chown(
                self.store, c, parts, owner, group, follow=follow_symlinks
            ),
        )
        if fast is not None:
            return fast
        with self.store.session(write=True) as session:
            entry = self.store.resolve(session, lfn, follow_last=follow_symlinks)
            identity = self.store.identity
            if not identity.superuser:
                if owner is not None and owner != entry.owner:
                    raise NotPermitted(f"only the superuser may give {lfn} away", lfn)
                if entry.owner != identity.user:
                    raise NotPermitted(f"not the owner of {lfn}", lfn)
                if group is not None and group not in identity.groups:
                    raise NotPermitted(f"not a member of group {group}", lfn)
            if owner is not None:
                entry.owner = owner
            if group is not None:
                entry.group_name = group
            if entry.kind != EntryKind.DIRECTORY:
                entry.mode = _without_set_ids(entry.mode)
            entry.ctime_ns = time.time_ns()
            return self.store.to_stat(entry)

    @retry_on_conflict
    def utime(
        self,
        lfn: str,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Set access and modification times; both ``None`` means now.

        The owner may set any time; others with write permission only "now".
        With ``follow_symlinks=False`` a link itself changes (lutimes).
        """
        fast = self._set_fast(
            lfn,
            lambda c, parts: coresetattr.utime(
                self.store, c, parts, (atime_ns, mtime_ns), follow=follow_symlinks
            ),
        )
        if fast is not None:
            return fast
        with self.store.session(write=True) as session:
            entry = self.store.resolve(session, lfn, follow_last=follow_symlinks)
            now = time.time_ns()
            if atime_ns is None and mtime_ns is None:
                if entry.owner != self.store.identity.user:
                    self.store.require(session, entry, WRITE, lfn)
            else:
                self.store.require_owner(entry, lfn)
            entry.atime_ns = now if atime_ns is None else atime_ns
            entry.mtime_ns = now if mtime_ns is None else mtime_ns
            entry.ctime_ns = now
            return self.store.to_stat(entry)

    @retry_on_conflict
    def set_comment(self, lfn: str, comment: str | None) -> None:
        """Set (or with ``None`` delete) the comment of ``lfn``; owner or write permission."""
        if comment is not None and len(comment) > 255:
            raise InvalidArgument(f"a comment is at most 255 characters ({lfn})", lfn)
        with self.store.session(write=True) as session:
            entry = self.store.resolve(session, lfn)
            if entry.owner != self.store.identity.user:
                self.store.require(session, entry, WRITE, lfn)
            entry.comment = comment

    # -- aliases -----------------------------------------------------------

    @retry_on_conflict
    def add_alias(self, lfn: str, alias: str) -> Stat:
        """Make ``alias`` a symbolic link to the primary LFN of file ``lfn`` (lcg-aa)."""
        with self.store.transaction(), self.store.session() as session:
            entry = self.store.resolve(session, lfn)
            self.store.require_file(entry, lfn)
            return self.symlink(self.store.lfn_of(session, entry), alias, alias=True)

    @retry_on_conflict
    def remove_alias(self, alias: str) -> None:
        """Remove alias ``alias``; refuses anything that is not a symbolic link (lcg-ra)."""
        with self.store.session(write=True) as session:
            link = self.store.resolve(session, alias, follow_last=False)
            if link.kind != EntryKind.SYMLINK:
                raise InvalidArgument(f"not an alias (symbolic link): {alias}", alias)
            parent, entry = self.store.removable(session, alias)
            self._remove(session, parent, entry)

    # -- helpers -----------------------------------------------------------

    def _is_within(self, session: Session, node: EntryModel, ancestor: EntryModel) -> bool:
        """True if ``node`` is ``ancestor`` or lies below it."""
        for _ in range(_MAX_DEPTH):
            if node.id == ancestor.id:
                return True
            if node.parent_id is None:
                return False
            node = self.store.by_id(session, node.parent_id)
        raise GridError(f"catalog corrupt: entry {node.id} is in a directory loop")

    def _insert(
        self,
        session: Session,
        parent: EntryModel,
        name: str,
        kind: EntryKind,
        mode: int,
        **fields: object,
    ) -> EntryModel:
        """Add a child to ``parent`` in one INSERT; ``fields`` are further column values."""
        now = time.time_ns()
        mode, group, acl = new_entry_attributes(self.store, session, parent, kind, mode)
        entry = EntryModel(
            parent_id=parent.id,
            name=name,
            kind=kind.value,
            mode=mode & 0o7777,
            owner=self.store.identity.user,
            group_name=group,
            atime_ns=now,
            mtime_ns=now,
            ctime_ns=now,
            has_acl=False,
            **{"size": 0, **fields},
        )
        session.add(entry)
        _touch(parent, now)
        session.flush()
        if acl:
            store_acl(session, entry, acl)
        return entry


def new_entry_attributes(
    store: CatalogStore, session: Session, parent: EntryModel, kind: EntryKind, mode: int
) -> tuple[int, str, list[AclEntry]]:
    """The mode, group and ACL a new child of ``parent`` gets, asked for with ``mode``.

    The parent's default ACL is inherited; a setgid directory hands down its
    group (and to a directory its setgid bit), as BSD and Linux do.
    """
    default_acl = [e for e in store.acl_of(session, parent) if e.default]
    mode, acl = (
        inherit(default_acl, mode & 0o7777, is_directory=kind == EntryKind.DIRECTORY)
        if kind != EntryKind.SYMLINK
        else (mode, [])
    )
    group = store.identity.group
    if parent.mode & _stat.S_ISGID:
        group = parent.group_name  # BSD group semantics of setgid directories
        if kind == EntryKind.DIRECTORY:
            mode |= _stat.S_ISGID
    return mode & 0o7777, group, acl


def _replace(session: Session, entry: EntryModel, existing: EntryModel, lfn: str) -> list[Replica]:
    """Delete ``existing`` so that ``entry`` can take its name, as rename(2) allows."""
    moving_dir = entry.kind == EntryKind.DIRECTORY
    if existing.kind == EntryKind.DIRECTORY:
        if not moving_dir:
            raise IsADirectory(f"is a directory: {lfn}", lfn)
        if session.scalar(select(exists().where(EntryModel.parent_id == existing.id))):
            raise DirectoryNotEmpty(f"directory not empty: {lfn}", lfn)
    elif moving_dir:
        raise NotADirectory(f"not a directory: {lfn}", lfn)
    replaced = replicas_of(session, existing) if existing.kind == EntryKind.FILE else []
    session.delete(existing)
    return replaced


# The metadata's values (gridfs.metadata.models.ValueModel), named as the migrations make
# them: the metadata package builds on the catalog, which therefore cannot import it.
_VALUES = table("meta_values", column("entry_id"), column("name"))
_XATTRS = table("meta_xattrs", column("entry_id"), column("name"))


def _carry_over(session: Session, replaced: EntryModel, entry: EntryModel) -> None:
    """Give file ``entry``, renamed over file ``replaced``, what ``replaced``'s name held.

    Metadata values (typed ones, and free-form ones) go over if ``entry`` has
    none of that kind, the comment if it has none; aliases name the LFN, so
    they stay as they are and now lead to ``entry``.
    """
    if entry.comment is None:
        entry.comment = replaced.comment
    for values in (_VALUES, _XATTRS):
        if not session.scalar(select(exists().where(values.c.entry_id == entry.id))):
            session.execute(
                update(values).where(values.c.entry_id == replaced.id).values(entry_id=entry.id)
            )


def _retarget_aliases(session: Session, old: str, new: str) -> None:
    """Keep aliases pointing at what moved: aliases of ``old`` or below it follow to ``new``.

    Exact, case-sensitive prefix matching (LIKE is neither on SQLite), over the
    partial index of links only, so a rename never scans the files. Plain
    links keep their target, as POSIX links do.
    """
    target = EntryModel.target
    prefix = old.rstrip("/") + "/"
    session.execute(
        update(EntryModel)
        .where(
            EntryModel.kind == EntryKind.SYMLINK.value,
            EntryModel.status == FileStatus.ALIAS.value,
            or_(target == old, func.substr(target, 1, len(prefix)) == prefix),
        )
        .values(target=literal(new) + func.substr(target, len(old) + 1))
        .execution_options(synchronize_session=False)
    )


def _drop_aliases(session: Session, lfn: str) -> None:
    """Remove the aliases of the file at ``lfn``, which is going away."""
    session.execute(
        delete(EntryModel)
        .where(
            EntryModel.kind == EntryKind.SYMLINK.value,
            EntryModel.status == FileStatus.ALIAS.value,
            EntryModel.target == lfn,
        )
        .execution_options(synchronize_session=False)
    )


def _without_set_ids(mode: int) -> int:
    """``mode`` as Linux leaves it after a chown: no set-user-ID, nor set-group-ID if ``g+x``."""
    mode &= ~_stat.S_ISUID
    if mode & _stat.S_IXGRP:
        mode &= ~_stat.S_ISGID
    return mode


def _touch(directory: EntryModel, now: int | None = None) -> None:
    directory.mtime_ns = directory.ctime_ns = now or time.time_ns()
