"""The metadata verbs of a :class:`~gridfs.gfal.Grid` (AMGA): schemas, values, queries.

Thin calls on the grid's metadata catalog, so that the mount and the command
line talk to the gfal layer alone, never to the catalog or metadata objects
behind it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gridfs.catalog import EntryId
from gridfs.metadata import AttributeType, Rows, SavedQuery, Value

if TYPE_CHECKING:
    from gridfs.metadata import MetadataAPI

__all__ = ["MetadataCalls"]

Target = str | EntryId


class MetadataCalls(abc.ABC):
    """Metadata verbs on LFNs (or entry ids), each one request to the metadata catalog."""

    @property
    @abc.abstractmethod
    def metadata(self) -> MetadataAPI:
        """The metadata catalog these calls go to."""

    def addattrs(self, directory: Target, attributes: Mapping[str, str]) -> None:
        """Add attributes (name -> type name) to the schema of ``directory``, all or none."""
        self.metadata.addattrs(directory, attributes)

    def removeattrs(self, directory: Target, names: Sequence[str]) -> None:
        """Remove attributes (and their values) from the schema of ``directory``, all or none."""
        self.metadata.removeattrs(directory, names)

    def listattr(self, directory: Target) -> dict[str, AttributeType]:
        """The schema of ``directory``: attribute name -> type."""
        return self.metadata.listattr(directory)

    def entry_schema(self, entry: Target) -> dict[str, AttributeType]:
        """The schema that applies to ``entry``: its directory's."""
        return self.metadata.entry_schema(entry)

    def setattr(self, entries: Target | Sequence[Target], values: Mapping[str, object]) -> None:
        """Set attribute values of one entry or many, in one transaction."""
        self.metadata.setattr(entries, values)

    def getattr(self, entry: Target, names: Sequence[str] | None = None) -> dict[str, Value | None]:
        """Attribute values of ``entry`` (all of its schema's without ``names``)."""
        return self.metadata.getattr(entry, names)

    def clearattr(self, entry: Target, names: Sequence[str] | None = None) -> None:
        """Clear attribute values of ``entry`` (all without ``names``)."""
        self.metadata.clearattr(entry, names)

    def list_entries(self, directory: Target) -> Rows[tuple[str, dict[str, Value | None]]]:
        """Each entry of ``directory`` with its values (AMGA listEntries), streamed."""
        return self.metadata.list_entries(directory)

    def find(self, directory: str, condition: str, *, recursive: bool = False) -> Rows[str]:
        """The LFNs of the entries of ``directory`` matching metadata ``condition``."""
        return self.metadata.find(directory, condition, recursive=recursive)

    def selectattr(
        self, attributes: Sequence[str], condition: str | None = None
    ) -> Rows[tuple[Value | None, ...]]:
        """Attribute values across collections, joined on ``condition`` (AMGA selectattr)."""
        return self.metadata.selectattr(attributes, condition)

    def select_query(self, query: str) -> Rows[tuple[Value | None, ...]]:
        """Rows of a ``SELECT ... FROM ... WHERE ...`` query (AMGA selectQuery)."""
        return self.metadata.select_query(query)

    def save_query(
        self, directory: Target, name: str, condition: str, *, recursive: bool = False
    ) -> SavedQuery:
        """Save ``condition`` under ``name`` on ``directory`` (a dataset by query)."""
        return self.metadata.save_query(directory, name, condition, recursive=recursive)

    def saved_queries(self, directory: Target) -> list[SavedQuery]:
        """The queries saved on ``directory``, by name."""
        return self.metadata.saved_queries(directory)

    def remove_query(self, directory: Target, name: str) -> None:
        """Remove the saved query ``name`` of ``directory``."""
        self.metadata.remove_query(directory, name)

    def run_saved_query(self, directory: str, name: str) -> Rows[str]:
        """The LFNs the saved query ``name`` of ``directory`` matches now."""
        return self.metadata.run_saved_query(directory, name)
