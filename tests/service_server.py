"""``gridfs serve`` as a test server: a subprocess on 127.0.0.1 with real TLS, stopped by PID."""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from gridfs.gfal import Grid
from gridfs.gfal.services import open_catalog
from tests.service_pki import AUDIENCE, ISSUER, GridPKI
from tests.storage_servers import _ServerProcess


def write_service_config(
    directory: Path,
    pki: GridPKI,
    catalog_url: str,
    gridmap: dict[str, str],
    *,
    tls: bool = True,
    **server: object,
) -> Path:
    """A configuration with a ``[server]`` table over ``catalog_url``, trusting ``pki``.

    Without ``tls``, plain HTTP (tokens only): for measuring what TLS costs.
    """
    directory.mkdir(parents=True, exist_ok=True)
    mapfile = directory / "grid-mapfile"
    mapfile.write_text("".join(f'"{dn}" {entry}\n' for dn, entry in gridmap.items()))
    lines = [
        "[catalog]",
        f'url = "{catalog_url}"',
        "[server]",
        *(
            [f'cert = "{pki.host_cert}"', f'key = "{pki.host_key}"', f'ca_dir = "{pki.ca_dir}"']
            if tls
            else []
        ),
        f'gridmap = "{mapfile}"',
        'superusers = ["/DC=org/DC=gridtest/CN=Admin"]',
        *(f"{key} = {value!r}".replace("'", '"') for key, value in server.items()),
        "[[server.token_issuers]]",
        f'issuer = "{ISSUER}"',
        f'audience = "{AUDIENCE}"',
        f'jwks = "{pki.jwks}"',
        'algorithms = ["RS256"]',
    ]
    path = directory / "server.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class ServiceProcess(_ServerProcess):
    """One ``gridfs serve`` (its supervisor and workers) of ours."""

    server_name: ClassVar[str] = "gridfs serve"

    def __init__(self, config: Path, pki: GridPKI) -> None:
        super().__init__()
        self.config = config
        self.pki = pki
        self.base_dir = config.parent
        self.log_path = config.parent / f"serve-{id(self)}.log"

    @property
    def url(self) -> str:
        scheme = "https" if "\ncert = " in self.config.read_text() else "http"
        return f"{scheme}://127.0.0.1:{self._running_port()}"

    def start(self) -> None:
        self._start(None)

    def _launch(self, port: int) -> None:
        text = self.config.read_text()
        listen = f'listen = "127.0.0.1:{port}"\n'
        lines = [line for line in text.splitlines(True) if not line.startswith("listen =")]
        lines.insert(lines.index("[server]\n") + 1, listen)
        self.config.write_text("".join(lines))
        self.port = port
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
        self._spawn(
            [sys.executable, "-m", "gridfs.cli", "--config", str(self.config), "serve"], env=env
        )

    def _is_ready(self, since: int) -> bool:
        context = ssl.create_default_context(capath=str(self.pki.ca_dir))
        try:
            with urllib.request.urlopen(f"{self.url}/health", context=context, timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False


SERVICE_ENV = "GRIDFS_TEST_OVER_SERVICE"  # set: the `grid` fixture's catalog is a gridfs serve
_PKI: list[GridPKI] = []


@contextmanager
def over_the_service(grid: Grid, catalog_url: str, directory: Path) -> Iterator[Grid]:
    """``grid`` with its catalog seen through a ``gridfs serve`` over ``catalog_url``, as alice."""
    if not _PKI:
        _PKI.append(GridPKI(directory / "pki"))
    pki = _PKI[0]
    config = write_service_config(directory / "serve", pki, catalog_url, {}, workers=1, threads=4)
    server = ServiceProcess(config, pki)
    server.start()
    saved = {name: os.environ.get(name) for name in ("BEARER_TOKEN", "X509_CERT_DIR")}
    try:
        # The client reads its credential when it opens: the environment is put back at once.
        os.environ["BEARER_TOKEN"] = pki.token("alice", **{"wlcg.groups": ["/gilda"]})
        os.environ["X509_CERT_DIR"] = str(pki.ca_dir)
        catalog, metadata = open_catalog(server.url, grid.identity)
    except BaseException:
        server.stop()
        raise
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield Grid(catalog, grid.storage, metadata=metadata)
    finally:
        catalog.close()
        server.stop()
