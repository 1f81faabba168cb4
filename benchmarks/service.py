"""The catalog service's rates: stat and a 1,000-entry listing page, 1 to 200 clients.

A SQLite catalog gets ``--dirs`` directories of 1,000 files (one replica each);
a ``gridfs serve`` (``--workers`` processes, ``--threads`` threads each for the
bulk calls) serves it over plain HTTP and over TLS, on 127.0.0.1, with a bearer
token. The clients are keep-alive connections on the asyncio loops of
``--processes`` processes, which speak HTTP themselves (the requests the gridfs
client sends, built once): the load generator must take little of the CPU it
shares with the server. For each load: calls per second, p50/p99 latency,
failures, and the CPU time per call of the server's processes and of the load
generator's (where the time goes, whatever else the machine runs). Then the
embedded catalog's stat rate in one thread, and replicas of 10,000 LFNs in one
call. Everything shares this machine's cores.

    .venv/bin/python benchmarks/service.py [--clients 1,10,50,200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import ssl
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from harness import use_this_tree

use_this_tree()  # this process and the servers it starts import gridfs from this tree

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


def _request(url: str, op: str, body: bytes, token: str) -> bytes:
    host = urllib.parse.urlsplit(url).netloc
    head = (
        f"POST /v1/catalog/{op} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    url: str, op: str, options: tuple[int, int, float], env: dict[str, str], out: list[Any]
) -> None:
    """One keep-alive client: one call at a time, as fast as the answers come."""
    dirs, directory, seconds = options
    parts = urllib.parse.urlsplit(url)
    context = None
    if parts.scheme == "https":
        context = ssl.create_default_context(capath=env["X509_CERT_DIR"])
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, ssl=context)
    rng = random.Random()
    token = env["BEARER_TOKEN"]
    listing = _request(
        url, "list_page", b'{"directory_id":%d,"after":0,"limit":%d}' % (directory, FILES), token
    )
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds  # each client's own window, from when it is connected
    while time.monotonic() < deadline:
        if op == "stat":
            lfn = f"/bench/d{rng.randrange(dirs)}/f{rng.randrange(FILES)}"
            request = _request(url, "stat", b'{"lfn":"%s"}' % lfn.encode(), token)
        else:
            request = listing
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            failures += 1
            continue
        latencies.append(time.perf_counter() - started)
    writer.close()
    out.append((latencies, failures))


def _process(args: tuple[str, str, int, tuple[int, int, float], dict[str, str]]) -> Any:
    """``connections`` clients on one asyncio loop: the load costs the machine little CPU."""
    url, op, connections, options, env = args
    out: list[Any] = []
    started = time.process_time()

    async def run() -> None:
        await asyncio.gather(
            *(_connection(url, op, options, env, out) for _ in range(connections)),
            return_exceptions=False,
        )

    asyncio.run(run())
    cpu = time.process_time() - started
    return [x for lat, _ in out for x in lat], sum(f for _, f in out), cpu


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) of process ``pid`` and of its children, recursively."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total  # it has ended
    return total + sum(cpu_seconds(int(child)) for child in children)


def load(url: str, op: str, clients: int, options: argparse.Namespace, env: dict[str, str]):
    processes = min(options.processes, clients)
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(
            _process,
            [
                (url, op, share, (options.dirs, options.directory, options.seconds), env)
                for share in shares
            ],
        )
    latencies = sorted(x for lat, _, _ in results for x in lat)
    failures = sum(f for _, f, _ in results)
    client_cpu = sum(cpu for _, _, cpu in results)
    return len(latencies) / options.seconds, latencies, failures, client_cpu


def loads(
    server: ServiceProcess,
    transport: str,
    op: str,
    *,
    clients: int,
    options: argparse.Namespace,
    env: dict[str, str],
) -> None:
    """One load's line: its rate and latencies, and the CPU per call of each side."""
    assert server.pid is not None
    before = cpu_seconds(server.pid)
    rate, latencies, failed, client_cpu = load(server.url, op, clients, options, env)
    server_cpu = cpu_seconds(server.pid) - before
    calls = max(1, len(latencies))
    print(
        f"{transport:9} {op:6} {clients:7} {rate:9.0f} {quantile(latencies, 0.5):8.2f} "
        f"{quantile(latencies, 0.99):8.2f} {failed:6} "
        f"{server_cpu / calls * 1e6:14.0f} {client_cpu / calls * 1e6:14.0f}"
    )


def replicas_of(catalog: Any, dirs: int) -> float:
    """The median of 3 calls of replicas of 10,000 LFNs in one call."""
    lfns = [f"/bench/d{d}/f{i}" for d in range(dirs) for i in range(FILES)][:10_000]
    times = []
    for _ in range(3):
        started = time.perf_counter()
        found = catalog.replicas_many(lfns)
        times.append(time.perf_counter() - started)
    assert len(found) == len(lfns), f"{len(found)} of {len(lfns)} LFNs found"
    return statistics.median(times)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,10,50,200")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--dirs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gridfs-bench-service-") as work:
        root = Path(work)
        pki = GridPKI(root / "pki")
        url = f"sqlite:///{root / 'catalog.db'}"
        populate(url, options.dirs)
        first = Catalog.from_url(url, ALICE)
        options.directory = first.stat("/bench/d0").id
        first.close()
        env = {"BEARER_TOKEN": pki.token("alice"), "X509_CERT_DIR": str(pki.ca_dir)}
        print(
            f"{os.cpu_count()} cores; {options.dirs * FILES} files; server: "
            f"{options.workers} workers x {options.threads} threads"
        )
        print(
            f"{'transport':9} {'call':6} {'clients':>7} {'calls/s':>9} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'failed':>6} {'server us/call':>14} {'client us/call':>14}"
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
                if tls:  # first, on a server that no earlier load keeps busy
                    os.environ.update(env)
                    catalog, _ = open_catalog(server.url, ALICE)
                    over_tls = replicas_of(catalog, options.dirs)
                    catalog.close()
                for op in ("stat", "list"):
                    for clients in (int(c) for c in options.clients.split(",")):
                        transport = "tls" if tls else "plain"
                        loads(server, transport, op, clients=clients, options=options, env=env)
            finally:
                server.stop()
        embedded = Catalog.from_url(url, ALICE)
        print(
            f"replicas of {min(options.dirs * FILES, 10_000)} LFNs in one call: "
            f"over TLS {over_tls:.3f} s, "
            f"embedded {replicas_of(embedded, options.dirs):.3f} s (medians of 3)"
        )
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
