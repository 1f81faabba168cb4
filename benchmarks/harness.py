"""What the benchmarks share: databases, workers' results, servers, gfal-copy and tables.

The databases: SQLite in a directory, or a temporary PostgreSQL, run as
``tests/pgserver.py`` starts it for the tests: on 127.0.0.1, fsync off,
stopped on the way out whatever happens. The copy benchmarks
(``replicate.py``, ``transfers.py``) share an XRootD daemon on loopback and
their baseline of ``gfal-copy`` runs, one process per file as a shell loop
makes them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_SPARE_CONNECTIONS = 50  # for the benchmark's own connections beside its clients'


def use_this_tree() -> None:
    """Have this process and the ``gridfs`` commands it runs import gridfs from this tree.

    The commands' own entry point would import the tree the virtualenv was
    installed from (an editable install), which may be another worktree.
    """
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


def pgserver() -> ModuleType:
    """tests/pgserver.py, imported from the repository root."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import tests.pgserver  # noqa: PLC0415 - only PostgreSQL runs need it (and its pytest)

    return tests.pgserver


def available(backends: list[str]) -> list[str]:
    """``backends`` without PostgreSQL when it is not installed (saying so)."""
    if "postgresql" in backends and pgserver().find_postgres_bin() is None:
        print(f"\nskipping PostgreSQL: {pgserver().SKIP_REASON}")
        return [backend for backend in backends if backend != "postgresql"]
    return backends


@contextlib.contextmanager
def catalog_database(backend: str, work: Path, *, clients: int = 1) -> Iterator[tuple[str, str]]:
    """The URL and a description of an empty catalog database of ``backend`` in ``work``.

    A PostgreSQL server takes ``clients`` connections at once, and some more.
    """
    if backend == "sqlite":
        database = work / "catalog.db"
        yield f"sqlite:///{database}", f"SQLite {sqlite3.sqlite_version}, file {database} (WAL)"
        return
    module = pgserver()

    class Server(module.PostgresServer):  # type: ignore[name-defined,misc]
        def _initdb(self) -> None:
            super()._initdb()
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(f"max_connections = {clients + _SPARE_CONNECTIONS}\n")

    server = Server()
    try:
        server.start(work / "postgres")
        server.create_database("catalog_bench")
        with server.connect() as connection:
            row = connection.execute("SHOW server_version").fetchone()
        version = row[0] if row else "?"
        description = f"PostgreSQL {version}, temporary server on 127.0.0.1 (fsync off)"
        yield server.url("catalog_bench"), description
    finally:
        server.stop()


def collect(processes: list[Any], results: Any) -> list[dict[str, Any]]:
    """Every worker's result from the ``results`` queue; one that died without one is an error."""
    collected: list[dict[str, Any]] = []
    while len(collected) < len(processes):
        try:
            collected.append(results.get(timeout=1))
        except queue.Empty:
            if not any(process.is_alive() for process in processes):
                break
    reported = {result["index"] for result in collected}
    for index, process in enumerate(processes):
        if index not in reported:
            collected.append({"index": index, "error": f"exited {process.exitcode}, no result"})
    return collected


@contextlib.contextmanager
def xrootd_server(work: Path, wanted: bool) -> Iterator[str | None]:
    """The root URL of an XRootD daemon serving ``work/xrootd`` (None if not wanted or missing)."""
    if not wanted:
        yield None
        return
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.storage_servers import XRootDServer, find_xrootd, have_modules  # noqa: PLC0415

    if find_xrootd() is None or not have_modules("XRootD"):
        print("note: xrootd is not installed: no root:// rows", file=sys.stderr)
        yield None
        return
    server = XRootDServer()
    server.start(work / "xrootd")
    try:
        yield server.url.rstrip("/") + "/"
    finally:
        server.stop()


def gfal_env() -> dict[str, str] | None:
    """The environment gfal-copy runs in, or None if it is not installed.

    gfal-copy runs on the first ``python`` on PATH that imports gfal2; a Python
    of its own on PATH (pyenv, a virtualenv) hides Debian's, so it is named.
    """
    if shutil.which("gfal-copy") is None:
        return None
    env = dict(os.environ)
    if "GFAL_PYTHONBIN" not in env and Path("/usr/bin/python3").exists():
        env["GFAL_PYTHONBIN"] = "/usr/bin/python3"
    probe = subprocess.run(
        [env.get("GFAL_PYTHONBIN", "python3"), "-c", "import gfal2, gfal2_util"],
        capture_output=True,
        check=False,
    )
    return env if probe.returncode == 0 else None


def gfal_copy(source: str, dest: str, *, checksum: bool = True) -> list[str]:
    """The ``gfal-copy`` command copying ``source`` over ``dest`` (``-K ADLER32``: verified)."""
    return ["gfal-copy", "-f", *(["-K", "ADLER32"] if checksum else []), source, dest]


def gfal_copy_loop(pairs: list[tuple[str, str]], env: dict[str, str]) -> float | None:
    """Seconds for one verified ``gfal-copy`` process per (source, destination), in turn.

    None (saying why) if one fails.
    """
    started = time.perf_counter()
    for source, dest in pairs:
        result = subprocess.run(
            gfal_copy(source, dest), capture_output=True, text=True, env=env, check=False
        )
        if result.returncode != 0:
            print(f"note: gfal-copy failed: {result.stderr.strip()[:200]}", file=sys.stderr)
            return None
    return time.perf_counter() - started


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """``rows`` under ``header``, in columns as wide as their widest cell."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
