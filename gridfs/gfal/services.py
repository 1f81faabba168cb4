"""The catalog and metadata services that a catalog URL names, picked by its scheme.

``sqlite://`` and ``postgresql[+driver]://`` open the SQL catalog itself;
a new kind of catalog (the HTTPS client of ``gridfs serve``) is one more
entry in :data:`OPENERS`.
"""

from __future__ import annotations

from typing import Protocol

from gridfs.catalog import Catalog, CatalogAPI, Identity
from gridfs.errors import ConfigError
from gridfs.metadata import Metadata, MetadataAPI

__all__ = ["OPENERS", "open_catalog"]


class Opener(Protocol):
    """Opens the catalog at a URL as an identity; ``create`` makes a missing one."""

    def __call__(
        self, url: str, identity: Identity, *, create: bool
    ) -> tuple[CatalogAPI, MetadataAPI]: ...


def _open_sql(url: str, identity: Identity, *, create: bool) -> tuple[CatalogAPI, MetadataAPI]:
    catalog = Catalog.from_url(url, identity, create=create)
    return catalog, Metadata(catalog)


OPENERS: dict[str, Opener] = {"sqlite": _open_sql, "postgresql": _open_sql}


def open_catalog(
    url: str, identity: Identity, *, create: bool = False
) -> tuple[CatalogAPI, MetadataAPI]:
    """The catalog at ``url`` and its metadata, acting as ``identity``.

    A missing catalog is an error (:class:`~gridfs.errors.NotFound`) unless ``create``.
    """
    scheme = url.partition(":")[0].partition("+")[0].lower()
    opener = OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(sorted(OPENERS))
        raise ConfigError(f"catalog URL {url!r}: no catalog speaks {scheme!r} (known: {known})")
    return opener(url, identity, create=create)
