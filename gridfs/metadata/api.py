"""The metadata seam: what the gfal layer, the mount and the CLI may ask of a metadata catalog.

:class:`MetadataAPI` is a typed :class:`~typing.Protocol`; the SQL
:class:`~gridfs.metadata.Metadata` is one implementation. Each method is one
atomic operation of the implementation (one transaction, or one request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from gridfs.catalog import EntryId, Identity, Stat
from gridfs.metadata.queries import FoundEntry, SavedQuery
from gridfs.metadata.rows import Rows
from gridfs.metadata.types import AttributeType, Value

__all__ = ["MetadataAPI"]

Target = str | EntryId


class MetadataAPI(Protocol):
    """An AMGA-style metadata catalog acting as one identity.

    The contracts are those documented on :class:`~gridfs.metadata.Metadata`;
    an attribute not in the schema concerned raises
    :class:`~gridfs.errors.UnknownAttribute`.
    """

    @property
    def identity(self) -> Identity:
        """Who the calls run as."""
        ...

    def as_identity(self, identity: Identity) -> MetadataAPI:
        """The same metadata catalog acting as another identity."""
        ...

    def add_entry(
        self, lfn: str, values: Mapping[str, object], *, size: int = 0, mode: int = 0o644
    ) -> Stat:
        """Register file ``lfn`` with its values (AMGA addEntry)."""
        ...

    # -- schemas
    def addattr(self, directory: Target, name: str, type_name: str) -> AttributeType:
        """Add one attribute to a directory's schema."""
        ...

    def addattrs(self, directory: Target, attributes: Mapping[str, str]) -> None:
        """Add attributes (name -> type name) to a directory's schema, all or none."""
        ...

    def removeattr(self, directory: Target, name: str) -> None:
        """Remove one attribute (and its values) from a directory's schema."""
        ...

    def removeattrs(self, directory: Target, names: Sequence[str]) -> None:
        """Remove attributes (and their values) from a directory's schema, all or none."""
        ...

    def listattr(self, directory: Target) -> dict[str, AttributeType]:
        """The schema of a directory."""
        ...

    def entry_schema(self, entry: Target) -> dict[str, AttributeType]:
        """The schema whose attributes ``entry`` holds."""
        ...

    # -- values
    def setattr(self, entries: Target | Sequence[Target], values: Mapping[str, object]) -> None:
        """Set attributes of one entry, or of each of several."""
        ...

    def getattr(self, entry: Target, names: Sequence[str] | None = None) -> dict[str, Value | None]:
        """The values of an entry."""
        ...

    def clearattr(self, entry: Target, names: Sequence[str] | None = None) -> None:
        """Remove values of an entry."""
        ...

    def list_entries(self, directory: Target) -> Rows[tuple[str, dict[str, Value | None]]]:
        """Each entry of a directory with the values of its schema."""
        ...

    # -- user.* extended attributes
    def get_xattr(self, entry: Target, name: str) -> bytes:
        """The value of ``user.<name>``: typed (as text) if in the schema, else free-form bytes."""
        ...

    def set_xattr(self, entry: Target, name: str, value: bytes) -> None:
        """Set ``user.<name>``: typed if in the schema, else free-form (any bytes, <= 64 KiB)."""
        ...

    def xattr_names(self, entry: Target) -> list[str]:
        """The names (without ``user.``) of the typed and free-form values an entry has."""
        ...

    def remove_xattr(self, entry: Target, name: str) -> None:
        """Remove ``user.<name>``, typed or free-form."""
        ...

    # -- queries
    def find(self, directory: str, condition: str, *, recursive: bool = False) -> Rows[str]:
        """The LFNs of the entries that match ``condition``."""
        ...

    def find_ids(
        self, directory_id: EntryId, condition: str, *, recursive: bool = False
    ) -> Rows[FoundEntry]:
        """The matches of ``condition``, each with the directories that lead to it."""
        ...

    def selectattr(
        self, attributes: Sequence[str], condition: str | None = None
    ) -> Rows[tuple[Value | None, ...]]:
        """Values of ``attributes`` for the entries matching ``condition``."""
        ...

    def select_query(self, query: str) -> Rows[tuple[Value | None, ...]]:
        """The rows of a SELECT query."""
        ...

    def save_query(
        self, directory: Target, name: str, condition: str, *, recursive: bool = False
    ) -> SavedQuery:
        """Store a condition on a directory as a named query."""
        ...

    def saved_queries(self, directory: Target) -> list[SavedQuery]:
        """The queries saved on a directory."""
        ...

    def remove_query(self, directory: Target, name: str) -> None:
        """Delete a saved query."""
        ...

    def run_saved_query(self, directory: str, name: str) -> Rows[str]:
        """The LFNs that a saved query finds now."""
        ...
