"""Catalog rates and latencies on SQLite and PostgreSQL.

A fresh catalog is filled with ``--entries`` files (1000 per directory under
/bench, one replica each, committed 1000 to a transaction); then single calls
are timed one at a time, each in its own transaction as a user's command runs
them (stat, create, list, a full walk, rename, delete), then a bulk replica
lookup and bulk registration (``add_files`` of ``--bulk`` new files with a
replica each, against ``add_file`` one at a time), then a mixed load from
``--processes`` processes at once. One table
per backend: rates, and median (p50), p99 and max latencies.

    .venv/bin/python benchmarks/catalog.py [--backend sqlite|postgresql|both]
        [--entries 100000] [--sample 2000] [--bulk 10000] [--processes 50] [--seconds 15]
        [--only add_files]

``--only add_files`` populates, then times bulk registration alone (no
comparison with add_file then); ``--only stat`` the stats alone.

SQLite is a file in a temp dir, opened as gridfs opens it (WAL,
synchronous=NORMAL). PostgreSQL is a throwaway server from tests/pgserver.py,
which runs with fsync and synchronous_commit off: its write rates are higher
than a durable server's would be. Every call runs as the superuser identity,
which passes the permission checks but still makes them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import math
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import sqlalchemy
from harness import available, catalog_database, collect

from gridfs.catalog import SUPERUSER, Catalog, EntryId, NewFile

ROOT = "/bench"
FILES_PER_DIR = 1000
BATCH = 1000  # files per transaction while populating
SE = "se1"
CHECKSUM = "00000001"
FILE_SIZE = 1 << 20
SEED = 1
BULK_CALLS = 5
LIST_PAGE = 100  # entries per listing in the mixed load
PREFILL = 20  # files of its own each worker makes before the mixed load starts
MIX = (("stat", 60), ("list", 20), ("create", 10), ("rename", 5), ("unlink", 5))
SHOWN_FAILURES = 5
BARRIER_TIMEOUT = 600.0  # generous: starting many interpreters on few cores is slow


@dataclass
class Row:
    """One line of a result table; latencies in seconds."""

    name: str
    count: int
    rate: float
    unit: str
    latencies: Sequence[float] = ()
    note: str = ""


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def populated_lfn(index: int) -> str:
    return f"{ROOT}/d{index // FILES_PER_DIR:03d}/f{index:06d}"


def directory_lfns(entries: int) -> list[str]:
    return [f"{ROOT}/d{d:03d}" for d in range(math.ceil(entries / FILES_PER_DIR))]


def add_file(catalog: Catalog, lfn: str) -> None:
    """Register a file with one replica, its SURL named after the LFN (so unique)."""
    surl = f"srm://{SE}{lfn}"
    catalog.add_file(lfn, size=FILE_SIZE, checksum=CHECKSUM, replicas=[(SE, surl)])


def timed_calls(calls: Sequence[Callable[[], object]]) -> list[float]:
    """Run each call in turn; the duration of each, in seconds."""
    latencies = []
    for call in calls:
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return latencies


def per_second(count: int, latencies: Sequence[float]) -> float:
    return count / sum(latencies) if latencies else 0.0


def progress(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# -- the phases ------------------------------------------------------------------


def populate(catalog: Catalog, entries: int) -> Row:
    """--entries files, 1000 per directory, committed ``BATCH`` files at a time."""
    catalog.mkdir(ROOT, exist_ok=True)
    latencies = []
    for start in range(0, entries, BATCH):
        started = time.perf_counter()
        with catalog.transaction():
            for index in range(start, min(start + BATCH, entries)):
                if index % FILES_PER_DIR == 0:
                    catalog.mkdir(populated_lfn(index).rsplit("/", 1)[0])
                add_file(catalog, populated_lfn(index))
        latencies.append(time.perf_counter() - started)
        if len(latencies) % 20 == 0:
            progress(f"populated {min(start + BATCH, entries)} of {entries}")
    note = f"latency per transaction of {BATCH}"
    return Row("populate", entries, per_second(entries, latencies), "entries/s", latencies, note)


def bench_stat(catalog: Catalog, entries: int, sample: int, rng: random.Random) -> list[Row]:
    """Stats of random LFNs: without the read cache (the baseline), then with it, cold."""
    lfns = [populated_lfn(rng.randrange(entries)) for _ in range(sample)]
    uncached = Catalog(catalog.store.engine, catalog.identity, read_cache=False)
    rows = []
    for name, stats in (("stat (random LFN), no cache", uncached), ("stat (random LFN)", catalog)):
        latencies = timed_calls([lambda lfn=lfn, stats=stats: stats.stat(lfn) for lfn in lfns])
        rows.append(Row(name, sample, per_second(sample, latencies), "ops/s", latencies))
    rows[1].note = f"{rows[1].rate / rows[0].rate:.1f}x the uncached rate"
    return rows


def bench_list(catalog: Catalog, entries: int, count: int, rng: random.Random) -> Row:
    """Whole listings (iterdir) of random populated directories."""
    directories = directory_lfns(entries)
    listed = 0
    latencies = []
    for _ in range(count):
        directory = rng.choice(directories)
        started = time.perf_counter()
        found = sum(1 for _ in catalog.iterdir(directory))
        latencies.append(time.perf_counter() - started)
        listed += found
    expected = sum(min(FILES_PER_DIR, entries - d * FILES_PER_DIR) for d in range(len(directories)))
    average = expected / len(directories)
    note = f"{listed / count:.0f} entries per listing (directories hold {average:.0f})"
    return Row(
        "list one directory (iterdir)",
        count,
        per_second(listed, latencies),
        "entries/s",
        latencies,
        note,
    )


def bench_walk(catalog: Catalog, entries: int) -> Row:
    """iterdir of every directory under /bench, depth first."""
    started = time.perf_counter()
    count = 0
    pending: list[str | EntryId] = [ROOT]
    while pending:
        for entry in catalog.iterdir(pending.pop()):
            count += 1
            if entry.is_dir():
                pending.append(entry.id)
    elapsed = time.perf_counter() - started
    directories = len(directory_lfns(entries))
    if count != entries + directories:
        raise SystemExit(f"walk found {count} entries, expected {entries + directories}")
    note = f"{directories} directories + {entries} files, {elapsed:.1f} s"
    return Row("walk all of /bench (iterdir)", count, count / elapsed, "entries/s", (), note)


def bench_create(catalog: Catalog, sample: int) -> tuple[Row, list[str]]:
    catalog.mkdir(f"{ROOT}/create")
    lfns = [f"{ROOT}/create/c{n:06d}" for n in range(sample)]
    latencies = timed_calls([lambda lfn=lfn: add_file(catalog, lfn) for lfn in lfns])
    rate = per_second(sample, latencies)
    return Row("create (add_file + replica)", sample, rate, "ops/s", latencies), lfns


def bench_rename(
    catalog: Catalog, lfns: list[str], rng: random.Random
) -> tuple[list[Row], list[str]]:
    """Half the files renamed within their directory, half moved to another one."""
    catalog.mkdir(f"{ROOT}/moved")
    shuffled = rng.sample(lfns, len(lfns))
    half = len(shuffled) // 2
    within = [(lfn, f"{lfn}.renamed") for lfn in shuffled[:half]]
    across = [(lfn, f"{ROOT}/moved/{lfn.rsplit('/', 1)[1]}") for lfn in shuffled[half:]]
    rows = []
    for name, pairs in (("rename (same directory)", within), ("rename (across dirs)", across)):
        latencies = timed_calls([lambda s=s, d=d: catalog.rename(s, d) for s, d in pairs])
        rows.append(Row(name, len(pairs), per_second(len(pairs), latencies), "ops/s", latencies))
    return rows, [destination for _, destination in within + across]


def bench_delete(catalog: Catalog, lfns: list[str], rng: random.Random) -> Row:
    shuffled = rng.sample(lfns, len(lfns))
    latencies = timed_calls([lambda lfn=lfn: catalog.unlink(lfn) for lfn in shuffled])
    count = len(shuffled)
    return Row("delete (unlink)", count, per_second(count, latencies), "ops/s", latencies)


def bench_bulk(catalog: Catalog, entries: int, bulk: int, rng: random.Random) -> Row:
    """replicas_many() of ``bulk`` random LFNs, a fresh draw for each call."""
    latencies = []
    for _ in range(BULK_CALLS):
        lfns = [populated_lfn(index) for index in rng.sample(range(entries), bulk)]
        started = time.perf_counter()
        result = catalog.replicas_many(lfns)
        latencies.append(time.perf_counter() - started)
        if len(result) != bulk or any(len(replicas) != 1 for replicas in result.values()):
            raise SystemExit(f"replicas_many returned {len(result)} LFNs, expected {bulk}")
    median = statistics.median(latencies)
    note = f"median {median:.3f} s per call, {median / bulk * 1e6:.1f} us per LFN"
    return Row(f"replicas_many ({bulk} LFNs)", BULK_CALLS, bulk / median, "LFNs/s", latencies, note)


def bench_register(catalog: Catalog, bulk: int, create_rate: float | None) -> Row:
    """add_files() of ``bulk`` new files with a replica each, into a fresh directory per call."""
    latencies = []
    for call in range(BULK_CALLS):
        directory = f"{ROOT}/registered-{call}"
        catalog.mkdir(directory)
        files = [
            NewFile(
                f"{directory}/f{index}",
                size=FILE_SIZE,
                checksum=CHECKSUM,
                replicas=((SE, f"srm://{SE}.example{directory}/f{index}"),),
            )
            for index in range(bulk)
        ]
        started = time.perf_counter()
        done = catalog.add_files(files)
        latencies.append(time.perf_counter() - started)
        if done.added != bulk:
            raise SystemExit(f"add_files registered {done.added} of {bulk}: {done.refused[:3]}")
    median = statistics.median(latencies)
    rate = bulk / median
    note = f"median {median:.3f} s per call"
    if create_rate is not None:
        note += f"; {rate / create_rate:.0f}x add_file one by one"
    return Row(f"add_files ({bulk} files + replicas)", BULK_CALLS, rate, "files/s", latencies, note)


# -- the mixed load --------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What one mixed-load process is to do (pickled, for the forked process)."""

    index: int
    url: str
    entries: int
    directories: list[tuple[int, int]]  # (id, number of files) of each populated directory
    seconds: float


class MixedWorker:
    """One process of the mixed load: its catalog, its own files and its tallies."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.catalog = Catalog.from_url(plan.url, SUPERUSER)
        self.rng = random.Random(SEED * 1000 + plan.index)
        self.home = f"{ROOT}/mixed/w{plan.index:02d}"
        self.numbers = itertools.count()
        self.own: list[str] = []
        self.latencies = {kind: array("d") for kind, _ in MIX}
        self.failures: Counter[str] = Counter()
        self.shown: list[str] = []

    def new_lfn(self) -> str:
        return f"{self.home}/w{self.plan.index:02d}-{next(self.numbers):07d}"

    def prepare(self) -> None:
        """Its directory and a few files to rename and delete; the connection left open."""
        self.catalog.mkdir(self.home)
        self.own = [self.new_lfn() for _ in range(PREFILL)]
        with self.catalog.transaction():
            for lfn in self.own:
                add_file(self.catalog, lfn)
        self.catalog.stat(populated_lfn(0))

    def listing(self, directory_id: int, size: int) -> None:
        page = self.catalog.list_page(EntryId(directory_id), after=0, limit=LIST_PAGE)
        if len(page) != min(size, LIST_PAGE):
            raise RuntimeError(f"directory {directory_id}: listed {len(page)} entries")

    def step(self, kind: str) -> None:
        """One operation of ``kind``, timed; a failure is counted, not raised."""
        own = self.own
        if kind in ("rename", "unlink") and not own:
            kind = "create"
        position = self.rng.randrange(len(own)) if own else 0
        fresh = self.new_lfn() if kind in ("create", "rename") else ""
        operations: dict[str, Callable[[], object]] = {
            "stat": functools.partial(
                self.catalog.stat, populated_lfn(self.rng.randrange(self.plan.entries))
            ),
            "list": functools.partial(self.listing, *self.rng.choice(self.plan.directories)),
            "create": functools.partial(add_file, self.catalog, fresh),
            "rename": lambda: self.catalog.rename(own[position], fresh),
            "unlink": lambda: self.catalog.unlink(own[position]),
        }
        operation = operations[kind]
        started = time.perf_counter()
        try:
            operation()
        except Exception as exc:
            self.failures[type(exc).__name__] += 1
            if len(self.shown) < SHOWN_FAILURES:
                self.shown.append(f"worker {self.plan.index}, {kind}: {type(exc).__name__}: {exc}")
            return
        self.latencies[kind].append(time.perf_counter() - started)
        if kind == "create":
            own.append(fresh)
        elif kind == "rename":
            own[position] = fresh
        elif kind == "unlink":
            own[position] = own[-1]
            own.pop()

    def run(self, barrier: Barrier) -> dict[str, Any]:
        kinds = [kind for kind, _ in MIX]
        weights = [weight for _, weight in MIX]
        barrier.wait(timeout=BARRIER_TIMEOUT)
        start = time.monotonic()
        deadline = start + self.plan.seconds
        while time.monotonic() < deadline:
            self.step(self.rng.choices(kinds, weights)[0])
        return {
            "index": self.plan.index,
            "start": start,
            "end": time.monotonic(),
            "latencies": self.latencies,
            "failures": self.failures,
            "shown": self.shown,
            "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }


def mixed_worker(plan: Plan, barrier: Barrier, results: Any) -> None:
    """The worker process: puts its result dict (or an error) on ``results``."""
    try:
        worker = MixedWorker(plan)
        try:
            worker.prepare()
            result = worker.run(barrier)
        finally:
            worker.catalog.close()
    except BaseException as exc:
        barrier.abort()  # the others must not wait for us
        results.put({"index": plan.index, "error": f"{type(exc).__name__}: {exc}"})
        raise
    results.put(result)


def mixed_load(
    catalog: Catalog, url: str, entries: int, processes: int, seconds: float
) -> list[Row]:
    """--processes processes (forkserver), each with its own Catalog, for --seconds."""
    directories = [
        (catalog.stat(lfn).id, min(FILES_PER_DIR, entries - d * FILES_PER_DIR))
        for d, lfn in enumerate(directory_lfns(entries))
    ]
    catalog.mkdir(f"{ROOT}/mixed")
    # The forkserver runs "python -c", which puts the working directory first on
    # sys.path: started from a worktree, its workers would import that tree's gridfs.
    os.environ["PYTHONSAFEPATH"] = "1"
    context = multiprocessing.get_context("forkserver")
    # Imported once in the fork server, shared by every worker: quicker to start, less memory.
    context.set_forkserver_preload(["gridfs.catalog", "psycopg"])
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=mixed_worker,
            args=(Plan(index, url, entries, directories, seconds), barrier, results),
            name=f"catalog-bench-{index}",
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        collected = collect(workers, results)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
                worker.join()
    errors = [f"worker {r['index']}: {r['error']}" for r in collected if "error" in r]
    if errors:
        raise SystemExit("mixed load failed:\n  " + "\n  ".join(errors[:SHOWN_FAILURES]))
    return mixed_rows(collected, processes)


def mixed_rows(collected: list[dict[str, Any]], processes: int) -> list[Row]:
    window = max(r["end"] for r in collected) - min(r["start"] for r in collected)
    failures: Counter[str] = sum((r["failures"] for r in collected), Counter())
    shown = [line for r in collected for line in r["shown"]][:SHOWN_FAILURES]
    rss = max(r["max_rss_kib"] for r in collected) / 1024
    by_kind = {
        kind: sorted(itertools.chain.from_iterable(r["latencies"][kind] for r in collected))
        for kind, _ in MIX
    }
    everything = sorted(itertools.chain.from_iterable(by_kind.values()))
    failed = sum(failures.values())
    note = (
        f"{processes} processes, {window:.1f} s; failures: {failed}; worker peak RSS {rss:.0f} MB"
    )
    rows = [
        Row(
            "mixed load, all ops",
            len(everything),
            len(everything) / window,
            "ops/s",
            everything,
            note,
        )
    ]
    for kind, weight in MIX:
        values = by_kind[kind]
        rows.append(
            Row(f"  {kind} ({weight}%)", len(values), len(values) / window, "ops/s", values)
        )
    if failed:
        kinds = ", ".join(f"{name} x{count}" for name, count in failures.most_common())
        rows.append(Row(f"  FAILURES: {kinds}", failed, 0.0, "", (), ""))
        rows.extend(Row(f"    {line}", 0, 0.0, "") for line in shown)
    return rows


# -- backends and output ---------------------------------------------------------


def run_backend(url: str, args: argparse.Namespace) -> list[Row]:
    rng = random.Random(SEED)
    catalog = Catalog.from_url(url, SUPERUSER, create=True)
    try:
        progress(f"populating {args.entries} entries")
        rows = [populate(catalog, args.entries)]
        if args.only == "add_files":
            progress(f"{BULK_CALLS} x add_files of {args.bulk} files")
            rows.append(bench_register(catalog, args.bulk, None))
            return rows
        if args.only == "stat":
            progress(f"{args.sample} stats")
            rows.extend(bench_stat(catalog, args.entries, args.sample, rng))
            return rows
        progress(f"{args.sample} stats, {args.list} listings, a walk")
        rows.extend(bench_stat(catalog, args.entries, args.sample, rng))
        rows.append(bench_list(catalog, args.entries, args.list, rng))
        rows.append(bench_walk(catalog, args.entries))
        progress(f"{args.sample} creates, renames and deletes")
        row, created = bench_create(catalog, args.sample)
        rows.append(row)
        renamed_rows, renamed = bench_rename(catalog, created, rng)
        rows.extend(renamed_rows)
        rows.append(bench_delete(catalog, renamed, rng))
        progress(f"{BULK_CALLS} x replicas_many of {args.bulk} LFNs")
        rows.append(bench_bulk(catalog, args.entries, args.bulk, rng))
        progress(f"{BULK_CALLS} x add_files of {args.bulk} files")
        rows.append(bench_register(catalog, args.bulk, row.rate))
        progress(f"mixed load: {args.processes} processes for {args.seconds:g} s")
        rows.extend(mixed_load(catalog, url, args.entries, args.processes, args.seconds))
    finally:
        catalog.close()
    return rows


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({model}), {memory:.0f} GiB RAM, "
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}"
    )


def print_table(title: str, rows: list[Row], args: argparse.Namespace, elapsed: float) -> None:
    print(f"\n=== {title}")
    print(f"machine: {machine()}")
    print(
        f"parameters: --entries {args.entries} --sample {args.sample} --bulk {args.bulk} "
        f"--processes {args.processes} --seconds {args.seconds:g} (listings: {args.list})"
    )
    print(
        f"{'operation':<32} {'count':>7} {'rate':>10} {'unit':<10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  note"
    )
    for row in rows:
        if not row.unit:
            print(row.name)
            continue
        ordered = sorted(row.latencies)
        figures = (
            [statistics.median(ordered), percentile(ordered, 0.99), ordered[-1]] if ordered else []
        )
        shown = " ".join(f"{value * 1000:>8.2f}" for value in figures) or f"{'-':>8} " * 3
        print(
            f"{row.name:<32} {row.count:>7} {row.rate:>10.0f} {row.unit:<10} "
            f"{shown:<26}  {row.note}".rstrip()
        )
    print(f"backend total: {elapsed:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2000, help="calls per single-call test")
    parser.add_argument("--bulk", type=int, default=10_000, help="LFNs per replicas_many()")
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--only", choices=["add_files", "stat"], help="populate, then time this alone"
    )
    args = parser.parse_args()
    if args.entries < 1 or args.sample < 2 or args.processes < 1 or args.seconds <= 0:
        parser.error("--entries, --processes and --seconds must be positive, --sample >= 2")
    if not 1 <= args.bulk <= args.entries:
        parser.error("--bulk must be between 1 and --entries")
    # A whole listing costs about as much as 1000 stats: fewer of them keep the run short.
    args.list = max(1, args.sample // 10)

    backends = available(["sqlite", "postgresql"] if args.backend == "both" else [args.backend])
    for backend in backends:
        work = Path(tempfile.mkdtemp(prefix=f"gridfs-catalog-bench-{backend}-"))
        started = time.perf_counter()
        try:
            with catalog_database(backend, work) as (url, description):
                print(f"\n{description}", file=sys.stderr, flush=True)
                rows = run_backend(url, args)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print_table(description, rows, args, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
