"""gridfs register: files already on an SE registered in bulk, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import zlib
from pathlib import Path

import tomlkit

from gridfs.storage import partial_upload_name
from tests.cli.test_cli import GRIDFS, home, run
from tests.storage_servers import XRootDServer

__all__ = ["home"]  # the fixture: a grid made by `gridfs init`, with a second SE

RAL = "srm://ral-se.ral/grid"


def adler32(data: bytes) -> str:
    return f"{zlib.adler32(data):08x}"


def stored(root: Path, relative: str, size: int) -> bytes:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def cat(cfg: tuple[str | Path, ...], lfn: str) -> bytes:
    result = subprocess.run([GRIDFS, *cfg, "cat", lfn], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_tree_on_an_se_is_registered_once_however_often_it_is_run(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    data = {
        name: stored(home / "ral", f"data/{name}", size)
        for name, size in (("run1/a", 1000), ("run1/b", 0), ("run2/deep/c", 70_000))
    }
    stored(home / "ral", f"data/run1/{partial_upload_name('d')}", 10)  # a writer's, unfinished
    out = run(*cfg, "register", f"{RAL}/data", "/grid/gilda/data")
    assert out.stdout == "registered 3 files, 0 registered already\n"
    assert out.stderr == ""
    for name, content in data.items():
        lfn = f"/grid/gilda/data/{name}"
        assert cat(cfg, lfn) == content
        assert f"adler32:{adler32(content)}" in run(*cfg, "stat", lfn).stdout
        assert run(*cfg, "lr", lfn).stdout == f"{RAL}/data/{name}\n"
    assert run(*cfg, "ls", "/grid/gilda/data/run1").stdout == "a\nb\n"
    again = run(*cfg, "register", f"{RAL}/data/", "/grid/gilda/data")
    assert again.stdout == "registered 0 files, 3 registered already\n"
    stored(home / "ral", "data/run2/e", 5)
    assert run(*cfg, "register", f"{RAL}/data", "/grid/gilda/data").stdout == (
        "registered 1 files, 3 registered already\n"
    )


def test_a_listing_registers_its_good_lines_and_names_each_bad_one(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    good = stored(home / "ral", "list/good", 300)
    summed = stored(home / "ral", "list/summed", 400)
    stored(home / "ral", "list/short", 50)
    stored(home / "ral", "list/badsum", 9)
    stored(home / "ral", "list/wrongsum", 7)
    listing = home / "listing.txt"
    listing.write_text(
        "# SURL SIZE [ADLER32]\n"
        f"{RAL}/list/good 300\n"
        f"{RAL}/list/summed 400 {adler32(summed).upper()}\n"
        "\n"
        f"{RAL}/list/short 51\n"  # 5: not its size
        f"{RAL}/list/missing 5\n"  # 6: not on the SE
        f"{RAL}/list/good\n"  # 7: no size
        f"{RAL}/list/good 12x\n"  # 8: a bad size
        "srm://ral-se.ral/elsewhere/f 1\n"  # 9: not under the directory
        f"{RAL}/list/badsum 9 nothex\n"  # 10: a bad checksum
        f"{RAL}/list/wrongsum 7 00000001\n"  # 11: not the copy's checksum
    )
    result = run(
        *cfg, "register", "--listing", listing, f"{RAL}/list", "/grid/gilda/listed", check=False
    )
    assert result.returncode == 1
    assert result.stdout == "registered 2 files, 0 registered already\n"
    lines = result.stderr.splitlines()
    assert sorted(
        (line.split(": ", 2)[1] for line in lines), key=lambda w: int(w.rsplit(":")[-1])
    ) == [f"{listing}:{number}" for number in range(5, 12)]
    assert all(line.startswith("gridfs: ") and "Traceback" not in line for line in lines)
    assert "size 50 on ral-se, the listing says 51" in result.stderr
    assert "does not exist" in result.stderr or "No such file" in result.stderr
    assert "is not under" in result.stderr
    assert "on ral-se, the listing says 00000001" in result.stderr
    assert cat(cfg, "/grid/gilda/listed/good") == good
    assert f"adler32:{adler32(summed)}" in run(*cfg, "stat", "/grid/gilda/listed/summed").stdout
    again = run(
        *cfg, "register", "--listing", listing, f"{RAL}/list", "/grid/gilda/listed", check=False
    )
    assert again.stdout == "registered 0 files, 2 registered already\n"


def test_an_xrootd_se_gives_its_own_checksums(
    home: Path, xrootd_server: XRootDServer, make_file
) -> None:
    config = home / "config.toml"
    cfg = ("--config", config)
    area = f"register-{os.getpid()}-{home.name}"
    prefix = f"{xrootd_server.url.rstrip('/')}//{area}"
    run(*cfg, "se", "add", "xrd-se", "--site", "cern", "--protocol", f"root={prefix}")
    document = tomlkit.parse(config.read_text())
    surl_prefix = str(document["se"]["xrd-se"]["surl_prefix"])  # type: ignore[index]
    content = stored(xrootd_server.data_dir, f"{area}/sub/x.bin", 100_000)
    out = run(*cfg, "register", f"{surl_prefix.rstrip('/')}/sub", "/grid/gilda/xrd")
    assert out.stdout == "registered 1 files, 0 registered already\n"
    assert f"adler32:{adler32(content)}" in run(*cfg, "stat", "/grid/gilda/xrd/x.bin").stdout
    assert cat(cfg, "/grid/gilda/xrd/x.bin") == content
