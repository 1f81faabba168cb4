"""The tape verbs: bring-online (also bringonline, as gfal names it), locality, release."""

from __future__ import annotations

import copy

import click

from gridfs.cli.state import State, pass_state
from gridfs.errors import GridError
from gridfs.gfal import RequestState

__all__ = ["COMMANDS"]


@click.command("bring-online")
@click.argument("lfn")
@click.option(
    "--pin",
    "pin_s",
    type=float,
    default=3600,
    show_default=True,
    help="Pin lifetime of the staged copy, in seconds.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=3600,
    show_default=True,
    help="Give up waiting after this many seconds (the request is aborted).",
)
@pass_state
def bring_online(state: State, lfn: str, pin_s: float, timeout_s: float) -> None:
    """Stage a file from tape so that it can be read; waits for the recall."""
    request = state.grid.bring_online(lfn, pin_s)
    if request is None:
        click.echo(f"{lfn}: online")
        return
    outcome = request.wait(timeout_s)
    if outcome is RequestState.QUEUED:
        state.grid.abort_stage(request)
        raise GridError(f"{lfn}: not staged within {timeout_s:.0f} s; request aborted", lfn)
    if outcome is not RequestState.DONE:
        raise GridError(f"{lfn}: staging {outcome.value.lower()}: {request.error}", lfn)
    click.echo(f"{lfn}: staged, pinned for {pin_s:.0f} s")


def _alias(command: click.Command, name: str) -> click.Command:
    """``command`` under another name: the same callback, parameters and help."""
    alias = copy.copy(command)
    alias.name = name
    return alias


@click.command()
@click.argument("lfn")
@pass_state
def locality(state: State, lfn: str) -> None:
    """Show where each replica is: ONLINE, NEARLINE, ONLINE_AND_NEARLINE (never stages)."""
    for surl, place in state.grid.locality(lfn).items():
        click.echo(f"{place.value:<20} {surl}")


@click.command()
@click.argument("lfn")
@pass_state
def release(state: State, lfn: str) -> None:
    """Unpin the staged copies of a file (the tape copies stay)."""
    state.grid.release(lfn)


COMMANDS: list[click.Command] = [
    bring_online,
    _alias(bring_online, "bringonline"),  # gfal-style name
    locality,
    release,
]
