"""Datasets: whole directory trees replicated, copied in and copied out, in parallel.

A plan is a list of :class:`Task` (one file to one destination: a file to
each SE when replicating to several), made by the ``plan_*`` functions,
which also create the destination's directories. :func:`run_tasks` runs a
plan on a bounded pool of threads (the core is synchronous and thread-safe),
tries a file again after a transient failure (a timeout, a connection broken
off) up to ``attempts`` times, tells a :class:`Progress` of each file done,
and returns a :class:`Summary` that lists every failure. Each task is one
verified copy of :mod:`gridfs.gfal.copy` or :meth:`Grid.rep`, so a failed or
interrupted task leaves nothing stored or registered. An interrupt (Ctrl-C)
while a run waits cancels it (:mod:`gridfs.gfal.cancel`): files done stay,
files not started are not started, and the copies in flight are undone.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import posixpath
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gridfs.catalog import Stat
from gridfs.errors import AlreadyExists, Cancelled, InvalidArgument, NotADirectory, from_os_error
from gridfs.gfal.cancel import CancelToken, settle
from gridfs.gfal.copy import copy_grid, copy_in, copy_out
from gridfs.gfal.grid import Grid
from gridfs.gfal.replicas import current_replicas
from gridfs.storage import is_transient

__all__ = [
    "DEFAULT_PARALLEL",
    "Failure",
    "Progress",
    "Summary",
    "Task",
    "plan_copy_grid",
    "plan_copy_in",
    "plan_copy_out",
    "plan_replicate",
    "run_tasks",
    "walk_files",
]

log = logging.getLogger(__name__)

DEFAULT_PARALLEL = 8
DEFAULT_ATTEMPTS = 3


@dataclass(frozen=True)
class Task:
    """Copy one file: ``run()`` does it, raising an :class:`OSError` if it fails."""

    source: str
    destination: str
    size: int
    run: Callable[[], object] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Failure:
    """A task that failed for good: its last error, after ``attempts`` tries."""

    source: str
    destination: str
    error: str
    attempts: int


@dataclass
class Summary:
    """What a run did: files and bytes copied, skipped files, failures, time taken."""

    files: int = 0
    bytes: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no task failed."""
        return not self.failures

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (10**6 bytes)."""
        return self.bytes / 1e6 / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def files_per_s(self) -> float:
        """Files copied per second."""
        return self.files / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        """The summary as plain data, for JSON."""
        return {
            "files": self.files,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "failed": len(self.failures),
            "elapsed_s": round(self.elapsed_s, 3),
            "mb_per_s": round(self.mb_per_s, 3),
            "failures": [
                {
                    "source": f.source,
                    "destination": f.destination,
                    "error": f.error,
                    "attempts": f.attempts,
                }
                for f in self.failures
            ],
        }


class Progress(Protocol):
    """Hears of a run's progress (a progress bar, say); called from several threads."""

    def start(self, files: int, total_bytes: int) -> None:
        """The run begins with this many files and bytes."""

    def done(self, task: Task, error: OSError | None) -> None:
        """``task`` finished: copied (``error`` is ``None``) or failed for good."""


def run_tasks(
    tasks: Sequence[Task],
    *,
    parallel: int = DEFAULT_PARALLEL,
    attempts: int = DEFAULT_ATTEMPTS,
    progress: Progress | None = None,
    backoff_s: float = 0.5,
    cancel: CancelToken | None = None,
) -> Summary:
    """Run ``tasks``, ``parallel`` at a time; see the module's docstring.

    A task that fails with a transient error is tried again after a jittered
    backoff, at most ``attempts`` times in all; any other :class:`OSError`
    fails it at once. An interrupt, or an exception that is no
    :class:`OSError` (a bug), stops the run: ``cancel`` is set, tasks not
    started are dropped, the run waits for the running ones to stop, and the
    exception is raised. ``cancel`` should be the token of the tasks' grid
    (:attr:`Grid.cancel`), so that the copies in flight stop and are undone.
    """
    if parallel < 1 or attempts < 1:
        raise InvalidArgument("parallel and attempts must be at least 1")
    summary = Summary()
    cancel = cancel or CancelToken()
    lock = threading.Lock()
    if progress is not None:
        progress.start(len(tasks), sum(task.size for task in tasks))
    started = time.monotonic()

    def attempt(task: Task) -> None:
        for tried in range(1, attempts + 1):
            if cancel.cancelled:
                return
            try:
                task.run()
            except Cancelled:
                return  # undone; the run's caller hears of the interrupt
            except OSError as exc:
                if tried < attempts and is_transient(exc):
                    delay = random.uniform(0, backoff_s * 2**tried)
                    log.info("%s: %s; trying again in %.1f s", task.source, exc, delay)
                    cancel.sleep(delay)
                    continue
                log.info("%s -> %s failed: %s", task.source, task.destination, exc)
                with lock:
                    summary.failures.append(Failure(task.source, task.destination, str(exc), tried))
                if progress is not None:
                    progress.done(task, exc)
                return
            with lock:
                summary.files += 1
                summary.bytes += task.size
            if progress is not None:
                progress.done(task, None)
            return

    with concurrent.futures.ThreadPoolExecutor(
        max_workers=parallel, thread_name_prefix="gridfs-transfer"
    ) as pool:
        futures: list[concurrent.futures.Future[None]] = []
        try:
            futures.extend(pool.submit(attempt, task) for task in tasks)
        except BaseException:  # interrupted while submitting: what was submitted stops too
            cancel.cancel()
            raise
        settle(futures, cancel)
    summary.elapsed_s = time.monotonic() - started
    return summary


def walk_files(grid: Grid, lfn: str) -> Iterator[tuple[str, Stat]]:
    """Every file under directory ``lfn`` (depth first), with its LFN; links are skipped.

    Directories are listed before they are descended into, so a listing is
    never held open across the whole walk.
    """
    children = list(grid.scandir(lfn))
    for child in children:
        path = posixpath.join(lfn, child.name)
        if child.is_file():
            yield path, child
        elif child.is_dir():
            yield from walk_files(grid, path)
        else:
            log.info("%s is a link: skipped", path)


def _grid_dirs(grid: Grid, lfn: str) -> Iterator[str]:
    """The directories under ``lfn``, relative to it, parents first."""
    for child in list(grid.scandir(lfn)):
        if child.is_dir():
            yield child.name
            for sub in _grid_dirs(grid, posixpath.join(lfn, child.name)):
                yield posixpath.join(child.name, sub)


def _require_grid_dir(grid: Grid, lfn: str) -> None:
    if not grid.stat(lfn).is_dir():
        raise NotADirectory(f"not a directory: {lfn}", lfn)


def plan_replicate(
    grid: Grid, lfn: str, ses: Sequence[str], *, space_token: str | None = None
) -> tuple[list[Task], int]:
    """Tasks replicating every file under ``lfn`` (or the file ``lfn``) to each of ``ses``.

    Returns the tasks and the number of (file, SE) pairs skipped because the
    file has a replica on that SE already.
    """
    for name in ses:
        grid.storage.writable_se(name)  # an unknown or read-only SE fails the plan, not each task
    entry = grid.stat(lfn)
    files = [(lfn, entry)] if entry.is_file() else list(walk_files(grid, lfn))
    tasks = []
    skipped = 0
    held = grid.catalog.replicas_many([path for path, _ in files]) if files else {}
    for path, stat in files:
        present = {r.se for r in current_replicas(held.get(path, []))}
        for se in ses:
            if se in present:
                skipped += 1
                continue
            tasks.append(
                Task(
                    path,
                    se,
                    stat.size,
                    functools.partial(grid.rep, path, se, space_token=space_token),
                )
            )
    return tasks, skipped


def plan_copy_in(
    grid: Grid,
    directory: str | os.PathLike[str],
    lfn: str,
    se: str | None = None,
    *,
    overwrite: bool = False,
    space_token: str | None = None,
) -> list[Task]:
    """Tasks copying the local tree ``directory`` to the grid directory ``lfn`` (made if missing).

    The grid directories are made now; regular files are copied (links to
    files are followed), anything else is skipped.
    """
    root = Path(directory)
    if not root.is_dir():
        raise NotADirectory(f"not a directory: {root}", str(root))
    grid.storage.writable_se(se)
    grid.makedirs(lfn, exist_ok=True)
    tasks = []
    for current, dirnames, filenames in os.walk(root, onerror=_raise_walk_error):
        relative = Path(current).relative_to(root)
        base = posixpath.join(lfn, *relative.parts)
        for name in sorted(dirnames):
            grid.makedirs(posixpath.join(base, name), exist_ok=True)
        for name in sorted(filenames):
            local = Path(current) / name
            if not local.is_file():
                log.info("%s is not a regular file: skipped", local)
                continue
            target = posixpath.join(base, name)
            tasks.append(
                Task(
                    str(local),
                    target,
                    local.stat().st_size,
                    functools.partial(
                        copy_in,
                        grid,
                        local,
                        target,
                        se,
                        overwrite=overwrite,
                        space_token=space_token,
                    ),
                )
            )
    return tasks


def _raise_walk_error(error: OSError) -> None:
    raise from_os_error(error, str(error.filename)) from error


def plan_copy_out(
    grid: Grid, lfn: str, directory: str | os.PathLike[str], *, overwrite: bool = False
) -> list[Task]:
    """Tasks copying the grid directory ``lfn`` to the local ``directory`` (made if missing).

    The local directories are made now; without ``overwrite`` a file that
    exists locally fails the plan before anything is copied.
    """
    _require_grid_dir(grid, lfn)
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for sub in _grid_dirs(grid, lfn):
            (root / sub).mkdir(exist_ok=True)
    except OSError as exc:
        raise from_os_error(exc, str(root)) from exc
    tasks = []
    for path, stat in walk_files(grid, lfn):
        local = root / posixpath.relpath(path, lfn)
        if not overwrite and os.path.lexists(local):
            raise AlreadyExists(f"{local} exists (overwrite it with -f)", str(local))
        tasks.append(
            Task(
                path,
                str(local),
                stat.size,
                functools.partial(copy_out, grid, path, local, overwrite=overwrite),
            )
        )
    return tasks


def plan_copy_grid(
    grid: Grid,
    source: str,
    destination: str,
    se: str | None = None,
    *,
    overwrite: bool = False,
    space_token: str | None = None,
) -> list[Task]:
    """Tasks copying the grid directory ``source`` to a new tree ``destination`` (new GUIDs)."""
    _require_grid_dir(grid, source)
    grid.storage.writable_se(se)
    if posixpath.commonpath([source, destination]) == posixpath.normpath(source):
        raise InvalidArgument(f"cannot copy {source} into itself ({destination})", destination)
    subdirectories = list(_grid_dirs(grid, source))  # walked before anything is made
    grid.makedirs(destination, exist_ok=True)
    for sub in subdirectories:
        grid.makedirs(posixpath.join(destination, sub), exist_ok=True)
    return [
        Task(
            path,
            target,
            stat.size,
            functools.partial(
                copy_grid, grid, path, target, se, overwrite=overwrite, space_token=space_token
            ),
        )
        for path, stat in walk_files(grid, source)
        for target in [posixpath.join(destination, posixpath.relpath(path, source))]
    ]
