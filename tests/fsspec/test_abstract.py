"""fsspec's own tests for implementers, run against grid:// (file:// SE and XRootD SE)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator

import pytest
from fsspec.tests import abstract

from gridfs.fsspec import GridFileSystem
from tests.fsspec.conftest import new_directory


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

    @pytest.fixture(scope="class")
    @classmethod
    def fs_glob_edge_cases_files(cls, grid_fs: GridFileSystem) -> Iterator[str]:
        """fsspec's glob scenario, made once per class and SE (fsspec: per case).

        Its 32 cases per class only read it, and each making costs a store
        and a delete of 8 files on the SE.
        """
        scenario = cls()._glob_edge_cases_files
        source = scenario(grid_fs, posixpath.join, new_directory(grid_fs))
        yield source
        grid_fs.rm(source, recursive=True)


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
