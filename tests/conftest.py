"""Shared fixtures: a grid of three sites in a temp dir, and the log check."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Before the XRootD client loads: its fork handler stops the client's threads
# before every fork, and one of them may be waiting for the GIL that the forking
# thread holds (the tests start servers while transfers run): a deadlock seen in
# Popen. The children forked here exec at once and never use the client.
os.environ.setdefault("XRD_RUNFORKHANDLER", "0")

from gridfs.catalog import SUPERUSER, Catalog, CatalogAPI, Identity
from gridfs.config import Config, load_config
from gridfs.gfal import Grid
from gridfs.metadata import MetadataAPI
from tests.pgserver import postgres_server, postgres_url
from tests.recording import record_file, recording
from tests.service_server import SERVICE_ENV, over_the_service
from tests.storage_servers import (
    private_xrootd,
    webdav_server,
    webdavs_server,
    xrdhttp_server,
    xrootd_server,
)

# Fixtures, found by pytest through this module: one server of each kind per session.
__all__ = [
    "postgres_server",
    "postgres_url",
    "private_xrootd",
    "webdav_server",
    "webdavs_server",
    "xrdhttp_server",
    "xrootd_server",
]

SITES = (("cern-se", "cern"), ("infn-se", "infn"), ("ral-se", "ral"))


def write_grid_config(directory: Path, *, local_site: str = "cern") -> Path:
    """A configuration for three file:// SEs, one per site, under ``directory``."""
    lines = [
        "[catalog]",
        'url = "sqlite:///catalog.db"',
        "[identity]",
        'user = "alice"',
        'groups = ["gilda"]',
        "[site]",
        f'name = "{local_site}"',
        "[storage]",
        'default_se = "cern-se"',
    ]
    for name, site in SITES:
        lines += [
            f"[se.{name}]",
            f'site = "{site}"',
            f'surl_prefix = "srm://{name}.{site}.example/grid"',
            f'root = "se/{name}"',
        ]
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    create_catalog(path)
    return path


def create_catalog(config_file: Path) -> None:
    """Make the (missing) catalog that ``config_file`` names, as ``gridfs init`` would."""
    Catalog.from_url(load_config(config_file).catalog_url, create=True).close()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty catalog database: SQLite in a temp dir, or one on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("postgres_url"))


ALICE = Identity("alice", ("gilda", "atlas"))
BOB = Identity("bob", ("cms",))


def open_catalog(url: str, page_size: int = 1000) -> Catalog:
    """Alice's view of a catalog whose root she may write (the administrator allows it)."""
    admin = Catalog.from_url(url, SUPERUSER, page_size=page_size, create=True)
    admin.chmod("/", 0o777)
    return admin.as_identity(ALICE)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """Alice's catalog, on SQLite and on PostgreSQL."""
    opened = open_catalog(catalog_url)
    yield opened
    opened.close()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_grid_config(tmp_path)


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


def make_vo(grid: Grid, vo: str = "/grid/gilda", user: str = "alice", group: str = "gilda") -> None:
    """As the administrator: ``vo`` made and given to ``user``, as a VO manager would."""
    admin = grid.catalog.as_identity(SUPERUSER)
    admin.mkdir(vo, parents=True, exist_ok=True)
    admin.chown(vo, user, group)


RECORDED: Counter[str] = Counter()  # calls through the seam, when the tests are run so


def through_the_seam(opened: Grid) -> Grid:
    """``opened``, or with :data:`RECORD_ENV` set, the same grid on recording catalogs."""
    if record_file() is None:
        return opened
    return Grid(
        recording(CatalogAPI, opened.catalog, RECORDED),
        opened.storage,
        metadata=recording(MetadataAPI, opened.metadata, RECORDED),
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI every server and package is installed by the set-up: a skip there is a failure."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI ({report.longrepr}): the set-up must provide it"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = record_file()
    if path is not None:
        Path(path).write_text(json.dumps(RECORDED))


@pytest.fixture
def grid(config: Config, tmp_path: Path) -> Iterator[Grid]:
    with Grid.from_config(config) as opened:
        seen = through_the_seam(opened)
        make_vo(seen)
        seen.makedirs("/grid/gilda/trailers")
        if os.environ.get(SERVICE_ENV):  # the same tests, the catalog behind a gridfs serve
            with over_the_service(seen, config.catalog_url, tmp_path / "service") as remote:
                yield remote
            return
        yield seen


@pytest.fixture
def any_grid(config: Config, catalog_url: str) -> Iterator[Grid]:
    """The grid of ``config`` with its catalog on SQLite or PostgreSQL, and the VO made."""
    replaced = dataclasses.replace(config, catalog_url=catalog_url)
    with Grid.from_config(replaced, create=True) as opened:
        seen = through_the_seam(opened)
        make_vo(seen)
        yield seen


@pytest.fixture
def make_file(tmp_path: Path):
    """Writes ``size`` reproducible random bytes to a local file; returns its path."""

    def make(name: str, size: int, seed: int = 0) -> Path:
        path = tmp_path / "local" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(random.Random(seed).randbytes(size))
        return path

    return make


needs_tmpfs = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("mount"), reason="needs root to mount a tmpfs"
)


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``1m``, ``64k``) mounted at ``path`` for the block: a disk to fill."""
    path.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def stored_files(root: Path) -> list[Path]:
    """Every file under the SE roots of a test grid (partial uploads included)."""
    return (
        sorted(p for p in (root / "se").rglob("*") if p.is_file()) if (root / "se").exists() else []
    )


@pytest.fixture(autouse=True)
def _fail_on_unexpected_warnings(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """A test fails if it logs a WARNING it did not declare (s3ql's habit)."""
    caplog.set_level(logging.DEBUG, logger="gridfs")
    yield
    if request.node.get_closest_marker("expect_warnings"):
        return
    loud = [r for r in caplog.get_records("call") if r.levelno >= logging.WARNING]
    if loud:
        pytest.fail("unexpected log messages: " + "; ".join(r.getMessage() for r in loud))


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the real user's configuration or data."""
    home = tmp_path_factory.mktemp("home")
    for variable, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ):
        monkeypatch.setenv(variable, str(home / sub))
    monkeypatch.delenv("GRIDFS_CONFIG", raising=False)
    os.environ.setdefault("LC_ALL", "C.UTF-8")
