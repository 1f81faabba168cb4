"""A catalog service and two users, on this machine: ``python examples/serve_demo.py``.

Makes a test CA (host and user certificates, an RFC 3820 proxy) and a token
issuer, starts ``gridfs serve`` over TLS on 127.0.0.1, and runs a session:
alice (by token) makes a private directory and a file; bob (by proxy) is
refused, whatever his own configuration claims; a token scoped to one subtree
reaches nothing beside it. Everything lives in a temporary directory.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridfs.catalog import SUPERUSER, Catalog, Identity
from gridfs.gfal.services import open_catalog
from tests.service_pki import GridPKI
from tests.service_server import ServiceProcess, write_service_config

CLAIMED = Identity("bob", ("cms",), superuser=True)  # what bob's config says: not trusted


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gridfs-serve-demo-") as work:
        root = Path(work)
        pki = GridPKI(root / "pki")
        bob = pki.user("Bob")
        url = f"sqlite:///{root / 'catalog.db'}"
        admin = Catalog.from_url(url, SUPERUSER, create=True)
        admin.mkdir("/grid/gilda", parents=True)
        admin.chown("/grid/gilda", "alice", "gilda")
        admin.close()
        config = write_service_config(root / "server", pki, url, {bob.dn: "bob cms"})
        server = ServiceProcess(config, pki)
        server.start()
        print(f"gridfs serve on {server.url} (log: {server.log_path})")
        os.environ["X509_CERT_DIR"] = str(pki.ca_dir)
        try:
            os.environ["BEARER_TOKEN"] = pki.token("alice", **{"wlcg.groups": ["/gilda"]})
            alice, _ = open_catalog(server.url, CLAIMED)
            print("alice:", alice.identity)
            alice.mkdir("/grid/gilda/private", 0o700)
            alice.add_file("/grid/gilda/private/data", size=42)
            print("alice lists:", [s.name for s in alice.iterdir("/grid/gilda/private")])
            del os.environ["BEARER_TOKEN"]
            os.environ["X509_USER_PROXY"] = str(pki.proxy(bob))
            bob_catalog, _ = open_catalog(server.url, CLAIMED)
            print("bob:", bob_catalog.identity, "(his config claimed superuser)")
            try:
                bob_catalog.stat("/grid/gilda/private/data")
            except PermissionError as exc:
                print("bob is refused:", exc)
            del os.environ["X509_USER_PROXY"]
            os.environ["BEARER_TOKEN"] = pki.token(
                "alice", scope="storage.read:/grid/gilda/foo", **{"wlcg.groups": ["/gilda"]}
            )
            scoped, _ = open_catalog(server.url, CLAIMED)
            try:
                scoped.stat("/grid/gilda/private")
            except PermissionError as exc:
                print("a token for /grid/gilda/foo:", exc)
            for opened in (alice, bob_catalog, scoped):
                opened.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
