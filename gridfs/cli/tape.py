"""The tape verbs: bring-online (also bringonline, as gfal names it), locality, release."""

from __future__ import annotations

import copy
import time

import click

from gridfs.cli.output import Failures, each_argument
from gridfs.cli.state import State, pass_state
from gridfs.errors import GridError, InvalidArgument
from gridfs.gfal import Grid, RequestState, StageRequest

__all__ = ["COMMANDS"]


@click.command("bring-online")
@click.argument("lfns", nargs=-1, required=True)
@click.option(
    "--pin",
    "pin_s",
    type=float,
    default=3600,
    show_default=True,
    help="Pin lifetime of the staged copies, in seconds.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=3600,
    show_default=True,
    help="Give up waiting after this many seconds (the requests left are aborted).",
)
@pass_state
def bring_online(state: State, lfns: tuple[str, ...], pin_s: float, timeout_s: float) -> None:
    """Stage files from tape so that they can be read; waits for the recalls.

    Every file is requested first, so that the recalls run together.
    """
    if not pin_s > 0:  # also refuses nan
        raise InvalidArgument(
            f"--pin: a pin lifetime is a positive number of seconds, not {pin_s:g}"
        )
    if not timeout_s >= 0:
        raise InvalidArgument(f"--timeout: a number of seconds, at least 0, not {timeout_s:g}")
    grid = state.grid
    failures = Failures()
    requests: list[tuple[str, StageRequest]] = []
    for lfn in lfns:
        with failures.reported():
            request = grid.bring_online(lfn, pin_s)
            if request is None:
                click.echo(f"{lfn}: online")
            else:
                requests.append((lfn, request))
    deadline = time.monotonic() + timeout_s
    for lfn, request in requests:
        with failures.reported():
            _wait(grid, lfn, request, deadline, timeout_s)
            click.echo(f"{lfn}: staged, pinned for {pin_s:.0f} s")
    failures.exit()


def _wait(grid: Grid, lfn: str, request: StageRequest, deadline: float, timeout_s: float) -> None:
    """Wait until ``deadline`` for the stage of ``lfn``; an error says why it is not done.

    A request still queued then is aborted.
    """
    outcome = request.wait(max(0.0, deadline - time.monotonic()))
    if outcome is RequestState.QUEUED:
        grid.abort_stage(request)
        raise GridError(f"{lfn}: not staged within {timeout_s:.0f} s; request aborted", lfn)
    if outcome is not RequestState.DONE:
        raise GridError(f"{lfn}: staging {outcome.value.lower()}: {request.error}", lfn)


def _alias(command: click.Command, name: str) -> click.Command:
    """``command`` under another name: the same callback, parameters and help."""
    alias = copy.copy(command)
    alias.name = name
    return alias


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def locality(state: State, lfns: tuple[str, ...]) -> None:
    """Show where each replica is: ONLINE, NEARLINE, ONLINE_AND_NEARLINE (never stages).

    With several files each line starts with the file's LFN.
    """

    def show(lfn: str) -> None:
        for surl, place in state.grid.locality(lfn).items():
            line = f"{place.value:<20} {surl}"
            click.echo(f"{lfn} {line}" if len(lfns) > 1 else line)

    each_argument(lfns, show)


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def release(state: State, lfns: tuple[str, ...]) -> None:
    """Unpin the staged copies of files (the tape copies stay)."""
    each_argument(lfns, state.grid.release)


COMMANDS: list[click.Command] = [
    bring_online,
    _alias(bring_online, "bringonline"),  # gfal-style name
    locality,
    release,
]
