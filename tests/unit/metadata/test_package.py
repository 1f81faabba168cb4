"""gridfs.metadata: an explicit public surface that depends on the catalog only."""

from __future__ import annotations

import ast
from pathlib import Path

import gridfs.metadata


def test_all_names_exist() -> None:
    for name in gridfs.metadata.__all__:
        assert hasattr(gridfs.metadata, name), name
    assert len(set(gridfs.metadata.__all__)) == len(gridfs.metadata.__all__)


def test_metadata_knows_nothing_of_storage_gfal_or_fuse() -> None:
    """Dependencies point down: metadata imports the catalog, never the layers beside or above."""
    package = Path(gridfs.metadata.__file__).parent
    imported = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    gridfs_modules = {name for name in imported if name.startswith("gridfs.")}
    assert {name.split(".")[1] for name in gridfs_modules} == {"catalog", "errors", "metadata"}
