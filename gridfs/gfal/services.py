"""The catalog and metadata services that a catalog URL names, picked by its scheme.

``sqlite://`` and ``postgresql[+driver]://`` open the SQL catalog itself;
``https://`` (and plain ``http://``) the client of a ``gridfs serve``
(:func:`is_service_url`). A new kind of catalog is one more entry in
:data:`OPENERS`.

A catalog that decides itself who its caller is (the service) also opens as
each local caller of a shared mount (:func:`caller_catalogs`), with that
caller's own credential; one that takes the identity it is given (SQL) leaves
the mount to map local callers to identities.
"""

from __future__ import annotations

from typing import Any, Protocol

from gridfs.catalog import Catalog, CatalogAPI, Identity
from gridfs.errors import ConfigError
from gridfs.metadata import Metadata, MetadataAPI

__all__ = [
    "OPENERS",
    "SERVICE_SCHEMES",
    "CallerCatalogs",
    "caller_catalogs",
    "is_service_url",
    "open_catalog",
    "whoami",
]

SERVICE_SCHEMES = frozenset({"https", "http"})
"""The schemes of catalog URLs that name a catalog service (``gridfs serve``), not a database."""


def _scheme(url: str) -> str:
    """The catalog kind of ``url``: its scheme without a driver (``postgresql+psycopg``)."""
    return url.partition(":")[0].partition("+")[0].lower()


def is_service_url(url: str) -> bool:
    """Whether the catalog URL ``url`` names a catalog service rather than a database.

    A service keeps its database to itself: what lives in the catalog's
    database beside the catalog (the transfer queue) is out of reach through it.
    """
    return _scheme(url) in SERVICE_SCHEMES


class Opener(Protocol):
    """Opens the catalog at a URL as an identity; ``create`` makes a missing one."""

    def __call__(
        self, url: str, identity: Identity, *, create: bool
    ) -> tuple[CatalogAPI, MetadataAPI]: ...


def _open_sql(url: str, identity: Identity, *, create: bool) -> tuple[CatalogAPI, MetadataAPI]:
    catalog = Catalog.from_url(url, identity, create=create)
    return catalog, Metadata(catalog)


def _open_service(url: str, identity: Identity, *, create: bool) -> tuple[CatalogAPI, MetadataAPI]:
    del create  # a served catalog is made where it is served (gridfs serve), never by a client
    try:
        from gridfs.service.client import open_service  # noqa: PLC0415 - needs httpx
    except ImportError as exc:
        raise ConfigError(f"catalog URL {url!r}: pip install 'gridfs[remote]' ({exc})") from exc
    return open_service(url, identity)


OPENERS: dict[str, Opener] = {
    "sqlite": _open_sql,
    "postgresql": _open_sql,
    **dict.fromkeys(SERVICE_SCHEMES, _open_service),
}


def open_catalog(
    url: str, identity: Identity, *, create: bool = False
) -> tuple[CatalogAPI, MetadataAPI]:
    """The catalog at ``url`` and its metadata, acting as ``identity``.

    A missing catalog is an error (:class:`~gridfs.errors.NotFound`) unless ``create``.
    """
    scheme = _scheme(url)
    opener = OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(sorted(OPENERS))
        raise ConfigError(f"catalog URL {url!r}: no catalog speaks {scheme!r} (known: {known})")
    return opener(url, identity, create=create)


class CallerCatalogs(Protocol):
    """A catalog as each local user, with that user's own credential."""

    def of(self, uid: int) -> tuple[CatalogAPI, MetadataAPI]:
        """The catalog and metadata as local user ``uid`` (PermissionDenied: no credential)."""
        ...

    def close(self) -> None:
        """Close every caller's connections."""
        ...


def _service_callers(url: str) -> CallerCatalogs:
    from gridfs.service.callers import CallerServices  # noqa: PLC0415 - needs httpx

    return CallerServices(url)


def caller_catalogs(url: str) -> CallerCatalogs | None:
    """The catalog at ``url`` as each local caller, if it decides who its callers are.

    None for a catalog that takes the identity it is given (SQL): the mount then
    maps each local caller to an identity itself (:mod:`gridfs.fuse.ids`).
    """
    return _service_callers(url) if is_service_url(url) else None


def whoami(catalog: CatalogAPI) -> dict[str, Any]:
    """Who ``catalog`` runs our calls as: user, groups, superuser, method, subject, scopes.

    A catalog service says what its server granted; an embedded catalog, the configuration.
    """
    ask = getattr(catalog, "whoami", None)
    if callable(ask):
        granted: dict[str, Any] = ask()
        return granted
    identity = catalog.identity
    return {
        "user": identity.user,
        "groups": list(identity.groups),
        "superuser": identity.superuser,
        "method": "config",
        "subject": "[identity] of the configuration (an embedded catalog trusts it)",
        "scopes": None,
    }
