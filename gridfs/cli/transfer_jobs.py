"""``gridfs transfer ...``: the transfer service (FTS-like) on the command line.

``submit`` queues a job (files, ``-r`` directories or a ``--query``, to one
or more ``-d SE``); ``status``, ``list``, ``watch`` follow jobs; ``cancel``
and ``retry`` change them; ``agent`` runs an agent that does the copies (as
many as wanted, on any host reaching the database and the SEs); ``links``
shows each link's concurrency and the optimizer's decisions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Never

import click
from tqdm import tqdm

from gridfs.cli.complete import complete_lfn
from gridfs.cli.jsonout import echo_json
from gridfs.cli.output import Failures, echo_table
from gridfs.cli.state import State
from gridfs.transfer import (
    DEFAULT_PRIORITY,
    Agent,
    FileState,
    JobRecord,
    JobState,
    Submission,
    Transfers,
)
from gridfs.transfer.shares import DEFAULT_ACTIVITY
from gridfs.transfer.states import TERMINAL

__all__ = ["COMMANDS"]


@contextlib.contextmanager
def _transfers(ctx: click.Context) -> Iterator[Transfers]:
    state: State = ctx.obj
    with Transfers.from_config(state.config, grid=state.grid) as transfers:
        yield transfers


@click.group("transfer")
def transfer() -> None:
    """Transfer jobs that persist: submit, follow, cancel, retry; and the agents that copy."""


@transfer.command("submit")
@click.argument("lfns", nargs=-1, required=True, shell_complete=complete_lfn)
@click.option(
    "-d", "--se", "ses", multiple=True, required=True, help="A destination SE (repeatable)."
)
@click.option("-r", "--recursive", is_flag=True, help="Every file under the directories given.")
@click.option(
    "--query", metavar="CONDITION", help="The files in the directories whose metadata match."
)
@click.option("--saved", "saved_query", metavar="NAME", help="A query saved on the directories.")
@click.option(
    "--priority",
    type=click.IntRange(1, 5),
    default=DEFAULT_PRIORITY,
    show_default=True,
    help="1 (lowest) to 5; higher goes first within an activity.",
)
@click.option(
    "--activity",
    default=DEFAULT_ACTIVITY,
    show_default=True,
    help="The activity whose share of the links the job uses ([transfer.shares]).",
)
@click.option(
    "--attempts",
    type=click.IntRange(min=1),
    help="Tries per file, after recoverable failures (default: [transfer] attempts).",
)
@click.option(
    "--lifetime",
    "lifetime_s",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds after which files not started fail (default: [transfer] lifetime).",
)
@click.option(
    "--verify-source",
    is_flag=True,
    help="Also check the source SE's checksum of each replica before copying it.",
)
@click.option(
    "--wait", "wait", is_flag=True, help="Wait for the job to end; exit 1 if not all made it."
)
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_context
def submit(
    ctx: click.Context,
    lfns: tuple[str, ...],
    ses: tuple[str, ...],
    recursive: bool,
    query: str | None,
    saved_query: str | None,
    priority: int,
    activity: str,
    attempts: int | None,
    lifetime_s: float | None,
    verify_source: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Submit a job copying files to SEs; prints its id.

    Every copy is verified against the catalog's adler32 before it is
    registered; a file the destination holds already is not copied
    (not_used). Agents (gridfs transfer agent) do the work.
    """
    with _transfers(ctx) as transfers:
        job = transfers.submit(
            list(lfns),
            Submission(
                destinations=ses,
                recursive=recursive,
                query=query,
                saved_query=saved_query,
                priority=priority,
                activity=activity,
                attempts=attempts,
                lifetime_s=lifetime_s,
                verify_source=verify_source,
            ),
        )
        record = transfers.wait(job) if wait else transfers.status(job)
    if as_json:
        echo_json(record.to_dict())
    else:
        click.echo(job)
    if wait:
        _report_end(ctx, record, quiet=as_json)


def _report_end(ctx: click.Context, record: JobRecord, *, quiet: bool) -> None:
    """Each failed file on stderr, and exit status 1, unless the job finished clean."""
    if not quiet:
        for file in record.files:
            if file.state in (FileState.FAILED, FileState.CANCELED):
                click.echo(
                    f"gridfs: {file.lfn} -> {file.dest_se}: {file.state.value}: {file.reason}",
                    err=True,
                )
    if record.state is not JobState.FINISHED:
        ctx.exit(1)


def _counts(record: JobRecord) -> str:
    return ", ".join(
        f"{count} {state.value}" for state, count in sorted(record.counts.items()) if count
    )


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@transfer.command("status")
@click.argument("jobs", nargs=-1, required=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, jobs: tuple[int, ...], as_json: bool) -> None:
    """Show jobs: their state, and each file's, with the reason of every failure."""
    failures = Failures()
    records = []
    with _transfers(ctx) as transfers:
        for job in jobs:
            with failures.reported():
                records.append(transfers.status(job))
    if as_json:
        echo_json([record.to_dict() for record in records])
    else:
        for record in records:
            click.echo(
                f"job {record.id}: {record.state.value} ({_counts(record)}), "
                f"{record.submitter}, {record.activity}, priority {record.priority}"
            )
            rows = [("  STATE", "LFN", "LINK", "TRIES", "REASON")]
            rows += [
                (
                    f"  {file.state.value}",
                    file.lfn,
                    f"{file.source_se}->{file.dest_se}",
                    f"{file.attempts}/{record.max_attempts}",
                    file.reason or "",
                )
                for file in record.files
            ]
            echo_table(rows)
    failures.exit()


@transfer.command("list")
@click.option("--mine", is_flag=True, help="My jobs only.")
@click.option("--activity", help="Jobs of this activity only.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in JobState]),
    help="Jobs in this state only (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(
    ctx: click.Context,
    mine: bool,
    activity: str | None,
    states: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """List jobs, the newest first."""
    with _transfers(ctx) as transfers:
        records = transfers.jobs(
            mine=mine, activity=activity, states=[JobState(s) for s in states], limit=limit
        )
    if as_json:
        echo_json([record.to_dict() for record in records])
        return
    if not records:
        return
    echo_table(
        [("JOB", "STATE", "SUBMITTER", "ACTIVITY", "CREATED (UTC)", "FILES")]
        + [
            (
                str(record.id),
                record.state.value,
                record.submitter,
                record.activity,
                _when(record.created),
                _counts(record),
            )
            for record in records
        ]
    )


@transfer.command("cancel")
@click.argument("jobs", nargs=-1, required=True, type=int)
@click.pass_context
def cancel(ctx: click.Context, jobs: tuple[int, ...]) -> None:
    """Cancel what is not done of jobs (copies in progress are stopped and undone)."""
    failures = Failures()
    with _transfers(ctx) as transfers:
        for job in jobs:
            with failures.reported():
                click.echo(f"job {job}: {transfers.cancel(job)} files canceled")
    failures.exit()


@transfer.command("retry")
@click.argument("jobs", nargs=-1, required=True, type=int)
@click.pass_context
def retry(ctx: click.Context, jobs: tuple[int, ...]) -> None:
    """Submit the failed and canceled files of jobs again."""
    failures = Failures()
    with _transfers(ctx) as transfers:
        for job in jobs:
            with failures.reported():
                click.echo(f"job {job}: {transfers.retry(job)} files submitted again")
    failures.exit()


@transfer.command("watch")
@click.argument("job", type=int)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between two looks.",
)
@click.pass_context
def watch(ctx: click.Context, job: int, interval: float) -> None:
    """Follow a job live (bytes and files done) until it ends; exit 1 unless it finished clean."""
    with _transfers(ctx) as transfers:
        record = transfers.status(job)
        bar: tqdm[Never] = tqdm(
            total=record.bytes_total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            dynamic_ncols=True,
            disable=None,  # no bar when stderr is no terminal
        )
        with bar:
            while True:
                bar.update(record.bytes_done - bar.n)
                bar.set_description(f"job {job}: {_counts(record)}", refresh=True)
                if set(record.counts) <= TERMINAL:
                    break
                time.sleep(interval)
                record = transfers.status(job)
    click.echo(f"job {job}: {record.state.value} ({_counts(record)})")
    _report_end(ctx, record, quiet=False)


@transfer.command("agent")
@click.option(
    "--slots", type=click.IntRange(min=1), help="Files copied at once ([transfer] slots)."
)
@click.option("--name", help="The agent's name in leases and attempts (default: host:pid:random).")
@click.option("--until-idle", is_flag=True, help="End once no file is left to do.")
@click.pass_context
def agent(ctx: click.Context, slots: int | None, name: str | None, until_idle: bool) -> None:
    """Run a transfer agent: claim files, copy and verify them, register the copies.

    SIGTERM or Ctrl-C stops it: copies in progress are undone and go back to
    the queue for the next agent.
    """
    with _transfers(ctx) as transfers:
        settings = transfers.settings
        if slots is not None:
            settings = dataclasses.replace(settings, slots=slots)
        worker = Agent(transfers.grid, transfers.store, settings, name=name)

        def stop(_signum: int, _frame: object) -> None:
            worker.stop()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            summary = worker.run(until_idle=until_idle)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    done = ", ".join(f"{count} {state.value}" for state, count in sorted(summary.ended.items()))
    click.echo(f"agent {worker.name}: {done or 'nothing done'}", err=True)


@transfer.command("links")
@click.option(
    "--decisions", type=click.IntRange(min=0), default=5, show_default=True, help="Per link."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def links(ctx: click.Context, decisions: int, as_json: bool) -> None:
    """Show each link's concurrency, load and the optimizer's latest decisions with reasons."""
    with _transfers(ctx) as transfers:
        records = transfers.links(decisions)
    if as_json:
        echo_json([record.to_dict() for record in records])
        return
    for record in records:
        rate = "" if record.ema is None else f", {record.ema / 1e6:.1f} MB/s"
        click.echo(
            f"{record.source_se} -> {record.dest_se}: {record.concurrency} streams "
            f"({record.active} active, {record.queued} queued{rate})"
        )
        for decision in record.decisions:
            click.echo(
                f"  {_when(decision.at)} {decision.old_concurrency} -> "
                f"{decision.new_concurrency}: {decision.reason}"
            )


COMMANDS: list[click.Command] = [transfer]
