"""gridfs cp, rep -r, del, sum, --json and completion, run as a user runs them."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pty
import struct
import subprocess
import termios
import zlib
from pathlib import Path

from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from tests.cli.test_cli import GRIDFS, fails, home, run
from tests.conftest import stored_files

__all__ = ["home"]  # the fixture: a grid made by `gridfs init`, with a second SE


def make_tree(root: Path, files: int = 6) -> Path:
    for index in range(files):
        path = root / ("a" if index % 2 else "b/c") / f"f{index}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(10_000 + index))
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_cp_between_grid_and_local_disk_and_within_the_grid(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    source = make_file("run.dat", 300_000)
    run(*cfg, "cp", source, "/grid/gilda/run.dat")
    out = home / "out"
    out.mkdir()
    run(*cfg, "cp", "lfn:/grid/gilda/run.dat", out / "run.dat")
    assert (out / "run.dat").read_bytes() == source.read_bytes()
    fails(*cfg, "cp", "/grid/gilda/run.dat", out / "run.dat", message="overwrite it with -f")
    fails(*cfg, "cp", source, "/grid/gilda/run.dat", message="overwrite it with -f")
    run(*cfg, "cp", "-f", "/grid/gilda/run.dat", f"file://{out / 'run.dat'}")
    run(*cfg, "cp", "/grid/gilda/run.dat", "/grid/gilda/copy.dat", "-d", "ral-se")
    assert run(*cfg, "lr", "/grid/gilda/copy.dat").stdout.startswith("srm://ral-se.ral/")
    guids = {run(*cfg, "lg", f"/grid/gilda/{n}.dat").stdout for n in ("run", "copy")}
    assert len(guids) == 2
    run(*cfg, "mkdir", "/grid/gilda/into")
    run(*cfg, "cp", source, make_file("two.dat", 10), "/grid/gilda/into")  # into a directory
    assert sorted(run(*cfg, "ls", "/grid/gilda/into").stdout.split()) == ["run.dat", "two.dat"]
    run(*cfg, "cp", "-p", "/grid/gilda/into/two.dat", out / "x" / "y" / "two.dat")
    run(*cfg, "cp", "-p", source, "/grid/gilda/new/dir/run.dat")
    run(*cfg, "cp", "/grid/gilda/into/two.dat", out)  # a local directory: into it
    assert (out / "two.dat").read_bytes() == (out / "x" / "y" / "two.dat").read_bytes()
    fails(*cfg, "cp", "/grid/gilda/into", out, message="is a directory (copy it with -r)")
    fails(*cfg, "cp", source, out / "z", message="use cp(1) for local copies")
    fails(*cfg, "cp", source, out, "/grid/gilda/run.dat", message="must be an existing directory")
    fails(*cfg, "cp", "root://h//x", out, message="not a root:// URL")
    bad_k = run(*cfg, "cp", "-K", "md5", source, "/grid/gilda/k.dat", check=False)
    assert bad_k.returncode == 2
    assert "copies are verified with adler32" in bad_k.stderr
    assert not list(out.glob(".*.part"))


def test_cp_r_and_rep_r_of_a_dataset(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "se", "add", "infn-se", "--site", "infn", "--root", home / "infn")
    source = make_tree(home / "dataset")
    summary = json.loads(run(*cfg, "cp", "-r", "--json", source, "/grid/gilda/ds").stdout)
    assert (summary["files"], summary["failed"]) == (6, 0)
    assert summary["bytes"] == sum(len(data) for data in tree(source).values())
    text = run(*cfg, "rep", "-r", "/grid/gilda/ds", "-d", "ral-se", "-d", "infn-se", "-j", "3")
    assert text.stdout.startswith("12 files, ")
    assert "MB/s" in text.stdout
    again = json.loads(run(*cfg, "rep", "-r", "--json", "/grid/gilda/ds", "-d", "ral-se").stdout)
    assert (again["files"], again["skipped"]) == (0, 6)
    assert len(run(*cfg, "lr", "/grid/gilda/ds/a/f1.dat").stdout.split()) == 3
    run(*cfg, "cp", "-r", "-q", "/grid/gilda/ds", home / "back")
    assert tree(home / "back") == tree(source)
    run(*cfg, "cp", "-r", "/grid/gilda/ds", "/grid/gilda/ds2")
    assert sorted(run(*cfg, "ls", "/grid/gilda/ds2/b/c").stdout.split()) == [
        "f0.dat",
        "f2.dat",
        "f4.dat",
    ]
    fails(*cfg, "cp", "-r", "/grid/gilda/ds", "/grid/gilda/ds/in", message="into itself")
    fails(*cfg, "rep", "/grid/gilda/ds", "-d", "ral-se", message="replicate it with -r")


def test_a_dataset_with_failures_lists_each_and_exits_1(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    source = make_tree(home / "dataset")
    run(*cfg, "cp", "-p", source / "a" / "f1.dat", "/grid/gilda/ds/dataset/a/f1.dat")
    run(*cfg, "cp", source / "a" / "f3.dat", "/grid/gilda/ds/dataset/a/f3.dat")
    # as cp -r: the existing directory gets the tree inside it, as ds/dataset
    result = run(*cfg, "cp", "-r", source, "/grid/gilda/ds", check=False)
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("gridfs: failed:")]
    assert sorted(line.split(" -> ")[1].split(":")[0] for line in failed) == [
        "/grid/gilda/ds/dataset/a/f1.dat",
        "/grid/gilda/ds/dataset/a/f3.dat",
    ]
    assert all("overwrite it with -f" in line for line in failed)
    assert "4 files, " in result.stderr
    assert "2 FAILED" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(stored_files(home / "grid")) == 6


def test_sum_and_del(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    source = make_file("f.dat", 123_456)
    data = source.read_bytes()
    run(*cfg, "cp", source, "/grid/gilda/f.dat")
    run(*cfg, "rep", "/grid/gilda/f.dat", "-d", "ral-se")
    adler = f"{zlib.adler32(data):08x}"
    assert run(*cfg, "sum", "/grid/gilda/f.dat").stdout == f"/grid/gilda/f.dat {adler}\n"
    md5 = run(*cfg, "sum", "-K", "MD5", "lfn:/grid/gilda/f.dat").stdout.split()[1]
    assert md5 == hashlib.md5(data).hexdigest()
    assert run(*cfg, "sum", "--replica", "/grid/gilda/f.dat").stdout.split()[1] == adler
    every = json.loads(run(*cfg, "sum", "--all-replicas", "--json", "/grid/gilda/f.dat").stdout)
    assert [r["value"] for r in every[0]["replicas"]] == [adler, adler]
    assert every[0]["mismatches"] == []
    with Grid.from_config(load_config(home / "config.toml")) as grid:
        (ral,) = [r for r in grid.catalog.replicas("/grid/gilda/f.dat") if r.se == "ral-se"]
        stored = Path(turl_to_path(resolve_turl(ral.surl, grid.ses.get("ral-se"), ["file"])))
    stored.write_bytes(b"\0" * len(data))
    bad = run(*cfg, "sum", "--all-replicas", "/grid/gilda/f.dat", check=False)
    assert bad.returncode == 1
    assert f"{ral.surl} " in bad.stdout
    assert "MISMATCH" in bad.stdout
    assert bad.stderr.startswith(f"gridfs: /grid/gilda/f.dat: replica {ral.surl} has adler32")
    usage = run(*cfg, "del", "/grid/gilda/f.dat", check=False)
    assert usage.returncode == 2
    run(*cfg, "del", "-s", "ral-se", "/grid/gilda/f.dat")
    assert not stored.exists()
    assert len(run(*cfg, "lr", "/grid/gilda/f.dat").stdout.split()) == 1
    run(*cfg, "cp", source, "/grid/gilda/g.dat")
    (surl,) = run(*cfg, "lr", "/grid/gilda/g.dat").stdout.split()
    run(*cfg, "del", "--surl", surl, "/grid/gilda/g.dat")  # the last replica: the file goes
    run(*cfg, "del", "-a", "/grid/gilda/f.dat")
    assert run(*cfg, "ls", "/grid/gilda").stdout == ""
    assert stored_files(home / "grid") == []
    fails(*cfg, "del", "-a", "/grid/gilda/f.dat", message="no such LFN")
    # A bad argument is reported; the others are still done.
    run(*cfg, "cp", source, "/grid/gilda/h.dat")
    some = run(*cfg, "sum", "/grid/gilda/none", "/grid/gilda/h.dat", check=False)
    assert (some.returncode, some.stdout) == (1, f"/grid/gilda/h.dat {adler}\n")
    assert some.stderr.startswith("gridfs: no such LFN: /grid/gilda/none")
    gone = run(*cfg, "del", "-a", "/grid/gilda/none", "/grid/gilda/h.dat", check=False)
    assert gone.returncode == 1
    assert run(*cfg, "ls", "/grid/gilda").stdout == ""


def test_json_of_ls_stat_and_lr(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "cp", "-p", make_file("f", 1000), "/grid/gilda/d/f")
    listing = json.loads(run(*cfg, "ls", "--json", "-R", "/grid/gilda").stdout)
    assert [(e["lfn"], e["type"]) for e in listing] == [
        ("/grid/gilda/d", "directory"),
        ("/grid/gilda/d/f", "file"),
    ]
    entry = json.loads(run(*cfg, "stat", "--json", "/grid/gilda/d/f").stdout)
    assert entry["size"] == 1000
    assert entry["checksum_type"] == "adler32"
    assert [r["se"] for r in entry["replicas"]] == ["cern-se"]
    replicas = json.loads(run(*cfg, "lr", "--json", "/grid/gilda/d/f").stdout)
    assert replicas == [{"lfn": "/grid/gilda/d/f"} | r for r in entry["replicas"]]
    assert run(*cfg, "bringonline", "/grid/gilda/d/f").stdout == "/grid/gilda/d/f: online\n"


def test_shell_completion(home: Path, make_file) -> None:
    cfg = home / "config.toml"
    for shell in ("bash", "zsh", "fish"):
        script = run("completion", shell).stdout
        assert "_GRIDFS_COMPLETE" in script
    run("--config", cfg, "mkdir", "-p", "/grid/gilda/trailers/2005")
    run("--config", cfg, "cp", make_file("m", 10), "/grid/gilda/trailer.txt")

    def complete(*words: str) -> list[str]:
        line = ["gridfs", "--config", str(cfg), *words]
        env = os.environ | {
            "_GRIDFS_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(line),
            "COMP_CWORD": str(len(line) - 1),
        }
        result = subprocess.run(
            [GRIDFS], env=env, capture_output=True, text=True, check=True, timeout=60
        )
        return result.stdout.splitlines()

    assert complete("ls", "/grid/gilda/tra") == [
        "plain,/grid/gilda/trailers/",
        "plain,/grid/gilda/trailer.txt",
    ]
    assert complete("cp", "lfn:/grid/gilda/trailers/") == ["plain,lfn:/grid/gilda/trailers/2005/"]
    assert complete("cp", "/gr") == ["plain,/grid/"]
    assert complete("cp", "some/local") == ["file,some/local"]
    assert "plain,cp" in complete("c")


def test_se_clean_deletes_copies_no_replica_names(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "cp", make_file("f", 1000), "/grid/gilda/f")
    (surl,) = run(*cfg, "lr", "/grid/gilda/f").stdout.split()
    run(*cfg, "uf", surl, "/grid/gilda/f")  # the copy stays, registered nowhere
    assert run(*cfg, "se", "clean", "cern-se").stdout == ""  # younger than an hour
    listed = run(*cfg, "se", "clean", "cern-se", "--older-than", "0", "-n").stdout
    assert listed == f"would delete unregistered copy {surl} (1000 B)\n"
    assert len(stored_files(home / "grid")) == 1
    deleted = run(*cfg, "se", "clean", "cern-se", "--older-than", "0").stdout
    assert deleted == f"deleted unregistered copy {surl} (1000 B)\n"
    assert stored_files(home / "grid") == []


def test_a_progress_bar_on_a_terminal_only(home: Path) -> None:
    cfg = ("--config", str(home / "config.toml"))
    source = make_tree(home / "dataset")

    def stderr_on_a_terminal(*args: str) -> str:
        leader, follower = pty.openpty()
        # 24 rows of 80 columns: a terminal of no width gets no bar
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        try:
            result = subprocess.run(
                [GRIDFS, *cfg, *args], stderr=follower, capture_output=False, check=True
            )
            assert result.returncode == 0
            os.close(follower)
            follower = -1
            chunks = []
            with contextlib.suppress(OSError):  # EIO: the terminal's far end is closed
                while chunk := os.read(leader, 65536):
                    chunks.append(chunk)
            return b"".join(chunks).decode()
        finally:
            os.close(leader)
            if follower != -1:
                os.close(follower)

    shown = stderr_on_a_terminal("cp", "-r", "-j", "1", str(source), "/grid/gilda/ds")
    assert "0/6 files:" in shown
    assert "B/s" in shown
    assert stderr_on_a_terminal("cp", "-r", "-q", str(source), "/grid/gilda/ds2") == ""
