"""CRLs in the server's CA directory: a revoked certificate is refused, as is a stale list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.catalog import SUPERUSER, Catalog, Identity
from gridfs.errors import PermissionDenied
from gridfs.gfal.services import open_catalog
from tests.service_pki import GridPKI, Party
from tests.service_server import ServiceProcess, write_service_config

CLAIMED = Identity("whoever", ("whatever",))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GridPKI, dict[str, Party], ServiceProcess]]:
    pki = GridPKI(tmp_path / "pki")
    users = {"alice": pki.user("Alice"), "bob": pki.user("Bob")}
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    Catalog.from_url(url, SUPERUSER, create=True).close()
    gridmap = {users["alice"].dn: "alice gilda", users["bob"].dn: "bob cms"}
    server = ServiceProcess(write_service_config(tmp_path / "serve", pki, url, gridmap), pki)
    server.start()
    try:
        yield pki, users, server
    finally:
        server.stop()


def user_of(server: ServiceProcess, pki: GridPKI, party: Party, monkeypatch) -> str:
    """Who the server takes ``party``'s proxy for (its checks run on every request)."""
    monkeypatch.setenv("X509_USER_PROXY", str(pki.proxy(party)))
    catalog, _ = open_catalog(server.url, CLAIMED)
    try:
        return catalog.identity.user
    finally:
        catalog.close()


def test_a_revoked_certificate_and_a_stale_crl_are_refused(served, monkeypatch) -> None:
    pki, users, server = served
    monkeypatch.setenv("X509_CERT_DIR", str(pki.ca_dir))
    monkeypatch.delenv("BEARER_TOKEN", raising=False)
    assert user_of(server, pki, users["bob"], monkeypatch) == "bob"  # no CRL: not checked
    pki.revoke(users["bob"])  # read by the running server: the directory changed
    with pytest.raises(PermissionDenied, match="revoked by its CA"):
        user_of(server, pki, users["bob"], monkeypatch)
    assert user_of(server, pki, users["alice"], monkeypatch) == "alice"
    pki.revoke(days=-0.01)  # past its nextUpdate
    with pytest.raises(PermissionDenied, match=r"expired .* fetch-crl"):
        user_of(server, pki, users["alice"], monkeypatch)
    pki.revoke()  # a fresh list that revokes no one
    assert user_of(server, pki, users["bob"], monkeypatch) == "bob"
