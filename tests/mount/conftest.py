"""Fixtures of the mount tests: a populated grid and a mount of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from tests.conftest import make_vo
from tests.mount.mounting import mounted

TRAILERS = {"matrix.mpg": 1_291_875, "alien.mpg": 320_102, "amelie.mpg": 3_545_092, "empty": 0}


@pytest.fixture
def populated(config_path: Path, make_file) -> Iterator[tuple[Grid, dict[str, bytes]]]:
    """The trailers, each on two SEs, and an alias."""
    with Grid.from_config(load_config(config_path)) as grid:
        make_vo(grid)
        grid.makedirs("/grid/gilda/trailers")
        contents = {}
        for index, (name, size) in enumerate(TRAILERS.items()):
            source = make_file(name, size, seed=index)
            contents[name] = source.read_bytes()
            grid.cr(source, f"/grid/gilda/trailers/{name}", se="infn-se")
            grid.rep(f"/grid/gilda/trailers/{name}", "ral-se")
        grid.symlink("/grid/gilda/trailers/matrix.mpg", "/grid/gilda/neo.mpg")
        yield grid, contents


@pytest.fixture
def mountpoint(config_path: Path, populated, tmp_path: Path) -> Iterator[Path]:
    """The grid mounted in the foreground by a gridfs process we own."""
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log") as target:
        yield target


def replica_file(grid: Grid, lfn: str, se: str) -> Path:
    """The file that holds ``lfn``'s replica on file:// SE ``se``."""
    (surl,) = [r.surl for r in grid.catalog.replicas(lfn) if r.se == se]
    return Path(turl_to_path(resolve_turl(surl, grid.ses.get(se), ["file"])))
