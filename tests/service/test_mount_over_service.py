"""The mount over a catalog service: the same tree, read and written through ``gridfs serve``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gridfs.config import load_config
from tests.mount.conftest import populated  # the mount tests' grid, as a fixture here
from tests.mount.mounting import mounted, needs_fuse
from tests.service_pki import GridPKI
from tests.service_server import ServiceProcess, write_service_config

pytestmark = [pytest.mark.mount, needs_fuse]
__all__ = ["populated"]


def test_the_mount_reads_and_writes_through_the_service(
    config_path: Path, populated, tmp_path: Path, monkeypatch
) -> None:
    _, contents = populated
    pki = GridPKI(tmp_path / "pki")
    server_config = write_service_config(
        tmp_path / "serve", pki, load_config(config_path).catalog_url, {}, workers=1, threads=8
    )
    server = ServiceProcess(server_config, pki)
    server.start()
    try:
        client = config_path.with_name("client.toml")
        lines = config_path.read_text().splitlines()
        client.write_text(
            "\n".join(f'url = "{server.url}/"' if x.startswith("url =") else x for x in lines)
        )
        monkeypatch.setenv("BEARER_TOKEN", pki.token("alice", **{"wlcg.groups": ["/gilda"]}))
        monkeypatch.setenv("X509_CERT_DIR", str(pki.ca_dir))
        with mounted(client, tmp_path / "mnt", tmp_path / "mount.log") as root:
            trailers = root / "gilda" / "trailers"
            assert sorted(os.listdir(trailers)) == sorted(contents)
            for name, data in contents.items():
                assert (trailers / name).read_bytes() == data
            (trailers / "new.txt").write_bytes(b"written over the service")
            assert (trailers / "new.txt").read_bytes() == b"written over the service"
            assert (root / "gilda" / "neo.mpg").read_bytes() == contents["matrix.mpg"]
    finally:
        server.stop()
