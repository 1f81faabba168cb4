"""`gridfs xattr`, in the manner of gfal-xattr."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import fails, home, run

__all__ = ["home"]


def test_list_get_set_remove(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    lfn = "/grid/gilda/x"
    run(*cfg, "cr", make_file("x", 1000), lfn)
    listing = run(*cfg, "xattr", lfn).stdout
    assert "user.guid = " in listing
    assert "user.status = ONLINE" in listing
    guid = run(*cfg, "lg", lfn).stdout.strip().removeprefix("guid:")
    assert run(*cfg, "xattr", lfn, "user.guid").stdout.strip() == guid
    run(*cfg, "xattr", lfn, "user.comment=first take")
    values = json.loads(run(*cfg, "xattr", "--json", lfn).stdout)
    assert values["user.comment"] == "first take"
    assert values["user.chksumtype"] == "adler32"
    run(*cfg, "xattr", "-x", lfn, "user.comment")
    assert "user.comment" not in run(*cfg, "xattr", lfn).stdout
    run(*cfg, "xattr", "/grid/gilda", "user.grid.default_se=ral-se")
    run(*cfg, "cr", make_file("y", 10), "/grid/gilda/y")
    assert run(*cfg, "lr", "/grid/gilda/y").stdout.startswith("srm://ral-se.")
    fails(*cfg, "xattr", lfn, "user.guid=0", message="read-only")
    fails(*cfg, "xattr", lfn, "user.nothing", message="no attribute user.nothing")
