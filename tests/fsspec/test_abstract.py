"""fsspec's own tests for implementers, run against grid:// (file:// SE and XRootD SE)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

import pytest
from fsspec.tests import abstract

from gridfs.fsspec import GridFileSystem


class GridFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self, grid_fs: GridFileSystem) -> GridFileSystem:
        return grid_fs

    @pytest.fixture
    def fs_path(self, home: str) -> str:
        return home

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return posixpath.join


class TestGridCopy(abstract.AbstractCopyTests, GridFixtures):  # type: ignore[misc]
    pass


class TestGridGet(abstract.AbstractGetTests, GridFixtures):  # type: ignore[misc]
    pass


class TestGridPut(abstract.AbstractPutTests, GridFixtures):  # type: ignore[misc]
    pass


class TestGridPipe(abstract.AbstractPipeTests, GridFixtures):  # type: ignore[misc]
    pass


class TestGridOpen(abstract.AbstractOpenTests, GridFixtures):  # type: ignore[misc]
    pass
