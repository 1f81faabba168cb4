"""The catalog seam is complete: the gfal layer's tests pass on catalogs seen only through it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gridfs.catalog import Catalog, CatalogAPI, Identity
from gridfs.errors import ConfigError, InvalidArgument
from gridfs.gfal import Grid, Nodes
from gridfs.gfal.services import open_catalog
from gridfs.metadata import MetadataAPI
from tests.recording import RECORD_ENV, members, recording

GFAL_TESTS = ["tests/unit/test_gfal.py", "tests/unit/test_writing.py", "tests/unit/test_copy.py"]


def test_a_recorder_has_the_protocols_members_only(catalog: Catalog) -> None:
    calls: Counter[str] = Counter()
    seen = recording(CatalogAPI, catalog, calls)
    assert seen.stat("/").is_dir()
    assert seen.as_identity(catalog.identity).stat("/").is_dir()
    assert calls == Counter({"CatalogAPI.stat": 2, "CatalogAPI.as_identity": 1})
    assert "stat_replicas" in members(CatalogAPI)
    with pytest.raises(AttributeError):
        seen.transaction()  # SQL only: not part of the seam


def test_the_gfal_tests_pass_through_recording_catalogs(tmp_path: Path) -> None:
    record = tmp_path / "calls.json"
    root = Path(__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *GFAL_TESTS],
        cwd=root,
        env={**os.environ, RECORD_ENV: str(record)},
        capture_output=True,
        text=True,
        check=False,
        timeout=550,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    calls = Counter(json.loads(record.read_text()))
    # The gfal layer went through both seams, the hot ones above all.
    assert calls["CatalogAPI.stat_replicas"] > 0
    assert calls["CatalogAPI.commit_version"] > 0
    assert calls["MetadataAPI.set_xattr"] > 0
    used = {name.split(".", 1)[1] for name in calls}
    assert used <= set(members(CatalogAPI)) | set(members(MetadataAPI))


def test_the_mounts_hot_paths_are_one_request(
    any_grid: Grid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gridfs")  # as the mount logs; debug lines name files
    any_grid.makedirs("/grid/gilda/deep/down/here")
    any_grid.setxattr("/grid/gilda/deep/down/here", "user.schema.run", b"int")
    lfn = "/grid/gilda/deep/down/here/hot"
    with any_grid.open(lfn, "wb") as stream:
        stream.write(b"hot")
    calls: Counter[str] = Counter()
    seen = Grid(
        recording(CatalogAPI, any_grid.catalog, calls),
        any_grid.storage,
        metadata=recording(MetadataAPI, any_grid.metadata, calls),
    )
    nodes = Nodes(seen)
    entry_id = any_grid.stat(lfn).id
    _, reader = nodes.open(entry_id)
    with reader:
        assert reader.pread(0, 3) == b"hot"
    assert calls == Counter({"CatalogAPI.stat_replicas": 1})  # no LFN walk for messages
    calls.clear()
    nodes.setxattr(entry_id, "user.run", b"5")
    assert calls == Counter({"MetadataAPI.set_xattr": 1})
    assert any_grid.getattr(lfn, ["run"]) == {"run": 5}  # typed: in the schema
    with pytest.raises(InvalidArgument, match="not a valid int"):
        nodes.setxattr(entry_id, "user.run", b"five")
    calls.clear()
    nodes.setxattr(entry_id, "user.nothing", b"\xff\x00")  # in no schema: free-form bytes
    assert calls == Counter({"MetadataAPI.set_xattr": 1})
    assert any_grid.getxattr(lfn, "user.nothing") == b"\xff\x00"


def test_the_catalog_url_scheme_picks_the_implementation(catalog_url: str) -> None:
    catalog, metadata = open_catalog(catalog_url, Identity("alice", ("gilda",)), create=True)
    try:
        assert isinstance(catalog, Catalog)
        assert metadata.identity == catalog.identity
    finally:
        catalog.close()
    with pytest.raises(ConfigError, match="no catalog speaks 'gopher'"):
        open_catalog("gopher://catalog.example/grid", Identity("alice", ("gilda",)))
