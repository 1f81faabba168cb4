"""Sequential read throughput: through the /grid mount versus the replica file itself.

A file (1 GiB by default) is registered on a local file:// SE; the same run
then reads it several times directly from its replica file (the baseline),
through a real gridfs mount, and through ``gridfs.open()``, in alternating
order, and prints the median MB/s of each and its ratio to the baseline.

    .venv/bin/python benchmarks/read_throughput.py [--size-mib 1024] [--runs 3] [--cold]

``--cold`` drops the page cache before every read (root only), so that the
disk is read each time; by default the replica file stays in the page cache
and the figures show the cost of each path itself. The mount is read twice
per run: once with its page cache dropped (every byte through the gridfs
daemon), then again straight after (served by the kernel's cache, as repeated
reads of a file are).
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
from typing import BinaryIO

from harness import use_this_tree

from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path

CHUNK = 1 << 20
LFN = "/grid/bench/big.dat"
KERNEL_CACHE = "/grid mount, kernel cache"  # read right after the uncached mount read


def read_all(open_stream: Callable[[], BinaryIO]) -> int:
    """Read a stream to its end in 1 MiB chunks; returns the byte count."""
    buffer = bytearray(CHUNK)
    total = 0
    with open_stream() as stream:
        while count := stream.readinto(buffer):
            total += count
    return total


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def register_file(work: Path, size_mib: int) -> tuple[Grid, Path, str, float]:
    """A grid with one local SE holding the test file; also returns cr's MB/s."""
    config_file = work / "config.toml"
    config_file.write_text(
        '[catalog]\nurl = "sqlite:///catalog.db"\n[site]\nname = "here"\n'
        '[storage]\ndefault_se = "local"\n[se.local]\nsite = "here"\nroot = "se"\n'
    )
    source = work / "source.dat"
    rng = random.Random(1)
    with source.open("wb") as out:
        for _ in range(size_mib):
            out.write(rng.randbytes(CHUNK))
    grid = Grid.from_config(load_config(config_file), create=True)
    grid.makedirs("/grid/bench")
    started = time.perf_counter()
    grid.cr(source, LFN)
    cr_rate = size_mib * CHUNK / (time.perf_counter() - started) / 1e6
    source.unlink()
    (replica,) = grid.catalog.replicas(LFN)
    se = grid.ses.get(replica.se)
    replica_path = Path(turl_to_path(resolve_turl(replica.surl, se, ["file"])))
    return grid, replica_path, str(config_file), cr_rate


@contextlib.contextmanager
def mounted(config_file: str, mountpoint: Path) -> Iterator[None]:
    """A foreground gridfs mount, unmounted and waited for at the end."""
    mountpoint.mkdir()
    command = [str(Path(sys.executable).with_name("gridfs")), "--config", config_file]
    process = subprocess.Popen(
        [*command, "mount", "-f", str(mountpoint)], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not os.path.ismount(mountpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the mount did not come up")
            time.sleep(0.02)
        yield
    finally:
        if os.path.ismount(mountpoint):
            subprocess.run(["fusermount3", "-u", str(mountpoint)], check=False)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def measure(
    paths: dict[str, Callable[[], BinaryIO]], size: int, runs: int, cold: bool
) -> dict[str, list[float]]:
    """MB/s of each path per run; the order alternates between runs."""
    names = list(paths)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for run in range(runs):
        # Reversed every other run, keeping "kernel cache" right after "through gridfs".
        order = names if run % 2 == 0 else [names[i] for i in (3, 1, 2, 0)]
        for name in order:
            if cold and name != KERNEL_CACHE:
                drop_caches()
            started = time.perf_counter()
            if read_all(paths[name]) != size:
                raise SystemExit(f"{name}: short read")
            rates[name].append(size / (time.perf_counter() - started) / 1e6)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before reads")
    args = parser.parse_args()
    use_this_tree()  # the mounts and commands it runs too
    if args.cold and os.geteuid() != 0:
        parser.error("--cold needs root (it writes /proc/sys/vm/drop_caches)")

    work = Path(tempfile.mkdtemp(prefix="gridfs-bench-"))
    try:
        grid, replica_path, config_file, cr_rate = register_file(work, args.size_mib)
        mountpoint = work / "mnt"
        through_mount = mountpoint / "bench" / "big.dat"

        def uncached_mount() -> BinaryIO:
            # Drop the mount's own page cache, so that every byte comes through gridfs.
            stream = through_mount.open("rb", buffering=0)
            os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            return stream

        paths: dict[str, Callable[[], BinaryIO]] = {
            "replica file (native read)": lambda: replica_path.open("rb", buffering=0),
            "/grid mount, through gridfs": uncached_mount,
            KERNEL_CACHE: lambda: through_mount.open("rb", buffering=0),
            "gridfs.open() (Python API)": lambda: grid.open(LFN, buffering=0),
        }
        with mounted(config_file, mountpoint):
            rates = measure(paths, args.size_mib * CHUNK, args.runs, args.cold)
        grid.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    baseline = statistics.median(rates["replica file (native read)"])
    cache = "cold page cache" if args.cold else "warm page cache"
    print(
        f"\nsequential read of a {args.size_mib} MiB file, {cache}, "
        f"median of {args.runs} runs (1 MiB reads)"
    )
    print(f"{'path':<30} {'MB/s':>8} {'ratio':>7}   runs (MB/s)")
    for name, values in rates.items():
        median = statistics.median(values)
        runs = " ".join(f"{v:.0f}" for v in values)
        print(f"{name:<30} {median:>8.0f} {median / baseline:>7.2f}   {runs}")
    print(f"\ncopy-and-register (write, fsync, verify adler32, register): {cr_rate:.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
