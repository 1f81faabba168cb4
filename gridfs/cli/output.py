"""Plain-text output shared by the families of verbs: tables, ``ls -l`` lines, times."""

from __future__ import annotations

import datetime
import stat as _stat
from collections.abc import Sequence

import click

from gridfs.gfal import Stat

__all__ = ["echo_table", "local_time", "long_line"]


def local_time(ns: int) -> str:
    """A time in nanoseconds since the epoch as local ISO 8601, to the second."""
    return datetime.datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(" ", "seconds")


def long_line(entry: Stat, name: str | None = None) -> str:
    """One ``ls -l`` line for ``entry``, shown as ``name`` (default: its own name)."""
    line = (
        f"{_stat.filemode(entry.st_mode)} 1 {entry.owner:<8} {entry.group:<8} "
        f"{entry.size:>12} {local_time(entry.mtime_ns)[:16]} {name or entry.name}"
    )
    return f"{line} -> {entry.target}" if entry.is_symlink() else line


def echo_table(rows: Sequence[Sequence[str]]) -> None:
    """Print rows as left-aligned columns two spaces apart; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
