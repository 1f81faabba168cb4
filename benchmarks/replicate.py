"""Dataset replication in parallel, and ``gridfs cp`` against ``gfal-copy``.

    .venv/bin/python benchmarks/replicate.py [--files 1000] [--file-mib 1] [--runs 3]
        [--cp-mib 1024] [--no-xrootd] [--skip-dataset] [--skip-cp]

Part 1, datasets: ``--files`` files of ``--file-mib`` MiB, registered on a
file:// SE, are replicated to two more SEs (``rep -r DIR -d A -d B``: every
file to both, files and SEs at once), sequentially (``-j 1``) and with the
default parallelism (``-j 8``), alternating which goes first; between runs the
new replicas are deleted again (not timed). With xrootd installed, a second
row replicates to one file:// SE and one XRootD SE (a real daemon on
loopback). Every copy is verified (the SE's adler32 against the catalog's)
and registered; failed copies (listed as they happen) are counted in the last
column and left out of the rates. Rows: median files/s and MB/s, and the
ratio parallel / sequential.

Part 2, one big file: ``gridfs cp`` of a ``--cp-mib`` MiB file, grid to local
and local to grid, over file:// and root://, against ``gfal-copy`` (Debian's
gfal2-util-scripts with its file and xrootd plugins) on the same source and
destination, alternating which goes first, both as a command run from the
shell (interpreter start-up included), and the same copies made by the
library in this process (``copy_out``, ``Grid.cr``: the copying alone, without
the start-up, which costs about a CPU-second of imports). ``gridfs cp`` always verifies the
adler32 end to end (summed as the bytes stream; a file:// SE's copy is
fsynced, an XRootD server is asked for its checksum); ``gfal-copy`` only with
``-K ADLER32``, so it is timed both ways. The tools of each protocol run on the
same copies as baselines: ``cp``, and ``dd conv=fsync`` (as durable as an SE
write of gridfs) for file://; ``xrdcp`` with and without pgread/pgwrite for
root://. Rows: median MB/s and the ratios gridfs cp / each and in process / each.

Everything runs on loopback with the files in the page cache, on whatever
else the machine is doing: these are the costs of the clients, not of disks or
networks. SE writes of gridfs fsync (a registered replica must survive a
crash); gfal-copy's file plugin does not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import gfal_copy, gfal_env, print_table, use_this_tree, xrootd_server

MIB = 1 << 20
GRIDFS = str(Path(sys.executable).with_name("gridfs"))


def write_config(work: Path, xrootd_url: str | None) -> Path:
    lines = [
        "[catalog]",
        f'url = "sqlite:///{work / "catalog.db"}"',
        "[site]",
        'name = "here"',
        "[storage]",
        'default_se = "src"',
        f"protocols = {['file', 'root'] if xrootd_url else ['file']}".replace("'", '"'),
    ]
    for name in ("src", "a", "b"):
        lines += [f"[se.{name}]", 'site = "here"', f'root = "{work / "se" / name}"']
    if xrootd_url:
        lines += [
            "[se.xrd]",
            'site = "here"',
            'surl_prefix = "srm://xrd/grid"',
            "[se.xrd.protocols]",
            f'root = "{xrootd_url}/se"',
        ]
    path = work / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def open_grid(config: Path):  # gridfs is imported late, once sys.path has the repository
    from gridfs.catalog import SUPERUSER  # noqa: PLC0415
    from gridfs.config import load_config  # noqa: PLC0415
    from gridfs.gfal import Grid  # noqa: PLC0415

    grid = Grid.from_config(load_config(config), create=True)
    admin = grid.catalog.as_identity(SUPERUSER)
    admin.mkdir("/grid", 0o755, exist_ok=True)
    admin.chown("/grid", grid.catalog.identity.user, grid.catalog.identity.group)
    return grid


def make_dataset(directory: Path, files: int, file_mib: int) -> None:
    for index in range(files):
        sub = directory / f"run{index // 100:03}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{index:05}.dat").write_bytes(os.urandom(file_mib * MIB))


def dataset_rows(grid, files: int, file_mib: int, runs: int, work: Path) -> list[list[str]]:
    from gridfs.gfal.dataset import (  # noqa: PLC0415
        DEFAULT_PARALLEL,
        Task,
        plan_copy_in,
        plan_replicate,
        run_tasks,
    )
    from gridfs.gfal.delete import delete  # noqa: PLC0415

    make_dataset(work / "dataset", files, file_mib)
    copied_in = run_tasks(plan_copy_in(grid, work / "dataset", "/grid/ds", "src"))
    if copied_in.files != files:
        raise SystemExit(f"copy in failed: {copied_in.failures[:3]}")
    shutil.rmtree(work / "dataset")
    scenarios = [("a", "b")] + ([("a", "xrd")] if "xrd" in grid.ses else [])
    rows = [
        [
            "copy in (local -> src)",
            str(DEFAULT_PARALLEL),
            f"{copied_in.files_per_s:.1f}",
            f"{copied_in.mb_per_s:.0f}",
            "1 run",
            "",
            str(len(copied_in.failures)),
        ]
    ]
    for ses in scenarios:
        rates: dict[int, list[tuple[float, float]]] = {1: [], DEFAULT_PARALLEL: []}
        failed = {1: 0, DEFAULT_PARALLEL: 0}
        for run in range(runs):
            order = (1, DEFAULT_PARALLEL) if run % 2 == 0 else (DEFAULT_PARALLEL, 1)
            for parallel in order:
                tasks, skipped = plan_replicate(grid, "/grid/ds", ses)
                if skipped or len(tasks) != files * len(ses):
                    raise SystemExit(f"replicas left from the run before: {skipped}")
                os.sync()
                summary = run_tasks(tasks, parallel=parallel)
                rates[parallel].append((summary.files_per_s, summary.mb_per_s))
                failed[parallel] += len(summary.failures)
                for failure in summary.failures:
                    print(f"  failed: {failure.source} -> {failure.destination}: {failure.error}")
                print(
                    f"  replicate to {'+'.join(ses)}, -j {parallel}: "
                    f"{summary.files_per_s:.1f} files/s, {summary.mb_per_s:.0f} MB/s",
                    file=sys.stderr,
                )
                undone = {(f.source, f.destination) for f in summary.failures}
                undo = [
                    Task(
                        task.source,
                        task.destination,
                        0,
                        lambda t=task: delete(grid, t.source, se=t.destination),
                    )
                    for task in tasks
                    if (task.source, task.destination) not in undone
                ]
                assert run_tasks(undo, parallel=DEFAULT_PARALLEL).ok
        sequential = statistics.median(r[1] for r in rates[1])
        for parallel in (1, DEFAULT_PARALLEL):
            files_s = statistics.median(r[0] for r in rates[parallel])
            mb_s = statistics.median(r[1] for r in rates[parallel])
            rows.append(
                [
                    f"replicate {files} x {file_mib} MiB to {' + '.join(ses)}",
                    str(parallel),
                    f"{files_s:.1f}",
                    f"{mb_s:.0f}",
                    " ".join(f"{r[1]:.0f}" for r in rates[parallel]),
                    f"{mb_s / sequential:.2f}x",
                    str(failed[parallel]),
                ]
            )
    return rows


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    os.sync()
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return elapsed


def in_process(call: Callable[[], object]) -> float:
    """Seconds of a copy made by the library in this process: no interpreter start-up."""
    os.sync()
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def cp_rows(
    grid, config: Path, size_mib: int, runs: int, *, work: Path, env: dict[str, str]
) -> list[list[str]]:
    from gridfs.gfal.copy import copy_grid, copy_out  # noqa: PLC0415
    from gridfs.storage import resolve_turl  # noqa: PLC0415
    from gridfs.storage.file_backend import turl_to_path  # noqa: PLC0415

    source = work / "big.dat"
    with source.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MIB))
    grid.cr(source, "/grid/big-file", se="src")
    protocols = {"file": ("src", "/grid/big-file")}
    if "xrd" in grid.ses:
        copy_grid(grid, "/grid/big-file", "/grid/big-root", "xrd")
        protocols["root"] = ("xrd", "/grid/big-root")
    out = work / "out.dat"
    cfg = ["--config", str(config)]
    rows = []
    for protocol, (se, lfn) in protocols.items():
        (surl,) = grid.lr(lfn)
        replica_turl = resolve_turl(surl, grid.ses.get(se), [protocol])
        upload_turl = replica_turl.rsplit("/", 1)[0] + "/gfal-upload.dat"

        def clear_upload(protocol: str = protocol, upload_turl: str = upload_turl) -> None:
            with contextlib.suppress(Exception):
                grid.unlink("/grid/up")
            if protocol == "file":
                Path(turl_to_path(upload_turl)).unlink(missing_ok=True)
            else:
                with contextlib.suppress(Exception):
                    grid.backend(upload_turl).delete(upload_turl)

        series: dict[str, Callable[[], float]] = {
            "down gridfs cp": lambda lfn=lfn: timed([GRIDFS, *cfg, "cp", "-f", lfn, str(out)]),
            "down gridfs, in process": lambda lfn=lfn: in_process(
                lambda: copy_out(grid, lfn, out, overwrite=True)
            ),
            "down gfal-copy": lambda t=replica_turl: timed(
                gfal_copy(t, f"file://{out}", checksum=False), env
            ),
            "down gfal-copy -K ADLER32": lambda t=replica_turl: timed(
                gfal_copy(t, f"file://{out}"), env
            ),
            "up gridfs cp": lambda se=se: timed(
                [GRIDFS, *cfg, "cp", "-d", se, str(source), "/grid/up"]
            ),
            "up gridfs, in process": lambda se=se: in_process(
                lambda: grid.cr(source, "/grid/up", se=se)
            ),
            "up gfal-copy": lambda t=upload_turl: timed(
                gfal_copy(f"file://{source}", t, checksum=False), env
            ),
            "up gfal-copy -K ADLER32": lambda t=upload_turl: timed(
                gfal_copy(f"file://{source}", t), env
            ),
        }
        series.update(native_series(protocol, replica_turl, upload_turl, source, out))
        rates: dict[str, list[float]] = {name: [] for name in series}
        for run in range(runs):
            names = list(series) if run % 2 == 0 else list(reversed(series))
            for name in names:
                out.unlink(missing_ok=True)
                clear_upload()
                seconds = series[name]()
                rates[name].append(size_mib * MIB / 1e6 / seconds)
                print(f"  {protocol} {name}: {rates[name][-1]:.0f} MB/s", file=sys.stderr)
        clear_upload()
        for direction in ("down", "up"):
            ours = statistics.median(rates[f"{direction} gridfs cp"])
            library = statistics.median(rates[f"{direction} gridfs, in process"])
            for name in (n for n in series if n.startswith(direction)):
                median = statistics.median(rates[name])
                rows.append(
                    [
                        f"{protocol}:// {name.removeprefix(direction + ' ')}",
                        "down (grid -> local)" if direction == "down" else "up (local -> grid)",
                        f"{median:.0f}",
                        " ".join(f"{r:.0f}" for r in rates[name]),
                        "" if "gridfs" in name else f"{ours / median:.2f}x",
                        "" if "gridfs" in name else f"{library / median:.2f}x",
                    ]
                )
    return rows


def native_series(
    protocol: str, replica_turl: str, upload_turl: str, source: Path, out: Path
) -> dict[str, Callable[[], float]]:
    """The protocol's own tools on the same copies: cp and dd for file://, xrdcp for root://.

    ``xrdcp`` uses pgread/pgwrite (a CRC32C per 4 KiB page) by default; it is
    timed with them and without (``XRD_CPUSEPGWRTRD=0``), as gridfs reads plainly
    and checks the whole file's adler32 instead.
    """
    from gridfs.storage.file_backend import turl_to_path  # noqa: PLC0415

    if protocol == "file":
        replica, upload = turl_to_path(replica_turl), turl_to_path(upload_turl)
        return {
            "down cp": lambda: timed(["cp", replica, str(out)]),
            "up dd conv=fsync": lambda: timed(
                ["dd", f"if={source}", f"of={upload}", "bs=8M", "conv=fsync", "status=none"]
            ),
        }
    if protocol != "root" or shutil.which("xrdcp") is None:
        return {}
    plain = {**os.environ, "XRD_CPUSEPGWRTRD": "0"}
    return {
        "down xrdcp": lambda: timed(["xrdcp", "-f", "-s", replica_turl, str(out)]),
        "down xrdcp no pgread": lambda: timed(["xrdcp", "-f", "-s", replica_turl, str(out)], plain),
        "up xrdcp": lambda: timed(["xrdcp", "-f", "-s", str(source), upload_turl]),
        "up xrdcp no pgwrite": lambda: timed(
            ["xrdcp", "-f", "-s", str(source), upload_turl], plain
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files in the dataset")
    parser.add_argument("--file-mib", type=int, default=1, help="size of each, MiB")
    parser.add_argument("--cp-mib", type=int, default=1024, help="size of the cp file, MiB")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (medians)")
    parser.add_argument("--no-xrootd", action="store_true", help="file:// SEs only")
    parser.add_argument("--skip-dataset", action="store_true")
    parser.add_argument("--skip-cp", action="store_true")
    args = parser.parse_args()
    use_this_tree()
    env = gfal_env()
    work = Path(tempfile.mkdtemp(prefix="gridfs-replicate-bench-", dir="/var/tmp"))
    started = time.perf_counter()
    try:
        with xrootd_server(work, not args.no_xrootd) as xrootd_url:
            config = write_config(work, xrootd_url)
            grid = open_grid(config)
            try:
                if not args.skip_dataset:
                    rows = dataset_rows(grid, args.files, args.file_mib, args.runs, work)
                    print_table(
                        f"datasets ({args.runs} runs, medians)",
                        ["operation", "-j", "files/s", "MB/s", "MB/s per run", "vs -j 1", "failed"],
                        rows,
                    )
                if not args.skip_cp and env is None:
                    print("\nnote: gfal-copy is not installed (apt install gfal2-util-scripts)")
                elif not args.skip_cp:
                    rows = cp_rows(grid, config, args.cp_mib, args.runs, work=work, env=env)
                    print_table(
                        f"one {args.cp_mib} MiB file ({args.runs} runs, medians)",
                        [
                            "client",
                            "direction",
                            "MB/s",
                            "MB/s per run",
                            "gridfs / it",
                            "in process / it",
                        ],
                        rows,
                    )
            finally:
                grid.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nduration: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
