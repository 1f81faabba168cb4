"""The catalog seam is complete: the gfal layer's tests pass on catalogs seen only through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gridfs.catalog import Catalog, CatalogAPI
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
    assert calls["MetadataAPI.setattr"] > 0
    used = {name.split(".", 1)[1] for name in calls}
    assert used <= set(members(CatalogAPI)) | set(members(MetadataAPI))
