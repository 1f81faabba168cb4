"""The mount over a catalog service against the same mount on the embedded catalog.

    .venv/bin/python benchmarks/mount_service.py [--files 10000] [--runs 3]

Needs root (it drops the kernel's caches) and fuse3. One SQLite catalog holds
``--files`` files in one directory; a ``gridfs serve`` (TLS, test CA, a bearer
token) serves it on 127.0.0.1. The same mount configuration is used twice,
with ``[catalog] url`` the SQLite file (embedded) or the server (over TLS).
Each operation runs on a fresh mount after ``echo 3 > /proc/sys/vm/drop_caches``:
``ls -l`` of the directory, and ``os.stat`` of each file by name (not listed
first). Median seconds, and the ratio of the service to the embedded catalog
(the goal: within 2x). Everything shares this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from harness import use_this_tree

use_this_tree()  # this process and the servers it starts import gridfs from this tree

from benchmarks.mount import drop_caches, gridfs_mount, seconds  # noqa: E402
from gridfs.catalog import SUPERUSER, Catalog, NewFile  # noqa: E402
from tests.service_pki import GridPKI  # noqa: E402
from tests.service_server import ServiceProcess, write_service_config  # noqa: E402

DIRECTORY = "/grid/bench/many"


def populate(url: str, files: int) -> list[str]:
    names = [f"s{index:06}" for index in range(files)]
    admin = Catalog.from_url(url, SUPERUSER, create=True)
    admin.mkdir(DIRECTORY, parents=True)
    admin.chown("/grid", "alice", "gilda")
    admin.add_files([NewFile(f"{DIRECTORY}/{name}", size=4096) for name in names])
    admin.close()
    return names


def mount_config(directory: Path, url: str) -> Path:
    path = directory / f"mount-{len(list(directory.glob('mount-*')))}.toml"
    path.write_text(f'[catalog]\nurl = "{url}"\n[identity]\nuser = "alice"\ngroups = ["gilda"]\n')
    return path


def stat_each(directory: Path, names: list[str]) -> float:
    started = time.perf_counter()
    for name in names:
        os.stat(directory / name)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gridfs-bench-mount-service-") as work:
        root = Path(work)
        url = f"sqlite:///{root / 'catalog.db'}"
        names = populate(url, options.files)
        pki = GridPKI(root / "pki")
        server = ServiceProcess(write_service_config(root / "serve", pki, url, {}), pki)
        server.start()
        os.environ["BEARER_TOKEN"] = pki.token("alice", **{"wlcg.groups": ["/gilda"]})
        os.environ["X509_CERT_DIR"] = str(pki.ca_dir)
        try:
            configs = {
                "embedded": mount_config(root, url),
                "service": mount_config(root, server.url),
            }
            table: dict[str, list[float]] = defaultdict(list)
            for _ in range(options.runs):
                for where, config in configs.items():
                    for operation in ("ls -l", "stat each"):
                        with gridfs_mount(config, root / "mnt", root / "cache") as mnt:
                            directory = mnt / DIRECTORY.removeprefix("/grid/")
                            drop_caches()
                            if operation == "ls -l":
                                took = seconds(["ls", "-l", str(directory)])
                            else:
                                took = stat_each(directory, names)
                        table[f"{operation}|{where}"].append(took)
        finally:
            server.stop()
    print(
        f"{options.files} files in one directory, cold (fresh mount, caches dropped), "
        f"median seconds of {options.runs}; load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'operation':<12} {'embedded':>10} {'service':>10} {'service/embedded':>17}")
    for operation in ("ls -l", "stat each"):
        embedded = statistics.median(table[f"{operation}|embedded"])
        service = statistics.median(table[f"{operation}|service"])
        print(f"{operation:<12} {embedded:>10.3f} {service:>10.3f} {service / embedded:>17.2f}")


if __name__ == "__main__":
    main()
