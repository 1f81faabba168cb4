"""The configuration file: where it is found, what it may say, what it defaults to."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridfs.config import add_se_to_config, config_path, load_config, write_config
from gridfs.errors import ConfigError


def test_three_site_config(config_path: Path) -> None:
    config = load_config(config_path)
    base = config_path.parent
    assert config.catalog_url == f"sqlite:///{base / 'catalog.db'}"
    assert [se.name for se in config.ses] == ["cern-se", "infn-se", "ral-se"]
    assert config.ses[0].protocols["file"] == (base / "se" / "cern-se").as_uri()
    assert (config.identity.user, config.identity.groups) == ("alice", ("gilda",))
    assert (config.local_site, config.default_se, config.mount_root) == ("cern", "cern-se", "/grid")


def test_where_the_file_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "x.toml"
    assert config_path(explicit) == explicit
    monkeypatch.setenv("GRIDFS_CONFIG", str(tmp_path / "env.toml"))
    assert config_path() == tmp_path / "env.toml"
    with pytest.raises(ConfigError, match="no configuration file"):
        load_config()
    monkeypatch.delenv("GRIDFS_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "gridfs" / "config.toml"


def test_no_file_means_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = load_config()
    assert config.path is None
    assert config.catalog_url == f"sqlite:///{tmp_path / 'data' / 'gridfs' / 'catalog.db'}"
    assert config.default_se == "local"
    assert config.ses[0].protocols["file"].startswith((tmp_path / "data").as_uri())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[catalog\n", "not valid TOML"),
        ("[catalogue]\n", "unknown table"),
        ("[catalog]\nurI = 'x'\n", r"unknown key\(s\) in \[catalog\]: urI"),
        ("[catalog]\nurl = 'not a url'\n", "not a database URL"),
        ("[identity]\ngroups = []\n", "non-empty list"),
        ("[identity]\nsuperuser = 'yes'\n", "superuser must be true or false"),
        ("[storage]\ndefault_se = 'nowhere'\n", "default_se 'nowhere'"),
        ("[se.a]\nsite = 'x'\n", "needs a root directory"),
        ("[se.a]\nroot = 'd'\nwrite = 'yes'\n", "write must be true or false"),
        ("[se.a]\nroot = 'd'\nsurl_prefix = 3\n", "surl_prefix must be"),
        ("[se.a]\nroot = 'd'\nspeed = 3\n", "unknown key"),
        ("[se.a]\nprotocols = ['file']\n", "protocols must be a table"),
        ("[se.a]\nroot = 'd'\nspace_tokens = {X = -1}\n", "space_tokens must be a table"),
        ("[se.a]\nroot = 'd'\nstage_delay = -1\n", "stage_delay must be"),
        ("[se.a]\ntape = 't'\n[se.a.protocols]\nroot = 'root://h//d'\n", "needs a root directory"),
        ("[se.a]\nroot = 'd'\nregion = 5\n", "region must be"),
        ("[storage]\ntimeout = 0\n", "timeout must be a positive number"),
        ("[mount]\nroot = 'grid'\n", "absolute"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_write_and_extend_a_config_keeping_comments(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    write_config(path, {"catalog": {"url": "sqlite:///c.db"}, "se": {"a": {"root": "a"}}})
    with pytest.raises(ConfigError, match="exists already"):
        write_config(path, {})
    path.write_text("# my grid\n" + path.read_text())
    add_se_to_config(path, "b", {"site": "ral", "root": "b", "write": False})
    assert path.read_text().startswith("# my grid\n")
    config = load_config(path)
    assert [(se.name, se.site, se.writable) for se in config.ses][-1] == ("b", "ral", False)
    with pytest.raises(ConfigError, match="exists already"):
        add_se_to_config(path, "b", {"root": "b"})
    with pytest.raises(ConfigError):
        add_se_to_config(path, "c", {"root": 5})
    assert [se.name for se in load_config(path).ses] == ["a", "b"]
