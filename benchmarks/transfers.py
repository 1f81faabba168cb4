"""The transfer service against ``gridfs rep -r`` and a loop of ``gfal-copy``, and its optimizer.

    .venv/bin/python benchmarks/transfers.py [--files 1000] [--file-mib 1] [--big 20]
        [--big-mib 200] [--agents 1,3] [--gfal-files 50] [--interval 2] [--no-xrootd]
        [--database sqlite|postgresql]

Two datasets are registered on a file:// SE ("src"): ``--files`` files of
``--file-mib`` MiB and ``--big`` files of ``--big-mib`` MiB. Each is copied to
another SE ("dst", file://; with xrootd installed also "xrd", a real XRootD
daemon on loopback) by:

- ``gridfs rep -r DIR -d SE`` (8 files at a time, one process): the baseline;
- a shell loop of ``gfal-copy -K ADLER32 SRC DST``, one process per file, as a
  user without a transfer service does (over the first ``--gfal-files`` files:
  its rate does not depend on how many);
- ``gridfs transfer submit`` then ``--agents`` agents (``gridfs transfer agent
  --until-idle`` processes), timed from the submission to the job's end.

The catalog and the queue are in SQLite (one writer at a time: agents in
separate processes queue on its lock), or with ``--database postgresql`` in a
temporary PostgreSQL server (as the tests run it), where agents share the queue
by row locks.

Every copy is verified (adler32, end to end) and registered, except
gfal-copy's, which are only verified. Between runs the new replicas are
deleted again (not timed). Rows: files/s, MB/s and the ratio to ``rep -r``.

The optimizer: each service run records its decisions per link; the table
shows the concurrency it allowed over time, and where it settled, with the
doubling ramp (gridfs's) and the linear one (FTS3's +2 per decision), at one
decision every ``--interval`` seconds (FTS3: 60; shorter here so that a small
run shows the ramp).

Everything runs on loopback with the files in the page cache, on whatever else
the machine is doing (``uptime`` is printed): these are the costs of the
clients and agents, not of disks or networks.
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

from harness import (
    catalog_database,
    gfal_copy_loop,
    gfal_env,
    print_table,
    use_this_tree,
    xrootd_server,
)

MIB = 1 << 20
GRIDFS = str(Path(sys.executable).with_name("gridfs"))


def write_config(
    work: Path, catalog_url: str, xrootd_url: str | None, ramp: str, interval: float
) -> Path:
    lines = [
        "[catalog]",
        f'url = "{catalog_url}"',
        "[site]",
        'name = "here"',
        "[storage]",
        'default_se = "src"',
        f"protocols = {['file', 'root'] if xrootd_url else ['file']}".replace("'", '"'),
        "[transfer]",
        "slots = 32",
        "poll = 0.2",
        f"interval = {interval}",
        f'ramp = "{ramp}"',
    ]
    for name in ("src", "dst"):
        lines += [f"[se.{name}]", 'site = "here"', f'root = "{work / "se" / name}"']
    if xrootd_url:
        lines += [
            "[se.xrd]",
            'site = "there"',
            'surl_prefix = "srm://xrd/grid"',
            "[se.xrd.protocols]",
            f'root = "{xrootd_url}/se"',
        ]
    path = work / f"config-{ramp}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def gridfs(config: Path, *args: str) -> str:
    result = subprocess.run(
        [GRIDFS, "--config", str(config), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"gridfs {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def make_dataset(grid, work: Path, name: str, files: int, mib: int) -> list[str]:
    from gridfs.gfal.dataset import plan_copy_in, run_tasks  # noqa: PLC0415

    local = work / name
    local.mkdir()
    for index in range(files):
        (local / f"f{index:05}").write_bytes(os.urandom(mib * MIB))
    summary = run_tasks(plan_copy_in(grid, local, f"/grid/{name}", "src"))
    if summary.files != files:
        raise SystemExit(f"copy in failed: {summary.failures[:3]}")
    shutil.rmtree(local)
    return [f"/grid/{name}/f{index:05}" for index in range(files)]


def drop_replicas(grid, lfns: list[str], se: str) -> None:
    """Delete the replicas on ``se`` again (between runs, not timed)."""
    from gridfs.gfal.dataset import Task, run_tasks  # noqa: PLC0415
    from gridfs.gfal.delete import delete  # noqa: PLC0415

    tasks = [
        Task(lfn, se, 0, lambda lfn=lfn: delete(grid, lfn, se=se))
        for lfn in lfns
        if any(r.se == se for r in grid.replicas(lfn))
    ]
    summary = run_tasks(tasks, parallel=8)
    if not summary.ok:
        raise SystemExit(f"clean-up failed: {summary.failures[:3]}")


def run_rep(config: Path, name: str, se: str) -> float:
    started = time.perf_counter()
    gridfs(config, "rep", "-q", "-r", f"/grid/{name}", "-d", se)
    return time.perf_counter() - started


def run_service(config: Path, grid, name: str, se: str, agents: int) -> tuple[float, int]:
    """Seconds from the submission to the job's end, and the files that failed (each said)."""
    from gridfs.config import load_config  # noqa: PLC0415
    from gridfs.transfer import FileState, Transfers  # noqa: PLC0415

    with Transfers.from_config(load_config(config), grid=grid) as transfers:
        started = time.perf_counter()
        job = int(gridfs(config, "transfer", "submit", "-r", f"/grid/{name}", "-d", se))
        workers = [
            subprocess.Popen(
                [GRIDFS, "--config", str(config), "transfer", "agent", "--until-idle"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(agents)
        ]
        record = transfers.wait(job, poll_s=0.1)
        elapsed = time.perf_counter() - started
        for worker in workers:
            worker.wait(120)
        failed = [f for f in record.files if f.state is not FileState.FINISHED]
        for file in failed:
            print(f"  failed: {file.lfn} -> {se}: {file.reason}", file=sys.stderr)
        return elapsed, len(failed)


def run_gfal(grid, lfns: list[str], work: Path, se: str) -> float | None:
    """Seconds for a loop of gfal-copy over ``lfns`` (their src replicas to ``se``'s area)."""
    env = gfal_env()
    if env is None:
        print("note: gfal-copy is not installed (apt install gfal2-util-scripts)", file=sys.stderr)
        return None
    target = work / "gfal" / se
    target.mkdir(parents=True, exist_ok=True)
    pairs = []
    for index, lfn in enumerate(lfns):
        (replica,) = [r for r in grid.replicas(lfn) if r.se == "src"]
        pairs.append((grid.turls(lfn, ["file"])[replica.surl], (target / f"f{index}").as_uri()))
    seconds = gfal_copy_loop(pairs, env)
    shutil.rmtree(target)
    return seconds


def rate_row(
    label: str, mib: int, client: str, *, seconds: float, files: int, base: float | None
) -> list[str]:
    """A row of the copies table (and a line on stderr as it is measured)."""
    mb = files * mib * MIB / 1e6
    ratio = "" if base is None else f"{(mb / seconds) / base:.2f}x"
    print(f"  {label}: {client}: {mb / seconds:.0f} MB/s", file=sys.stderr)
    return [label, client, f"{files / seconds:.1f}", f"{mb / seconds:.0f}", ratio]


def decisions_table(config: Path, grid, job_started: dict[str, float]) -> list[list[str]]:
    from gridfs.config import load_config  # noqa: PLC0415
    from gridfs.transfer import Transfers  # noqa: PLC0415

    rows = []
    with Transfers.from_config(load_config(config), grid=grid) as transfers:
        for link in transfers.links(decisions=1000):
            key = f"{link.source_se}->{link.dest_se}"
            start = job_started.get(key)
            for decision in reversed(link.decisions):
                if start is not None and decision.at < start:
                    continue
                rate = "" if decision.ema is None else f"{decision.ema / 1e6:.0f}"
                rows.append(
                    [
                        key,
                        f"{decision.at - (start or decision.at):.1f}",
                        f"{decision.old_concurrency}->{decision.new_concurrency}",
                        rate,
                        decision.reason,
                    ]
                )
    return rows


def main() -> int:  # noqa: PLR0915 - one scenario after the other, as the docstring lists them
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--file-mib", type=int, default=1)
    parser.add_argument("--big", type=int, default=20)
    parser.add_argument("--big-mib", type=int, default=200)
    parser.add_argument("--agents", default="1,3", help="agent counts, comma-separated")
    parser.add_argument("--gfal-files", type=int, default=50)
    parser.add_argument("--interval", type=float, default=2.0, help="optimizer interval, s")
    parser.add_argument("--no-xrootd", action="store_true")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the catalog's (and the queue's) database",
    )
    args = parser.parse_args()
    use_this_tree()
    from gridfs.catalog import SUPERUSER  # noqa: PLC0415
    from gridfs.config import load_config  # noqa: PLC0415
    from gridfs.gfal import Grid  # noqa: PLC0415

    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} (1 and 5 min)")
    agent_counts = [int(n) for n in args.agents.split(",")]
    work = Path(tempfile.mkdtemp(prefix="gridfs-transfers-bench-", dir="/var/tmp"))
    started = time.perf_counter()
    try:
        with (
            catalog_database(args.database, work, clients=64) as (catalog_url, database),
            xrootd_server(work, not args.no_xrootd) as xrootd_url,
        ):
            print(f"database: {database}")
            configs = {
                ramp: write_config(work, catalog_url, xrootd_url, ramp, args.interval)
                for ramp in ("doubling", "linear")
            }
            config = configs["doubling"]
            grid = Grid.from_config(load_config(config), create=True)
            admin = grid.catalog.as_identity(SUPERUSER)
            admin.mkdir("/grid", 0o755, exist_ok=True)
            admin.chown("/grid", grid.catalog.identity.user, grid.catalog.identity.group)
            datasets = {
                "small": (
                    make_dataset(grid, work, "small", args.files, args.file_mib),
                    args.file_mib,
                ),
                "big": (make_dataset(grid, work, "big", args.big, args.big_mib), args.big_mib),
            }
            destinations = ["dst"] + (["xrd"] if xrootd_url else [])
            rows: list[list[str]] = []
            link_starts: dict[str, dict[str, float]] = {"doubling": {}, "linear": {}}
            for name, (lfns, mib) in datasets.items():
                for se in destinations:
                    label = f"{len(lfns)} x {mib} MiB -> {se}"
                    total_mb = len(lfns) * mib * MIB / 1e6

                    os.sync()
                    seconds = run_rep(config, name, se)
                    base = total_mb / seconds
                    rows.append(
                        rate_row(
                            label,
                            mib,
                            "gridfs rep -r (-j 8)",
                            seconds=seconds,
                            files=len(lfns),
                            base=None,
                        )
                    )
                    drop_replicas(grid, lfns, se)
                    sample = lfns[: args.gfal_files]
                    gfal = run_gfal(grid, sample, work, se) if se == "dst" else None
                    if gfal is not None:
                        rows.append(
                            rate_row(
                                label,
                                mib,
                                "loop of gfal-copy",
                                seconds=gfal,
                                files=len(sample),
                                base=base,
                            )
                        )
                    for agents in agent_counts:
                        os.sync()
                        link_starts["doubling"][f"src->{se}"] = time.time()
                        seconds, failed = run_service(config, grid, name, se, agents)
                        rows.append(
                            rate_row(
                                label,
                                mib,
                                f"transfer service, {agents} agent(s)"
                                + (f" ({failed} failed)" if failed else ""),
                                seconds=seconds,
                                files=len(lfns) - failed,
                                base=base,
                            )
                        )
                        drop_replicas(grid, lfns, se)
            print_table(
                "copies (one run each; the ratio is MB/s against rep -r of the same run)",
                ["dataset", "client", "files/s", "MB/s", "vs rep -r"],
                rows,
            )
            # The optimizer, both ramps, on the small dataset to the file:// SE.
            small, mib = datasets["small"]
            ramp_rows = []
            for ramp in ("doubling", "linear"):
                ramp_config = configs[ramp]
                reset_links(catalog_url)
                link_starts[ramp]["src->dst"] = time.time()
                seconds, _ = run_service(ramp_config, grid, "small", "dst", 1)
                for line in decisions_table(ramp_config, grid, link_starts[ramp]):
                    if line[0] == "src->dst":
                        ramp_rows.append([ramp, *line[1:]])
                ramp_rows.append(
                    [
                        ramp,
                        f"{seconds:.1f}",
                        "(end)",
                        f"{len(small) * mib * MIB / 1e6 / seconds:.0f}",
                        "job done",
                    ]
                )
                drop_replicas(grid, small, "dst")
            print_table(
                f"optimizer on src->dst, a decision every {args.interval:g} s (one agent)",
                ["ramp", "t (s)", "streams", "EMA MB/s", "reason"],
                ramp_rows,
            )
            grid.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nduration: {time.perf_counter() - started:.0f} s")
    return 0


def reset_links(catalog_url: str) -> None:
    """Forget what the optimizer learnt, so that each ramp starts from the same point."""
    from sqlalchemy import delete  # noqa: PLC0415

    from gridfs.transfer import TransferStore  # noqa: PLC0415
    from gridfs.transfer.models import LinkModel  # noqa: PLC0415

    store = TransferStore.from_url(catalog_url)
    with store.engine.begin() as connection:
        connection.execute(delete(LinkModel))
    store.close()


if __name__ == "__main__":
    sys.exit(main())
