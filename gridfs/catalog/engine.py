"""Database engines for the catalog, and the schema kept at the newest migration."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError

from gridfs.errors import ConfigError, GridError, NotFound

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = [
    "SCHEMA_REVISION",
    "SINGLE_READ",
    "SQLITE_BUSY_TIMEOUT_S",
    "create_catalog_engine",
    "database_errors",
    "open_catalog_engine",
    "upgrade_schema",
]

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0
_WAL_CHECKPOINT_PAGES = 10_000
# The execution option of a connection that runs one SELECT alone (CatalogStore.single_read).
SINGLE_READ = "gridfs_single_read"
# The newest migration. Kept here so that opening an up-to-date catalog does not
# import Alembic (a third of a command's start-up); a test checks it is the head.
SCHEMA_REVISION = "0010_tombstones"
_MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x67726964  # "grid": the advisory lock that serialises schema upgrades


def create_catalog_engine(url: str, *, connections: int = 5) -> Engine:
    """An engine for ``url``, tuned for the catalog, keeping ``connections`` open.

    Size ``connections`` to the threads that use the engine at once (a server's
    threads): a checkout beyond them opens a connection and closes it after use.
    SQLite gets WAL (readers never wait for the writer), a busy timeout,
    foreign keys, and ``BEGIN IMMEDIATE`` for transactions that write (so
    that two writers queue at the start instead of failing midway).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=connections)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        pool_size=connections,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so that BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint syncs the WAL and the database file (no commit does, with
        # NORMAL): two fsyncs, paid by the commit that crosses the threshold.
        # SQLite's default (1,000 pages) brings them every ~80 bookkeeping writes,
        # 130 to 440 us a write on this VM's disk. 10,000 pages (40 MiB of WAL at
        # most) makes them a tenth as many, their total time 20 to 70 % less (a
        # larger one flushes more), each stall longer (~0.2 s instead of ~0.03 s).
        cursor.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(SINGLE_READ, False):
            return  # one SELECT alone: SQLite runs it as its own transaction, a snapshot
        immediate = options.get("gridfs_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def alembic_config() -> AlembicConfig:
    """The Alembic configuration of the catalog's migrations."""
    from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - see SCHEMA_REVISION

    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_schema(engine: Engine, *, create: bool = False) -> None:
    """Bring the catalog schema to the newest migration; an empty database only if ``create``.

    The usual case, a schema that is up to date, costs one query and no lock.
    Otherwise the revision is checked again inside a write transaction, so that
    two processes opening a new catalog at once create it once. A database
    with no catalog schema raises :class:`NotFound` unless ``create``.
    """
    with engine.connect() as connection:
        current = _revision(connection)
    if current == SCHEMA_REVISION:
        return
    if current is None and not create:
        raise _no_catalog(_where(engine))
    from alembic import command  # noqa: PLC0415 - see SCHEMA_REVISION
    from alembic.util import CommandError  # noqa: PLC0415

    with engine.connect() as connection:
        connection.execution_options(gridfs_write=True)
        with connection.begin():
            if engine.dialect.name == "postgresql":
                # What BEGIN IMMEDIATE does for SQLite: one upgrader at a time.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            current = _revision(connection)
            if current == SCHEMA_REVISION:
                return
            if current is None and not create:
                raise _no_catalog(_where(engine))
            log.info("upgrading catalog schema from %s to %s", current or "empty", SCHEMA_REVISION)
            config = alembic_config()
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                raise ConfigError(
                    f"the catalog's schema revision {current} is unknown to this version of "
                    f"gridfs (newest known: {SCHEMA_REVISION}): {exc}"
                ) from exc


def open_catalog_engine(url: str, *, create: bool = False, connections: int = 5) -> Engine:
    """An engine for the catalog at ``url``, its schema brought up to date.

    Only with ``create`` is a new catalog made (a SQLite file, owner-only, and
    its directory; the schema in an empty database); otherwise a missing one
    raises :class:`NotFound`. ``connections``: as :func:`create_catalog_engine`.
    Raises :class:`ConfigError` for a URL that names no usable database (bad
    syntax, missing driver) and :class:`GridError` if the database fails.
    """
    safe = _safe(url)
    try:
        # No connection yet: the file is not made here.
        engine = create_catalog_engine(url, connections=connections)
    except ArgumentError as exc:
        raise ConfigError(f"not a catalog database URL: {safe}: {exc}", safe) from exc
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the database driver for {safe} is not installed: {exc.name} (pip install it)", safe
        ) from exc
    try:
        _prepare_sqlite_file(engine, create=create)
        with database_errors(engine):
            upgrade_schema(engine, create=create)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """The one place where database errors become gridfs errors.

    ``IntegrityError`` passes through: the catalog turns it into
    :class:`AlreadyExists` with the LFN it concerns.
    """
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise GridError(f"catalog database {url}: {exc.orig}", url) from exc
    except SQLAlchemyError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise GridError(f"catalog database {url}: {exc}", url) from exc


def _where(engine: Engine) -> str:
    """The catalog's file (SQLite) or its URL without the password, for messages."""
    if engine.dialect.name == "sqlite" and engine.url.database:
        return engine.url.database
    return engine.url.render_as_string(hide_password=True)


def _no_catalog(where: str) -> NotFound:
    return NotFound(f"no catalog at {where} (gridfs init makes one)", where)


def _prepare_sqlite_file(engine: Engine, *, create: bool) -> None:
    """A SQLite catalog's file must exist; ``create`` makes it (and its directory), mode 0600.

    SQLite gives the -wal and -shm files the mode of the database file, so
    they too are the owner's alone, whatever the umask.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return
    path = Path(database)
    if path.exists():
        return
    if not create:
        raise _no_catalog(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return  # another process made it first
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
