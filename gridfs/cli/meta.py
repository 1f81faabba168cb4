"""``gridfs meta``: AMGA-style metadata from the shell (a thin adapter over the gfal calls).

Values are printed in their exact text form (the one ``user.<attr>`` extended
attributes show), rows as tab-separated columns, a missing value as ``NULL``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import click

from gridfs.cli.state import State, pass_state
from gridfs.gfal import Value, format_value, parse_type

__all__ = ["COMMANDS"]

NULL = "NULL"


def _text(value: Value | None) -> str:
    """A value as text, by its Python type: what ``format_value`` gives for its attribute type."""
    if value is None:
        return NULL
    kinds = {bool: "bool", int: "int", float: "float", dt.datetime: "timestamp"}
    return format_value(parse_type(kinds.get(type(value), "text")), value)


def _print_rows(rows: Iterable[tuple[Value | None, ...]]) -> None:
    for row in rows:
        click.echo("\t".join(_text(value) for value in row))


@click.group()
def meta() -> None:
    """Metadata: typed schemas on directories, values on entries, queries (AMGA)."""


@meta.command("addattr")
@click.argument("directory")
@click.argument("pairs", nargs=-1, required=True)
@pass_state
def addattr(state: State, directory: str, pairs: tuple[str, ...]) -> None:
    """Add attributes to DIRECTORY's schema: NAME TYPE [NAME TYPE ...].

    Types: int, float, varchar(N) (N <= 512), text, timestamp, bool.
    """
    if len(pairs) % 2:
        raise click.UsageError("attributes come in pairs: NAME TYPE [NAME TYPE ...]")
    state.grid.addattrs(directory, dict(zip(pairs[::2], pairs[1::2], strict=True)))


@meta.command("rmattr")
@click.argument("directory")
@click.argument("names", nargs=-1, required=True)
@pass_state
def rmattr(state: State, directory: str, names: tuple[str, ...]) -> None:
    """Remove attributes (and their values) from DIRECTORY's schema."""
    state.grid.removeattrs(directory, list(names))


@meta.command("listattr")
@click.argument("directory")
@pass_state
def listattr(state: State, directory: str) -> None:
    """Print DIRECTORY's schema: one NAME<TAB>TYPE line per attribute."""
    for name, kind in state.grid.listattr(directory).items():
        click.echo(f"{name}\t{kind}")


@meta.command("set")
@click.argument("items", nargs=-1, required=True)
@pass_state
def set_(state: State, items: tuple[str, ...]) -> None:
    """Set values: LFN... NAME=VALUE... (every LFN gets every value, in one transaction).

    Arguments that start with / are LFNs; the others are assignments.
    """
    lfns = [item for item in items if item.startswith("/")]
    assignments = [item for item in items if not item.startswith("/")]
    if not lfns or not assignments:
        raise click.UsageError("give at least one LFN and one NAME=VALUE")
    values: dict[str, object] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals:
            raise click.UsageError(f"not NAME=VALUE: {assignment!r}")
        values[name] = value
    state.grid.setattr(lfns, values)


@meta.command("get")
@click.argument("lfn")
@click.argument("names", nargs=-1)
@pass_state
def get(state: State, lfn: str, names: tuple[str, ...]) -> None:
    """Print LFN's values (all, or NAMES): one NAME<TAB>VALUE line each."""
    grid = state.grid
    schema = grid.entry_schema(lfn)
    for name, value in grid.getattr(lfn, list(names) or None).items():
        shown = NULL if value is None else format_value(schema[name], value)
        click.echo(f"{name}\t{shown}")


@meta.command("clear")
@click.argument("lfn")
@click.argument("names", nargs=-1)
@pass_state
def clear(state: State, lfn: str, names: tuple[str, ...]) -> None:
    """Remove LFN's values (all, or NAMES)."""
    state.grid.clearattr(lfn, list(names) or None)


@meta.command("ls")
@click.argument("directory")
@pass_state
def ls(state: State, directory: str) -> None:
    """List DIRECTORY's entries with their values: a header line, then one row each."""
    grid = state.grid
    schema = grid.listattr(directory)
    click.echo("\t".join(["FILE", *schema]))
    with grid.list_entries(directory) as rows:
        for name, values in rows:
            click.echo("\t".join([name, *(_text(value) for value in values.values())]))


@meta.command("find")
@click.argument("directory")
@click.argument("condition", required=False)
@click.option("-r", "--recursive", is_flag=True, help="Search subdirectories too.")
@click.option("--saved", metavar="NAME", help="Run the query saved on DIRECTORY as NAME.")
@pass_state
def find(
    state: State, directory: str, condition: str | None, recursive: bool, saved: str | None
) -> None:
    """Print the LFNs of DIRECTORY's entries that match CONDITION (or a saved query)."""
    grid = state.grid
    if (condition is None) == (saved is None):
        raise click.UsageError("give a CONDITION or --saved NAME")
    if saved is not None:
        rows = grid.run_saved_query(directory, saved)
    else:
        assert condition is not None
        rows = grid.find(directory, condition, recursive=recursive)
    with rows:
        for lfn in rows:
            click.echo(lfn)


@meta.command("select")
@click.argument("attributes", nargs=-1, required=True)
@click.option("-w", "--where", "condition", metavar="CONDITION", help="Rows that match this.")
@pass_state
def select(state: State, attributes: tuple[str, ...], condition: str | None) -> None:
    """Print ATTRIBUTES (/dir:name...) of the entries that match --where (selectattr)."""
    with state.grid.selectattr(list(attributes), condition) as rows:
        _print_rows(rows)


@meta.command("query")
@click.argument("query")
@pass_state
def query(state: State, query: str) -> None:
    """Print the rows of QUERY: SELECT attrs [FROM dirs] [WHERE ...] [ORDER BY ...] [LIMIT n]."""
    with state.grid.select_query(query) as rows:
        _print_rows(rows)


@meta.command("save")
@click.argument("directory")
@click.argument("name", required=False)
@click.argument("condition", required=False)
@click.option("-r", "--recursive", is_flag=True, help="The query searches subdirectories too.")
@click.option("--list", "list_", is_flag=True, help="List DIRECTORY's saved queries.")
@click.option("--remove", is_flag=True, help="Delete saved query NAME.")
@pass_state
def save(
    state: State,
    directory: str,
    name: str | None,
    condition: str | None,
    recursive: bool,
    list_: bool,
    remove: bool,
) -> None:
    """Save CONDITION on DIRECTORY as query NAME (a dataset); run it with find --saved NAME."""
    grid = state.grid
    if list_:
        for saved in grid.saved_queries(directory):
            flag = " (recursive)" if saved.recursive else ""
            click.echo(f"{saved.name}\t{saved.condition}{flag}")
    elif remove:
        if name is None:
            raise click.UsageError("--remove needs the NAME of the query")
        grid.remove_query(directory, name)
    else:
        if name is None or condition is None:
            raise click.UsageError("give NAME and CONDITION (or --list, or --remove NAME)")
        grid.save_query(directory, name, condition, recursive=recursive)


COMMANDS: list[click.Command] = [meta]
