"""uproot reading three branches of a ROOT file: grid://, fsspec-xrootd, the mount, local disk.

    .venv/bin/python benchmarks/analysis.py [--size-mb 200] [--runs 3] [--uncompressed]

Needs root (it mounts the grid), fuse3 and xrootd-server (``make system-deps``),
and fsspec-xrootd (the ``test`` extra).

uproot writes a ROOT file of ``--size-mb`` MB (a TTree of eight float64
branches, zlib-compressed as uproot writes by default; ``--uncompressed``: not,
so that reading is less of the time and the paths differ more), registered in a
grid whose one SE is a real xrootd daemon on 127.0.0.1
(``tests.storage_servers.XRootDServer``). Each run then reads three of the
branches whole with ``uproot.open(...)[tree].arrays(...)``, in alternating
order, from:

- ``grid://`` and the file's LFN (gridfs's fsspec filesystem: catalog lookup,
  replica choice, vector reads);
- fsspec-xrootd on the replica's TURL (``root://...``): the peer, which reads
  that one server's file with no catalog;
- the gridfs mount, a fresh one each run with an empty block cache, so every
  byte comes from the server (uproot reads it as a local file);
- the file uproot wrote, on local disk (in the page cache): the floor.

The arrays are checked against those written. The table gives the median
seconds, the ratio to fsspec-xrootd, and the requests the xrootd server
received for each one's first read (its request trace: opens, stats, reads,
vector reads...), counted in the server's log.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import uproot
from harness import use_this_tree

REPO = Path(__file__).resolve().parents[1]
GRIDFS = str(Path(sys.executable).with_name("gridfs"))
LFN = "/grid/bench/events.root"
TREE = "events"
BRANCHES = [f"b{i}" for i in range(8)]
READ = ["b0", "b3", "b6"]
BATCH = 250_000  # entries per basket: about 2 MB of each branch
REQUEST = re.compile(r"req=(\w+)")
DATA_REQUESTS = {"read", "readv", "pgread"}

Read = Callable[[], dict[str, np.ndarray]]
# Makes ready what a read needs (a mount, say), not timed, then hands over the read.
Reader = Callable[[], contextlib.AbstractContextManager[Read]]


def write_root_file(path: Path, size_mb: int, compression: Any) -> dict[str, np.ndarray]:
    """A TTree of about ``size_mb`` MB written by uproot; returns the branches read."""
    entries = size_mb * 1_000_000 // (8 * len(BRANCHES))
    rng = np.random.default_rng(7)
    expected: dict[str, list[np.ndarray]] = {name: [] for name in READ}
    with uproot.recreate(path, compression=compression) as out:
        tree = out.mktree(TREE, dict.fromkeys(BRANCHES, np.float64))
        for start in range(0, entries, BATCH):
            batch = {name: rng.normal(size=min(BATCH, entries - start)) for name in BRANCHES}
            tree.extend(batch)
            for name in READ:
                expected[name].append(batch[name])
    return {name: np.concatenate(parts) for name, parts in expected.items()}


def setup(
    work: Path, server: Any, size_mb: int, compression: Any
) -> tuple[Path, Path, str, dict[str, np.ndarray]]:
    """The grid's config, the local file, the replica's TURL, and the branches' arrays."""
    from gridfs.config import load_config  # noqa: PLC0415
    from gridfs.gfal import Grid  # noqa: PLC0415
    from gridfs.storage import resolve_turl  # noqa: PLC0415

    config = work / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///catalog.db"\n[identity]\nsuperuser = true\n'
        '[storage]\ndefault_se = "xrd"\nprotocols = ["root"]\n'
        f'[se.xrd]\nsurl_prefix = "srm://xrd.example/grid"\n'
        f'[se.xrd.protocols]\nroot = "{server.url}/se"\n'
    )
    local = work / "events.root"
    expected = write_root_file(local, size_mb, compression)
    with Grid.from_config(load_config(config), create=True) as grid:
        grid.makedirs("/grid/bench")
        grid.cr(local, LFN)
        (replica,) = grid.catalog.replicas(LFN)
        turl = resolve_turl(replica.surl, grid.ses.get("xrd"), ["root"])
    return config, local, turl, expected


def read_branches(url: str, **options: Any) -> dict[str, np.ndarray]:
    with uproot.open(url, **options) as file:
        return file[TREE].arrays(READ, library="np")  # type: ignore[no-any-return]


@contextlib.contextmanager
def gridfs_mount(config: Path, target: Path, cache: Path) -> Iterator[Path]:
    """A foreground gridfs mount with a block cache directory of its own."""
    target.mkdir(exist_ok=True)
    command = [GRIDFS, "--config", str(config), "mount", "-f", "-o", f"cache_dir={cache}"]
    process = subprocess.Popen([*command, str(target)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not os.path.ismount(target):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the gridfs mount did not come up")
            time.sleep(0.02)
        yield target
    finally:
        if os.path.ismount(target):
            subprocess.run(["fusermount3", "-u", str(target)], check=False)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def settled_size(log: Path) -> int:
    """The size of the server's log once it stops growing (it is written by a thread)."""
    size = log.stat().st_size
    while True:
        time.sleep(0.2)
        now = log.stat().st_size
        if now == size:
            return size
        size = now


def requests_since(log: Path, offset: int) -> collections.Counter[str]:
    """The requests the server logged after byte ``offset`` of its log, by kind."""
    with log.open("rb") as stream:
        stream.seek(offset)
        text = stream.read().decode(errors="replace")
    return collections.Counter(match.group(1) for match in REQUEST.finditer(text))


def measure(
    readers: dict[str, Reader], expected: dict[str, np.ndarray], log: Path, runs: int
) -> tuple[dict[str, list[float]], dict[str, collections.Counter[str]]]:
    """Seconds of each reader per run (alternating order) and the requests of its first.

    The first run is cold for each: later ones find the fsspec filesystems'
    files still open (both keep them open for 30 s), where the mount is new.
    """
    names = list(readers)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    requests: dict[str, collections.Counter[str]] = {}
    for run in range(runs):
        for name in names if run % 2 == 0 else names[::-1]:
            with readers[name]() as read:
                offset = settled_size(log)
                started = time.perf_counter()
                arrays = read()
                seconds[name].append(time.perf_counter() - started)
                requests.setdefault(name, requests_since(log, offset))
            for branch, values in expected.items():
                if not np.array_equal(arrays[branch], values):
                    raise SystemExit(f"{name}: branch {branch} differs from what was written")
    return seconds, requests


def report(
    args: argparse.Namespace,
    size: int,
    branch_bytes: int,
    seconds: dict[str, list[float]],
    requests: dict[str, collections.Counter[str]],
) -> None:
    peer = statistics.median(seconds["fsspec-xrootd (peer)"])
    print(
        f"\nuproot reading {len(READ)} of {len(BRANCHES)} branches ({branch_bytes / 1e6:.0f} MB"
        f" of baskets) of a {size / 1e6:.0f} MB ROOT file"
        f" ({'uncompressed' if args.uncompressed else 'zlib'}), median of {args.runs} runs;"
        f" load {os.getloadavg()[0]:.2f}"
    )
    print(f"{'path':<24} {'s':>7} {'MB/s':>7} {'vs peer':>8} {'data req':>9}  first run's requests")
    for name, values in seconds.items():
        median = statistics.median(values)
        counted = requests.get(name, collections.Counter())
        data = sum(n for kind, n in counted.items() if kind in DATA_REQUESTS)
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(counted.items())) or "-"
        print(
            f"{name:<24} {median:>7.3f} {branch_bytes / median / 1e6:>7.0f}"
            f" {median / peer:>8.2f} {data:>9}  {kinds}"
        )
    print(
        "runs (s): "
        + "; ".join(f"{n}: {' '.join(f'{v:.3f}' for v in vs)}" for n, vs in seconds.items())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--uncompressed", action="store_true", help="write the file uncompressed")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run it as root: it mounts the grid")
    use_this_tree()  # the mounts and commands it runs too
    from tests.storage_servers import XRootDServer  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="gridfs-analysis-bench-"))
    server = XRootDServer(trace_requests=True)
    mounts = iter(range(1_000_000))
    try:
        server.start(work / "xrootd")
        compression = None if args.uncompressed else uproot.ZLIB(1)
        config, local, turl, expected = setup(work, server, args.size_mb, compression)

        @contextlib.contextmanager
        def mounted() -> Iterator[Read]:
            # A fresh mount and block cache: every byte comes from the server.
            cache = work / f"cache-{next(mounts)}"
            with gridfs_mount(config, work / "mnt", cache) as mnt:
                yield lambda: read_branches(str(mnt / LFN.removeprefix("/grid/")))
            shutil.rmtree(cache, ignore_errors=True)

        def ready(read: Read) -> Reader:
            return lambda: contextlib.nullcontext(read)

        readers: dict[str, Reader] = {
            "grid:// (gridfs)": ready(lambda: read_branches(f"grid://{LFN}", config=str(config))),
            "fsspec-xrootd (peer)": ready(lambda: read_branches(turl)),
            "gridfs mount": mounted,
            "local disk": ready(lambda: read_branches(str(local))),
        }
        with uproot.open(str(local)) as file:
            tree = file[TREE]
            branch_bytes = sum(tree[name].compressed_bytes for name in READ)
        seconds, requests = measure(readers, expected, server.log_path, args.runs)
        report(args, local.stat().st_size, branch_bytes, seconds, requests)
    finally:
        if os.path.ismount(work / "mnt"):
            subprocess.run(["fusermount3", "-u", str(work / "mnt")], check=False)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
