"""Writes through the /grid mount against the same writes to a native directory, in one run.

    .venv/bin/python benchmarks/mount_writes.py [--size-mib 2048] [--small 2000] [--runs 3]
        [--only large,small,tar]

Needs fuse3 and root (it drops the page cache before each large write). One
grid with a file:// SE on the same disk as a native directory and as the
staging directory; every row against its native baseline, measured in the
same run, alternating which goes first:

1. A large write, ``dd bs=1M`` of ``--size-mib`` MiB from /dev/zero, until
   ``dd`` returns (close() of a grid file returns once it is stored, fsynced
   on the SE, verified and registered): into the mount, against ``dd
   conv=fsync`` into the native directory (as durable when it returns) and
   plain ``dd`` there (in the page cache only when it returns).
2. Small files: ``--small`` files of 4 KiB, each opened, written and closed
   (stored, verified, registered) by one process, one after the other: ms
   per file, against the same on the native directory, with and without an
   fsync per file.
3. ``tar x`` of a tree of ``--small`` files of 4 KiB (20 directories) into the
   mount, against ``tar x`` into the native directory.

Rows: median MB/s (or ms per file, or seconds) and the ratio gridfs / native.
The gridfs rows also give the CPU time the mount daemon spent (user + system,
in seconds per GiB or ms per file): on a loaded machine the wall times wander
with the load, the daemon's own cost much less.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from harness import use_this_tree

MIB = 1 << 20
GRIDFS = str(Path(sys.executable).with_name("gridfs"))
SMALL = 4096


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if process.poll() is not None:
            raise SystemExit(f"the mount exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("the mount is not up after 30 s")
        time.sleep(0.02)


@contextlib.contextmanager
def gridfs_mount(config: Path, target: Path) -> Iterator[tuple[Path, int]]:
    """A foreground gridfs mount, and the daemon's process id."""
    target.mkdir(exist_ok=True)
    command = [GRIDFS, "--config", str(config), "mount", "-f"]
    process = subprocess.Popen([*command, str(target)], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.ismount(target), process)
        yield target, process.pid
    finally:
        subprocess.run(["fusermount3", "-u", str(target)], check=False)
        process.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drop_caches() -> None:
    os.sync()
    with contextlib.suppress(OSError):
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


def dd_seconds(target: Path, size_mib: int, *extra: str) -> float:
    drop_caches()
    started = time.perf_counter()
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={size_mib}", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def small_files_seconds(directory: Path, count: int, *, fsync: bool = False) -> float:
    directory.mkdir()
    data = os.urandom(SMALL)
    started = time.perf_counter()
    for index in range(count):
        fd = os.open(directory / f"f{index:05}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - started


def make_tarball(path: Path, count: int) -> None:
    with tarfile.open(path, "w") as tar:
        for index in range(count):
            info = tarfile.TarInfo(f"tree/d{index % 20:02}/f{index:05}")
            info.size = SMALL
            tar.addfile(info, io.BytesIO(os.urandom(SMALL)))


def tar_seconds(tarball: Path, directory: Path) -> float:
    directory.mkdir()
    started = time.perf_counter()
    subprocess.run(["tar", "xf", str(tarball), "-C", str(directory)], check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="directory on the disk to test")
    parser.add_argument(
        "--only",
        default="large,small,tar",
        help="the groups of rows to measure, comma-separated (default: all three)",
    )
    args = parser.parse_args()
    use_this_tree()  # the mounts and commands it runs too
    groups = {name.strip() for name in args.only.split(",") if name.strip()}
    if not groups or groups - {"large", "small", "tar"}:
        parser.error(f"--only takes large, small and tar, not {args.only!r}")
    work = Path(tempfile.mkdtemp(prefix="gridfs-writes-", dir=args.work))
    try:
        config = work / "config.toml"
        config.write_text(
            f'[catalog]\nurl = "sqlite:///{work}/catalog.db"\n'
            '[storage]\ndefault_se = "local"\n'
            f'[se.local]\nroot = "{work}/se"\n'
            f'[mount]\nstaging_dir = "{work}/staging"\n'
        )
        from gridfs.config import load_config  # noqa: PLC0415
        from gridfs.gfal import Grid  # noqa: PLC0415

        with Grid.from_config(load_config(config), create=True) as grid:
            grid.makedirs("/grid/bench")
        native = work / "native"
        (work / "staging").mkdir()
        native.mkdir()
        tarball = work / "tree.tar"
        make_tarball(tarball, args.small)
        rows: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}  # the daemon's, per GiB or per file, gridfs rows
        per = {"large": args.size_mib / 1024, "small": args.small / 1e3, "tar x": args.small / 1e3}
        with gridfs_mount(config, work / "mnt") as (mnt, daemon):
            for run in range(args.runs):
                series: dict[str, Callable[[], float]] = {
                    "large: gridfs": lambda run=run: (
                        args.size_mib
                        * MIB
                        / 1e6
                        / dd_seconds(mnt / f"bench/big{run}", args.size_mib)
                    ),
                    "large: native conv=fsync": lambda run=run: (
                        args.size_mib
                        * MIB
                        / 1e6
                        / dd_seconds(native / f"big-fsync{run}", args.size_mib, "conv=fsync")
                    ),
                    "large: native": lambda run=run: (
                        args.size_mib * MIB / 1e6 / dd_seconds(native / f"big{run}", args.size_mib)
                    ),
                    "small: gridfs": lambda run=run: (
                        1e3
                        * small_files_seconds(mnt / f"bench/small{run}", args.small)
                        / args.small
                    ),
                    "small: native fsync": lambda run=run: (
                        1e3
                        * small_files_seconds(native / f"small-fsync{run}", args.small, fsync=True)
                        / args.small
                    ),
                    "small: native": lambda run=run: (
                        1e3 * small_files_seconds(native / f"small{run}", args.small) / args.small
                    ),
                    "tar x: gridfs": lambda run=run: tar_seconds(tarball, mnt / f"bench/t{run}"),
                    "tar x: native": lambda run=run: tar_seconds(tarball, native / f"t{run}"),
                }
                series = {
                    name: measure
                    for name, measure in series.items()
                    if name.split(":")[0].replace("tar x", "tar") in groups
                }
                names = list(series) if run % 2 == 0 else list(reversed(series))
                for name in names:
                    before = cpu_seconds(daemon)
                    rows.setdefault(name, []).append(series[name]())
                    if name.endswith("gridfs"):
                        spent = cpu_seconds(daemon) - before
                        cpu.setdefault(name, []).append(spent / per[name.split(":")[0]])
                    print(f"  {name}: {rows[name][-1]:.3f}", file=sys.stderr)
                for path in (native, mnt / "bench"):
                    for child in path.glob("big*"):
                        child.unlink()
        print(
            f"\nwrites through the mount ({args.runs} runs, medians; load {os.getloadavg()[0]:.1f})"
        )
        units = {"large": "MB/s", "small": "ms per file", "tar x": "s"}
        cpu_units = {"large": "s/GiB", "small": "ms/file", "tar x": "ms/file"}
        for group, baseline in (
            ("large", "large: native conv=fsync"),
            ("small", "small: native fsync"),
            ("tar x", "tar x: native"),
        ):
            if baseline not in rows:
                continue
            for name in (n for n in rows if n.startswith(group)):
                median = statistics.median(rows[name])
                ratio = median / statistics.median(rows[baseline])
                spent = (
                    f"  daemon CPU {statistics.median(cpu[name]):.2f} {cpu_units[group]}"
                    if name in cpu
                    else ""
                )
                print(
                    f"{name:28} {median:9.2f} {units[group]:12} "
                    f"{' '.join(f'{v:.2f}' for v in rows[name]):24} {ratio:.2f}x{spent}"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
