"""A grid:// filesystem on the embedded catalog, over a file:// SE or an XRootD SE."""

from __future__ import annotations

import itertools
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.fsspec import GridFileSystem
from gridfs.gfal import Grid
from tests.conftest import create_catalog, make_vo
from tests.storage_servers import XRootDServer

VO = "/grid/gilda"


def grid_config(directory: Path, xrootd: XRootDServer | None = None) -> Path:
    """Alice's embedded grid, its one SE a directory or an area of the XRootD server."""
    lines = [
        '[catalog]\nurl = "sqlite:///catalog.db"',
        '[identity]\nuser = "alice"\ngroups = ["gilda"]',
        '[storage]\ndefault_se = "se-a"',
        '[se.se-a]\nsurl_prefix = "srm://se-a.example/grid"',
    ]
    if xrootd is None:
        lines.append('root = "se/se-a"')
    else:
        lines += ["[se.se-a.protocols]", f'root = "{xrootd.url}/{directory.name}"']
        lines[2] += '\nprotocols = ["root"]'
    path = directory / "grid.toml"
    path.write_text("\n".join(lines) + "\n")
    create_catalog(path)
    return path


@pytest.fixture(scope="module", params=["file-se", "xrootd-se"])
def grid_fs(request: pytest.FixtureRequest) -> Iterator[GridFileSystem]:
    """grid:// over the embedded catalog, on a file:// SE and on an XRootD SE.

    One grid per module and SE: each test works in a directory of its own. The
    catalog (and the file:// SE) live in memory (/dev/shm) where there is one:
    fsspec's suites make many small files, and a disk's fsyncs would double their time.
    """
    server = request.getfixturevalue("xrootd_server") if request.param == "xrootd-se" else None
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    directory = Path(tempfile.mkdtemp(prefix=f"gridfs-{request.param}-", dir=memory))
    try:
        with Grid.from_config(load_config(grid_config(directory, server))) as grid:
            make_vo(grid, VO)
            yield GridFileSystem(grid=grid, skip_instance_cache=True)
    finally:
        shutil.rmtree(directory)


_dirs = itertools.count()


def new_directory(fs: GridFileSystem) -> str:
    """A new, empty directory in the VO, named as no other."""
    path = posixpath.join(VO, f"t{next(_dirs)}")
    fs.makedirs(path)
    return path


@pytest.fixture
def home(grid_fs: GridFileSystem) -> str:
    """A new, empty directory of the test's own in the VO."""
    return new_directory(grid_fs)
