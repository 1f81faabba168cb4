"""Where new files go: the ``default_se`` property of a directory, inherited from above."""

from __future__ import annotations

from gridfs.catalog import CatalogAPI, EntryId

__all__ = ["DEFAULT_SE_PROPERTY", "default_se_for"]

DEFAULT_SE_PROPERTY = "default_se"  # directory property: the SE of new files below it


def default_se_for(catalog: CatalogAPI, directory_id: EntryId, fallback: str | None) -> str | None:
    """The SE for new files in a directory: the nearest ``default_se`` property above it.

    Set with the ``user.grid.default_se`` attribute of a directory; without
    one on the directory or any ancestor, ``fallback`` (the configured default SE).
    """
    chosen = catalog.inherited_property(directory_id, DEFAULT_SE_PROPERTY)
    return chosen if chosen is not None else fallback
