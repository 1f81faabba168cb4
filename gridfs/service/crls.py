"""Revocation lists of the trusted CAs, checked for each CA that publishes one.

The CA directory (``X509_CERT_DIR`` layout) holds each CA as ``<hash>.N``
and its CRL as ``<hash>.rN``, as ``fetch-crl`` keeps them. A client
certificate whose issuing CA has a CRL there is refused when the list names
its serial number, when the list is past its ``nextUpdate`` (a stale list
cannot tell what was revoked since: fetch-crl has stopped), or when the list
is not signed by that CA. A CA without a CRL file is not checked; neither are
proxies, whose issuer is a user. The lists are read again when the
directory changes (fetch-crl replaces its files by renaming).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from gridfs.errors import PermissionDenied
from gridfs.service.x509 import grid_dn

__all__ = ["RevocationLists"]

log = logging.getLogger(__name__)

_CRL_NAME = re.compile(r"^[0-9a-f]{8}\.r\d+$")
_CA_NAME = re.compile(r"^[0-9a-f]{8}\.\d+$")


@dataclass(frozen=True)
class _List:
    path: Path
    crl: x509.CertificateRevocationList | None  # None: unusable, see problem
    problem: str | None = None


def _load_pem_or_der(data: bytes) -> x509.CertificateRevocationList:
    if data.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def _read(directory: Path) -> dict[x509.Name, _List]:
    """Each CRL of ``directory`` by its issuer, checked against the CA of the same hash."""
    cas: dict[str, list[x509.Certificate]] = {}
    crl_paths = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if _CA_NAME.match(entry.name):
            try:
                ca = x509.load_pem_x509_certificate(Path(entry.path).read_bytes())
            except (OSError, ValueError):
                continue  # not a certificate: OpenSSL skips it too
            cas.setdefault(entry.name.partition(".")[0], []).append(ca)
        elif _CRL_NAME.match(entry.name):
            crl_paths.append(Path(entry.path))
    lists: dict[x509.Name, _List] = {}
    for path in crl_paths:
        try:
            crl = _load_pem_or_der(path.read_bytes())
        except (OSError, ValueError) as exc:
            log.warning("CRL %s cannot be read: %s", path, exc)
            continue
        signers = [
            ca for ca in cas.get(path.name.partition(".")[0], []) if ca.subject == crl.issuer
        ]
        if not any(crl.is_signature_valid(ca.public_key()) for ca in signers):  # type: ignore[arg-type]
            problem = f"the CRL {path} is not signed by its CA"
            log.warning("%s: that CA's certificates are refused", problem)
            lists[crl.issuer] = _List(path, None, problem)
        else:
            lists[crl.issuer] = _List(path, crl)
    return lists


class RevocationLists:
    """The CRLs of a CA directory, read again when it changes; thread-safe."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._lists: dict[x509.Name, _List] = {}

    def _current(self) -> dict[x509.Name, _List]:
        stamp = self._directory.stat().st_mtime_ns
        with self._lock:
            if stamp != self._stamp:
                self._lists = _read(self._directory)
                self._stamp = stamp
            return self._lists

    def check(self, chain: Sequence[bytes]) -> None:
        """Refuse (:class:`PermissionDenied`) a verified chain with a revoked certificate."""
        lists = self._current()
        if not lists:
            return
        now = dt.datetime.now(dt.UTC)
        for der in chain:
            cert = x509.load_der_x509_certificate(der)
            found = lists.get(cert.issuer)
            if found is None:
                continue
            who = grid_dn(cert.subject)
            if found.crl is None:
                raise PermissionDenied(f"{who}: {found.problem}")
            next_update = found.crl.next_update_utc
            if next_update is not None and next_update < now:
                raise PermissionDenied(
                    f"{who}: the CRL of {grid_dn(cert.issuer)} ({found.path}) expired at "
                    f"{next_update:%Y-%m-%d %H:%M} UTC (is fetch-crl running?)"
                )
            if found.crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                raise PermissionDenied(f"{who}: this certificate is revoked by its CA")
