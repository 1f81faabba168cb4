"""WLCG-profile bearer tokens: JWTs checked with PyJWT against each trusted issuer's keys.

The server fixes, per issuer, the accepted algorithms (never taken from the
token: ``alg: none`` and an HS256 token signed with the public key are
refused), the audience, and where the keys are (a JWKS file, or an HTTPS URL
fetched and cached by :class:`jwt.PyJWKClient`). ``iss``, ``aud``, ``exp``
(required), ``nbf`` and ``iat`` are checked. The grid user is the issuer's
``user_claim`` (``sub`` by default), the groups are ``wlcg.groups`` without
their leading slash, and ``scope`` holds the storage scopes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from gridfs.catalog import Identity
from gridfs.errors import PermissionDenied
from gridfs.service.scopes import Scopes

__all__ = ["Issuer", "TokenGrant", "TokenRefused", "TokenValidator"]

_CACHE_SIZE = 4096  # tokens whose checks are remembered until they expire


class TokenRefused(PermissionDenied):
    """A bearer token that is not valid here (HTTP 401): the message says why."""


@dataclass(frozen=True)
class Issuer:
    """One trusted token issuer, as the ``[[server.token_issuers]]`` table gives it."""

    issuer: str
    audience: tuple[str, ...]
    jwks: str  # a file path, or an https:// URL
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    user_claim: str = "sub"
    base_path: str = "/"  # where the scopes' paths start in the LFN tree
    leeway: float = 30.0  # seconds of clock skew allowed on exp and nbf


@dataclass(frozen=True)
class TokenGrant:
    """What a valid token grants: who, and within which scopes."""

    identity: Identity
    scopes: Scopes | None
    expires: float
    subject: str


class _Keys:
    """The signing keys of one issuer: a JWKS file (re-read when it changes) or URL."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._client = jwt.PyJWKClient(source) if source.startswith("https://") else None
        self._lock = threading.Lock()
        self._loaded: tuple[float, jwt.PyJWKSet] | None = None

    def key_for(self, token: str, header: Mapping[str, Any]) -> jwt.PyJWK:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token)
        keys = self._file_keys()
        kid = header.get("kid")
        if kid is None and len(keys.keys) == 1:
            return keys.keys[0]
        try:
            return keys[str(kid)]
        except KeyError:
            raise TokenRefused(f"token signed with unknown key {kid!r}") from None

    def _file_keys(self) -> jwt.PyJWKSet:
        path = Path(self._source)
        mtime = path.stat().st_mtime
        with self._lock:
            if self._loaded is None or self._loaded[0] != mtime:
                self._loaded = (mtime, jwt.PyJWKSet.from_json(path.read_text()))
            return self._loaded[1]


class TokenValidator:
    """Checks bearer tokens for the trusted issuers; thread-safe, remembers good tokens."""

    def __init__(self, issuers: Sequence[Issuer]) -> None:
        self._issuers = {issuer.issuer: issuer for issuer in issuers}
        self._keys = {issuer.issuer: _Keys(issuer.jwks) for issuer in issuers}
        self._lock = threading.Lock()
        self._granted: dict[str, TokenGrant] = {}

    def validate(self, token: str) -> TokenGrant:
        """What ``token`` grants, or :class:`PermissionDenied` saying why it is refused."""
        with self._lock:
            grant = self._granted.get(token)
        if grant is not None and grant.expires > time.time():
            return grant
        try:
            grant = self._check(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"bearer token refused: {exc}") from exc
        with self._lock:
            if len(self._granted) >= _CACHE_SIZE:
                self._granted.clear()
            self._granted[token] = grant
        return grant

    def _check(self, token: str) -> TokenGrant:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
        issuer = self._issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise TokenRefused(f"bearer token from an untrusted issuer {unverified.get('iss')!r}")
        key = self._keys[issuer.issuer].key_for(token, header)
        # PyJWT verifies with the key's own algorithm, which must be one the issuer allows.
        claims = jwt.decode(
            token,
            key=key,
            algorithms=list(issuer.algorithms),
            audience=list(issuer.audience),
            issuer=issuer.issuer,
            leeway=issuer.leeway,
            options={"require": ["exp", "iss", "aud", issuer.user_claim]},
        )
        user = str(claims[issuer.user_claim])
        groups = tuple(
            str(group).lstrip("/")
            for group in claims.get("wlcg.groups", [])
            if str(group).strip("/")
        )
        identity = Identity(user, groups or (user,))
        scopes = Scopes.parse(str(claims.get("scope", "")), issuer.base_path)
        return TokenGrant(identity, scopes, float(claims["exp"]), f"{issuer.issuer} {user}")
