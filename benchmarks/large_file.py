"""A large file written and read through the /grid mount, against the same on local disk.

    .venv/bin/python benchmarks/large_file.py [--gib 8]

Needs root (to drop the page cache) and fuse3. A grid with one local file://
SE is mounted in the foreground. ``dd bs=1M`` writes ``--gib`` GiB through
the mount: the bytes go to the mount's staging file, and ``close()`` returns
once they are stored on the SE, verified and registered, so the time
includes the upload. The same ``dd`` to a file on the same disk is the
baseline. Then the file is read back through the mount with the page cache
dropped, against a native read of its replica, both compared with what was
written (``cmp``). The mount's peak resident memory (VmHWM) shows whether it holds data
in memory: it must stay far below the file's size. Prints one table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import use_this_tree

GRIDFS = str(Path(sys.executable).with_name("gridfs"))
GIB = 1 << 30


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def drop_page_cache() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gib", type=int, default=8)
    args = parser.parse_args()
    use_this_tree()  # the mounts and commands it runs too
    size = args.gib * GIB
    work = Path(tempfile.mkdtemp(prefix="gridfs-large-", dir="/var/tmp"))
    config = work / "config.toml"
    target = work / "mnt"
    target.mkdir()
    try:
        subprocess.run(
            [GRIDFS, "--config", str(config), "init", str(work / "grid"), "--se", "local"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        staging = work / "staging"
        staging.mkdir()
        command = [GRIDFS, "--config", str(config), "mount", "-f"]
        options = ["-o", f"staging_dir={staging}", str(target)]
        mount = subprocess.Popen([*command, *options], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.ismount(target):
            if time.monotonic() > deadline or mount.poll() is not None:
                raise SystemExit("the mount did not come up")
            time.sleep(0.05)
        try:
            dd = ["dd", "if=/dev/zero", "bs=1M", f"count={args.gib * 1024}", "conv=fsync"]
            native = work / "native.bin"
            native_write = timed([*dd, f"of={native}"])
            through = target / "gilda" / "big.bin"
            mount_write = timed([*dd, f"of={through}"])
            if through.stat().st_size != size:
                raise SystemExit(f"{through}: {through.stat().st_size} bytes, not {size}")
            left = list(staging.iterdir())
            replica = next(p for p in (work / "grid" / "se").rglob("file-*") if p.is_file())
            # Read back and compared with what was written (zeros), both ways alike.
            drop_page_cache()
            native_read = timed(["cmp", "-n", str(size), str(replica), "/dev/zero"])
            drop_page_cache()
            mount_read = timed(["cmp", "-n", str(size), str(through), "/dev/zero"])
            rss = peak_rss_mib(mount.pid)
        finally:
            subprocess.run(["umount", str(target)], check=False)
            mount.wait(timeout=120)
        rows = [
            ("write (dd, then close)", size / native_write / 1e6, size / mount_write / 1e6),
            ("read, page cache dropped", size / native_read / 1e6, size / mount_read / 1e6),
        ]
        print(f"\n{args.gib} GiB file, MB/s       native   mount   ratio")
        for name, base, ours in rows:
            print(f"{name:<28} {base:7.0f} {ours:7.0f} {ours / base:7.2f}")
        print(f"mount's peak resident memory: {rss:.0f} MiB; staging files left: {len(left)}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
