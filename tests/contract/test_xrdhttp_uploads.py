"""Uploads to an XRootD server's HTTP door (XrdHttp), the WebDAV endpoint of many grid sites."""

from __future__ import annotations

import secrets
from pathlib import Path

from gridfs.config import load_config
from gridfs.gfal import Grid
from tests.conftest import make_vo
from tests.storage_servers import XRootDServer


def test_cr_rep_and_cp_to_an_xrdhttp_se(
    xrdhttp_server: XRootDServer, tmp_path: Path, make_file
) -> None:
    # XrdHttp refuses a chunked body that does not come with the headers: the
    # uploads must announce their length.
    base = "dav" + xrdhttp_server.http_url.removeprefix("http") + f"se-{secrets.token_hex(4)}"
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[identity]\nuser = "alice"\ngroups = ["gilda"]\n'
        '[storage]\ndefault_se = "door"\nprotocols = ["dav", "file"]\n'
        f'[se.door]\nsurl_prefix = "srm://door/grid"\n[se.door.protocols]\ndav = "{base}"\n'
        '[se.disk]\nroot = "disk-se"\n'
    )
    source = make_file("run.dat", (3 << 20) + 17, seed=5)
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid)
        grid.cr(source, "/grid/gilda/run.dat")
        with grid.open("/grid/gilda/run.dat", "rb") as stream:
            assert stream.read() == source.read_bytes()
        other = make_file("other.dat", 1000, seed=6)
        grid.cr(other, "/grid/gilda/other.dat", "disk")
        grid.rep("/grid/gilda/other.dat", "door")
        assert sorted(r.se for r in grid.replicas("/grid/gilda/other.dat")) == ["disk", "door"]
        with grid.open("/grid/gilda/other.dat", "rb", protocols=["dav"]) as stream:
            assert stream.read() == other.read_bytes()
