"""The client's credential and trusted CAs, found where grid users keep them.

Bearer tokens in the WLCG discovery order: ``$BEARER_TOKEN``,
``$BEARER_TOKEN_FILE``, ``$XDG_RUNTIME_DIR/bt_u$UID``, ``/tmp/bt_u$UID``;
then X.509: ``$X509_USER_PROXY``, ``/tmp/x509up_u$UID``,
``$X509_USER_CERT``/``$X509_USER_KEY`` (default ``~/.globus/usercert.pem`` and
``userkey.pem``). CAs: ``$X509_CERT_DIR``, else ``/etc/grid-security/certificates``,
else the system's store.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gridfs.errors import ConfigError

__all__ = ["Credential", "client_context", "find_credential"]

_GRID_CA_DIR = Path("/etc/grid-security/certificates")


@dataclass(frozen=True)
class Credential:
    """A bearer token, or a certificate (a proxy holds its key) with its key; and where from."""

    source: str
    token: str | None = None
    cert: Path | None = None
    key: Path | None = None


def _token_file(path: Path, source: str) -> Credential | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the bearer token {path}: {exc.strerror}") from exc
    return Credential(source, token=token) if token else None


def find_credential(  # noqa: PLR0911 - one return per place, in the discovery order
    environ: Mapping[str, str] | None = None, uid: int | None = None
) -> Credential | None:
    """The first credential in the grid's discovery order; None when there is none."""
    env = os.environ if environ is None else environ
    uid = os.getuid() if uid is None else uid
    if token := env.get("BEARER_TOKEN", "").strip():
        return Credential("BEARER_TOKEN", token=token)
    if path := env.get("BEARER_TOKEN_FILE"):
        found = _token_file(Path(path), "BEARER_TOKEN_FILE")
        if found is None:
            raise ConfigError(f"BEARER_TOKEN_FILE={path}: no token there")
        return found
    places = [Path(f"/tmp/bt_u{uid}")]
    if runtime := env.get("XDG_RUNTIME_DIR"):
        places.insert(0, Path(runtime) / f"bt_u{uid}")
    for place in places:
        if (found := _token_file(place, str(place))) is not None:
            return found
    if proxy := env.get("X509_USER_PROXY"):
        return Credential("X509_USER_PROXY", cert=Path(proxy))
    default_proxy = Path(f"/tmp/x509up_u{uid}")
    if default_proxy.exists():
        return Credential(str(default_proxy), cert=default_proxy)
    home = Path(env.get("HOME", "~")).expanduser() / ".globus"
    cert = Path(env.get("X509_USER_CERT", home / "usercert.pem"))
    key = Path(env.get("X509_USER_KEY", home / "userkey.pem"))
    if cert.exists() and key.exists():
        return Credential(f"{cert} and {key}", cert=cert, key=key)
    return None


def client_context(
    credential: Credential | None, environ: Mapping[str, str] | None = None
) -> ssl.SSLContext:
    """A TLS context that trusts the grid's CAs and presents ``credential``'s certificate."""
    env = os.environ if environ is None else environ
    ca_dir = env.get("X509_CERT_DIR") or (str(_GRID_CA_DIR) if _GRID_CA_DIR.is_dir() else None)
    context = ssl.create_default_context(capath=ca_dir)
    if credential is not None and credential.cert is not None:
        try:
            # A proxy file holds its key and the chain up to the user certificate.
            context.load_cert_chain(credential.cert, credential.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the certificate of {credential.source}: {exc}") from exc
    return context
