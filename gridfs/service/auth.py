"""Who is calling: a request's credential turned into the identity the call runs as.

A bearer token (``Authorization: Bearer ...``) is checked by
:class:`~gridfs.service.tokens.TokenValidator`; otherwise the client
certificate chain that TLS verified names a DN, which the grid-mapfile maps to
a grid user and groups, once the CRLs of the CA directory have cleared it
(:mod:`gridfs.service.crls`). Nothing else the client sends says who it is. The
server's ``superusers`` are the only callers that pass every check, named by
their credential's subject (a DN, or a token's ``issuer subject``), never by a
user name that an issuer or a grid-mapfile line could hand out.
"""

from __future__ import annotations

import shlex
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gridfs.catalog import Identity
from gridfs.errors import ConfigError, PermissionDenied
from gridfs.service.crls import RevocationLists
from gridfs.service.scopes import Scopes
from gridfs.service.settings import ServerSettings
from gridfs.service.tokens import TokenValidator
from gridfs.service.x509 import end_entity_dn

__all__ = ["Authenticator", "NoCredential", "Principal", "read_gridmap"]

_CHAINS_KEPT = 4096  # client certificate chains whose DN is remembered

HOW_TO = (
    "no credential: set BEARER_TOKEN or BEARER_TOKEN_FILE (or put a token in "
    "$XDG_RUNTIME_DIR/bt_u$UID), or make a proxy (X509_USER_PROXY, /tmp/x509up_u$UID) "
    "signed by a CA the server trusts"
)


class NoCredential(PermissionDenied):
    """The request carried no credential at all (HTTP 401)."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: the identity its calls run as, and its token's scopes."""

    identity: Identity
    method: str  # "x509" or "token"
    subject: str  # the DN, or the token's issuer and user
    scopes: Scopes | None = None  # None: the ACLs alone decide


def read_gridmap(path: Path) -> dict[str, Identity]:
    """A grid-mapfile: ``"DN" user [group[,group...]]`` per line, ``#`` comments.

    A line without groups gives the user a group of its own name.
    """
    table = {}
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the grid-mapfile {path}: {exc.strerror}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: {exc}") from exc
        if not words:
            continue
        if len(words) not in (2, 3) or not words[0].startswith("/"):
            raise ConfigError(f'{path}:{number}: want "DN" user [group,group...]')
        groups = tuple(g for g in words[2].split(",") if g) if len(words) == 3 else ()
        table[words[0]] = Identity(words[1], groups or (words[1],))
    return table


class Authenticator:
    """Turns a request's credential into a :class:`Principal`; thread-safe."""

    def __init__(self, settings: ServerSettings) -> None:
        self._tokens = TokenValidator(settings.issuers)
        self._gridmap_path = settings.gridmap
        self._superusers = frozenset(settings.superusers)
        self._lock = threading.Lock()
        self._gridmap: tuple[float, dict[str, Identity]] | None = None
        self._subjects: dict[tuple[str, ...], tuple[list[bytes], str]] = {}
        ca_dir = settings.ca_dir
        self._revocations = None if ca_dir is None else RevocationLists(ca_dir)

    def authenticate(self, authorization: str, chain: Sequence[str]) -> Principal:
        """The caller of a request; :class:`NoCredential` or :class:`PermissionDenied`.

        ``authorization`` is the request's Authorization header (empty: none) and
        ``chain`` the client certificate chain TLS verified, in PEM, leaf first.
        """
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise PermissionDenied("the Authorization header must be: Bearer <token>")
            grant = self._tokens.validate(token.strip())
            return self._principal(grant.identity, "token", grant.subject, grant.scopes)
        if not chain:
            raise NoCredential(HOW_TO)
        ders, dn = self._subject_of(tuple(chain))
        if self._revocations is not None:
            self._revocations.check(ders)  # each time: a CRL may have come since
        identity = self._mapped().get(dn)
        if identity is None:
            raise PermissionDenied(f"{dn}: this certificate's DN is not in the grid-mapfile")
        return self._principal(identity, "x509", dn, None)

    def _subject_of(self, chain: tuple[str, ...]) -> tuple[list[bytes], str]:
        """The chain in DER and its end-entity DN, worked out once per chain."""
        with self._lock:
            known = self._subjects.get(chain)
        if known is not None:
            return known
        ders = [ssl.PEM_cert_to_DER_cert(pem) for pem in chain]
        known = (ders, end_entity_dn(ders))
        with self._lock:
            if len(self._subjects) >= _CHAINS_KEPT:
                self._subjects.clear()
            self._subjects[chain] = known
        return known

    def _principal(
        self, identity: Identity, method: str, subject: str, scopes: Scopes | None
    ) -> Principal:
        if subject in self._superusers:
            identity = replace(identity, superuser=True)
        return Principal(identity, method, subject, scopes)

    def _mapped(self) -> dict[str, Identity]:
        """The grid-mapfile, read again when it changes (sites regenerate it)."""
        if self._gridmap_path is None:
            return {}
        mtime = self._gridmap_path.stat().st_mtime
        with self._lock:
            if self._gridmap is None or self._gridmap[0] != mtime:
                self._gridmap = (mtime, read_gridmap(self._gridmap_path))
            return self._gridmap[1]
