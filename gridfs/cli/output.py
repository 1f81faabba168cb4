"""Plain-text output shared by the families of verbs: tables, ``ls -l`` lines, times, errors."""

from __future__ import annotations

import contextlib
import datetime
import os
import stat as _stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import click

from gridfs.errors import GridError
from gridfs.gfal import Stat

__all__ = [
    "Failures",
    "device_numbers",
    "each_argument",
    "echo_table",
    "error_message",
    "local_time",
    "long_line",
]

_T = TypeVar("_T")


def error_message(exc: OSError) -> str:
    """The one-line message of an expected failure (without the ``gridfs:`` prefix)."""
    if isinstance(exc, GridError):
        return str(exc)
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


class Failures:
    """Failures reported one line each on stderr while the rest goes on, as rm(1) does."""

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def reported(self) -> Iterator[None]:
        """Report an :class:`OSError` of the block and carry on after it.

        A closed pipe is not one argument's failure: it ends the command
        (``main`` handles it).
        """
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.report(error_message(exc))

    def report(self, message: str) -> None:
        """Report one failure, ``message`` a line without the ``gridfs:`` prefix."""
        click.echo(f"gridfs: {message}", err=True)
        self.count += 1

    def exit(self) -> None:
        """End the command with exit status 1 if anything failed."""
        if self.count:
            raise click.exceptions.Exit(1)


def each_argument(arguments: Iterable[_T], action: Callable[[_T], object]) -> None:
    """Apply ``action`` to every argument; a bad one is reported, the rest go on; exit 1 then."""
    failures = Failures()
    for argument in arguments:
        with failures.reported():
            action(argument)
    failures.exit()


def local_time(ns: int) -> str:
    """A time in nanoseconds since the epoch as local ISO 8601, to the second."""
    return datetime.datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(" ", "seconds")


def long_line(entry: Stat, name: str | None = None) -> str:
    """One ``ls -l`` line for ``entry``, shown as ``name`` (default: its own name).

    A device shows its major and minor numbers where others show a size, as ls does.
    """
    size = device_numbers(entry) if entry.kind.is_device else str(entry.size)
    line = (
        f"{_stat.filemode(entry.st_mode)} 1 {entry.owner:<8} {entry.group:<8} "
        f"{size:>12} {local_time(entry.mtime_ns)[:16]} {name or entry.name}"
    )
    return f"{line} -> {entry.target}" if entry.is_symlink() else line


def device_numbers(entry: Stat) -> str:
    """A device's number as ``major, minor``."""
    return f"{os.major(entry.rdev)}, {os.minor(entry.rdev)}"


def echo_table(rows: Sequence[Sequence[str]]) -> None:
    """Print rows as left-aligned columns two spaces apart; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
