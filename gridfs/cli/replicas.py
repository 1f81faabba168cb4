"""The replica verbs, named as in lcg-utils: cr, lr, lg, la, aa, ra, rf, uf, gt."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gridfs.cli.complete import complete_lfn
from gridfs.cli.jsonout import echo_json, replica_record
from gridfs.cli.state import State, pass_state
from gridfs.errors import GridError

__all__ = ["COMMANDS"]


@click.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("lfn")
@click.option("-d", "--se", "se_name", help="Destination SE (default: the configured default).")
@click.option("-g", "--guid", help="GUID to give the new file (default: a new one).")
@click.option("-s", "--space-token", help="The SE's reserved space to write into.")
@pass_state
def cr(
    state: State,
    source: Path,
    lfn: str,
    se_name: str | None,
    guid: str | None,
    space_token: str | None,
) -> None:
    """Copy a local file to an SE and register it as LFN; prints its GUID."""
    entry = state.grid.cr(source, lfn, se_name, guid=guid, space_token=space_token)
    click.echo(f"guid:{entry.guid}")


@click.command()
@click.argument("lfn", shell_complete=complete_lfn)
@click.option("--json", "as_json", is_flag=True, help="Print the replicas as JSON.")
@pass_state
def lr(state: State, lfn: str, as_json: bool) -> None:
    """List the replicas (SURLs) of a file."""
    if as_json:
        echo_json([replica_record(r) for r in state.grid.replicas(lfn)])
        return
    for surl in state.grid.lr(lfn):
        click.echo(surl)


@click.command()
@click.argument("lfn")
@pass_state
def lg(state: State, lfn: str) -> None:
    """Print the GUID of a file."""
    click.echo(f"guid:{state.grid.lg(lfn)}")


@click.command()
@click.argument("lfn_or_guid")
@pass_state
def la(state: State, lfn_or_guid: str) -> None:
    """Print the LFNs of a file (primary first, then aliases); give an LFN or a GUID."""
    for lfn in state.grid.la(lfn_or_guid.removeprefix("guid:")):
        click.echo(lfn)


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
    for alias in aliases:
        state.grid.ra(alias)


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


COMMANDS: list[click.Command] = [cr, lr, lg, la, aa, ra, rf, uf, gt]
