"""The [mount] table and mount options (-o, mount(8), fstab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridfs.config import MountSettings, apply_mount_options, load_config
from gridfs.errors import ConfigError

pytest.importorskip("pyfuse3")

from gridfs.fuse.options import parse_options, split_options


def test_the_mount_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[mount]\nroot = '/grid/vo'\nattr_timeout = 30\nentry_timeout = 0.5\n"
        "cache_dir = 'blocks'\ncache_size = '2G'\nread_only = true\nstage_timeout = 60\n"
        "staging_dir = '/var/tmp/gridfs'\n"
        "stage_eagain = true\nfallback_uid = 99\nfallback_gid = 98\n"
        "[mount.users]\n'/DC=org/CN=Bob' = 1002\n[mount.groups]\natlas = 2001\n"
    )
    config = load_config(path)
    assert config.mount_root == "/grid/vo"
    assert config.mount == MountSettings(
        attr_timeout=30.0,
        entry_timeout=0.5,
        cache_dir=tmp_path / "blocks",
        cache_size=2 << 30,
        staging_dir=Path("/var/tmp/gridfs"),
        read_only=True,
        stage_timeout=60.0,
        stage_eagain=True,
        fallback_uid=99,
        fallback_gid=98,
        users={"/DC=org/CN=Bob": 1002},
        groups={"atlas": 2001},
    )


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    settings = MountSettings()
    assert settings.cache_dir == tmp_path / "xdg-cache" / "gridfs" / "blocks"
    assert (settings.attr_timeout, settings.read_only, settings.cache_size) == (10, False, 10 << 30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mount]\nattr_timeout = -1\n", "attr_timeout must be a number of seconds"),
        ("[mount]\nread_only = 'yes'\n", "read_only must be true or false"),
        ("[mount]\ncache_size = 'big'\n", "cache_size must be a size"),
        ("[mount]\ncache_size = 0\n", "cache_size must be a size"),
        ("[mount]\nfallback_uid = -3\n", "fallback_uid must be a local uid"),
        ("[mount.users]\nbob = 'x'\n", r"\[mount.users\] bob must be a local uid"),
        ("[mount.groups]\na = 5\nb = 5\n", "maps two grid names to one local id"),
        ("[mount]\ncache = 1\n", r"unknown key\(s\) in \[mount\]: cache"),
    ],
)
def test_bad_mount_settings(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_mount_options_override_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    options = parse_options(["ro,cache_size=512M", "attr_timeout=3,allow_other,noauto,_netdev"])
    assert options["cache_size"] == "512M"
    assert options["ro"] is None
    settings, kernel = split_options(MountSettings(), {**options, "cache_dir": "c"})
    assert (settings.read_only, settings.cache_size, settings.attr_timeout) == (True, 512 << 20, 3)
    assert settings.cache_dir == tmp_path / "c"
    assert kernel == {
        "allow_other",
        "fsname=gridfs",
        "subtype=gridfs",
        "ro",
    }
    assert split_options(MountSettings(), {"nosuid": None, "rw": None})[1] >= {"nosuid"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cache_size": "lots"}, "cache_size must be a size"),
        ({"attr_timeout": "soon"}, "attr_timeout=soon is not a number"),
        ({"ro": "yes"}, "ro takes no value"),
        ({"cache_dir": None}, "cache_dir needs a value"),
        ({"speed": "fast"}, "speed is unknown"),
    ],
)
def test_bad_mount_options(options: dict[str, str | None], message: str) -> None:
    with pytest.raises(ConfigError, match=f"bad mount option: .*{message}"):
        apply_mount_options(MountSettings(), options)
