"""The gridfs command, run as a user runs it: a subprocess."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from gridfs.config import load_config
from gridfs.gfal import Grid
from gridfs.storage import resolve_turl
from gridfs.storage.file_backend import turl_to_path
from tests.conftest import stored_files

GRIDFS = str(Path(sys.executable).with_name("gridfs"))


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [GRIDFS, *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )
    if check and result.returncode != 0:
        pytest.fail(f"gridfs {' '.join(map(str, args))} failed: {result.stderr}")
    return result


def fails(*args: str | Path, message: str) -> None:
    """The command fails with one clear line on stderr, no traceback."""
    result = run(*args, check=False)
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("gridfs: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A grid made by `gridfs init`, with a second SE at another site."""
    config = tmp_path / "config.toml"
    result = run(
        "--config",
        config,
        "init",
        tmp_path / "grid",
        "--vo",
        "gilda",
        "--site",
        "cern",
        "--se",
        "cern-se",
    )
    assert f"configuration: {config}" in result.stdout
    run("--config", config, "se", "add", "ral-se", "--site", "ral", "--root", tmp_path / "ral")
    return tmp_path


def test_init_se_cr_ls_stat_cat_lr(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    listing = run(*cfg, "se", "list").stdout.splitlines()
    assert listing[0].split() == ["NAME", "SITE", "ACCESS", "SURL", "PREFIX", "TURL", "PREFIXES"]
    assert [line.split()[:3] for line in listing[1:]] == [
        ["cern-se", "cern", "rw"],
        ["ral-se", "ral", "rw"],
    ]
    source = make_file("matrix.mpg", 777_777)
    out = run(*cfg, "cr", source, "/grid/gilda/matrix.mpg").stdout
    assert out.startswith("guid:")
    guid = out.strip().removeprefix("guid:")
    surl = run(*cfg, "rep", "/grid/gilda/matrix.mpg", "-d", "ral-se").stdout.strip()
    assert surl.startswith("srm://ral-se.ral/grid/generated/")
    assert run(*cfg, "lr", "/grid/gilda/matrix.mpg").stdout.splitlines()[1] == surl
    assert run(*cfg, "ls", "/grid/gilda").stdout == "matrix.mpg\n"
    assert run(*cfg, "ls").stdout == "gilda\n"
    long = run(*cfg, "ls", "-l", "/grid/gilda").stdout.split()
    assert long[0] == "-rw-r--r--"
    assert long[4] == "777777"
    assert long[-1] == "matrix.mpg"
    assert run(*cfg, "ls", "-d", "/grid/gilda").stdout == "/grid/gilda\n"
    stat = run(*cfg, "stat", "/grid/gilda/matrix.mpg").stdout
    assert f"GUID:      {guid}" in stat
    assert "replicas:  2" in stat
    assert "checksum:  adler32:" in stat
    cat = subprocess.run(
        [GRIDFS, *cfg, "cat", "/grid/gilda/matrix.mpg"], capture_output=True, check=True
    )
    assert hashlib.sha256(cat.stdout).digest() == hashlib.sha256(source.read_bytes()).digest()
    run(*cfg, "mkdir", "-p", "/grid/gilda/a/b")
    assert run(*cfg, "ls", "/grid/gilda/a").stdout == "b\n"


def test_cat_into_a_closed_pipe_is_not_an_error(home: Path, make_file) -> None:
    cfg = f"--config {home / 'config.toml'}"
    run("--config", home / "config.toml", "cr", make_file("big", 5_000_000), "/grid/gilda/big")
    result = subprocess.run(
        f"{GRIDFS} {cfg} cat /grid/gilda/big | head -c 10 | wc -c",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "10"
    assert result.stderr == ""


def test_bad_input_is_one_line_and_leaves_nothing(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    source = make_file("x", 1000)
    fails(*cfg, "ls", "/grid/gilda/nope", message="no such LFN: /grid/gilda/nope")
    fails(*cfg, "stat", "grid/relative", message="invalid LFN 'grid/relative'")
    fails(
        *cfg,
        "cr",
        source,
        "/grid/gilda/x",
        "-d",
        "nowhere-se",
        message="unknown storage element 'nowhere-se'",
    )
    fails(*cfg, "cr", home / "missing.dat", "/grid/gilda/x", message="no such local file")
    fails(*cfg, "cr", source, "/grid/gilda/x", "-g", "nonsense", message="not a GUID: 'nonsense'")
    fails(*cfg, "cat", "/grid/gilda", message="is a directory")
    fails(*cfg, "mount", home / "no-such-dir", message="mountpoint does not exist")
    fails(*cfg, "umount", home, message="not a mount point")
    fails(
        *cfg, "se", "add", "cern-se", "--site", "x", "--root", home / "y", message="exists already"
    )
    fails("--config", home / "absent.toml", "ls", message="no configuration file")
    fails(*cfg, "init", home / "again", message="exists already")
    assert run(*cfg, "se", "list").stdout.count("\n") == 3
    with Grid.from_config(load_config(home / "config.toml")) as grid:
        assert grid.listdir("/grid/gilda") == []
    assert stored_files(home / "grid") == []
    assert not (home / "ral").exists() or not any((home / "ral").iterdir())


def test_ls_reports_each_bad_argument_and_lists_the_rest(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "mkdir", "-p", "/grid/gilda/runs/2026")
    with Grid.from_config(load_config(home / "config.toml")) as grid:
        grid.symlink("/grid/gilda/runs", "/grid/gilda/latest")
        grid.symlink("/grid/gilda/gone", "/grid/gilda/dangling")
    assert run(*cfg, "ls", "/grid/gilda/latest").stdout == "2026\n"
    assert run(*cfg, "ls", "-d", "/grid/gilda/latest").stdout == "/grid/gilda/latest\n"
    long = run(*cfg, "ls", "-l", "/grid/gilda/dangling").stdout
    assert long.rstrip().endswith("/grid/gilda/dangling -> /grid/gilda/gone")
    result = run(*cfg, "ls", "/grid/gilda/nope", "/grid/gilda/runs", check=False)
    assert result.returncode == 1
    assert result.stderr == "gridfs: no such LFN: /grid/gilda/nope\n"
    assert result.stdout == "/grid/gilda/runs:\n2026\n"


def test_usage_errors_exit_2() -> None:
    result = run("cr", check=False)
    assert result.returncode == 2
    assert "Missing argument" in result.stderr
    assert run("--help").stdout.startswith("Usage: gridfs")


def test_lfc_verbs(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "mkdir", "-p", "/grid/gilda/trailers/2005")
    run(*cfg, "cr", make_file("m", 1000), "/grid/gilda/trailers/2005/matrix.mpg")
    guid = run(*cfg, "lg", "/grid/gilda/trailers/2005/matrix.mpg").stdout.strip()
    assert guid.startswith("guid:")
    run(*cfg, "aa", "/grid/gilda/trailers/2005/matrix.mpg", "/grid/gilda/neo.mpg")
    run(*cfg, "ln", "-s", "trailers/2005", "/grid/gilda/latest")
    assert run(*cfg, "la", guid).stdout.splitlines() == [
        "/grid/gilda/trailers/2005/matrix.mpg",
        "/grid/gilda/neo.mpg",
    ]
    run(*cfg, "ra", "/grid/gilda/neo.mpg")
    assert run(*cfg, "la", "/grid/gilda/latest/matrix.mpg").stdout.splitlines() == [
        "/grid/gilda/trailers/2005/matrix.mpg"
    ]
    run(*cfg, "mkdir", "/grid/gilda/archive")
    run(*cfg, "mv", "/grid/gilda/trailers/2005", "/grid/gilda/archive")
    assert run(*cfg, "lg", "/grid/gilda/archive/2005/matrix.mpg").stdout.strip() == guid
    listing = run(*cfg, "ls", "-R", "/grid/gilda/archive").stdout
    assert listing == "/grid/gilda/archive:\n2005\n\n/grid/gilda/archive/2005:\nmatrix.mpg\n"
    run(*cfg, "chmod", "640", "/grid/gilda/archive/2005/matrix.mpg")
    assert run(*cfg, "ls", "-l", "/grid/gilda/archive/2005").stdout.startswith("-rw-r----- ")
    run(*cfg, "setacl", "-m", "user:bob:r--", "/grid/gilda/archive/2005/matrix.mpg")
    acl = run(*cfg, "getacl", "/grid/gilda/archive/2005/matrix.mpg").stdout
    assert "user:bob:r--\n" in acl
    assert "mask::r--\n" in acl
    run(*cfg, "setcomment", "/grid/gilda/archive", "old trailers")
    assert "comment:   old trailers" in run(*cfg, "stat", "/grid/gilda/archive").stdout
    run(*cfg, "delcomment", "/grid/gilda/archive")
    assert "comment" not in run(*cfg, "stat", "/grid/gilda/archive").stdout

    (surl,) = run(*cfg, "lr", "/grid/gilda/archive/2005/matrix.mpg").stdout.split()
    run(*cfg, "uf", surl, "/grid/gilda/archive/2005/matrix.mpg")
    assert run(*cfg, "lr", "/grid/gilda/archive/2005/matrix.mpg").stdout == ""
    run(*cfg, "rf", surl, "/grid/gilda/archive/2005/matrix.mpg", "-d", "cern-se")
    assert run(*cfg, "lr", "/grid/gilda/archive/2005/matrix.mpg").stdout.strip() == surl
    fails(
        *cfg,
        "rf",
        "srm://elsewhere/x",
        "/grid/gilda/archive/2005/matrix.mpg",
        "-d",
        "cern-se",
        message="not in the storage area of cern-se",
    )
    fails(*cfg, "rmdir", "/grid/gilda/archive", message="directory not empty")
    bad_mode = run(*cfg, "chmod", "999", "/grid/gilda/archive", check=False)
    assert bad_mode.returncode == 2
    assert "'999' is not an octal mode" in bad_mode.stderr
    assert len(stored_files(home / "grid")) == 1
    run(*cfg, "rm", "-r", "/grid/gilda/archive")
    assert stored_files(home / "grid") == []  # the replica went with the file
    run(*cfg, "rm", "/grid/gilda/latest")
    assert run(*cfg, "ls", "/grid/gilda").stdout == "trailers\n"


def test_se_status_and_rm(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    with (home / "config.toml").open("a") as config:
        config.write(
            '\n[se.dead-se]\nsite = "x"\n[se.dead-se.protocols]\ndav = "dav://127.0.0.1:9/data"\n'
        )
    status = run(*cfg, "se", "status", check=False)
    assert status.returncode == 1
    lines = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
    assert lines["cern-se"][1:3] == ["file", "up"]
    assert lines["ral-se"][2] == "up"
    assert lines["dead-se"][1:3] == ["dav", "down"]
    assert "cannot connect" in status.stdout
    run(*cfg, "se", "rm", "dead-se")
    assert run(*cfg, "se", "status").returncode == 0
    fails(*cfg, "se", "rm", "cern-se", message="is the default SE")
    fails(*cfg, "se", "rm", "nowhere-se", message="no storage element 'nowhere-se'")


def test_tape_verbs(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    with (home / "config.toml").open("a") as config:
        config.write(
            f'\n[se.tape-se]\nsite = "cern"\nroot = "{home}/tape/disk"\n'
            f'tape = "{home}/tape/tape"\nstage_delay = 0.2\n'
        )
    source = make_file("raw", 5000)
    run(*cfg, "cr", source, "/grid/gilda/raw", "-d", "tape-se")
    assert run(*cfg, "locality", "/grid/gilda/raw").stdout.startswith("ONLINE_AND_NEARLINE ")
    run(*cfg, "release", "/grid/gilda/raw")
    assert run(*cfg, "locality", "/grid/gilda/raw").stdout.startswith("NEARLINE ")
    fails(*cfg, "cat", "/grid/gilda/raw", message="NEARLINE: bring it online first")
    out = run(*cfg, "bring-online", "/grid/gilda/raw", "--pin", "60").stdout
    assert out == "/grid/gilda/raw: staged, pinned for 60 s\n"
    cat = subprocess.run([GRIDFS, *cfg, "cat", "/grid/gilda/raw"], capture_output=True, check=True)
    assert cat.stdout == source.read_bytes()
    assert run(*cfg, "bring-online", "/grid/gilda/raw").stdout == "/grid/gilda/raw: online\n"


def test_a_corrupt_replica_is_failed_over_marked_and_shown(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    source = make_file("run.root", 2_000_000)
    run(*cfg, "cr", source, "/grid/gilda/run.root")  # on cern-se, the local site's: read first
    good = run(*cfg, "rep", "/grid/gilda/run.root", "-d", "ral-se").stdout.strip()
    run(*cfg, "cr", source, "/grid/gilda/only.root")
    with Grid.from_config(load_config(home / "config.toml")) as grid:
        bad, only = (
            next(r.surl for r in grid.replicas(lfn) if r.se == "cern-se")
            for lfn in ("/grid/gilda/run.root", "/grid/gilda/only.root")
        )
        for surl in (bad, only):  # bit rot: same size, other bytes
            turl = resolve_turl(surl, grid.ses.get("cern-se"), ["file"])
            Path(turl_to_path(turl)).write_bytes(bytes(2_000_000))
    run(*cfg, "cp", "/grid/gilda/run.root", home / "copy.root")
    assert (home / "copy.root").read_bytes() == source.read_bytes()
    assert run(*cfg, "lr", "/grid/gilda/run.root").stdout == f"{good}\n"
    assert [
        line.split() for line in run(*cfg, "lr", "-l", "/grid/gilda/run.root").stdout.splitlines()
    ] == [
        ["bad", "cern-se", bad],
        ["available", "ral-se", good],
    ]
    assert f"replicas:  1 (and 1 bad: {bad})" in run(*cfg, "stat", "/grid/gilda/run.root").stdout
    # The only copy corrupt: cat fails at the end instead of ending with success.
    cat = subprocess.run(
        [GRIDFS, *cfg, "cat", "/grid/gilda/only.root"], capture_output=True, text=False, check=False
    )
    assert cat.returncode == 1
    assert cat.stderr.decode().startswith(f"gridfs: the replica {only} read is corrupt: adler32 ")
    assert "catalog says" in cat.stderr.decode()
    fails(*cfg, "cp", "/grid/gilda/only.root", home / "only.root", message="no replica of")
    assert not (home / "only.root").exists()
