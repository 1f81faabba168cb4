"""Remote reads: the mount reading root:// and WebDAV replicas cold, and vector reads.

    .venv/bin/python benchmarks/remote_reads.py [--size-mib 1024] [--runs 3] [--reads 10000]

Needs root (it mounts), fuse3, xrootd-server and xrootd-client (xrdcp); davix-get
(Debian's davix) for the WebDAV baseline, where installed. One real xrootd daemon
on 127.0.0.1 (``tests.storage_servers.XRootDServer``) serves one file of random
bytes over root:// and, through XrdHttp (XRootD's WebDAV door), over http://; the
grid's SE offers both protocols, and two configurations prefer one or the other.

1. Sequential read of the whole file, median MB/s over ``--runs`` runs, in
   alternating order, each row with its ratio to its protocol's baseline:
   - root://: XRootD's Python ``File.read`` (8 MiB at a time; the baseline),
     ``xrdcp`` to /dev/null with kXR_pgread (its default) and with plain reads
     (``XRD_CPUSEPGWRTRD=0``), and ``dd bs=1M`` through a fresh gridfs mount
     with an empty block cache (every byte from the server);
   - http://: ``davix-get`` (the baseline) and ``dd`` through a fresh mount.
   The server's file is in the page cache: the figures are the cost of the
   clients and the server, not of a disk. The mount rows also give the
   daemon's CPU time per GiB (user and system, all its threads).
2. Vector reads: ``--reads`` random reads of 4 to 64 KiB from the file, through
   ``Grid.open_reader``: one ``readv`` per 100 ranges against one ``pread``
   each, over root:// (XRootD vector reads) and http:// (multi-range GETs);
   seconds, and reads per second. The bytes of each readv are checked against
   the preads'.

The machine's load (``os.getloadavg``) is printed with the table: on a shared
machine the absolute figures move with it, the ratios much less.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from harness import use_this_tree
from mount_writes import cpu_seconds

MIB = 1 << 20
GRIDFS = str(Path(sys.executable).with_name("gridfs"))
LFN = "/grid/bench/big.dat"
BATCH = 100


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if process.poll() is not None:
            raise SystemExit(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not up after 30 s")
        time.sleep(0.02)


@contextlib.contextmanager
def gridfs_mount(config: Path, target: Path, cache: Path) -> Iterator[int]:
    """A foreground gridfs mount at ``target`` with a block cache of its own; the daemon's pid."""
    target.mkdir(exist_ok=True)
    command = [GRIDFS, "--config", str(config), "mount", "-f", "-o", f"cache_dir={cache}"]
    process = subprocess.Popen([*command, str(target)], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.ismount(target), "gridfs mount", process)
        yield process.pid
    finally:
        subprocess.run(["umount", str(target)], check=False)
        process.wait(timeout=60)


def timed(command: list[str], size: int, env: dict[str, str] | None = None) -> float:
    """MB/s of ``command``, which reads ``size`` bytes."""
    started = time.perf_counter()
    subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env
    )
    return size / (time.perf_counter() - started) / 1e6


def file_read_rate(url: str, size: int) -> float:
    """MB/s of XRootD's Python File.read, 8 MiB at a time, to the end."""
    from XRootD import client  # noqa: PLC0415 - only this benchmark needs the bindings here

    handle = client.File()
    status, _ = handle.open(url)
    if not status.ok:
        raise SystemExit(f"{url}: {status.message}")
    started = time.perf_counter()
    offset = 0
    while True:
        status, data = handle.read(offset, 8 * MIB)
        if not status.ok:
            raise SystemExit(f"{url}: {status.message}")
        if not data:
            break
        offset += len(data)
    elapsed = time.perf_counter() - started
    handle.close()
    if offset != size:
        raise SystemExit(f"File.read got {offset} bytes, not {size}")
    return size / elapsed / 1e6


def mount_rate(config: Path, work: Path, size: int, cpu: list[float]) -> float:
    """MB/s of dd bs=1M through a fresh mount whose block cache is empty.

    Appends to ``cpu`` the daemon's CPU time per GiB read (user and system, all
    its threads): steadier than the rate on a loaded machine.
    """
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    with gridfs_mount(config, work / "mnt", cache) as daemon:
        path = work / "mnt" / LFN.removeprefix("/grid/")
        before = cpu_seconds(daemon)
        rate = timed(["dd", f"if={path}", "of=/dev/null", "bs=1M"], size)
        cpu.append((cpu_seconds(daemon) - before) * (1 << 30) / size)
        return rate


def setup(work: Path, size_mib: int) -> tuple[object, dict[str, Path], str, str]:
    """The server, the two configurations, and the root:// and http:// URLs of the file."""
    from gridfs.config import load_config  # noqa: PLC0415
    from gridfs.gfal import Grid  # noqa: PLC0415
    from gridfs.storage import resolve_turl  # noqa: PLC0415
    from tests.storage_servers import XRootDServer  # noqa: PLC0415

    server = XRootDServer(http=True)
    server.start(work / "xrootd")
    configs = {}
    for first, second in (("root", "http"), ("http", "root")):
        configs[first] = work / f"{first}.toml"
        configs[first].write_text(
            '[catalog]\nurl = "sqlite:///catalog.db"\n[site]\nname = "here"\n'
            f'[storage]\ndefault_se = "xrd"\nprotocols = ["{first}", "{second}"]\n'
            f'[se.xrd]\nsite = "here"\n[se.xrd.protocols]\nroot = "{server.url}/se"\n'
            f'http = "{server.http_url}se"\n'
        )
    source = work / "source.dat"
    with source.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MIB))
    with Grid.from_config(load_config(configs["root"]), create=True) as grid:
        grid.makedirs("/grid/bench")
        grid.cr(source, LFN)
        (replica,) = grid.catalog.replicas(LFN)
        se = grid.ses.get("xrd")
        root_url = resolve_turl(replica.surl, se, ["root"])
        http_url = resolve_turl(replica.surl, se, ["http"])
    source.unlink()
    return server, configs, root_url, http_url


def vector_reads(config: Path, protocol: str, size: int, count: int) -> dict[str, float]:
    """Seconds for ``count`` random reads: one readv per BATCH, and one pread each."""
    from gridfs.config import load_config  # noqa: PLC0415
    from gridfs.gfal import Grid  # noqa: PLC0415

    rng = random.Random(42)
    ranges = [(rng.randrange(size - 65536), rng.randint(4096, 65536)) for _ in range(count)]
    with Grid.from_config(load_config(config)) as grid:
        reader = grid.open_reader(LFN, protocols=[protocol])
        try:
            started = time.perf_counter()
            vectored = []
            for start in range(0, count, BATCH):
                vectored += reader.readv(ranges[start : start + BATCH])
            readv_s = time.perf_counter() - started
            started = time.perf_counter()
            single = [reader.pread(offset, length) for offset, length in ranges]
            pread_s = time.perf_counter() - started
        finally:
            reader.close()
    if vectored != single:
        raise SystemExit(f"{protocol}: readv and pread disagree")
    return {"readv": readv_s, "pread": pread_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reads", type=int, default=10_000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run it as root: it mounts")
    if shutil.which("xrdcp") is None:
        parser.error("xrdcp is missing: apt install xrootd-client (make system-deps)")
    davix = shutil.which("davix-get")
    use_this_tree()  # the mounts too: the virtualenv's gridfs may be another worktree's
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="gridfs-remote-reads-"))
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {"root": [], "http": []}  # the mount daemon's, s/GiB
    vectors: dict[str, list[dict[str, float]]] = {"root": [], "http": []}
    loads = [os.getloadavg()[0]]
    server = None
    try:
        server, configs, root_url, http_url = setup(work, args.size_mib)
        plain = os.environ | {"XRD_CPUSEPGWRTRD": "0"}
        xrdcp = ["xrdcp", "-f", root_url, "/dev/null"]
        measures: list[tuple[str, Callable[[], float]]] = [
            ("root: XRootD File.read, 8 MiB", lambda: file_read_rate(root_url, size)),
            ("root: xrdcp (pgread)", lambda: timed(xrdcp, size)),
            ("root: xrdcp, plain reads", lambda: timed(xrdcp, size, plain)),
            (
                "root: mount, dd bs=1M, empty cache",
                lambda: mount_rate(configs["root"], work, size, cpu["root"]),
            ),
            (
                "http: mount, dd bs=1M, empty cache",
                lambda: mount_rate(configs["http"], work, size, cpu["http"]),
            ),
        ]
        if davix:
            davix_get = [davix, http_url, "/dev/null"]
            measures.insert(4, ("http: davix-get", lambda: timed(davix_get, size)))
        for run in range(args.runs):
            # Alternate the order: neither side always goes first.
            for name, measure in measures if run % 2 == 0 else measures[::-1]:
                rates.setdefault(name, []).append(measure())
            for protocol, results in vectors.items():
                results.append(vector_reads(configs[protocol], protocol, size, args.reads))
            loads.append(os.getloadavg()[0])
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)
    report(args, rates, cpu, vectors, loads)
    return 0


def report(
    args: argparse.Namespace,
    rates: dict[str, list[float]],
    cpu: dict[str, list[float]],
    vectors: dict[str, list[dict[str, float]]],
    loads: list[float],
) -> None:
    print(f"\n1. sequential read of a {args.size_mib} MiB file, median of {args.runs} runs")
    print(f"   load average (1 min) during the runs: {', '.join(f'{v:.1f}' for v in loads)}")
    print(f"{'reader':<40} {'MB/s':>7} {'ratio':>7}   runs")
    baselines = {
        "root": statistics.median(rates["root: XRootD File.read, 8 MiB"]),
        "http": statistics.median(rates.get("http: davix-get", [float("nan")])),
    }
    for name, values in rates.items():
        median = statistics.median(values)
        ratio = median / baselines[name.split(":")[0]]
        runs = " ".join(f"{v:.0f}" for v in values)
        print(f"{name:<40} {median:>7.0f} {ratio:>7.2f}   {runs}")
    print("   ratio: to File.read for root://, to davix-get for http://")
    for protocol, seconds in cpu.items():
        runs = " ".join(f"{v:.2f}" for v in seconds)
        print(f"   {protocol} mount daemon CPU: {statistics.median(seconds):.2f} s/GiB   {runs}")
    print(f"\n2. {args.reads} random reads of 4-64 KiB, readv of {BATCH} against one pread each")
    print(f"{'protocol':<10} {'readv s':>9} {'pread s':>9} {'speed-up':>9}   readv/s")
    for protocol, results in vectors.items():
        readv_s = statistics.median(r["readv"] for r in results)
        pread_s = statistics.median(r["pread"] for r in results)
        print(
            f"{protocol:<10} {readv_s:>9.2f} {pread_s:>9.2f} {pread_s / readv_s:>9.1f}"
            f"   {args.reads / readv_s:>8.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
