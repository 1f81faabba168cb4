"""The /grid mount against a native filesystem and xrootdfs, side by side in one run.

    .venv/bin/python benchmarks/mount.py [--size-mib 1024] [--entries 10000] [--runs 3]
        [--metadata-files 10000] [--metadata-only]

Needs root (it drops the kernel's dentry cache for the cold listings and mounts
xrootdfs), fuse3, xrootd-server and xrootd-fuse (``make system-deps``).

One grid holds the same file (1 GiB of random bytes by default) twice: on a
local ``file://`` SE, and on an XRootD server (a real xrootd daemon on
127.0.0.1, ``tests.storage_servers.XRootDServer``). xrootdfs, the XRootD
project's own FUSE filesystem (Debian's xrootd-fuse), mounts the same server.

1. Sequential read, 1 MiB at a time, median MB/s over ``--runs`` runs, ratio to
   the native read of the local replica file (in the page cache, so the figures
   are the cost of each path, not of a disk):
   - through the mount, the file:// replica, with the kernel's page cache of the
     mounted file dropped first (every byte through gridfs), then again at once
     (served by the kernel's page cache, as repeated reads of a file are);
   - through the mount, the root:// replica, first with an empty block cache (a
     fresh mount and cache directory: every byte from the server), then with the
     kernel's cache dropped but the blocks on local disk;
   - through xrootdfs, the same server file, kernel cache dropped, then cached.
2. ``ls -l`` and ``find`` of a directory of ``--entries`` entries: on a native
   ext4 directory, on the mount (entries registered in the catalog) and on
   xrootdfs (files in the server's export): cold (fresh mounts for each command,
   the kernel's dentry and inode caches dropped) and warm (the same command
   again at once). Median seconds and the ratio to native.
3. Extended attributes through the mount: ``user.guid`` of distinct files (a
   catalog query each), a missing ``user.comment`` (the same, answered ENODATA),
   and ``security.selinux`` (answered from memory), per second, against a
   ``user.*`` attribute on ext4.
4. Metadata at local-disk speed: ``--metadata-files`` files of 4 KiB in one
   directory, on ext4, the mount and xrootdfs, cold (a fresh mount for each
   operation, and ``echo 3 > /proc/sys/vm/drop_caches``): ``os.stat`` of each
   file (by name, not listed first), ``os.listdir``, ``find``, ``find`` again
   at once (warm), and ``ls -l``. Median seconds, and the ratio to ext4.
   ``--metadata-only`` runs this table alone (quick: no 1 GiB file).
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

from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path

MIB = 1 << 20
GRIDFS = str(Path(sys.executable).with_name("gridfs"))
FUSERMOUNT = shutil.which("fusermount3") or "fusermount3"


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not up after 30 s")
        time.sleep(0.02)


def unmount(target: Path) -> None:
    if os.path.ismount(target):
        subprocess.run(["umount", str(target)], check=False)


@contextlib.contextmanager
def gridfs_mount(config: Path, target: Path, cache: Path) -> Iterator[Path]:
    """A foreground gridfs mount with its own block cache directory."""
    target.mkdir(exist_ok=True)
    command = [GRIDFS, "--config", str(config), "mount", "-f", "-o", f"cache_dir={cache}"]
    process = subprocess.Popen([*command, str(target)], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.ismount(target), "gridfs mount", process)
        yield target
    finally:
        unmount(target)
        process.wait(timeout=60)


@contextlib.contextmanager
def xrootdfs_mount(url: str, target: Path) -> Iterator[Path]:
    """xrootdfs on the server at ``url`` (it daemonizes; unmounting ends it)."""
    target.mkdir(exist_ok=True)
    subprocess.run(
        ["xrootdfs", str(target), "-o", f"rdr={url}/,nworkers=4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    try:
        wait_for(lambda: os.path.ismount(target), "xrootdfs", None)
        yield target
    finally:
        unmount(target)


def read_rate(path: Path, size: int, *, drop: bool) -> float:
    """MB/s of reading ``path`` to its end, 1 MiB at a time; ``drop``: its page cache first."""
    buffer = bytearray(MIB)
    total = 0
    with path.open("rb", buffering=0) as stream:
        if drop:
            os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        started = time.perf_counter()
        while count := stream.readinto(buffer):
            total += count
        elapsed = time.perf_counter() - started
    if total != size:
        raise SystemExit(f"{path}: read {total} bytes, not {size}")
    return size / elapsed / 1e6


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def drop_dentries() -> None:
    Path("/proc/sys/vm/drop_caches").write_text("2\n")


def drop_caches() -> None:
    """Pages, dentries and inodes: what "cold" means in the metadata table."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


METADATA_DIR = "small"
SMALL = b"m" * 4096


def setup_metadata(work: Path, config: Path, server: object, files: int) -> dict[str, Path]:
    """``files`` files of 4 KiB in one directory: on ext4, in the catalog, on the server."""
    names = [f"s{index:06}" for index in range(files)]
    with Grid.from_config(load_config(config)) as grid:
        grid.makedirs(f"/grid/bench/{METADATA_DIR}")
        with grid.catalog.transaction():
            for name in names:
                grid.catalog.add_file(
                    f"/grid/bench/{METADATA_DIR}/{name}", size=len(SMALL), checksum="00000001"
                )
    native = work / f"native-{METADATA_DIR}"
    exported = server.data_dir / METADATA_DIR  # type: ignore[attr-defined]
    for directory in (native, exported):
        directory.mkdir()
        for name in names:
            (directory / name).write_bytes(SMALL)
    return {"native ext4": native, "exported": exported}


def _stat_each(directory: Path, names: list[str]) -> float:
    started = time.perf_counter()
    for name in names:
        os.stat(directory / name)
    return time.perf_counter() - started


def _listdir(directory: Path) -> float:
    started = time.perf_counter()
    os.listdir(directory)
    return time.perf_counter() - started


def measure_metadata(
    table: Table, config: Path, server: object, work: Path, *, native: Path, files: int
) -> None:
    """One run of table 4: each operation on fresh mounts, after dropping the caches."""
    names = [f"s{index:06}" for index in range(files)]
    operations: list[tuple[str, Callable[[Path], list[tuple[str, float]]]]] = [
        ("os.stat of each file", lambda d: [("", _stat_each(d, names))]),
        ("os.listdir", lambda d: [("", _listdir(d))]),
        (
            "find",
            lambda d: [("", seconds(["find", str(d)])), (", warm", seconds(["find", str(d)]))],
        ),
        ("ls -l", lambda d: [("", seconds(["ls", "-l", str(d)]))]),
    ]
    url = server.url  # type: ignore[attr-defined]
    for operation, measure in operations:
        with (
            gridfs_mount(config, work / "mnt", work / "cache-metadata") as mnt,
            xrootdfs_mount(url, work / "xrdfs") as xrdfs,
        ):
            for where, directory in (
                ("native ext4", native),
                ("mount", mnt / "bench" / METADATA_DIR),
                ("xrootdfs", xrdfs / METADATA_DIR),
            ):
                drop_caches()
                for suffix, value in measure(directory):
                    add(table, f"{operation}{suffix}|{where}", value)


def report_metadata(args: argparse.Namespace, table: Table) -> None:
    print(
        f"\n4. {args.metadata_files} files of 4 KiB in one directory, cold (fresh mounts, "
        f"caches dropped), median seconds of {args.runs} (ratio: to ext4)"
    )
    wheres = ("native ext4", "mount", "xrootdfs")
    print(f"{'operation':<26} " + " ".join(f"{w:>12}" for w in wheres) + "   mount/ext4")
    operations = list(dict.fromkeys(name.split("|")[0] for name in table))
    for operation in operations:
        medians = [statistics.median(table[f"{operation}|{where}"]) for where in wheres]
        cells = " ".join(f"{m:>12.3f}" for m in medians)
        print(f"{operation:<26} {cells}   {medians[1] / medians[0]:>10.1f}")


def setup(work: Path, server: object, size_mib: int, entries: int) -> tuple[Path, dict[str, Path]]:
    """The grid, its two copies of the file, and the three directories of entries."""
    config = work / "config.toml"
    url = server.url  # type: ignore[attr-defined]
    config.write_text(
        '[catalog]\nurl = "sqlite:///catalog.db"\n[site]\nname = "here"\n'
        '[storage]\ndefault_se = "local"\nprotocols = ["file", "root"]\n'
        '[se.local]\nsite = "here"\nroot = "se"\n'
        f'[se.xrd]\nsite = "here"\n[se.xrd.protocols]\nroot = "{url}/se"\n'
    )
    source = work / "source.dat"
    rng = random.Random(1)
    with source.open("wb") as out:
        for _ in range(size_mib):
            out.write(rng.randbytes(MIB))
    paths: dict[str, Path] = {}
    with Grid.from_config(load_config(config), create=True) as grid:
        grid.makedirs("/grid/bench/many")
        grid.cr(source, "/grid/bench/local.dat", se="local")
        grid.cr(source, "/grid/bench/remote.dat", se="xrd")
        (local,) = grid.catalog.replicas("/grid/bench/local.dat")
        local_turl = resolve_turl(local.surl, grid.ses.get("local"), ["file"])
        paths["replica"] = Path(turl_to_path(local_turl))
        (remote,) = grid.catalog.replicas("/grid/bench/remote.dat")
        turl = resolve_turl(remote.surl, grid.ses.get("xrd"), ["root"])
        paths["on server"] = Path(turl.split("//", 2)[2])  # relative to the server's export
        with grid.catalog.transaction():
            for index in range(entries):
                grid.catalog.add_file(f"/grid/bench/many/f{index:05}", size=1, checksum="00000001")
    source.unlink()
    native = work / "native-many"
    native.mkdir()
    exported = server.data_dir / "many"  # type: ignore[attr-defined]
    exported.mkdir()
    for index in range(entries):
        (native / f"f{index:05}").write_bytes(b"x")
        (exported / f"f{index:05}").write_bytes(b"x")
    (native / "f00000").touch()
    os.setxattr(native / "f00000", "user.guid", b"0" * 36)
    paths["native many"] = native
    return config, paths


def median_row(name: str, values: list[float], baseline: float, unit: str) -> str:
    median = statistics.median(values)
    runs = " ".join(f"{v:.3g}" for v in values)
    return f"{name:<44} {median:>10.3g} {unit:<4} {median / baseline:>7.2f}   {runs}"


Table = dict[str, list[float]]


def add(table: Table, name: str, value: float) -> None:
    table.setdefault(name, []).append(value)


def measure_reads(reads: Table, mnt: Path, xrdfs: Path, paths: dict[str, Path], size: int) -> None:
    add(reads, "native read of the replica file", read_rate(paths["replica"], size, drop=False))
    local = mnt / "bench" / "local.dat"
    add(reads, "mount, file:// replica", read_rate(local, size, drop=True))
    add(reads, "mount, file:// replica, kernel cache", read_rate(local, size, drop=False))
    remote = mnt / "bench" / "remote.dat"
    add(reads, "mount, root://, empty block cache", read_rate(remote, size, drop=True))
    add(reads, "mount, root://, blocks on local disk", read_rate(remote, size, drop=True))
    add(reads, "mount, root://, kernel cache", read_rate(remote, size, drop=False))
    served = xrdfs / paths["on server"]
    add(reads, "xrootdfs, same server file", read_rate(served, size, drop=True))
    add(reads, "xrootdfs, kernel cache", read_rate(served, size, drop=False))


def measure_listing(
    listings: Table, command: str, mnt: Path, xrdfs: Path, paths: dict[str, Path]
) -> None:
    """``command`` on the three directories, cold then warm; call it on fresh mounts."""
    for where, directory in (
        ("native ext4", paths["native many"]),
        ("mount", mnt / "bench" / "many"),
        ("xrootdfs", xrdfs / "many"),
    ):
        drop_dentries()
        argv = [*command.split(), str(directory)]
        add(listings, f"{command}, {where}, cold", seconds(argv))
        add(listings, f"{command}, {where}, warm", seconds(argv))


def measure_xattrs(xattrs: Table, mnt: Path, paths: dict[str, Path], count: int) -> None:
    names = [mnt / "bench" / "many" / f"f{i:05}" for i in range(count)]
    for attribute, label in (
        ("user.guid", "mount, user.guid of distinct files"),
        ("user.comment", "mount, missing user.comment (ENODATA)"),
        ("security.selinux", "mount, security.selinux (from memory)"),
    ):
        started = time.perf_counter()
        for name in names:
            with contextlib.suppress(OSError):
                os.getxattr(name, attribute)
        add(xattrs, label, len(names) / (time.perf_counter() - started))
    native = paths["native many"] / "f00000"
    started = time.perf_counter()
    for _ in names:
        os.getxattr(native, "user.guid")
    add(xattrs, "native ext4, user.guid", len(names) / (time.perf_counter() - started))


def report(args: argparse.Namespace, reads: Table, listings: Table, xattrs: Table) -> None:
    print(f"\n1. sequential read of a {args.size_mib} MiB file, 1 MiB reads, median of {args.runs}")
    print(f"{'path':<44} {'median':>10} {'':<4} {'ratio':>7}   runs")
    baseline = statistics.median(reads["native read of the replica file"])
    for name, values in reads.items():
        print(median_row(name, values, baseline, "MB/s"))
    print(f"\n2. a directory of {args.entries} entries, median of {args.runs} (ratio: to native)")
    print(f"{'command':<44} {'median':>10} {'':<4} {'ratio':>7}   runs")
    for name, values in listings.items():
        command, _, rest = name.partition(", ")
        native = statistics.median(listings[f"{command}, native ext4, {rest.rsplit(', ', 1)[1]}"])
        print(median_row(name, values, native, "s"))
    print(f"\n3. getxattr, {args.xattrs} calls, median of {args.runs} (ratio: to native)")
    print(f"{'attribute':<44} {'median':>10} {'':<4} {'ratio':>7}   runs")
    native_rate = statistics.median(xattrs["native ext4, user.guid"])
    for name, values in xattrs.items():
        print(median_row(name, values, native_rate, "/s"))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--xattrs", type=int, default=2000)
    parser.add_argument("--metadata-files", type=int, default=10_000)
    parser.add_argument("--metadata-only", action="store_true", help="table 4 alone")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run it as root: it mounts xrootdfs and drops the dentry cache")
    if shutil.which("xrootdfs") is None:
        parser.error("xrootdfs is missing: apt install xrootd-fuse (make system-deps)")
    use_this_tree()  # the mounts and commands it runs too
    from tests.storage_servers import XRootDServer  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="gridfs-mount-bench-"))
    server = XRootDServer()
    reads: Table = {}
    listings: Table = {}
    xattrs: Table = {}
    metadata: Table = {}
    try:
        server.start(work / "xrootd")
        size_mib = 1 if args.metadata_only else args.size_mib
        config, paths = setup(work, server, size_mib, 0 if args.metadata_only else args.entries)
        small = setup_metadata(work, config, server, args.metadata_files)
        for _ in range(args.runs):
            measure_metadata(
                metadata,
                config,
                server,
                work,
                native=small["native ext4"],
                files=args.metadata_files,
            )
        for run in range(0 if args.metadata_only else args.runs):
            with (
                # A fresh block cache for every run: the first root:// read is from the server.
                gridfs_mount(config, work / "mnt", work / f"cache-{run}") as mnt,
                xrootdfs_mount(server.url, work / "xrdfs") as xrdfs,
            ):
                measure_reads(reads, mnt, xrdfs, paths, args.size_mib * MIB)
                measure_xattrs(xattrs, mnt, paths, args.xattrs)
            for command in ("ls -l", "find"):
                # Fresh mounts: "cold" is cold for the mounts' own caches too.
                with (
                    gridfs_mount(config, work / "mnt", work / f"cache-{run}") as mnt,
                    xrootdfs_mount(server.url, work / "xrdfs") as xrdfs,
                ):
                    measure_listing(listings, command, mnt, xrdfs, paths)
    finally:
        for target in (work / "mnt", work / "xrdfs"):
            unmount(target)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if not args.metadata_only:
        report(args, reads, listings, xattrs)
    report_metadata(args, metadata)
    return 0


if __name__ == "__main__":
    sys.exit(main())
