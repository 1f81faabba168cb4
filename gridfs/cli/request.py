"""``gridfs request``: every file that matches a condition, made available at an SE (BdbServer++).

The files already there (registered, and checked by the SE: size and
adler32) are reused; the others are copied by the transfer agents, sharing
the copies other users' requests make of the same files. The command waits
and reports what was reused, moved, shared and failed; ``--notify`` runs a
command with the report (JSON) on its standard input, ``--report-file`` writes
it to a file. Both run here, in the requester's own process: agents never run
a user's command.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click

from gridfs.cli.complete import complete_lfn
from gridfs.cli.jsonout import echo_json
from gridfs.cli.state import State
from gridfs.errors import GridError
from gridfs.transfer import DEFAULT_PRIORITY, JobState, RequestReport, Submission, Transfers
from gridfs.transfer.shares import DEFAULT_ACTIVITY

__all__ = ["COMMANDS"]


@click.command("request")
@click.argument("directories", nargs=-1, required=True, shell_complete=complete_lfn)
@click.option("-d", "--se", "se_name", required=True, help="The SE to make the files available at.")
@click.option("--query", metavar="CONDITION", help="Only the files whose metadata match.")
@click.option("-r", "--recursive", is_flag=True, help="Below the directories too.")
@click.option("--priority", type=click.IntRange(1, 5), default=DEFAULT_PRIORITY, show_default=True)
@click.option("--activity", default=DEFAULT_ACTIVITY, show_default=True)
@click.option("--no-wait", is_flag=True, help="Submit and print the request's id; do not wait.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0), help="Stop waiting after S.")
@click.option("--notify", metavar="COMMAND", help="Run COMMAND with the report on its stdin.")
@click.option(
    "--report-file", type=click.Path(dir_okay=False), help="Write the report (JSON) here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def request(
    ctx: click.Context,
    directories: tuple[str, ...],
    se_name: str,
    query: str | None,
    recursive: bool,
    priority: int,
    activity: str,
    no_wait: bool,
    timeout_s: float | None,
    notify: str | None,
    report_file: str | None,
    as_json: bool,
) -> None:
    """Make every file of DIRECTORIES (matching --query) available at an SE; report how.

    Exit status 1 unless every file is there at the end.
    """
    state: State = ctx.obj
    if not recursive and query is None:
        recursive = True  # a request without a condition asks for the whole tree
    with Transfers.from_config(state.config, grid=state.grid) as transfers:
        job = transfers.submit(
            list(directories),
            Submission(
                destinations=(se_name,),
                recursive=recursive,
                query=query,
                priority=priority,
                activity=activity,
                verify_existing=True,
                description="request",
            ),
        )
        if no_wait:
            click.echo(job)
            return
        try:
            transfers.wait(job, timeout_s)
        except GridError as exc:  # the timeout: the report says what is still waiting
            click.echo(f"gridfs: {exc}", err=True)
        report = transfers.report(job)
    _deliver(report, notify, report_file)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.summary())
        for lfn, reason in report.failed:
            click.echo(f"gridfs: {lfn}: {reason}", err=True)
    if report.state is not JobState.FINISHED:
        ctx.exit(1)


def _deliver(report: RequestReport, notify: str | None, report_file: str | None) -> None:
    """The report to the file and the command asked for (a failing hook is said, not fatal)."""
    document = json.dumps(report.to_dict(), indent=2) + "\n"
    if report_file is not None:
        Path(report_file).write_text(document)
    if notify is not None:
        env = os.environ | {
            "GRIDFS_REQUEST": str(report.job),
            "GRIDFS_REQUEST_STATE": report.state.value,
        }
        result = subprocess.run(notify, shell=True, input=document, text=True, env=env, check=False)
        if result.returncode != 0:
            click.echo(f"gridfs: --notify {notify!r} exited with {result.returncode}", err=True)


COMMANDS: list[click.Command] = [request]
