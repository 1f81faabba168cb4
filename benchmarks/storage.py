"""Upload and download throughput per protocol: gridfs backends versus the standard clients.

One file (1 GiB of random bytes by default) is uploaded and downloaded several
times over each protocol, by the gridfs backend and by the client everyone uses
for that protocol, in the same run and in alternating order; the table gives
the median MB/s of each and the ratio gridfs / standard client.

    .venv/bin/python benchmarks/storage.py [--size-mib 1024] [--runs 3]
        [--protocols file,root,dav,davs]

- ``file://``: ``FileBackend`` against ``cp`` (the SE is a local directory);
- ``root://``: ``XRootDBackend`` against ``xrdcp -f``, on a real xrootd daemon
  (``tests.storage_servers.XRootDServer``);
- ``dav://`` and ``davs://``: ``WebDAVBackend`` against ``curl`` (``-T`` up, ``-o``
  down), on WsgiDAV over http and over https (``tests.storage_servers.WebDAVServer``);
  ``davix-put``/``davix-get`` as well where they are installed.

A gridfs upload is ``backend.write(turl, 1 MiB chunks of the local file)``; a
gridfs download is ``open_reader`` + ``readinto`` 1 MiB (and 8 MiB) at a time into
one reused buffer, written to a local file, so that it does what ``cp``, ``xrdcp``
and ``curl -o`` do. Every transfer's size is checked, each protocol's upload is
checked once against the storage's own adler32 (``backend.checksum``) and each
kind of download once against the source's adler32, so a broken transfer cannot
pass as a fast one. Everything is on loopback and in the page cache: the figures
are the cost of each client and server, not of a disk or a network. The table
prints every run: on a VM whose memory is handed back to the host when freed
(see ``Clock``) single runs can be several times slower than the rest, and a
median of 3 is then only roughly right; use ``--runs 5`` or more for firm figures.

Note that ``FileBackend.write`` fsyncs the file and its directory (a registered
replica must survive a crash) and ``cp`` does not; the ``cp + fsync`` row is the
like-for-like comparison.

kXR_pgread and XRD_CPUSEPGWRTRD
-------------------------------
XRootD 5 added kXR_pgread/kXR_pgwrite, which carry a CRC32c for every 4 KiB page.
``XRD_CPUSEPGWRTRD`` (XrdCl's ``CpUsePgWrtRd``, default 1) only decides whether
the copy process (``xrdcp``, ``client.CopyProcess``) uses them. ``File.read`` and
``File.write`` of the xrootd 6.x Python bindings call ``XrdCl::File::Read`` and
``Write``, which always send plain kXR_read and kXR_write (the bindings never call
``PgRead``/``PgWrite``), so the variable has no effect on gridfs. The run checks
this on the wire: with ``XRD_LOGLEVEL=Debug`` it lists the requests each client
sends to the xrootd 5.5 server, with and without the variable (the notes under
the table: xrdcp 5.5 sends kXR_pgread/kXR_pgwrite by default and kXR_read/
kXR_write with ``XRD_CPUSEPGWRTRD=0``; gridfs sends kXR_read/kXR_write either
way). The root:// rows with gridfs in a subprocess, with and without it, show
the same in MB/s. The script re-invokes itself for them (hidden
``--child-download``/``--child-upload``), as XrdCl reads its environment once,
when XRootD is first imported.

So gridfs should leave the setting alone: there is no per-page CRC on its reads
or writes to switch off, and the whole-file adler32 that gridfs computes on
upload and compares with the storage's is the end-to-end check. Should gridfs
ever copy with ``client.CopyProcess`` (third-party copies), it should set
``XRD_CPUSEPGWRTRD=0`` (or ``EnvPutInt("CpUsePgWrtRd", 0)``) there, for the
same reason: the CRC32c costs throughput and adds nothing that the adler32
does not already catch.

What does cost gridfs on root:// is memory: each ``File.read`` returns a new
``bytes``, built from a buffer of its own, and for reads of 1 MiB and up glibc
maps both afresh and unmaps them again, two page faults per 4 KiB transferred.
The "malloc tuned" row runs gridfs with ``GLIBC_TUNABLES`` raising glibc's mmap
and trim thresholds, which keeps those buffers in the heap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness import use_this_tree

from gridfs.storage import BackendOptions, BackendPool, StorageBackend

if TYPE_CHECKING:
    from tests.storage_servers import WebDAVServer, XRootDServer

REPO = Path(__file__).resolve().parent.parent
CHUNK = 1 << 20
DOWNLOAD_CHUNKS = (1 << 20, 8 << 20)
PROTOCOLS = ("file", "root", "dav", "davs")
PGRW_ENV = "XRD_CPUSEPGWRTRD"
# glibc serves big allocations with a fresh mmap and trims the heap after big frees;
# these keep both in the heap (see the docstring).
MALLOC_TUNED = {
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456"
}
UPLOAD = "gridfs write, 1 MiB chunks"

# One transfer: it moves a whole file, raises on failure, and returns the seconds it
# took if it timed itself (a subprocess leaves out its interpreter's start-up), else None.
Transfer = Callable[[], float | None]


@dataclass
class Target:
    """One protocol's storage: where each client puts its object, and how each client moves it.

    gridfs uploads to ``turl`` (on disk: ``stored_path``) and every download reads
    that object; the standard clients upload to ``std_turl``, which gridfs then
    stats (the size) and deletes.
    The first standard client of each direction is the one every gridfs figure is
    compared with; the others get a row of their own, against gridfs's first.
    """

    protocol: str
    turl: str
    stored_path: Path
    std_turl: str
    options: BackendOptions
    uploads: dict[str, Transfer] = field(default_factory=dict)
    downloads: dict[str, Transfer] = field(default_factory=dict)
    gridfs_downloads: dict[str, Transfer] = field(default_factory=dict)
    # Run once, untimed, while the object is stored; each answers with a line of the report.
    checks: dict[str, Callable[[], str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    pool: BackendPool = field(init=False)  # whoever builds the target closes it

    def __post_init__(self) -> None:
        self.pool = BackendPool(self.options)

    @property
    def backend(self) -> StorageBackend:
        return self.pool.backend(self.turl)


@dataclass
class Row:
    """One line of the table: a gridfs series against a standard client's series."""

    protocol: str
    direction: str
    gridfs: str
    standard: str


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    """Run a standard client; its failure ends the benchmark with its message."""
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}")


def adler32_of(path: Path) -> str:
    value = zlib.adler32(b"")
    with path.open("rb", buffering=0) as stream:
        while data := stream.read(8 * CHUNK):
            value = zlib.adler32(data, value)
    return f"{value:08x}"


def make_source(path: Path, size_mib: int) -> str:
    """Write ``size_mib`` MiB of random bytes; returns their adler32."""
    rng = random.Random(1)
    value = zlib.adler32(b"")
    with path.open("wb") as out:
        for _ in range(size_mib):
            data = rng.randbytes(CHUNK)
            value = zlib.adler32(data, value)
            out.write(data)
    return f"{value:08x}"


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=0) as stream:
        while data := stream.read(CHUNK):
            yield data


def gridfs_download(backend: StorageBackend, turl: str, out: Path, chunk: int) -> int:
    """Copy the object at ``turl`` to ``out`` by ranged reads into one buffer; returns bytes."""
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    offset = 0
    with backend.open_reader(turl) as reader, out.open("wb", buffering=0) as sink:
        while count := reader.readinto(offset, view):
            written = 0
            while written < count:
                written += sink.write(view[written:count])
            offset += count
    return offset


def child_download(turl: str, out: str, chunk: int) -> int:
    """The hidden ``--child-download``: one timed gridfs download, as JSON on stdout."""
    with BackendPool() as pool:
        backend = pool.backend(turl)
        started = time.perf_counter()
        size = gridfs_download(backend, turl, Path(out), chunk)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "size": size}))
    return 0


def child_upload(turl: str, source: str) -> int:
    """The hidden ``--child-upload``: one gridfs upload (for the request check)."""
    with BackendPool() as pool:
        pool.backend(turl).write(turl, file_chunks(Path(source)))
    return 0


def subprocess_download(turl: str, out: Path, env: dict[str, str]) -> float:
    """A gridfs download in a fresh interpreter with ``env``; returns its own timing."""
    command = [sys.executable, __file__, "--child-download", turl, str(out), str(CHUNK)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the gridfs download subprocess failed: {result.stderr}")
    return float(json.loads(result.stdout.splitlines()[-1])["seconds"])


def xrootd_requests(command: list[str], env: dict[str, str], port: str) -> str:
    """Which data requests ``command`` sends to the server on ``port``, from XrdCl's debug log."""
    result = subprocess.run(
        command, capture_output=True, text=True, env=env | {"XRD_LOGLEVEL": "Debug"}, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr[-2000:]}")
    pattern = rf"Sending an? (\w+) command for handle \S+ to [^ ]+:{port}\b"
    kinds = set(re.findall(pattern, result.stderr)) - {"open", "close", "stat"}
    return ", ".join(f"kXR_{kind}" for kind in sorted(kinds)) or "no data requests logged"


# -- the protocols -------------------------------------------------------------------------


def file_target(work: Path, source: Path, out: Path) -> Target:
    se = work / "file-se"
    se.mkdir()
    stored, std = se / "gridfs.dat", se / "std.dat"

    def cp_fsync() -> None:
        run(["cp", str(source), str(std)])
        fd = os.open(std, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    return Target(
        protocol="file://",
        turl=stored.as_uri(),
        stored_path=stored,
        std_turl=std.as_uri(),
        options=BackendOptions(),
        uploads={
            "cp": lambda: run(["cp", str(source), str(std)]),
            "cp + fsync": cp_fsync,
        },
        downloads={"cp": lambda: run(["cp", str(stored), str(out)])},
    )


def root_target(server: XRootDServer, source: Path, out: Path) -> Target:
    base = server.url  # root://127.0.0.1:PORT/
    assert server.data_dir is not None
    turl, std_turl = f"{base}/gridfs.dat", f"{base}/std.dat"
    plain = {k: v for k, v in os.environ.items() if k != PGRW_ENV}
    no_pgrw = plain | {PGRW_ENV: "0"}
    port = turl.split("/")[2].rsplit(":", 1)[1]
    child_download = [sys.executable, __file__, "--child-download", turl, str(out), str(CHUNK)]
    child_upload = [sys.executable, __file__, "--child-upload", std_turl, str(source)]
    upload = ["xrdcp", "-f", str(source), std_turl]
    download = ["xrdcp", "-f", turl, str(out)]

    def requests(command: list[str], env: dict[str, str]) -> Callable[[], str]:
        def check() -> str:
            kinds = xrootd_requests(command, env, port)
            if std_turl in command:
                with BackendPool() as pool:
                    pool.backend(std_turl).delete(std_turl)
            return kinds

        return check

    return Target(
        protocol="root://",
        turl=turl,
        stored_path=server.data_dir / "gridfs.dat",
        std_turl=std_turl,
        options=BackendOptions(),
        uploads={
            "xrdcp": lambda: run(upload, env=plain),
            f"xrdcp, {PGRW_ENV}=0": lambda: run(upload, env=no_pgrw),
        },
        downloads={
            "xrdcp": lambda: run(download, env=plain),
            f"xrdcp, {PGRW_ENV}=0": lambda: run(download, env=no_pgrw),
        },
        gridfs_downloads={
            "gridfs, 1 MiB reads, subprocess": lambda: subprocess_download(turl, out, plain),
            f"gridfs, 1 MiB reads, subprocess, {PGRW_ENV}=0": (
                lambda: subprocess_download(turl, out, no_pgrw)
            ),
            "gridfs, 1 MiB reads, subprocess, malloc tuned": (
                lambda: subprocess_download(turl, out, plain | MALLOC_TUNED)
            ),
        },
        checks={
            "gridfs upload sends": requests(child_upload, plain),
            f"gridfs upload with {PGRW_ENV}=0 sends": requests(child_upload, no_pgrw),
            "gridfs download sends": requests(child_download, plain),
            f"gridfs download with {PGRW_ENV}=0 sends": requests(child_download, no_pgrw),
            "xrdcp download sends": requests(download, plain),
            f"xrdcp download with {PGRW_ENV}=0 sends": requests(download, no_pgrw),
            "xrdcp upload sends": requests(upload, plain),
            f"xrdcp upload with {PGRW_ENV}=0 sends": requests(upload, no_pgrw),
        },
    )


def dav_target(server: WebDAVServer, source: Path, out: Path) -> Target:
    url = server.url  # http(s)://127.0.0.1:PORT/
    assert server.data_dir is not None
    tls = url.startswith("https:")
    scheme = "davs" if tls else "dav"
    ca_file = str(server.ca_file) if tls else None
    stored, std = f"{url}gridfs.dat", f"{url}std.dat"
    curl = ["curl", "-sS", "--fail", *(["--cacert", ca_file] if ca_file else [])]
    target = Target(
        protocol=f"{scheme}://",
        turl=f"{scheme}://{stored.split('://', 1)[1]}",
        stored_path=server.data_dir / "gridfs.dat",
        std_turl=f"{scheme}://{std.split('://', 1)[1]}",
        options=BackendOptions(ca_file=ca_file),
        uploads={"curl -T": lambda: run([*curl, "-T", str(source), std])},
        downloads={"curl -o": lambda: run([*curl, "-o", str(out), stored])},
    )
    if shutil.which("davix-put") and shutil.which("davix-get"):
        davix = []
        if ca_file:
            # davix takes CA directories only, with OpenSSL's hashed names.
            ca_dir = Path(ca_file).parent
            run(["openssl", "rehash", str(ca_dir)])
            davix = ["--capath", str(ca_dir)]
        target.uploads["davix-put"] = lambda: run(["davix-put", *davix, str(source), std])
        target.downloads["davix-get"] = lambda: run(["davix-get", *davix, stored, str(out)])
    else:
        target.notes.append("davix-put/davix-get are not installed: not measured")
    return target


# -- measuring -----------------------------------------------------------------------------


def cache(path: Path) -> None:
    """Read ``path`` through, so that it is in the page cache (and recently used)."""
    buffer = bytearray(8 * CHUNK)
    with path.open("rb", buffering=0) as stream:
        while stream.readinto(buffer):
            pass


class Clock:
    """Times transfers so that none of them pays for what the one before left behind.

    Two things on a VM like the one this was written on (Firecracker, free page
    reporting, DAMON) would otherwise decide the figures more than the clients do;
    both were measured with 1 GiB gridfs file:// downloads, which run at ~4500 MB/s
    when they can and at ~360 when they cannot:

    - memory the guest has freed for a few seconds goes back to the host (free page
      reporting), and touching it again costs a host fault per page, so a transfer
      that starts a few seconds after the last file was deleted writes its output
      up to 12 times slower. The files a transfer leaves (a download, an uploaded
      object) are therefore deleted just before the next one starts, never earlier,
      and a copy of the source plays that part before the first transfer. This makes
      slow runs rarer, not impossible: the host may still take back memory freed a
      moment ago, and a transfer slow enough to outlast the reporting delay (~2 s)
      meets it anyway;
    - idle page cache is paged out after ~30 s (DAMON), which sends some reads to
      the disk: the file a transfer reads is read through just before it starts.

    Dirty pages are written out (``sync``) before the clock starts, so that no
    transfer pays for the writeback of another. On a machine without these
    mechanisms all of this costs a few hundred ms per transfer and changes nothing.
    """

    def __init__(self) -> None:
        self.leftovers: list[Callable[[], None]] = []

    def leave(self, delete: Callable[[], None]) -> None:
        """Have ``delete`` run just before the next transfer starts."""
        self.leftovers.append(delete)

    def time(self, transfer: Transfer, reads: Path) -> float:
        """Seconds ``transfer`` takes, with ``reads`` in the page cache."""
        os.sync()  # the leftovers' dirty pages too: writing them out takes a while
        cache(reads)
        while self.leftovers:
            self.leftovers.pop(0)()
        os.sync()
        started = time.perf_counter()
        own = transfer()
        return own if own is not None else time.perf_counter() - started


def measure(
    target: Target, *, source: Path, out: Path, source_sum: str, size: int, runs: int
) -> dict[tuple[str, str], list[float]]:
    """MB/s per (direction, series) over ``runs`` runs; gridfs first in even runs, last in odd.

    Each run uploads first: the downloads read the object gridfs stored.
    """
    backend = target.backend
    rates: dict[tuple[str, str], list[float]] = {}
    clock = Clock()
    stand_in = out.with_name("stand-in.dat")
    shutil.copyfile(source, stand_in)
    clock.leave(stand_in.unlink)

    def check_size(count: int, who: str) -> None:
        if count != size:
            raise SystemExit(f"{target.protocol} {who}: {count} bytes, not {size}")

    def gridfs_upload() -> None:
        result = backend.write(target.turl, file_chunks(source))
        check_size(result.size, "gridfs write")
        if result.checksum != source_sum:
            raise SystemExit(f"{target.protocol}: gridfs wrote {result.checksum}, not {source_sum}")

    def reader(chunk: int) -> Transfer:
        return lambda: check_size(
            gridfs_download(backend, target.turl, out, chunk), "gridfs download"
        )

    uploads: dict[str, Transfer] = {UPLOAD: gridfs_upload, **target.uploads}
    downloads: dict[str, Transfer] = {
        **{f"gridfs, {chunk >> 20} MiB reads": reader(chunk) for chunk in DOWNLOAD_CHUNKS},
        **target.gridfs_downloads,
        **target.downloads,
    }
    for number in range(runs):
        first = number % 2 == 0
        standard = [name for name in uploads if name != UPLOAD]
        for name in [UPLOAD, *standard] if first else [*standard, UPLOAD]:
            seconds = clock.time(uploads[name], source)
            rates.setdefault(("upload", name), []).append(size / seconds / 1e6)
            if name != UPLOAD:
                check_size(backend.stat(target.std_turl).size, name)
                clock.leave(lambda: backend.delete(target.std_turl))
        for name in list(downloads) if first else list(reversed(downloads)):
            seconds = clock.time(downloads[name], target.stored_path)
            rates.setdefault(("download", name), []).append(size / seconds / 1e6)
            check_size(out.stat().st_size, name)
            if number == 0 and adler32_of(out) != source_sum:
                raise SystemExit(f"{target.protocol}: {name} downloaded other bytes")
            clock.leave(lambda: out.unlink(missing_ok=True))
        if number == 0:
            stored_sum = backend.checksum(target.turl)
            if stored_sum != source_sum:
                raise SystemExit(f"{target.protocol}: storage says {stored_sum}, not {source_sum}")
            target.notes += [f"{label}: {check()}" for label, check in target.checks.items()]
        clock.leave(lambda: backend.delete(target.turl))
    for delete in clock.leftovers:
        delete()
    return rates


def rows_for(target: Target) -> list[Row]:
    """Each gridfs series against the first standard client; the other clients against gridfs."""
    readers = [f"gridfs, {chunk >> 20} MiB reads" for chunk in DOWNLOAD_CHUNKS]
    readers += list(target.gridfs_downloads)
    rows: list[Row] = []
    for direction, mine, clients in (
        ("upload", [UPLOAD], list(target.uploads)),
        ("download", readers, list(target.downloads)),
    ):
        rows += [Row(target.protocol, direction, name, clients[0]) for name in mine]
        rows += [Row(target.protocol, direction, mine[0], other) for other in clients[1:]]
    return rows


def print_table(
    size_mib: int, runs: int, rows: list[Row], rates: dict[str, dict[tuple[str, str], list[float]]]
) -> None:
    print(f"\n{size_mib} MiB file over loopback, page cache warm, median of {runs} runs (MB/s)")
    header = (
        f"{'protocol':<8} {'direction':<9} {'gridfs':<46} {'MB/s':>5}  "
        f"{'standard client':<27} {'MB/s':>5} {'ratio':>6}   runs: gridfs | standard"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        series = rates[row.protocol]
        mine, theirs = series[row.direction, row.gridfs], series[row.direction, row.standard]
        ratio = statistics.median(mine) / statistics.median(theirs)
        runs_text = " ".join(f"{v:.0f}" for v in mine) + " | "
        runs_text += " ".join(f"{v:.0f}" for v in theirs)
        print(
            f"{row.protocol:<8} {row.direction:<9} {row.gridfs:<46} "
            f"{statistics.median(mine):>5.0f}  {row.standard:<27} "
            f"{statistics.median(theirs):>5.0f} {ratio:>6.2f}   {runs_text}"
        )


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--protocols",
        default=",".join(PROTOCOLS),
        help=f"a comma-separated subset of {','.join(PROTOCOLS)}",
    )
    parser.add_argument("--child-download", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-upload", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_download:
        turl, out, chunk = args.child_download
        return child_download(turl, out, int(chunk))
    if args.child_upload:
        return child_upload(*args.child_upload)
    protocols = [name.strip() for name in args.protocols.split(",") if name.strip()]
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        parser.error(f"unknown protocols: {', '.join(sorted(unknown))}")

    use_this_tree()  # the mounts and commands it runs too
    from tests.storage_servers import WebDAVServer, XRootDServer  # noqa: PLC0415

    # /var/tmp, which is often roomier than /tmp (a tmpfs on some systems): up to four
    # copies of the file exist at once. Under root, XRootDServer keeps its export in a
    # temp dir of its own (TMPDIR, else /tmp).
    work = Path(tempfile.mkdtemp(prefix="gridfs-storage-bench-", dir="/var/tmp"))
    size = args.size_mib * CHUNK
    started = time.perf_counter()
    rates: dict[str, dict[tuple[str, str], list[float]]] = {}
    rows: list[Row] = []
    notes: list[str] = []
    try:
        source, out = work / "source.dat", work / "download.dat"
        source_sum = make_source(source, args.size_mib)
        for protocol in protocols:
            with contextlib.ExitStack() as stack:
                if protocol == "file":
                    target = file_target(work, source, out)
                elif protocol == "root":
                    xrootd = XRootDServer()
                    stack.callback(xrootd.stop)
                    xrootd.start(work / "xrootd")
                    target = root_target(xrootd, source, out)
                else:
                    webdav = WebDAVServer()
                    stack.callback(webdav.stop)
                    webdav.start(work / protocol, tls=protocol == "davs")
                    target = dav_target(webdav, source, out)
                stack.callback(target.pool.close)
                series = measure(
                    target,
                    source=source,
                    out=out,
                    source_sum=source_sum,
                    size=size,
                    runs=args.runs,
                )
            rates[target.protocol] = series
            rows += rows_for(target)
            notes += [f"{target.protocol} {note}" for note in target.notes]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_table(args.size_mib, args.runs, rows, rates)
    for note in notes:
        print(f"note: {note}")
    print(f"\nduration: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
