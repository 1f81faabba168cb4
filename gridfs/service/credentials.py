"""The client's credential and trusted CAs, found where grid users keep them.

Bearer tokens in the WLCG discovery order: ``$BEARER_TOKEN``,
``$BEARER_TOKEN_FILE``, ``$XDG_RUNTIME_DIR/bt_u$UID``, ``/tmp/bt_u$UID``;
then X.509: ``$X509_USER_PROXY``, ``/tmp/x509up_u$UID``,
``$X509_USER_CERT``/``$X509_USER_KEY`` (default ``~/.globus/usercert.pem`` and
``userkey.pem``). CAs: ``$X509_CERT_DIR``, else ``/etc/grid-security/certificates``,
else the system's store.

A shared mount acts for each local caller with that caller's own credential
file (:func:`caller_file`, :func:`caller_credential`): ``/run/user/$UID/bt_u$UID``
(the ``$XDG_RUNTIME_DIR`` that systemd gives), ``/tmp/bt_u$UID``, then
``/tmp/x509up_u$UID``; a regular file owned by that uid that nobody else may
read or change, or it is refused.
"""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gridfs.errors import ConfigError, PermissionDenied

__all__ = [
    "CALLER_PLACES",
    "CallerFile",
    "Credential",
    "caller_credential",
    "caller_file",
    "client_context",
    "find_credential",
]

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


# Where a local caller's credential file is looked for, in order; {uid} is the caller's.
CALLER_PLACES = ("/run/user/{uid}/bt_u{uid}", "/tmp/bt_u{uid}", "/tmp/x509up_u{uid}")


@dataclass(frozen=True)
class CallerFile:
    """A local caller's credential file, checked, and its stamp (device, inode, mtime, size).

    The stamp changes when the file is replaced or rewritten: the credential is then read again.
    """

    path: Path
    uid: int
    stamp: tuple[int, int, int, int]

    @property
    def is_proxy(self) -> bool:
        """Whether the file is an X.509 proxy (else it holds a bearer token)."""
        return self.path.name.startswith("x509up_u")


def _check_owned(path: Path, status: os.stat_result, uid: int) -> None:
    """Refuse a file that is not ``uid``'s alone: a link, another's file, open to others."""
    if not stat.S_ISREG(status.st_mode):
        raise PermissionDenied(f"credential {path} is not a regular file: refused", str(path))
    if status.st_uid != uid:
        raise PermissionDenied(
            f"credential {path} belongs to uid {status.st_uid}, not {uid}: refused", str(path)
        )
    if status.st_mode & 0o077:
        raise PermissionDenied(
            f"credential {path} is open to others (mode {stat.S_IMODE(status.st_mode):o}; "
            "chmod 600 it): refused",
            str(path),
        )


def caller_file(uid: int, places: tuple[str, ...] = CALLER_PLACES) -> CallerFile | None:
    """The first credential file of local user ``uid`` in ``places``; None when there is none.

    Raises :class:`PermissionDenied` when the first one found is not ``uid``'s alone
    (a symbolic link, another user's file, readable or writable by group or others).
    """
    for place in places:
        path = Path(place.format(uid=uid))
        try:
            status = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise PermissionDenied(f"cannot check credential {path}: {exc.strerror}") from exc
        _check_owned(path, status, uid)
        stamp = (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)
        return CallerFile(path, uid, stamp)
    return None


@contextmanager
def caller_credential(found: CallerFile) -> Iterator[Credential]:
    """The credential in ``found``, read through one descriptor checked again.

    The file cannot be swapped between the check and the read. A proxy is
    loaded from the open descriptor (``/proc/self/fd/N``): use the credential
    inside the ``with``.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(found.path, flags)
    except OSError as exc:
        raise PermissionDenied(f"cannot open credential {found.path}: {exc.strerror}") from exc
    try:
        _check_owned(found.path, os.fstat(descriptor), found.uid)
        if found.is_proxy:
            yield Credential(str(found.path), cert=Path(f"/proc/self/fd/{descriptor}"))
            return
        with os.fdopen(os.dup(descriptor), "rb") as stream:
            token = stream.read(1 << 16).decode(errors="replace").strip()
        if not token:
            raise PermissionDenied(f"credential {found.path} is empty", str(found.path))
        yield Credential(str(found.path), token=token)
    finally:
        os.close(descriptor)
