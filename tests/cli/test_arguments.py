"""The CLI as LFC and lcg-utils users expect: several files per verb, lfn:/guid: forms,
quiet closed pipes, bad values refused in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gridfs.config import load_config
from gridfs.gfal import Grid
from tests.cli.test_cli import GRIDFS, fails, home, run

__all__ = ["home"]  # the fixture, shared with test_cli


def _fails_on(*args: str | Path, lines: list[str]) -> None:
    """The command reports exactly ``lines`` (bad arguments) on stderr and exits 1."""
    result = run(*args, check=False)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == lines


def test_every_verb_takes_several_files_and_goes_on_past_a_bad_one(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    d = "/grid/gilda"
    run(*cfg, "mkdir", "-p", f"{d}/a/x", f"{d}/b")
    run(*cfg, "mkdir", f"{d}/c", f"{d}/e")
    assert run(*cfg, "ls", d).stdout.split() == ["a", "b", "c", "e"]
    _fails_on(*cfg, "mkdir", f"{d}/c", f"{d}/f", lines=[f"gridfs: LFN exists: {d}/c"])
    source = home / "one.txt"
    source.write_text("one line\n")
    for name in ("f1", "f2", "f3"):
        run(*cfg, "cr", source, f"{d}/{name}")
    missing = f"gridfs: no such LFN: {d}/nope"

    _fails_on(*cfg, "chmod", "600", f"{d}/f1", f"{d}/nope", f"{d}/f2", lines=[missing])
    long = run(*cfg, "ls", "-l", f"{d}/f1", f"{d}/f2", f"{d}/f3").stdout.split("\n")
    assert [line[:10] for line in long if line] == ["-rw-------", "-rw-------", "-rw-r--r--"]
    _fails_on(*cfg, "chown", ":root", f"{d}/nope", f"{d}/f1", lines=[missing])
    _fails_on(*cfg, "stat", f"{d}/f1", f"{d}/nope", f"{d}/f2", lines=[missing])
    shown = run(*cfg, "stat", f"{d}/f1", f"{d}/f2").stdout
    assert [line.split()[1] for line in shown.splitlines() if line.startswith("LFN:")] == [
        f"{d}/f1",
        f"{d}/f2",
    ]
    _fails_on(*cfg, "cat", f"{d}/f1", f"{d}/nope", f"{d}/f2", lines=[missing])
    assert run(*cfg, "cat", f"{d}/f1", f"{d}/f2").stdout == "one line\n" * 2

    guids = run(*cfg, "lg", f"{d}/f1", f"{d}/f2").stdout.splitlines()
    assert [line.split()[0] for line in guids] == [f"{d}/f1", f"{d}/f2"]
    assert all(line.split()[1].startswith("guid:") for line in guids)
    assert run(*cfg, "lr", f"{d}/f1", f"{d}/f2").stdout.count("srm://") == 2

    _fails_on(*cfg, "mv", f"{d}/f1", f"{d}/nope", f"{d}/f2", f"{d}/b", lines=[missing])
    assert run(*cfg, "ls", f"{d}/b").stdout.split() == ["f1", "f2"]
    fails(*cfg, "mv", f"{d}/f3", f"{d}/b/f1", f"{d}/f9", message=f"not a directory: {d}/f9")

    _fails_on(*cfg, "rm", f"{d}/b/f1", f"{d}/nope", f"{d}/b/f2", lines=[missing])
    _fails_on(
        *cfg, "rmdir", f"{d}/a", f"{d}/b", f"{d}/c", lines=[f"gridfs: directory not empty: {d}/a"]
    )
    assert run(*cfg, "ls", d).stdout.split() == ["a", "e", "f", "f3"]


def test_lr_lg_la_cr_take_the_lfn_and_guid_forms(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    source = make_file("data", 1000)
    out = run(*cfg, "cr", f"file://{source}", "lfn:/grid/gilda/data").stdout
    guid = out.strip().removeprefix("guid:")
    run(*cfg, "aa", "/grid/gilda/data", "/grid/gilda/alias")
    assert run(*cfg, "lg", "lfn:/grid/gilda/data").stdout == f"guid:{guid}\n"
    surls = run(*cfg, "lr", "/grid/gilda/data").stdout
    assert run(*cfg, "lr", f"guid:{guid}").stdout == surls
    assert run(*cfg, "lr", "lfn:/grid/gilda/data").stdout == surls
    names = "/grid/gilda/data\n/grid/gilda/alias\n"
    assert run(*cfg, "la", f"guid:{guid}").stdout == names
    assert run(*cfg, "la", "lfn:/grid/gilda/data").stdout == names
    assert run(*cfg, "la", guid).stdout == names
    fails(*cfg, "lr", "guid:nonsense", message="not a GUID: 'nonsense'")
    fails(*cfg, "cr", source, f"guid:{guid}", message="name the new file by LFN")
    fails(*cfg, "cr", "lfn:/grid/gilda/data", "/grid/gilda/y", message="cr copies a local file")


def _pipeline(command: str) -> tuple[int, str]:
    """The exit status of gridfs in ``gridfs ... | head ...`` (bash), and its stderr."""
    result = subprocess.run(
        ["bash", "-c", f'{command} | head -c 10 >/dev/null; exit "${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result.returncode, result.stderr


def test_a_closed_pipe_ends_the_command_quietly_as_in_coreutils(home: Path, make_file) -> None:
    config = home / "config.toml"
    with Grid.from_config(load_config(config)) as grid:
        # More than a pipe holds (64 KiB), so that gridfs is still writing when head exits.
        for i in range(400):
            grid.mkdir(f"/grid/gilda/{i:03d}-" + "x" * 240)
    run("--config", config, "cr", make_file("big", 3_000_000), "/grid/gilda/big")
    for command in (
        f"{GRIDFS} --config {config} ls -R /grid",
        f"{GRIDFS} --config {config} ls -l /grid/gilda",
        f"{GRIDFS} --config {config} cat /grid/gilda/big",
    ):
        status, stderr = _pipeline(command)
        assert (status, stderr) == (141, ""), command


def test_bad_values_are_refused_in_one_line(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    source = make_file("f", 100)
    run(*cfg, "cr", source, "/grid/gilda/f")
    fails(*cfg, "bring-online", "/grid/gilda/f", "--pin", "-5", message="--pin: a pin lifetime")
    fails(*cfg, "bring-online", "/grid/gilda/f", "--timeout", "-1", message="--timeout:")
    guid = run(*cfg, "lg", "/grid/gilda/f").stdout.strip().removeprefix("guid:")
    fails(
        *cfg,
        "cr",
        source,
        "/grid/gilda/g",
        "-g",
        guid.upper(),
        message=f"GUID {guid} is taken (by /grid/gilda/f)",
    )
    fails(*cfg, "ls", "/grid/gilda/g", message="no such LFN")


def test_stat_of_a_file_being_written_shows_no_none(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    with (
        Grid.from_config(load_config(home / "config.toml")) as grid,
        grid.open("/grid/gilda/w", "wb") as stream,
    ):
        stream.write(b"x" * 1000)
        stream.flush()
        shown = run(*cfg, "stat", "/grid/gilda/w").stdout
        listed = run(*cfg, "ls", "-l", "/grid/gilda").stdout
    assert "None" not in shown + listed, shown + listed
    assert "status:    writing" in shown
    assert "checksum:  none" in shown
