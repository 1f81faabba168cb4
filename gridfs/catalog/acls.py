"""Access control lists, the access(2) test, and the grid properties of entries."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gridfs.catalog import coreways
from gridfs.catalog.models import AclModel, EntryModel, PropertyModel
from gridfs.catalog.permissions import (
    EXECUTE,
    READ,
    WRITE,
    AclEdit,
    AclEntry,
    AclTag,
    edit_acl,
    filled_default,
    with_mask,
)
from gridfs.catalog.records import EntryId, EntryKind, Stat
from gridfs.catalog.store import CatalogStore, name_text, retry_on_conflict
from gridfs.errors import InvalidArgument, NotADirectory, NotFound, PermissionDenied, SymlinkLoop

__all__ = ["AclCalls", "store_acl"]

_MAX_DEPTH = 4096  # far beyond any real tree: a way up that goes further is a loop


class AclCalls:
    """The ACL and property part of :class:`~gridfs.catalog.Catalog`."""

    store: CatalogStore

    def getacl(self, lfn: str) -> list[AclEntry]:
        """The whole ACL of ``lfn``: owner, group and other from the mode, plus extended entries."""
        with self.store.session() as session:
            return self._whole_acl(session, self.store.resolve(session, lfn))

    def _whole_acl(self, session: Session, entry: EntryModel) -> list[AclEntry]:
        extended = self.store.acl_of(session, entry)
        access = {e.tag for e in extended if not e.default}
        entries = [
            AclEntry(False, AclTag.USER_OBJ, "", (entry.mode >> 6) & 7),
            AclEntry(False, AclTag.OTHER, "", entry.mode & 7),
            *extended,
        ]
        if AclTag.GROUP_OBJ not in access:
            entries.append(AclEntry(False, AclTag.GROUP_OBJ, "", (entry.mode >> 3) & 7))
        return sorted(entries)

    @retry_on_conflict
    def setacl(self, lfn: str, entries: Sequence[AclEntry]) -> list[AclEntry]:
        """Replace the ACL of ``lfn`` (access entries, and default ones on a directory).

        The owner, group and other entries set the mode bits; with named
        entries a mask is kept (computed if not given); a default ACL given
        without its owner, group or other entry takes it from the access
        ACL, as setfacl does. Owner or superuser.
        """
        with self.store.session(write=True) as session:
            entry = self.store.resolve(session, lfn)
            self.store.require_owner(entry, lfn)
            self._replace(session, entry, lfn, entries)
            return self._whole_acl(session, entry)

    @retry_on_conflict
    def edit_acl(self, lfn: str, edit: AclEdit) -> list[AclEntry]:
        """Change the ACL of ``lfn`` as ``setfacl -b/-k/-x/-m`` does, in one transaction.

        Masks are recomputed as setfacl recomputes them (see
        :func:`~gridfs.catalog.permissions.edit_acl`). Owner or superuser.
        """
        with self.store.session(write=True) as session:
            entry = self.store.resolve(session, lfn)
            self.store.require_owner(entry, lfn)
            edited = edit_acl(self._whole_acl(session, entry), edit)
            self._replace(session, entry, lfn, edited)
            return self._whole_acl(session, entry)

    @staticmethod
    def _replace(
        session: Session, entry: EntryModel, lfn: str, entries: Sequence[AclEntry]
    ) -> None:
        """Store ``entries`` as the whole ACL of ``entry``: its mode bits and extended entries."""
        access = with_mask([e for e in entries if not e.default], default=False)
        default = [e for e in entries if e.default]
        if default:
            default = with_mask(filled_default(access, default), default=True)
        if default and entry.kind != EntryKind.DIRECTORY:
            raise InvalidArgument(f"only a directory has a default ACL ({lfn})", lfn)
        by_tag = {e.tag: e.perms for e in access if e.tag not in (AclTag.USER, AclTag.GROUP)}
        group_bits = by_tag.get(AclTag.MASK, by_tag[AclTag.GROUP_OBJ])
        entry.mode = (entry.mode & 0o7000) | (
            by_tag[AclTag.USER_OBJ] << 6 | group_bits << 3 | by_tag[AclTag.OTHER]
        )
        extended = len(access) > 3
        stored = [e for e in access if extended and e.tag not in (AclTag.USER_OBJ, AclTag.OTHER)]
        store_acl(session, entry, stored + default)
        entry.ctime_ns = time.time_ns()

    def access(self, lfn: str, mode: int) -> bool:
        """Whether ``lfn`` exists (``os.F_OK``) and allows ``mode`` (``os.R_OK|W_OK|X_OK``).

        As :func:`os.access`: links are followed, a missing entry or an
        ancestor without search permission gives False, not an error.
        """
        want = mode & (READ | WRITE | EXECUTE)
        try:
            with self.store.session() as session:
                entry = self.store.resolve(session, lfn)
                if not want:
                    return True
                return self.store.allows(entry, self.store.acl_of(session, entry), want)
        except (NotFound, PermissionDenied, NotADirectory, SymlinkLoop):
            return False

    def stat_walked(self, entry_id: EntryId, mode: int = 0) -> Stat:
        """The entry ``entry_id``, checked as a path walk that reaches it would be.

        Search permission on every ancestor, then ``mode`` (``os.R_OK|W_OK|X_OK``)
        on the entry itself; :class:`PermissionDenied` otherwise. For callers
        that address entries by inode (the mount): the names on the way may be
        known to them from another identity's walk, so the walk is checked here.
        """
        fast = coreways.stat_walked(self.store, entry_id, mode)
        if not isinstance(fast, coreways.Fallback):
            return fast
        with self.store.session() as session:
            entry = self.store.by_id(session, entry_id)
            name = self.store.name_of(session, entry, entry_id)
            self.store.require_reachable(session, entry, name)
            if want := mode & (READ | WRITE | EXECUTE):
                self.store.require(session, entry, want, name)
            return self.store.to_stat(entry)

    def properties(self, lfn_or_id: str | EntryId) -> dict[str, str]:
        """The grid properties of an entry (such as ``default_se``); needs read permission."""
        with self.store.session() as session:
            entry = self.store.entry(session, lfn_or_id, follow=True)
            self.store.require(session, entry, READ, self.store.name_of(session, entry, lfn_or_id))
            rows = session.scalars(select(PropertyModel).where(PropertyModel.entry_id == entry.id))
            return {row.name: row.value for row in rows}

    def inherited_property(self, entry_id: EntryId, name: str) -> str | None:
        """Property ``name`` of entry ``entry_id``, else of its nearest ancestor that has it.

        One transaction and one query for the properties of the whole way up;
        entries the identity may not read are passed over (as
        :meth:`properties` would refuse them). ``None`` if no entry on the way has it.
        """
        fast = coreways.inherited_property(self.store, entry_id, name)
        if not isinstance(fast, coreways.Fallback):
            return fast
        with self.store.session() as session:
            way: list[EntryModel] = []
            entry: EntryModel | None = self.store.by_id(session, entry_id)
            while entry is not None and len(way) < _MAX_DEPTH:
                way.append(entry)
                parent = entry.parent_id
                entry = self.store.by_id(session, parent) if parent is not None else None
            rows = session.execute(
                select(PropertyModel.entry_id, PropertyModel.value).where(
                    PropertyModel.name == name,
                    PropertyModel.entry_id.in_([e.id for e in way]),
                )
            )
            found: dict[int, str] = {row.entry_id: row.value for row in rows}
            for step in way:
                if step.id in found and self.store.allows(
                    step, self.store.acl_of(session, step), READ
                ):
                    return found[step.id]
        return None

    @retry_on_conflict
    def set_property(self, lfn_or_id: str | EntryId, name: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a grid property; needs write permission.

        Removing a property that is not set raises :class:`NotFound`.
        """
        if not name or len(name) > 255:
            raise InvalidArgument(f"invalid property name {name!r}", name)
        with self.store.session(write=True) as session:
            entry = self.store.entry(session, lfn_or_id, follow=True)
            where = self.store.name_of(session, entry, lfn_or_id)
            self.store.require(session, entry, WRITE, where)
            row = session.get(PropertyModel, (entry.id, name))
            if value is None:
                if row is None:
                    raise NotFound(f"no property {name} on {name_text(where)}", name)
                session.delete(row)
            elif row is None:
                session.add(PropertyModel(entry_id=entry.id, name=name, value=value))
            else:
                row.value = value
            entry.ctime_ns = time.time_ns()


def store_acl(session: Session, entry: EntryModel, entries: Sequence[AclEntry]) -> None:
    """Replace the stored extended ACL entries of ``entry`` with ``entries``."""
    session.execute(delete(AclModel).where(AclModel.entry_id == entry.id))
    for acl_entry in entries:
        session.add(
            AclModel(
                entry_id=entry.id,
                is_default=acl_entry.default,
                tag=acl_entry.tag.value,
                qualifier=acl_entry.qualifier,
                perms=acl_entry.perms,
            )
        )
    entry.has_acl = bool(entries)
    session.flush()
