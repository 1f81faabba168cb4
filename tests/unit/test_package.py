"""The public surface: explicit, and importable without FUSE."""

from __future__ import annotations

import subprocess
import sys

import gridfs


def test_all_names_exist() -> None:
    for name in gridfs.__all__:
        assert hasattr(gridfs, name), name
    assert len(set(gridfs.__all__)) == len(gridfs.__all__)


def test_the_core_imports_without_pyfuse3() -> None:
    code = (
        "import sys; sys.modules['pyfuse3'] = None; sys.modules['trio'] = None\n"
        "import gridfs, gridfs.cli.app, gridfs.catalog, gridfs.storage, gridfs.gfal\n"
        "assert 'pyfuse3' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
