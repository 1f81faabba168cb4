"""Core statements compiled once per dialect and run on the driver's cursor.

SQLAlchemy's compiled cache saves the compilation of a Core statement, not the
execution around it (the cache key, the execution context, the result object):
tens of microseconds a statement, more than SQLite takes to run a lookup by
key. The writes of :mod:`~gridfs.catalog.corewrites` run a handful of
statements per call, so they take the SQL that SQLAlchemy compiled and hand it
to the driver themselves. Driver errors are raised as SQLAlchemy's
(:class:`~sqlalchemy.exc.IntegrityError`, :class:`~sqlalchemy.exc.OperationalError`...),
as an execution through SQLAlchemy raises them, so the conflict retry and the
error translation see no difference. Only for plain column types, whose values
the drivers take and give as they are (integers, strings, booleans, floats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

__all__ = ["Prepared"]


class _Compiled(NamedTuple):
    sql: str
    order: tuple[str, ...] | None  # the parameters' names in order, for a positional driver
    fixed: dict[str, Any]  # the values of the statement's literals


class Prepared:
    """One Core statement, compiled once per dialect, run on the connection's DBAPI cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _sql(self, connection: Connection) -> _Compiled:
        dialect = connection.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled: Any = self.statement.compile(dialect=dialect)  # an SQLCompiler
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            # Literals in the statement are parameters too, with the values they were given.
            found = _Compiled(str(compiled), order, dict(compiled.params))
            self._compiled[dialect.name] = found
        return found

    def run(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Execute with ``values`` (by parameter name); the DBAPI cursor, to fetch from."""
        sql, order, fixed = self._sql(connection)
        merged = {**fixed, **values}
        parameters: Any = merged if order is None else tuple(merged[name] for name in order)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, parameters)
        except connection.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(connection, sql, parameters, exc) from exc
        return cursor

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row of ``rows`` (executemany)."""
        sql, order, fixed = self._sql(connection)
        merged = [{**fixed, **row} for row in rows]
        parameters: Any = (
            merged if order is None else [tuple(row[name] for name in order) for row in merged]
        )
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(sql, parameters)
        except connection.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(connection, sql, parameters, exc) from exc
        finally:
            cursor.close()


def _wrapped(connection: Connection, sql: str, parameters: Any, error: Exception) -> Exception:
    """The driver's ``error`` as SQLAlchemy raises it (IntegrityError, OperationalError...)."""
    return DBAPIError.instance(
        sql,
        parameters,
        error,
        connection.dialect.loaded_dbapi.Error,
        dialect=connection.dialect,
    )
