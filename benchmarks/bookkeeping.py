"""The Belle II bookkeeping load (seed 003) on gridfs metadata, and find over 1,000,000 entries.

Part 1 repeats the seed's AMGA stress test: entries with one int, one
varchar(32), two varchar(128) and two varchar(512) attributes (about 2.5 kB
of values); each client inserts a new entry (the file and its values in one
transaction, run again after a lock conflict as every gridfs write is),
modifies its values, deletes it, ``--rounds`` times. One client, then 25, 50,
100 and 200 parallel processes. The seed's AMGA took about 3 s
per operation and failed above 25 parallel processes; the table gives min,
median, mean and max latency per operation, operations per second, the
clients' CPU time per operation (what the machine's load changes least) and
the failures (any exception counts).

Part 2 fills a directory with ``--entries`` entries (bulk inserts; an int
``run`` = its number, a varchar(32) ``tag`` with 1000 distinct values) and
times finds with indexed conditions, each fetching all its matches, against
two baselines of the same run: one catalog ``stat`` (a single indexed
lookup) and a condition no index serves (a ``like`` with a leading ``%``).

    .venv/bin/python benchmarks/bookkeeping.py [--backend sqlite|postgresql|both]
        [--clients 1,25,50,100,200] [--rounds 10] [--entries 1000000] [--finds 50]

The gridfs measured is the one this process imports (``PYTHONPATH=TREE`` to
pick a tree, as for a baseline), the clients' too; the output names it.

SQLite is a file in a temp dir opened as gridfs opens it (WAL,
synchronous=NORMAL). PostgreSQL is a throwaway server as tests/pgserver.py
starts it (fsync off), with max_connections raised for the clients.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import sqlalchemy
from harness import available, catalog_database, collect
from sqlalchemy import insert, select, text

import gridfs
from gridfs.catalog import SUPERUSER, Catalog
from gridfs.catalog.models import EntryModel
from gridfs.metadata import Metadata
from gridfs.metadata.models import ValueModel

BOOKKEEPING = "/belle/bookkeeping"
BIG = "/belle/mc"
SCHEMA = (
    ("exp", "int"),
    ("stream", "varchar(32)"),
    ("site", "varchar(128)"),
    ("software", "varchar(128)"),
    ("description", "varchar(512)"),
    ("history", "varchar(512)"),
)
OPERATIONS = ("insert", "modify", "delete")
# Seed 003, AMGA stress test with the same entries: mean seconds per operation.
AMGA_MEAN_S = {"insert": 3.44, "modify": 0.93, "delete": 1.12}
SEED = 3
TAGS = 1000
BULK = 20_000  # rows per INSERT batch while populating
BARRIER_TIMEOUT = 600.0  # starting 200 processes on two cores takes a while
SHOWN_FAILURES = 5
VALUE_SETS = 100  # distinct sets of values per client, used in turn


def entry_values(rng: random.Random, number: int) -> dict[str, object]:
    """About 2.5 kB of values in the seed's six attributes."""

    def filler(length: int) -> str:
        return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789 ", k=length))

    return {
        "exp": number,
        "stream": filler(32),
        "site": filler(128),
        "software": filler(128),
        "description": filler(512),
        "history": filler(512),
    }


# -- part 1: the bookkeeping load ------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What one client process does."""

    index: int
    url: str
    rounds: int


def client(plan: Plan, barrier: Barrier, results: Any) -> None:
    """One client: insert, modify, delete an entry, ``rounds`` times, each step timed."""
    try:
        catalog = Catalog.from_url(plan.url, SUPERUSER)
        meta = Metadata(catalog)
        rng = random.Random(SEED * 1000 + plan.index)
        latencies: dict[str, list[float]] = {operation: [] for operation in OPERATIONS}
        failures: Counter[str] = Counter()
        shown: list[str] = []

        def timed(operation: str, call: Callable[[], object]) -> bool:
            started = time.perf_counter()
            try:
                call()
            except Exception as exc:
                failures[type(exc).__name__] += 1
                if len(shown) < SHOWN_FAILURES:
                    shown.append(f"client {plan.index}, {operation}: {type(exc).__name__}: {exc}")
                return False
            latencies[operation].append(time.perf_counter() - started)
            return True

        def insert_entry(lfn: str, values: dict[str, object]) -> None:
            meta.add_entry(lfn, values, size=len(str(values)))

        # Values made before the start: drawing 2.5 kB of random text costs about as
        # much as an operation, and is not one. A cycle of value sets bounds memory.
        drawn = [entry_values(rng, k) for k in range(min(plan.rounds + 1, VALUE_SETS))]

        def values_of(number: int) -> dict[str, object]:
            return {**drawn[number % len(drawn)], "exp": number}

        catalog.stat(BOOKKEEPING)  # connected before the start, as a running client is
        barrier.wait(timeout=BARRIER_TIMEOUT)
        start = time.monotonic()
        cpu = time.process_time()
        for number in range(plan.rounds):
            lfn = f"{BOOKKEEPING}/c{plan.index:03d}-{number:05d}"
            values = values_of(number)
            if not timed("insert", lambda lfn=lfn, values=values: insert_entry(lfn, values)):
                continue
            changed = values_of(number + 1)
            timed("modify", lambda lfn=lfn, changed=changed: meta.setattr(lfn, changed))
            timed("delete", lambda lfn=lfn: catalog.unlink(lfn))
        end = time.monotonic()
        cpu = time.process_time() - cpu
        catalog.close()
    except BaseException as exc:
        barrier.abort()
        results.put({"index": plan.index, "error": f"{type(exc).__name__}: {exc}"})
        raise
    results.put(
        {
            "index": plan.index,
            "start": start,
            "end": end,
            "cpu": cpu,
            "latencies": latencies,
            "failures": failures,
            "shown": shown,
        }
    )


def bookkeeping_load(url: str, clients: int, rounds: int, baseline: dict[str, float]) -> list[str]:
    """``clients`` processes at once; the table lines of the result.

    ``baseline`` holds the median latency of each operation in the first run
    (filled by it): later runs give theirs as a ratio to it.
    """
    # The forkserver runs "python -c", which puts the working directory first on
    # sys.path: started from a worktree, its clients would import that tree's gridfs.
    os.environ["PYTHONSAFEPATH"] = "1"
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["gridfs.metadata", "psycopg"])
    barrier = context.Barrier(clients)
    results = context.Queue()
    processes = [
        context.Process(target=client, args=(Plan(index, url, rounds), barrier, results))
        for index in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        collected = collect(processes, results)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()
    errors = [f"client {r['index']}: {r['error']}" for r in collected if "error" in r]
    failures: Counter[str] = sum((r.get("failures", Counter()) for r in collected), Counter())
    done = [r for r in collected if "error" not in r]
    window = max(r["end"] for r in done) - min(r["start"] for r in done) if done else 0.0
    lines = []
    total = 0
    for operation in OPERATIONS:
        values = sorted(itertools.chain.from_iterable(r["latencies"][operation] for r in done))
        total += len(values)
        if values:
            baseline.setdefault(operation, statistics.median(values))
        name = f"{clients:>3} clients  {operation}"
        lines.append(latency_line(name, values, window, baseline.get(operation), operation))
    failed = sum(failures.values()) + len(errors)
    # The clients' own CPU time: what the load of the machine changes least.
    cpu = sum(r["cpu"] for r in done) / total * 1e6 if total else 0.0
    lines.append(
        f"{clients:>3} clients  all: {total} ops in {window:.1f} s = {total / window:.0f} ops/s, "
        f"client CPU {cpu:.0f} us/op, failures: {failed}"
    )
    shown = [line for r in done for line in r["shown"]] + errors
    lines.extend(f"    {line}" for line in shown[:SHOWN_FAILURES])
    return lines


def latency_line(
    name: str, values: Sequence[float], window: float, baseline: float | None, operation: str
) -> str:
    """min, p50, mean, max (ms), rate, p50 / the first run's p50, AMGA's mean / ours."""
    if not values or baseline is None:
        return f"{name:<24} {0:>6}"
    ms = [value * 1000 for value in values]
    median = statistics.median(values)
    return (
        f"{name:<24} {len(ms):>6} {min(ms):>9.2f} {median * 1000:>9.2f} "
        f"{statistics.fmean(ms):>9.2f} {max(ms):>9.2f} {len(ms) / window:>7.0f} "
        f"{median / baseline:>7.1f}x {AMGA_MEAN_S[operation] / statistics.fmean(values):>8.0f}x"
    )


# -- part 2: find over a million entries -----------------------------------------


def populate(catalog: Catalog, meta: Metadata, entries: int) -> float:
    """``entries`` files with values in ``BIG``, by bulk inserts; the seconds it took."""
    started = time.perf_counter()
    catalog.mkdir(BIG, parents=True, exist_ok=True)
    meta.addattr(BIG, "run", "int")
    meta.addattr(BIG, "tag", "varchar(32)")
    directory = catalog.stat(BIG).id
    now = time.time_ns()
    engine = catalog.store.engine
    with engine.begin() as connection:
        first = connection.scalar(select(sqlalchemy.func.max(EntryModel.id))) + 1
        for start in range(0, entries, BULK):
            numbers = range(start, min(entries, start + BULK))
            connection.execute(
                insert(EntryModel),
                [
                    {
                        "id": first + n,
                        "parent_id": directory,
                        "name": f"f{n:07d}.root",
                        "kind": "f",
                        "mode": 0o664,
                        "owner": "root",
                        "group_name": "root",
                        "size": 1,
                        "atime_ns": now,
                        "mtime_ns": now,
                        "ctime_ns": now,
                        "guid": str(uuid.UUID(int=n + 1)),
                        "status": "ready",
                        "has_acl": False,
                    }
                    for n in numbers
                ],
            )
            connection.execute(
                insert(ValueModel),
                [{"entry_id": first + n, "name": "run", "int_value": n} for n in numbers],
            )
            connection.execute(
                insert(ValueModel),
                [
                    {"entry_id": first + n, "name": "tag", "str_value": f"tag-{n % TAGS:04d}"}
                    for n in numbers
                ],
            )
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            # The ids were given explicitly: move the sequence past them.
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('entries', 'id'), max(id)) FROM entries")
            )
            # PostgreSQL plans by statistics; autovacuum would gather them soon after a load.
            connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def timed(call: Callable[[], object], count: int) -> tuple[list[float], object]:
    latencies = []
    result: object = None
    for _ in range(count):
        started = time.perf_counter()
        result = call()
        latencies.append(time.perf_counter() - started)
    return latencies, result


def find_latency(catalog: Catalog, meta: Metadata, entries: int, finds: int) -> list[str]:
    """Indexed finds against a stat and an unindexed scan; the table lines."""
    rng = random.Random(SEED)
    seconds = populate(catalog, meta, entries)
    lines = [f"populated {entries} entries (2 values each) in {seconds:.1f} s"]

    def find(condition: Callable[[], str]) -> Callable[[], int]:
        return lambda: sum(1 for _ in meta.find(BIG, condition()))

    cases: list[tuple[str, Callable[[], object], int]] = [
        (
            "stat of one LFN (baseline)",
            lambda: catalog.stat(f"{BIG}/f{rng.randrange(entries):07d}.root"),
            finds,
        ),
        ("find run = N", find(lambda: f"run = {rng.randrange(entries)}"), finds),
        (
            "find run between N and N+99",
            find(lambda: f"run between {(n := rng.randrange(entries - 100))} and {n + 99}"),
            finds,
        ),
        ("find tag = 'tag-NNNN'", find(lambda: f"tag = 'tag-{rng.randrange(TAGS):04d}'"), finds),
        (
            "find run < N+10000 and tag = ...",
            find(
                lambda: (
                    f"run >= {(n := rng.randrange(entries - 10000))} and run < {n + 10000} "
                    f"and tag = 'tag-{rng.randrange(TAGS):04d}'"
                )
            ),
            finds,
        ),
        (
            "find like(tag, '%N') (no index)",
            find(lambda: f"like(tag, '%{rng.randrange(TAGS):04d}')"),
            max(3, finds // 10),
        ),
    ]
    baseline = None
    lines.append(
        f"{'query':<34} {'calls':>5} {'matches':>8} {'p50 ms':>9} {'max ms':>9} {'ratio':>8}"
    )
    for name, call, count in cases:
        call()  # warm: the first call pays for the pages it brings into the cache
        latencies, result = timed(call, count)
        median = statistics.median(latencies)
        baseline = baseline or median
        matches = result if isinstance(result, int) else 1
        lines.append(
            f"{name:<34} {count:>5} {matches:>8} {median * 1000:>9.2f} "
            f"{max(latencies) * 1000:>9.2f} {median / baseline:>7.1f}x"
        )
    return lines


# -- backends and output ---------------------------------------------------------


def run_backend(url: str, args: argparse.Namespace) -> list[str]:
    catalog = Catalog.from_url(url, SUPERUSER, create=True)
    meta = Metadata(catalog)
    try:
        catalog.mkdir(BOOKKEEPING, parents=True)
        for name, kind in SCHEMA:
            meta.addattr(BOOKKEEPING, name, kind)
        lines = [
            f"bookkeeping load: {args.rounds} rounds of insert/modify/delete per client",
            "(p50 ratio: to the first run's; AMGA: seed 003's mean (insert 3.44 s, modify 0.93 s,"
            " delete 1.12 s) over ours)",
            f"{'operation':<24} {'count':>6} {'min ms':>9} {'p50 ms':>9} {'mean ms':>9} "
            f"{'max ms':>9} {'ops/s':>7} {'p50 x':>8} {'AMGA/us':>9}",
        ]
        baseline: dict[str, float] = {}
        catalog.store.engine.dispose()  # no connection of ours crosses into the clients
        for clients in args.clients:
            print(f"  {clients} clients", file=sys.stderr, flush=True)
            lines.extend(bookkeeping_load(url, clients, args.rounds, baseline))
        if args.entries:
            print(f"  find over {args.entries} entries", file=sys.stderr, flush=True)
            lines.extend(find_latency(catalog, meta, args.entries, args.finds))
    finally:
        catalog.close()
    return lines


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({model}), Python {platform.python_version()}, "
        f"SQLAlchemy {sqlalchemy.__version__}, gridfs from {Path(gridfs.__file__).parent.parent}, "
        f"load {os.getloadavg()[0]:.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--clients",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 25, 50, 100, 200],
        help="comma-separated numbers of parallel client processes",
    )
    parser.add_argument("--rounds", type=int, default=10, help="insert/modify/delete per client")
    parser.add_argument("--entries", type=int, default=1_000_000, help="0: no part 2")
    parser.add_argument("--finds", type=int, default=50, help="calls per find query")
    args = parser.parse_args()
    if args.rounds < 1 or 0 < args.entries < 10_001 or args.finds < 1 or min(args.clients) < 1:
        parser.error("--rounds, --finds and --clients must be positive, --entries 0 or over 10000")
    backends = available(["sqlite", "postgresql"] if args.backend == "both" else [args.backend])
    for backend in backends:
        work = Path(tempfile.mkdtemp(prefix=f"gridfs-bookkeeping-{backend}-"))
        started = time.perf_counter()
        try:
            with catalog_database(backend, work, clients=max(args.clients)) as (url, description):
                print(f"\n{description}", file=sys.stderr, flush=True)
                lines = run_backend(url, args)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"\n=== {description}\nmachine: {machine()}")
        print("\n".join(lines))
        print(f"backend total: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
