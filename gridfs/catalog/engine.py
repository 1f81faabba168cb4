"""Database engines for the catalog, and the schema kept at the newest migration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = ["SCHEMA_REVISION", "SQLITE_BUSY_TIMEOUT_S", "create_catalog_engine", "upgrade_schema"]

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0
# The newest migration. Kept here so that opening an up-to-date catalog does not
# import Alembic (a third of a command's start-up); a test checks it is the head.
SCHEMA_REVISION = "0001"
_MIGRATIONS = Path(__file__).with_name("migrations")


def create_catalog_engine(url: str) -> Engine:
    """An engine for ``url``, tuned for the catalog.

    SQLite gets WAL (readers never wait for the writer), a busy timeout,
    foreign keys, and ``BEGIN IMMEDIATE`` for transactions that write (so
    that two writers queue at the start instead of failing midway).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so that BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("gridfs_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def alembic_config() -> AlembicConfig:
    """The Alembic configuration of the catalog's migrations."""
    from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - see SCHEMA_REVISION

    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Bring the catalog schema to the newest migration (creating it if empty)."""
    with engine.connect() as connection:
        current = None
        if inspect(connection).has_table("alembic_version"):
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if current == SCHEMA_REVISION:
        return
    from alembic import command  # noqa: PLC0415 - see SCHEMA_REVISION

    log.info("upgrading catalog schema from %s to %s", current or "empty", SCHEMA_REVISION)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
