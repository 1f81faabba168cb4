"""The configuration file: one TOML file, with defaults that work embedded.

Where it is read from: the path given (``--config``), else ``$GRIDFS_CONFIG``,
else ``~/.config/gridfs/config.toml`` (``$XDG_CONFIG_HOME``), else
``/etc/gridfs/config.toml``. With none of them present, the embedded default
applies: a SQLite catalog and one local SE under ``~/.local/share/gridfs``.

Relative paths in the file (SQLite databases, SE roots) are relative to the
file's directory, so a grid can live in one movable folder::

    [catalog]
    url = "sqlite:///catalog.db"

    [identity]              # default: the local Unix user and groups (root: superuser)
    user = "alice"
    groups = ["gilda"]
    superuser = false       # an administrator passes every permission check

    [site]
    name = "site-a"         # replicas on SEs of this site are read first,
    region = "CH"           # then those of this region

    [storage]
    default_se = "se-a"     # where new files go when no SE is named
    protocols = ["file"]    # access protocols, most preferred first (root, davs, https...)
    timeout = 60            # seconds, for each network call
    ca_file = "ca.pem"      # CA bundle for TLS servers (default: the system's)

    [se.se-a]
    site = "site-a"
    surl_prefix = "srm://se-a.site-a.example/grid"
    root = "se/se-a"        # a directory: the SE is reached by file://
    read = true
    write = true

    [se.se-a.space_tokens]  # reserved spaces: token = quota in bytes
    DATADISK = 10_000_000_000_000

    [se.tape-a]             # a nearline SE: replicas live in the tape area and
    root = "se/tape-a/disk" # are staged into the disk area (root) to be read
    tape = "se/tape-a/tape"
    stage_delay = 30        # seconds a recall takes

    [se.se-b.protocols]     # a remote SE: access protocol = TURL prefix
    root = "root://xrootd.site-b.example:1094//data"
    davs = "davs://webdav.site-b.example:443/data"

    [mount]
    root = "/grid"          # the LFN shown at the mountpoint
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomlkit
from sqlalchemy.engine import make_url

from gridfs.catalog.identity import Identity
from gridfs.catalog.lfn import split_lfn
from gridfs.errors import ConfigError, InvalidLFN
from gridfs.storage.backend import BackendOptions
from gridfs.storage.se import StorageElement

__all__ = [
    "Config",
    "add_se_to_config",
    "config_path",
    "default_data_dir",
    "load_config",
    "remove_se_from_config",
    "write_config",
]

_ALLOWED: dict[str, set[str]] = {
    "catalog": {"url"},
    "identity": {"user", "groups", "superuser"},
    "site": {"name", "region"},
    "storage": {"default_se", "protocols", "timeout", "ca_file"},
    "mount": {"root"},
    "se": set(),  # tables by SE name, checked on their own
}
_SE_KEYS = {
    "site",
    "region",
    "surl_prefix",
    "root",
    "protocols",
    "read",
    "write",
    "tape",
    "stage_delay",
    "space_tokens",
}


@dataclass(frozen=True)
class Config:
    """Everything gridfs reads from the configuration file, validated."""

    catalog_url: str
    identity: Identity
    ses: tuple[StorageElement, ...]
    local_site: str | None = None
    local_region: str | None = None
    default_se: str | None = None
    protocols: tuple[str, ...] = ("file",)
    backend_options: BackendOptions = field(default_factory=BackendOptions)
    mount_root: str = "/grid"
    path: Path | None = None


def default_data_dir() -> Path:
    """Where the embedded default keeps its catalog and local SE."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "gridfs"


def config_path(explicit: str | os.PathLike[str] | None = None, *, system: bool = True) -> Path:
    """The configuration file to use (which may not exist yet).

    With ``system=False`` the system-wide file is never the answer: the
    user's own path is, as the place to write a new configuration.
    """
    if explicit is not None:
        return Path(explicit)
    if env := os.environ.get("GRIDFS_CONFIG"):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    user = Path(base) / "gridfs" / "config.toml"
    shared = Path("/etc/gridfs/config.toml")
    return shared if system and not user.exists() and shared.exists() else user


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the configuration (see the module docstring for where from).

    A file that was asked for explicitly (argument or ``$GRIDFS_CONFIG``) must
    exist; otherwise a missing file means the embedded default.
    """
    path = config_path(explicit)
    asked = explicit is not None or "GRIDFS_CONFIG" in os.environ
    if not path.exists():
        if asked:
            raise ConfigError(f"no configuration file at {path}", str(path))
        return _embedded_default()
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", str(path)) from exc
    return _parse(data, path)


def _embedded_default() -> Config:
    data_dir = default_data_dir()
    se = StorageElement(
        name="local",
        site="local",
        surl_prefix="srm://localhost/gridfs",
        protocols=MappingProxyType({"file": (data_dir / "se" / "local").as_uri()}),
    )
    return Config(
        catalog_url=f"sqlite:///{data_dir / 'catalog.db'}",
        identity=Identity.local(),
        ses=(se,),
        local_site="local",
        default_se="local",
    )


def _parse(data: Mapping[str, Any], path: Path) -> Config:
    base = path.parent.resolve()

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{path}: {message}", str(path))

    def table(name: str) -> Mapping[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, Mapping):
            raise fail(f"[{name}] must be a table")
        unknown = set(value) - _ALLOWED[name] if name != "se" else set()
        if unknown:
            raise fail(f"unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
        return value

    def string(where: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise fail(f"{where} must be a non-empty string")
        return value

    def strings(where: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise fail(f"{where} must be a non-empty list of strings")
        return tuple(string(where, item) for item in value)

    unknown_tables = set(data) - set(_ALLOWED)
    if unknown_tables:
        raise fail(f"unknown table(s): {', '.join(sorted(unknown_tables))}")

    catalog = table("catalog")
    url = string("[catalog] url", catalog.get("url", "sqlite:///catalog.db"))
    url = _absolute_sqlite_url(url, base, fail)

    ident = table("identity")
    if ident:
        local = Identity.local()
        superuser = ident.get("superuser", False)
        if not isinstance(superuser, bool):
            raise fail("[identity] superuser must be true or false")
        identity = Identity(
            user=string("[identity] user", ident.get("user", local.user)),
            groups=strings("[identity] groups", ident.get("groups", list(local.groups))),
            superuser=superuser,
        )
    else:
        identity = Identity.local()

    site = table("site")
    local_site = string("[site] name", site["name"]) if "name" in site else None
    local_region = string("[site] region", site["region"]) if "region" in site else None

    default_se, protocols, options = _parse_storage(table("storage"), base, fail, string, strings)
    ses = [_parse_se(name, spec, base, local_site, fail) for name, spec in table("se").items()]
    if default_se is not None and default_se not in {se.name for se in ses}:
        raise fail(f"[storage] default_se {default_se!r} is not one of the [se.*] tables")

    mount_root = string("[mount] root", table("mount").get("root", "/grid"))
    try:
        split_lfn(mount_root)
    except InvalidLFN as exc:
        raise fail(f"[mount] root: {exc}") from exc

    return Config(
        catalog_url=url,
        identity=identity,
        ses=tuple(ses),
        local_site=local_site,
        local_region=local_region,
        default_se=default_se,
        protocols=protocols,
        backend_options=options,
        mount_root=mount_root.rstrip("/") or "/",
        path=path,
    )


def _parse_storage(
    storage: Mapping[str, Any], base: Path, fail: Any, string: Any, strings: Any
) -> tuple[str | None, tuple[str, ...], BackendOptions]:
    default_se = (
        string("[storage] default_se", storage["default_se"]) if "default_se" in storage else None
    )
    protocols = strings("[storage] protocols", storage.get("protocols", ["file"]))
    timeout = storage.get("timeout", BackendOptions.timeout_s)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise fail("[storage] timeout must be a positive number of seconds")
    ca_file = storage.get("ca_file")
    if ca_file is not None:
        ca_path = Path(string("[storage] ca_file", ca_file))
        ca_file = str(ca_path if ca_path.is_absolute() else base / ca_path)
    return default_se, protocols, BackendOptions(timeout_s=float(timeout), ca_file=ca_file)


def _parse_se(
    name: str, spec: Any, base: Path, local_site: str | None, fail: Any
) -> StorageElement:
    where = f"[se.{name}]"
    if not isinstance(spec, Mapping):
        raise fail(f"{where} must be a table")
    unknown = set(spec) - _SE_KEYS
    if unknown:
        raise fail(f"unknown key(s) in {where}: {', '.join(sorted(unknown))}")
    if not isinstance(spec.get("protocols", {}), Mapping):
        raise fail(f"{where} protocols must be a table of protocol = TURL prefix")
    turls = dict(spec.get("protocols", {}))
    if "root" in spec:
        if not isinstance(spec["root"], str) or not spec["root"]:
            raise fail(f"{where} root must be a directory path")
        root = Path(spec["root"])
        turls["file"] = (root if root.is_absolute() else base / root).as_uri()
    if not turls or not all(isinstance(v, str) and v for v in turls.values()):
        raise fail(f"{where} needs a root directory or a protocols table of TURL prefixes")
    for key in ("read", "write"):
        if not isinstance(spec.get(key, True), bool):
            raise fail(f"{where} {key} must be true or false")
    for key in ("site", "region", "surl_prefix", "tape"):
        if key in spec and (not isinstance(spec[key], str) or not spec[key]):
            raise fail(f"{where} {key} must be a non-empty string")
    tape, delay = _parse_tape(spec, turls, base, where, fail)
    tokens = spec.get("space_tokens", {})
    if not isinstance(tokens, Mapping) or not all(
        isinstance(q, int) and not isinstance(q, bool) and q >= 0 for q in tokens.values()
    ):
        raise fail(f"{where} space_tokens must be a table of token = quota in bytes")
    return StorageElement(
        name=name,
        site=spec.get("site", local_site or "local"),
        surl_prefix=spec.get("surl_prefix", f"srm://{name}/grid"),
        protocols=MappingProxyType(turls),
        readable=spec.get("read", True),
        writable=spec.get("write", True),
        tape=tape,
        stage_delay_s=delay,
        region=spec.get("region"),
        space_tokens=MappingProxyType(dict(tokens)),
    )


def _parse_tape(
    spec: Mapping[str, Any], turls: Mapping[str, str], base: Path, where: str, fail: Any
) -> tuple[str | None, float]:
    """The tape area (a file:// URL) and recall delay of a nearline SE."""
    delay = spec.get("stage_delay", 0.0)
    if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
        raise fail(f"{where} stage_delay must be a number of seconds")
    if "tape" not in spec:
        return None, float(delay)
    if "file" not in turls:
        raise fail(f"{where} a nearline SE (tape) needs a root directory as its disk area")
    tape_path = Path(spec["tape"])
    return (tape_path if tape_path.is_absolute() else base / tape_path).as_uri(), float(delay)


def _absolute_sqlite_url(url: str, base: Path, fail: Any) -> str:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise fail(f"[catalog] url is not a database URL: {url}") from exc
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if Path(database).is_absolute():
        return url
    return parsed.set(database=str(base / database)).render_as_string(hide_password=False)


def write_config(path: Path, document: Mapping[str, Any], *, overwrite: bool = False) -> None:
    """Write a new configuration file; refuses to replace one unless ``overwrite``."""
    if path.exists() and not overwrite:
        raise ConfigError(f"a configuration file exists already at {path}", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    _parse(document, path)  # never write what we could not read back
    path.write_text(tomlkit.dumps(document))


def _edit(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no configuration file at {path}", str(path)) from None


def remove_se_from_config(path: Path, name: str) -> None:
    """Remove ``[se.<name>]`` from the file at ``path``; refuses the default SE."""
    document = _edit(path)
    ses = document.get("se", {})
    if name not in ses:
        raise ConfigError(f"no storage element {name!r} in {path}", str(path))
    if document.get("storage", {}).get("default_se") == name:
        raise ConfigError(f"{name} is the default SE ([storage] default_se): change that first")
    del ses[name]
    _parse(document.unwrap(), path)
    path.write_text(tomlkit.dumps(document))


def add_se_to_config(path: Path, name: str, spec: Mapping[str, Any]) -> None:
    """Add ``[se.<name>]`` to the file at ``path``, keeping its comments and layout."""
    document = _edit(path)
    ses = document.setdefault("se", tomlkit.table(is_super_table=True))
    if name in ses:
        raise ConfigError(f"storage element {name!r} exists already in {path}", str(path))
    ses[name] = dict(spec)
    _parse(document.unwrap(), path)
    path.write_text(tomlkit.dumps(document))
