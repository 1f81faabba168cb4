"""gridfs init, a missing catalog, se add and rf, run as a user runs them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit

from gridfs.config import load_config
from gridfs.gfal import Grid
from tests.cli.test_cli import GRIDFS, fails, home, run
from tests.storage_servers import XRootDServer

__all__ = ["home"]  # the fixture: a grid made by `gridfs init`, with a second SE

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def as_nobody(*command: str | Path) -> subprocess.CompletedProcess[str]:
    """``command`` run as another local user (uid 65534)."""
    return subprocess.run(
        [*NOBODY, *map(str, command)], capture_output=True, text=True, check=False, timeout=60
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory that every local user may enter (pytest's own temp dirs are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="gridfs-open-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


# -- rf -----------------------------------------------------------------------------


def test_rf_registers_only_the_files_own_content(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    source = home / "victim.txt"
    source.write_bytes(b"hello\n")
    run(*cfg, "cr", source, "/grid/gilda/victim.txt")
    area = home / "grid" / "se" / "cern-se"
    (area / "evil.txt").write_bytes(b"EVIL!\n")
    (area / "short.txt").write_bytes(b"EVIL\n")
    prefix = "srm://cern-se.cern/grid"
    good, evil = (f"{zlib.adler32(data):08x}" for data in (b"hello\n", b"EVIL!\n"))
    fails(
        *cfg,
        "rf",
        f"{prefix}/evil.txt",
        "/grid/gilda/victim.txt",
        "-d",
        "cern-se",
        message=f"refused {prefix}/evil.txt: adler32 {evil}, catalog says {good}",
    )
    fails(
        *cfg,
        "rf",
        f"{prefix}/short.txt",
        "/grid/gilda/victim.txt",
        message="short.txt: size 5, catalog says 6",
    )
    fails(
        *cfg,
        "rf",
        f"{prefix}/nowhere.txt",
        "/grid/gilda/victim.txt",
        message=f"refused {prefix}/nowhere.txt: it does not exist on cern-se",
    )
    fails(*cfg, "rf", f"{prefix}/../x", "/grid/gilda/victim.txt", message="no . or .. steps")
    assert run(*cfg, "cat", "/grid/gilda/victim.txt").stdout == "hello\n"
    assert len(run(*cfg, "lr", "/grid/gilda/victim.txt").stdout.splitlines()) == 1
    shutil.copy(source, area / "copy.txt")
    assert run(*cfg, "rf", f"{prefix}/copy.txt", "/grid/gilda/victim.txt").stdout == ""
    assert f"{prefix}/copy.txt" in run(*cfg, "lr", "/grid/gilda/victim.txt").stdout.splitlines()


def test_rf_registers_a_new_lfn_with_the_copys_size_and_checksum(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    data = os.urandom(300_000)
    (home / "ral" / "run1.dat").write_bytes(data)
    guid = "5f9d3a2e-1c4b-4e8a-9b7d-2a6c8e0f1d3b"
    out = run(*cfg, "rf", "srm://ral-se.ral/grid/run1.dat", "/grid/gilda/run1.dat", "-g", guid)
    assert out.stdout == f"guid:{guid}\n"
    status = run(*cfg, "stat", "/grid/gilda/run1.dat").stdout
    assert "size:      300000\n" in status
    assert f"adler32:{zlib.adler32(data):08x}" in status
    cat = subprocess.run(
        [GRIDFS, *cfg, "cat", "/grid/gilda/run1.dat"], capture_output=True, check=True
    )
    assert cat.stdout == data
    fails(*cfg, "rf", "srm://ral-se.ral/grid/none", "/grid/gilda/x", message="does not exist")
    fails(*cfg, "ls", "/grid/gilda/x", message="no such LFN")


# -- a missing catalog ------------------------------------------------------------


def test_a_missing_catalog_is_an_error_and_is_not_made(home: Path) -> None:
    config = home / "elsewhere.toml"
    text = (home / "config.toml").read_text()
    config.write_text(text.replace(str(home / "grid" / "catalog.db"), str(home / "no" / "c.db")))
    fails(
        "--config",
        config,
        "ls",
        "/grid",
        message=f"no catalog at {home / 'no' / 'c.db'} (gridfs init makes one)",
    )
    assert not (home / "no").exists()


# -- init -------------------------------------------------------------------------


def test_init_writes_dir_config_and_never_reads_another_grids(home: Path) -> None:
    env = {**os.environ, "GRIDFS_CONFIG": str(home / "config.toml")}
    result = subprocess.run(
        [GRIDFS, "init", home / "second", "--se", "second-se"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    config = home / "second" / "config.toml"
    assert f"configuration: {config}" in result.stdout
    assert f"export GRIDFS_CONFIG={config}" in result.stdout
    assert run("--config", config, "ls", "/grid").stdout == "gilda\n"
    assert load_config(config).default_se == "second-se"
    assert load_config(home / "config.toml").default_se == "cern-se"  # untouched


def test_init_force_remakes_the_same_grid_and_never_replaces_another(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    before = (home / "config.toml").read_text()
    run(*cfg, "mkdir", "/grid/gilda/kept")
    fails(*cfg, "init", home / "other", "--force", message="configuration of another grid")
    assert (home / "config.toml").read_text() == before
    assert not (home / "other" / "catalog.db").exists()
    run(*cfg, "init", home / "grid", "--site", "cern", "--se", "cern-se", "--force")
    assert run(*cfg, "ls", "/grid/gilda").stdout == "kept\n"  # the same catalog, kept


def test_init_makes_the_catalog_and_config_private(open_dir: Path) -> None:
    config = open_dir / "grid" / "config.toml"
    subprocess.run([GRIDFS, "init", open_dir / "grid"], check=True, umask=0o022, timeout=60)
    assert mode(config) == 0o600
    assert as_nobody("cat", config).returncode != 0
    catalog = open_dir / "grid" / "catalog.db"
    assert mode(catalog) == 0o600
    with Grid.from_config(load_config(config)) as grid:  # -wal and -shm exist while open
        grid.mkdir("/grid/gilda/d")
        for suffix in ("-wal", "-shm"):
            assert mode(catalog.with_name(f"catalog.db{suffix}")) == 0o600


def test_stored_copies_are_readable_only_through_the_catalog(open_dir: Path) -> None:
    config = open_dir / "grid" / "config.toml"
    cfg = ("--config", config)
    run("init", open_dir / "grid", "--se", "here")
    source = open_dir / "secret.txt"
    source.write_text("secret\n")
    source.chmod(0o600)
    subprocess.run([GRIDFS, *cfg, "cr", source, "/grid/gilda/secret.txt"], check=True, umask=0o022)
    area = open_dir / "grid" / "se" / "here"
    (stored,) = area.glob("generated/*/file-*")
    assert mode(stored) == 0o600
    assert {mode(d) for d in (area, stored.parent, stored.parent.parent)} == {0o700}
    refused = as_nobody("cat", stored)
    assert refused.returncode != 0
    assert "Permission denied" in refused.stderr


# -- se add ---------------------------------------------------------------------


def test_se_add_protocol_makes_the_se_usable_at_once(
    home: Path, xrootd_server: XRootDServer, make_file
) -> None:
    config = home / "config.toml"
    cfg = ("--config", config)
    # A configuration whose preference names file alone (as init used to write).
    document = tomlkit.parse(config.read_text())
    document["storage"]["protocols"] = ["file"]  # type: ignore[index]
    config.write_text(tomlkit.dumps(document))
    prefix = f"{xrootd_server.url.rstrip('/')}//se-add-{os.getpid()}-{home.name}"
    added = run(*cfg, "se", "add", "xrd-se", "--site", "cern", "--protocol", f"root={prefix}")
    assert "added root to [storage] protocols" in added.stdout
    assert load_config(config).protocols == ("file", "root")
    source = make_file("x.bin", 100_000)
    run(*cfg, "cr", "-d", "xrd-se", source, "/grid/gilda/x.bin")
    cat = subprocess.run(
        [GRIDFS, *cfg, "cat", "/grid/gilda/x.bin"], capture_output=True, check=True
    )
    assert cat.stdout == source.read_bytes()
    # rf checks a root:// copy by the server's own checksum.
    (surl,) = run(*cfg, "lr", "/grid/gilda/x.bin").stdout.split()
    run(*cfg, "uf", surl, "/grid/gilda/x.bin")
    run(*cfg, "rf", surl, "/grid/gilda/x.bin")
    assert run(*cfg, "lr", "/grid/gilda/x.bin").stdout.split() == [surl]
    run(*cfg, "rm", "/grid/gilda/x.bin")


def test_init_config_prefers_every_known_protocol(home: Path) -> None:
    protocols = load_config(home / "config.toml").protocols
    assert protocols[0] == "file"
    assert {"root", "davs", "https"} <= set(protocols)


# -- a PostgreSQL catalog ----------------------------------------------------------


def test_init_creates_a_postgresql_catalog(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "pg.toml"
    other = tmp_path / "other.toml"
    other.write_text(f'[catalog]\nurl = "{postgres_url}"\n[se.a]\nroot = "a"\n')
    fails("--config", other, "ls", "/grid", message="(gridfs init makes one)")
    result = run("--config", config, "init", tmp_path / "grid", "--catalog", postgres_url)
    assert "catalog:       postgresql" in result.stdout
    assert load_config(config).catalog_url == postgres_url
    assert run("--config", config, "ls", "/grid").stdout == "gilda\n"
    assert not (tmp_path / "grid" / "catalog.db").exists()
