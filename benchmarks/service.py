"""The catalog service's rates: stat and a 1,000-entry listing page, 1 to 200 clients.

A SQLite catalog gets ``--dirs`` directories of 1,000 files (one replica each);
a ``gridfs serve`` (``--workers`` processes of ``--threads`` threads) serves it
over plain HTTP and over TLS, on 127.0.0.1, with a bearer token; clients are
``--processes`` processes, each running its share of the clients as threads with
keep-alive connections. For each load: calls per second, p50/p99 latency and
failures. Then the embedded catalog's stat rate in one thread, and replicas of
10,000 LFNs in one call. Everything shares this machine's cores.

    .venv/bin/python benchmarks/service.py [--clients 1,10,50,200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gridfs.catalog import SUPERUSER, Catalog, Identity, NewFile  # noqa: E402
from gridfs.gfal.services import open_catalog  # noqa: E402
from tests.service_pki import GridPKI  # noqa: E402
from tests.service_server import ServiceProcess, write_service_config  # noqa: E402

FILES = 1000
ALICE = Identity("alice", ("gilda",))


def populate(url: str, dirs: int) -> None:
    admin = Catalog.from_url(url, SUPERUSER, create=True)
    for d in range(dirs):
        top = f"/bench/d{d}"
        admin.mkdir(top, parents=True)
        admin.add_files(
            [
                NewFile(f"{top}/f{i}", size=1, replicas=(("se1", f"srm://se1/{d}/{i}"),))
                for i in range(FILES)
            ]
        )
    admin.close()


def _client(url: str, op: str, dirs: int, seconds: float, out: list[Any]) -> None:
    catalog, _ = open_catalog(url, ALICE)
    rng = random.Random()
    directory = catalog.stat("/bench/d0").id
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds  # each client's own window, from when it is connected
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            if op == "stat":
                catalog.stat(f"/bench/d{rng.randrange(dirs)}/f{rng.randrange(FILES)}")
            else:
                assert len(catalog.list_page(directory, after=0, limit=FILES)) == FILES
        except OSError:
            failures += 1
            continue
        latencies.append(time.perf_counter() - started)
    catalog.close()
    out.append((latencies, failures))


def _process(args: tuple[str, str, int, int, float, dict[str, str]]) -> tuple[list[float], int]:
    url, op, threads, dirs, seconds, env = args
    os.environ.update(env)
    out: list[Any] = []
    workers = [
        threading.Thread(target=_client, args=(url, op, dirs, seconds, out)) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [x for lat, _ in out for x in lat], sum(f for _, f in out)


def load(url: str, op: str, clients: int, options: argparse.Namespace, env: dict[str, str]):
    processes = min(options.processes, clients)
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(
            _process, [(url, op, share, options.dirs, options.seconds, env) for share in shares]
        )
    latencies = sorted(x for lat, _ in results for x in lat)
    failures = sum(f for _, f in results)
    return len(latencies) / options.seconds, latencies, failures


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,10,50,200")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--dirs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--processes", type=int, default=4)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gridfs-bench-service-") as work:
        root = Path(work)
        pki = GridPKI(root / "pki")
        url = f"sqlite:///{root / 'catalog.db'}"
        populate(url, options.dirs)
        env = {"BEARER_TOKEN": pki.token("alice"), "X509_CERT_DIR": str(pki.ca_dir)}
        print(
            f"{os.cpu_count()} cores; {options.dirs * FILES} files; server: "
            f"{options.workers} workers x {options.threads} threads"
        )
        print(
            f"{'transport':9} {'call':6} {'clients':>7} {'calls/s':>9} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'failed':>6}"
        )
        for tls in (False, True):
            config = write_service_config(
                root / ("tls" if tls else "plain"),
                pki,
                url,
                {},
                tls=tls,
                workers=options.workers,
                threads=options.threads,
            )
            server = ServiceProcess(config, pki)
            server.start()
            try:
                for op in ("stat", "list"):
                    for clients in (int(c) for c in options.clients.split(",")):
                        rate, lat, failed = load(server.url, op, clients, options, env)
                        print(
                            f"{'tls' if tls else 'plain':9} {op:6} {clients:7} {rate:9.0f} "
                            f"{quantile(lat, 0.5):8.2f} {quantile(lat, 0.99):8.2f} {failed:6}"
                        )
                if tls:
                    os.environ.update(env)
                    catalog, _ = open_catalog(server.url, ALICE)
                    lfns = [f"/bench/d{d}/f{i}" for d in range(options.dirs) for i in range(FILES)]
                    started = time.perf_counter()
                    found = catalog.replicas_many(lfns[:10_000])
                    took = time.perf_counter() - started
                    print(f"replicas of {len(found)} LFNs in one call over TLS: {took:.3f} s")
                    catalog.close()
            finally:
                server.stop()
        embedded = Catalog.from_url(url, ALICE)
        rng, stats, deadline = random.Random(1), [], time.monotonic() + options.seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            embedded.stat(f"/bench/d{rng.randrange(options.dirs)}/f{rng.randrange(FILES)}")
            stats.append(time.perf_counter() - started)
        stats.sort()
        print(
            f"embedded  stat         1 {len(stats) / options.seconds:9.0f} "
            f"{quantile(stats, 0.5):8.2f} {quantile(stats, 0.99):8.2f}      0"
        )
        print(f"(median of embedded: {statistics.median(stats) * 1e6:.0f} us)")
        embedded.close()


if __name__ == "__main__":
    main()
