"""Where new files go: the ``default_se`` property of a directory, inherited from above."""

from __future__ import annotations

import contextlib

from gridfs.catalog import ROOT_ID, CatalogAPI, EntryId
from gridfs.errors import PermissionDenied

__all__ = ["DEFAULT_SE_PROPERTY", "default_se_for"]

DEFAULT_SE_PROPERTY = "default_se"  # directory property: the SE of new files below it


def default_se_for(catalog: CatalogAPI, directory_id: EntryId, fallback: str | None) -> str | None:
    """The SE for new files in a directory: the nearest ``default_se`` property above it.

    Set with the ``user.grid.default_se`` attribute of a directory; without
    one on the directory or any ancestor, ``fallback`` (the configured default SE).
    """
    entry_id: EntryId | None = directory_id
    while entry_id is not None:
        with contextlib.suppress(PermissionDenied):
            chosen = catalog.properties(entry_id).get(DEFAULT_SE_PROPERTY)
            if chosen is not None:
                return chosen
        entry_id = catalog.stat_id(entry_id).parent_id if entry_id != ROOT_ID else None
    return fallback
