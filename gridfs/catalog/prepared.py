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

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

__all__ = ["Executor", "Prepared", "wrapped"]


class Executor(Protocol):
    """Where a :class:`Prepared` statement runs: a SQLAlchemy ``Connection`` or alike."""

    @property
    def dialect(self) -> Dialect:
        """The database's dialect (which SQL, which driver)."""
        ...

    @property
    def connection(self) -> Any:
        """The pooled DBAPI connection: what gives the cursor."""
        ...


Arguments = Callable[[Mapping[str, Any]], Any]


class _Compiled(NamedTuple):
    sql: str
    arguments: Arguments  # values by name -> what the driver's execute() takes


def _arguments(order: tuple[str, ...] | None, fixed: dict[str, Any]) -> Arguments:
    """The function from values by name to the driver's parameters (built once a statement).

    ``order``: the parameters' names in order for a positional driver (None:
    by name); ``fixed``: the values of the statement's literals.
    """
    if order is None:
        return functools.partial(_merged, fixed) if fixed else _as_given
    if not order:
        return _no_parameters
    getter: Arguments = operator.itemgetter(*order)
    if len(order) == 1:  # itemgetter of one name gives the value, not a tuple
        getter = functools.partial(_one, order[0])
    return functools.partial(_positional, getter, fixed) if fixed else getter


def _merged(fixed: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    return {**fixed, **values}


def _as_given(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return values


def _no_parameters(_values: Mapping[str, Any]) -> tuple[()]:
    return ()


def _one(name: str, values: Mapping[str, Any]) -> tuple[Any]:
    return (values[name],)


def _positional(getter: Arguments, fixed: dict[str, Any], values: Mapping[str, Any]) -> Any:
    return getter({**fixed, **values})


class Prepared:
    """One Core statement, compiled once per dialect, run on the connection's DBAPI cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _sql(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled: Any = self.statement.compile(dialect=dialect)  # an SQLCompiler
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            # Literals in the statement are parameters too, with the values they were given.
            fixed = {
                name: value
                for name, value in compiled.params.items()
                if not compiled.binds[name].required
            }
            found = _Compiled(str(compiled), _arguments(order, fixed))
            self._compiled[dialect.name] = found
        return found

    def run(self, connection: Executor, values: Mapping[str, Any]) -> Any:
        """Execute with ``values`` (by parameter name); the DBAPI cursor, to fetch from."""
        dialect = connection.dialect
        sql, arguments = self._sql(dialect)
        parameters = arguments(values)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, parameters)
        except dialect.loaded_dbapi.Error as exc:
            cursor.close()
            raise wrapped(dialect, sql, parameters, exc) from exc
        return cursor

    def run_many(self, connection: Executor, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row of ``rows`` (executemany)."""
        dialect = connection.dialect
        sql, arguments = self._sql(dialect)
        parameters = [arguments(row) for row in rows]
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(sql, parameters)
        except dialect.loaded_dbapi.Error as exc:
            raise wrapped(dialect, sql, parameters, exc) from exc
        finally:
            cursor.close()


def wrapped(dialect: Dialect, sql: str, parameters: Any, error: Exception) -> Exception:
    """The driver's ``error`` as SQLAlchemy raises it (IntegrityError, OperationalError...)."""
    return DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect)
