"""What the catalog and bookkeeping benchmarks share: their databases and their workers' results.

The databases: SQLite in a directory, or a temporary PostgreSQL, run as
``tests/pgserver.py`` starts it for the tests: on 127.0.0.1, fsync off,
stopped on the way out whatever happens.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_SPARE_CONNECTIONS = 50  # for the benchmark's own connections beside its clients'


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
