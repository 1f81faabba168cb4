"""Transfers on the command line: ``cp``, ``rep``, ``del``, ``sum`` and shell completion.

``cp`` follows gfal-copy (``-r``, ``-f``, ``-p``, ``-K``, ``--timeout``,
``-v``), ``rep`` and ``del`` follow lcg-rep and lcg-del. Copies of several
files run in parallel (``-j``) with a progress bar on a terminal, a summary
at the end and exit status 1 if any file failed, each failure listed.
The commands are registered on the ``gridfs`` group by :mod:`gridfs.cli.app`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import posixpath
import sys
import threading
from typing import Never

import click
from click.shell_completion import get_completion_class
from tqdm import tqdm

from gridfs.cli.complete import complete_lfn
from gridfs.cli.jsonout import echo_json
from gridfs.cli.output import Failures, each_argument
from gridfs.cli.state import State
from gridfs.errors import InvalidArgument, IsADirectory, NotADirectory, NotFound
from gridfs.gfal import CHECKSUM_TYPES, DEFAULT_CHECKSUM, Grid
from gridfs.gfal.cancel import run_interruptibly
from gridfs.gfal.checksums import Verify, checksum
from gridfs.gfal.copy import copy, resolve_destination
from gridfs.gfal.dataset import (
    DEFAULT_ATTEMPTS,
    DEFAULT_PARALLEL,
    Summary,
    Task,
    plan_copy_grid,
    plan_copy_in,
    plan_copy_out,
    plan_replicate,
    run_tasks,
)
from gridfs.gfal.delete import delete
from gridfs.gfal.locations import Location, parse_location

__all__ = ["COMMANDS"]

log = logging.getLogger("gridfs.cli")


class _Bar:
    """A tqdm progress bar on stderr: bytes of files done, and the file count."""

    def __init__(self) -> None:
        self._bar: tqdm[Never] | None = None
        self._lock = threading.Lock()
        self._files = 0
        self._done = 0

    def start(self, files: int, total_bytes: int) -> None:
        self._files = files
        self._bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            desc=f"0/{files} files",
            leave=False,
            dynamic_ncols=True,
        )

    def done(self, task: Task, error: OSError | None) -> None:
        with self._lock:
            self._done += 1
            if self._bar is not None:
                self._bar.update(task.size)
                self._bar.set_description(f"{self._done}/{self._files} files", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _run(grid: Grid, tasks: list[Task], *, parallel: int, attempts: int, quiet: bool) -> Summary:
    bar = _Bar() if sys.stderr.isatty() and not quiet else None
    try:
        return run_tasks(
            tasks, parallel=parallel, attempts=attempts, progress=bar, cancel=grid.cancel
        )
    finally:
        if bar is not None:
            bar.close()


def _report(ctx: click.Context, summary: Summary, *, as_json: bool, dataset: bool) -> None:
    """The summary (with --json, or for datasets), each failure on stderr, exit 1 on any."""
    if as_json:
        echo_json(summary.to_dict())
    if len(summary.failures) == 1 and not dataset:
        click.echo(f"gridfs: {summary.failures[0].error}", err=True)
    else:
        for failure in summary.failures:
            click.echo(
                f"gridfs: failed: {failure.source} -> {failure.destination}: {failure.error}",
                err=True,
            )
    if dataset and not as_json:
        line = (
            f"{summary.files} files, {summary.bytes} bytes in {summary.elapsed_s:.1f} s "
            f"({summary.mb_per_s:.1f} MB/s, {summary.files_per_s:.1f} files/s)"
        )
        if summary.skipped:
            line += f", {summary.skipped} skipped (already there)"
        if summary.failures:
            line += f", {len(summary.failures)} FAILED"
        click.echo(line, err=bool(summary.failures))
    if summary.failures:
        ctx.exit(1)


def _is_dir(grid: Grid, location: Location) -> bool:
    if location.on_grid:
        return grid.stat(location.path).is_dir()
    if not os.path.lexists(location.path):
        raise NotFound(f"no such local file: {location.path}", location.path)
    return os.path.isdir(location.path)


def _exists(grid: Grid, location: Location) -> bool:
    if location.on_grid:
        try:
            grid.lstat(location.path)
        except NotFound:
            return False
        return True
    return os.path.lexists(location.path)


def _size(grid: Grid, location: Location) -> int:
    if location.on_grid:
        return grid.stat(location.path).size
    return os.stat(location.path).st_size


def _transfer_options(function: click.decorators.FC) -> click.decorators.FC:
    """Options every transfer command shares."""
    for option in reversed(
        [
            click.option(
                "-j",
                "--parallel",
                type=click.IntRange(min=1),
                default=DEFAULT_PARALLEL,
                show_default=True,
                help="Files copied at once.",
            ),
            click.option(
                "--attempts",
                type=click.IntRange(min=1),
                default=DEFAULT_ATTEMPTS,
                show_default=True,
                help="Tries per file, after transient failures (timeouts, broken connections).",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0, min_open=True),
                help="Timeout of each network call, in seconds (default: [storage] timeout).",
            ),
            click.option("-s", "--space-token", help="The SE's reserved space to write into."),
            click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
            click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
            click.option("-v", "--verbose", is_flag=True, help="Say what is being done."),
        ]
    ):
        function = option(function)
    return function


def _prepare(state: State, timeout: float | None, verbose: bool) -> Grid:
    if verbose:
        logging.getLogger("gridfs").setLevel(logging.INFO)
        logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    return state.grid if timeout is None else state.grid.with_options(timeout_s=timeout)


@click.command("cp")
@click.argument("sources", nargs=-1, required=True, shell_complete=complete_lfn)
@click.argument("destination", shell_complete=complete_lfn)
@click.option("-r", "--recursive", is_flag=True, help="Copy directories and their contents.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing destination file.")
@click.option("-p", "--parent", "parents", is_flag=True, help="Make missing parent directories.")
@click.option(
    "-K",
    "--checksum",
    "checksum_type",
    default=DEFAULT_CHECKSUM,
    show_default=True,
    help="Checksum type copies are verified with (adler32: the one catalog and SEs keep).",
)
@click.option("-d", "--se", "se_name", help="Destination SE of copies to the grid.")
@_transfer_options
@click.pass_context
def cp(
    ctx: click.Context,
    sources: tuple[str, ...],
    destination: str,
    recursive: bool,
    force: bool,
    parents: bool,
    checksum_type: str,
    se_name: str | None,
    parallel: int,
    attempts: int,
    timeout: float | None,
    space_token: str | None,
    as_json: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Copy files between the grid and local disk, or within the grid, verified.

    An LFN is written lfn:/grid/... or as a bare path under the mount root
    (/grid); file:///path or any other path is local. With several SOURCES
    the DESTINATION must be a directory.
    """
    state: State = ctx.obj
    if checksum_type.lower() != DEFAULT_CHECKSUM:
        raise click.BadParameter(
            f"copies are verified with {DEFAULT_CHECKSUM}, the checksum the catalog and the SEs "
            f"keep; {checksum_type} is not kept",
            param_hint="-K",
        )
    grid = _prepare(state, timeout, verbose)
    root = state.config.mount_root
    targets = [parse_location(source, root) for source in sources]
    into = parse_location(destination, root)
    into_is_dir = _exists(grid, into) and _is_dir(grid, into)
    if len(targets) > 1 and not into_is_dir:
        raise NotADirectory(
            f"copying several files: {into.path} must be an existing directory", into.path
        )
    tasks: list[Task] = []
    dataset = len(targets) > 1
    for source in targets:
        target = resolve_destination(grid, source, into) if into_is_dir else into
        if _is_dir(grid, source):
            if not recursive:
                raise IsADirectory(f"{source.path} is a directory (copy it with -r)", source.path)
            tasks += _plan_tree(grid, source, target, se_name, force, space_token)
            dataset = True
            continue
        tasks.append(
            Task(
                source.path,
                target.path,
                _size(grid, source),
                # partial binds this iteration's source and target (a closure would see the last)
                functools.partial(
                    copy,
                    grid,
                    source,
                    target,
                    se_name,
                    overwrite=force,
                    parents=parents,
                    space_token=space_token,
                ),
            )
        )
    summary = _run(grid, tasks, parallel=parallel, attempts=attempts, quiet=quiet)
    _report(ctx, summary, as_json=as_json, dataset=dataset)


def _plan_tree(
    grid: Grid,
    source: Location,
    target: Location,
    se_name: str | None,
    force: bool,
    space_token: str | None,
) -> list[Task]:
    if source.on_grid and target.on_grid:
        if posixpath.commonpath([source.path, target.path]) == source.path:
            raise InvalidArgument(f"cannot copy {source.path} into itself", target.path)
        return plan_copy_grid(
            grid, source.path, target.path, se_name, overwrite=force, space_token=space_token
        )
    if source.on_grid:
        return plan_copy_out(grid, source.path, target.path, overwrite=force)
    if target.on_grid:
        return plan_copy_in(
            grid, source.path, target.path, se_name, overwrite=force, space_token=space_token
        )
    raise InvalidArgument(
        f"neither {source.path} nor {target.path} is on the grid: use cp(1) for local copies",
        source.path,
    )


@click.command("rep")
@click.argument("lfn", shell_complete=complete_lfn)
@click.option(
    "-d", "--se", "ses", multiple=True, required=True, help="An SE to replicate to (repeatable)."
)
@click.option("-r", "--recursive", is_flag=True, help="Replicate every file under a directory.")
@_transfer_options
@click.pass_context
def rep(
    ctx: click.Context,
    lfn: str,
    ses: tuple[str, ...],
    recursive: bool,
    parallel: int,
    attempts: int,
    timeout: float | None,
    space_token: str | None,
    as_json: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Replicate a file (or with -r a directory tree) to SEs and register the copies.

    One file to one SE prints the new SURL; otherwise a summary is printed.
    A file that has a replica on an SE already is skipped for that SE.
    """
    state: State = ctx.obj
    grid = _prepare(state, timeout, verbose)
    lfn = lfn.removeprefix("lfn:")
    if grid.stat(lfn).is_dir() and not recursive:
        raise IsADirectory(f"{lfn} is a directory (replicate it with -r)", lfn)
    if not recursive and len(ses) == 1 and not as_json:
        replica = run_interruptibly(
            lambda: grid.rep(lfn, ses[0], space_token=space_token), grid.cancel
        )
        click.echo(replica.surl)
        return
    tasks, skipped = plan_replicate(grid, lfn, ses, space_token=space_token)
    summary = _run(grid, tasks, parallel=parallel, attempts=attempts, quiet=quiet)
    summary.skipped = skipped
    _report(ctx, summary, as_json=as_json, dataset=True)


@click.command("del")
@click.argument("lfns", nargs=-1, required=True, shell_complete=complete_lfn)
@click.option("-s", "--se", "se_name", help="Delete the replica on this SE.")
@click.option("--surl", help="Delete this replica.")
@click.option(
    "-a", "--all", "all_replicas", is_flag=True, help="Delete every replica, and the file."
)
@click.pass_context
def del_(
    ctx: click.Context,
    lfns: tuple[str, ...],
    se_name: str | None,
    surl: str | None,
    all_replicas: bool,
) -> None:
    """Delete one replica of files (-s SE or --surl), or all of them and the files (-a).

    The stored copy is deleted, then unregistered. Deleting the last replica
    of a file removes the file from the catalog too, as lcg-del does.
    """
    if sum((se_name is not None, surl is not None, all_replicas)) != 1:
        raise click.UsageError("give exactly one of -s SE, --surl SURL and -a")
    state: State = ctx.obj

    def delete_one(lfn: str) -> None:
        deleted = delete(
            state.grid, lfn.removeprefix("lfn:"), se=se_name, surl=surl, all_replicas=all_replicas
        )
        for surl_deleted in deleted:
            log.info("deleted %s", surl_deleted)

    each_argument(lfns, delete_one)  # a bad argument is reported, the rest deleted, as rm does


@click.command("sum")
@click.argument("lfns", nargs=-1, required=True, shell_complete=complete_lfn)
@click.option(
    "-K",
    "--checksum",
    "checksum_type",
    type=click.Choice(CHECKSUM_TYPES, case_sensitive=False),
    default=DEFAULT_CHECKSUM,
    show_default=True,
    help="Checksum type (the catalog keeps adler32; others are computed from a replica).",
)
@click.option("--replica", "from_replica", is_flag=True, help="Recompute it from the best replica.")
@click.option(
    "--all-replicas", is_flag=True, help="Recompute it from every replica; report mismatches."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def sum_(
    ctx: click.Context,
    lfns: tuple[str, ...],
    checksum_type: str,
    from_replica: bool,
    all_replicas: bool,
    as_json: bool,
) -> None:
    """Print the checksum of files, as gfal-sum does: "LFN CHECKSUM".

    With --replica the checksum printed is the one recomputed from the best
    replica; with --all-replicas each replica's follows on its own line. A
    replica whose checksum differs from the catalog's (or, with
    --all-replicas, could not be read) fails the command with exit status 1.
    """
    state: State = ctx.obj
    verify = Verify.ALL if all_replicas else Verify.BEST if from_replica else Verify.NONE
    reports = []
    failures = Failures()
    for lfn in lfns:  # a bad argument is reported and the rest are summed, as md5sum does
        with failures.reported():
            reports.append(
                checksum(state.grid, lfn.removeprefix("lfn:"), checksum_type, verify=verify)
            )
    bad = failures.count > 0
    for report in reports:
        mismatches = report.mismatches()
        bad = bad or bool(mismatches)
        if not as_json:
            shown = report.recomputed if verify is Verify.BEST else report.value
            click.echo(f"{report.lfn} {shown}")
            for replica in report.replicas if verify is Verify.ALL else ():
                mark = "" if replica not in mismatches else "  MISMATCH"
                click.echo(f"  {replica.surl} {replica.value or replica.error}{mark}")
        for replica in mismatches:
            click.echo(
                f"gridfs: {report.lfn}: replica {replica.surl} "
                + (
                    f"has {checksum_type} {replica.value}, not {report.value}"
                    if replica.value
                    else f"could not be read: {replica.error}"
                ),
                err=True,
            )
    if as_json:
        echo_json(
            [
                {
                    "lfn": report.lfn,
                    "checksum_type": report.checksum_type,
                    "checksum": report.value,
                    "catalog": report.catalog,
                    "replicas": [dataclasses.asdict(r) for r in report.replicas],
                    "mismatches": [r.surl for r in report.mismatches()],
                }
                for report in reports
            ]
        )
    if bad:
        ctx.exit(1)


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script, e.g.: eval "$(gridfs completion bash)"."""
    completer = get_completion_class(shell)
    assert completer is not None  # the choice above lists click's own shells
    click.echo(completer(ctx.find_root().command, {}, "gridfs", "_GRIDFS_COMPLETE").source())


COMMANDS: list[click.Command] = [cp, rep, del_, sum_, completion]
