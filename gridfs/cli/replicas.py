"""The replica verbs, named as in lcg-utils: cr, lr, lg, la, aa, ra, rf, uf, gt; and register."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TextIO

import click

from gridfs.cli.complete import complete_lfn
from gridfs.cli.jsonout import echo_json, replica_record
from gridfs.cli.output import Failures, each_argument
from gridfs.cli.state import State, pass_state
from gridfs.errors import GridError, InvalidArgument
from gridfs.gfal import Grid
from gridfs.gfal.cancel import run_interruptibly
from gridfs.gfal.locations import parse_file_ref, parse_location
from gridfs.gfal.register import owning_se
from gridfs.gfal.register_stored import Listed, parse_listing, register_stored, walk_se

__all__ = ["COMMANDS"]


@click.command()
@click.argument("source")
@click.argument("lfn")
@click.option("-d", "--se", "se_name", help="Destination SE (default: the configured default).")
@click.option("-g", "--guid", help="GUID to give the new file (default: a new one).")
@click.option("-s", "--space-token", help="The SE's reserved space to write into.")
@pass_state
def cr(
    state: State,
    source: str,
    lfn: str,
    se_name: str | None,
    guid: str | None,
    space_token: str | None,
) -> None:
    """Copy a local file to an SE and register it as LFN; prints its GUID.

    SOURCE is a local path or file:///path; LFN may be written lfn:/grid/...
    """
    if source.startswith("lfn:"):
        raise InvalidArgument(f"{source}: cr copies a local file in (cp copies LFNs)", source)
    path = parse_location(source).path if source.startswith("file:") else source
    ref = parse_file_ref(lfn)
    if ref.lfn is None:
        raise InvalidArgument(f"{lfn}: name the new file by LFN (its GUID goes with -g)", lfn)
    grid, new = state.grid, ref.lfn
    entry = run_interruptibly(
        lambda: grid.cr(path, new, se_name, guid=guid, space_token=space_token), grid.cancel
    )
    click.echo(f"guid:{entry.guid}")


def _lfn(grid: Grid, name: str) -> str:
    """The LFN of a file named as lcg-utils take it: an LFN, lfn:LFN or guid:GUID."""
    ref = parse_file_ref(name)
    return ref.lfn if ref.lfn is not None else grid.la(str(ref.guid))[0]


def _echo(name: str, value: str, *, several: bool) -> None:
    """One line of output; with several arguments it starts with the argument, as md5sum's."""
    click.echo(f"{name} {value}" if several else value)


@click.command()
@click.argument("files", nargs=-1, required=True, shell_complete=complete_lfn)
@click.option("--json", "as_json", is_flag=True, help="Print the replicas as JSON.")
@click.option(
    "-l", "long", is_flag=True, help="Every replica with its status and SE (bad, stale too)."
)
@pass_state
def lr(state: State, files: tuple[str, ...], as_json: bool, long: bool) -> None:
    """List the replicas (SURLs) of files, each an LFN, lfn:LFN or guid:GUID.

    Only replicas that hold the content are listed; -l lists every one, bad
    and stale too, with its status and SE. With several files each line starts
    with the file; with --json, one array of the replicas of all of them, each
    with its LFN.
    """
    grid = state.grid
    records: list[dict[str, object]] = []

    def list_one(name: str) -> None:
        lfn = _lfn(grid, name)
        if as_json:
            records.extend({"lfn": lfn} | replica_record(r) for r in grid.replicas(lfn))
            return
        if long:
            for replica in grid.replicas(lfn):
                line = f"{replica.status.value:<13} {replica.se:<15} {replica.surl}"
                _echo(name, line, several=len(files) > 1)
            return
        for surl in grid.lr(lfn):
            _echo(name, surl, several=len(files) > 1)

    try:
        each_argument(files, list_one)
    finally:
        if as_json:
            echo_json(records)


@click.command()
@click.argument("files", nargs=-1, required=True, shell_complete=complete_lfn)
@pass_state
def lg(state: State, files: tuple[str, ...]) -> None:
    """Print the GUID of files (LFN or lfn:LFN); with several, "FILE guid:GUID" lines."""
    grid = state.grid
    each_argument(
        files,
        lambda name: _echo(name, f"guid:{grid.lg(_lfn(grid, name))}", several=len(files) > 1),
    )


@click.command()
@click.argument("files", nargs=-1, required=True)
@pass_state
def la(state: State, files: tuple[str, ...]) -> None:
    """Print the LFNs of files (primary first, then aliases): LFN, lfn:LFN, guid:GUID or GUID."""
    grid = state.grid

    def list_one(name: str) -> None:
        ref = parse_file_ref(name)
        for lfn in grid.la(ref.lfn if ref.lfn is not None else str(ref.guid)):
            _echo(name, lfn, several=len(files) > 1)

    each_argument(files, list_one)


@click.command()
@click.argument("lfn")
@click.argument("alias")
@pass_state
def aa(state: State, lfn: str, alias: str) -> None:
    """Add ALIAS for the file LFN."""
    state.grid.aa(lfn, alias)


@click.command()
@click.argument("aliases", nargs=-1, required=True)
@pass_state
def ra(state: State, aliases: tuple[str, ...]) -> None:
    """Remove aliases."""
    each_argument(aliases, state.grid.ra)


@click.command()
@click.argument("surl")
@click.argument("lfn")
@click.option("-d", "--se", "se_name", help="The SE that holds the copy (default: by its SURL).")
@click.option("-g", "--guid", help="GUID of a new LFN (default: a new one).")
@pass_state
def rf(state: State, surl: str, lfn: str, se_name: str | None, guid: str | None) -> None:
    """Register the stored copy SURL as a replica of LFN, once checked.

    The copy must exist with the catalog's size and checksum. A missing LFN is
    registered with the copy as its replica (as lcg-rf); its GUID is printed.
    """
    created = not state.grid.access(lfn, os.F_OK)
    state.grid.rf(surl, lfn, se_name, guid=guid)
    if created:
        click.echo(f"guid:{state.grid.lg(lfn)}")


@click.command()
@click.argument("source")
@click.argument("lfn_directory", shell_complete=complete_lfn)
@click.option("-d", "--se", "se_name", help="The SE that holds the copies (default: by SURL).")
@click.option(
    "--listing",
    type=click.File("r"),
    help="Register the copies this file lists, 'SURL SIZE [ADLER32]' a line (- for stdin).",
)
@pass_state
def register(
    state: State,
    source: str,
    lfn_directory: str,
    se_name: str | None,
    listing: TextIO | None,
) -> None:
    """Register files already stored under the directory SURL SOURCE, below LFN_DIRECTORY.

    Every file under SOURCE on its SE (or, with --listing, each copy listed)
    is registered as LFN_DIRECTORY/ its path under SOURCE, directories made
    as needed. Its adler32 is the listing's, else the SE's (computed by reading
    the copy where the SE computes none). Running it again registers only what
    is new. A copy that cannot be registered is reported, one line each, and
    the rest are registered; the exit status is then 1.
    """
    grid = state.grid
    se = owning_se(grid.ses, source.rstrip("/") + "/x", se_name)
    if listing is not None:
        copies: Iterable[Listed | tuple[str, str]] = parse_listing(listing, listing.name)
    else:
        copies = walk_se(grid, source, se)
    failures = Failures()

    def refused(where: str, why: str) -> None:
        with failures.reported():
            raise GridError(f"{where}: {why}")

    done = run_interruptibly(
        lambda: register_stored(grid, copies, source, lfn_directory, se.name, on_refused=refused),
        grid.cancel,
    )
    click.echo(f"registered {done.added} files, {done.present} registered already")
    failures.exit()


@click.command()
@click.argument("surl")
@click.argument("lfn")
@pass_state
def uf(state: State, surl: str, lfn: str) -> None:
    """Unregister the replica SURL of LFN (the stored copy stays)."""
    state.grid.uf(surl, lfn)


@click.command()
@click.argument("lfn")
@click.argument("protocols", nargs=-1)
@pass_state
def gt(state: State, lfn: str, protocols: tuple[str, ...]) -> None:
    """Print a TURL for each readable replica (protocols: most preferred first)."""
    turls = state.grid.turls(lfn, protocols or None)
    if not turls:
        raise GridError(f"{lfn}: no replica is online with a protocol asked for", lfn)
    for turl in turls.values():
        click.echo(turl)


COMMANDS: list[click.Command] = [cr, lr, lg, la, aa, ra, rf, register, uf, gt]
