"""Query results that execute at once and stream as they are read."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

__all__ = ["Rows", "closing", "stream"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Rows(Iterator[T], Generic[T]):
    """The rows of a query: already executed, fetched a page at a time as they are read.

    As the Belle II client asked, calling a query executes it (errors come at
    once) and iterating fetches; there is no separate fetch step. The query
    holds one read transaction (on PostgreSQL a server-side cursor) until the
    rows are exhausted or :meth:`close` is called; use it as a context manager
    to close it early.
    """

    def __init__(
        self,
        rows: Iterator[T],
        stack: ExitStack,
        errors: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._rows = rows
        self._stack = stack
        self._errors = errors

    def __next__(self) -> T:
        try:
            with self._errors():
                return next(self._rows)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """End the query and give its connection back; safe to call more than once."""
        try:
            close = getattr(self._rows, "close", None)
            if close is not None:
                close()  # a generator: its cursor closes before its transaction ends
        finally:
            self._stack.close()

    def __enter__(self) -> Rows[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Abandoned unread: give the connection back. Nothing to report to at this point.
        with contextlib.suppress(Exception):
            self.close()


def stream(
    session: AbstractContextManager[Session],
    errors: Callable[[], AbstractContextManager[None]],
    execute: Callable[[Session], Iterator[T]],
) -> Rows[T]:
    """Enter ``session``, run ``execute`` in it now, and hand back its rows to stream.

    ``execute`` must run its statement before returning (so that errors come
    at the call) and return an iterator over the result.
    """
    stack = ExitStack()
    try:
        opened = stack.enter_context(session)
        with errors():  # a query the database refuses (too large, say) is a gridfs error too
            rows = execute(opened)
    except BaseException:
        stack.close()
        raise
    return Rows(rows, stack, errors)


class ClosableResult(Protocol[T_co]):
    """A database result: iterable, and closed by its reader."""

    def __iter__(self) -> Iterator[T_co]:
        """The rows."""
        ...

    def close(self) -> None:
        """Release the cursor."""
        ...


def closing(result: ClosableResult[T]) -> Iterator[T]:
    """The rows of a database result, which is closed when they end or are abandoned."""
    try:
        yield from result
    finally:
        result.close()
