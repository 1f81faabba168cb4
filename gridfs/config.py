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
    protocols = ["file", "root", "davs"]  # access protocols, most preferred first
                            # (default: every one gridfs speaks, file first)
    timeout = 60            # seconds, for each network call
    ca_file = "ca.pem"      # CA bundle for TLS servers (default: the system's)

    [se.se-a]
    site = "site-a"
    surl_prefix = "srm://se-a.site-a.example/grid"
    root = "se/se-a"        # a directory: the SE is reached by file://
    read = true
    write = true

    tpc = false             # true: its servers pull copies (XRootD TPC, or HTTP TPC COPY)

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
    attr_timeout = 10       # seconds the kernel keeps attributes and names
    entry_timeout = 10      #   (the mount's own changes are seen at once)
    cache_dir = "cache"     # blocks of remote replicas (default ~/.cache/gridfs/blocks)
    cache_size = "10G"      # its size limit (bytes, or with K, M, G, T); LRU eviction
    staging_dir = "staging" # files being written (default: $TMPDIR); room for the largest
    read_only = false
    stage_timeout = 300     # seconds an open of a file on tape waits for its stage
    stage_eagain = false    # true: such an open fails with EAGAIN at once, the stage goes on
    stage_pin = 3600        # seconds a staged copy stays pinned on disk
    fallback_uid = 65534    # grid users and groups known neither here nor locally
    fallback_gid = 65534

    [mount.users]           # grid user = local uid (both ways; default: same-name accounts)
    "/DC=org/CN=Bob" = 1002

    [mount.groups]          # grid group = local gid
    atlas = 2001
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomlkit
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gridfs.catalog.identity import Identity
from gridfs.catalog.lfn import split_lfn
from gridfs.errors import ConfigError, InvalidLFN
from gridfs.storage.backend import BackendOptions
from gridfs.storage.pool import KNOWN_PROTOCOLS
from gridfs.storage.se import StorageElement

__all__ = [
    "Config",
    "MountSettings",
    "add_se_to_config",
    "apply_mount_options",
    "config_path",
    "default_cache_dir",
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
    "mount": {
        "root",
        "attr_timeout",
        "entry_timeout",
        "cache_dir",
        "staging_dir",
        "cache_size",
        "read_only",
        "stage_timeout",
        "stage_eagain",
        "stage_pin",
        "fallback_uid",
        "fallback_gid",
        "users",
        "groups",
    },
    "se": set(),  # tables by SE name, checked on their own
    "server": set(),  # `gridfs serve`'s, checked by gridfs.service.settings
    "transfer": set(),  # the transfer agents', checked by gridfs.transfer.settings
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
    "tpc",
}


_NOBODY = 65534
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def default_cache_dir() -> Path:
    """Where the mount keeps blocks of remote replicas unless told otherwise."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "gridfs" / "blocks"


@dataclass(frozen=True)
class MountSettings:
    """The ``[mount]`` table, less the root: how the mount serves the kernel."""

    attr_timeout: float = 10.0
    entry_timeout: float = 10.0
    cache_dir: Path = field(default_factory=default_cache_dir)
    staging_dir: Path | None = None  # None: the system's temporary directory
    cache_size: int = 10 << 30
    read_only: bool = False
    stage_timeout: float = 300.0
    stage_eagain: bool = False
    stage_pin: float = 3600.0
    fallback_uid: int = _NOBODY
    fallback_gid: int = _NOBODY
    users: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    groups: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Config:
    """Everything gridfs reads from the configuration file, validated."""

    catalog_url: str
    identity: Identity
    ses: tuple[StorageElement, ...]
    local_site: str | None = None
    local_region: str | None = None
    default_se: str | None = None
    protocols: tuple[str, ...] = KNOWN_PROTOCOLS
    backend_options: BackendOptions = field(default_factory=BackendOptions)
    mount_root: str = "/grid"
    mount: MountSettings = field(default_factory=MountSettings)
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

    mount_table = table("mount")
    mount_root = string("[mount] root", mount_table.get("root", "/grid"))
    try:
        split_lfn(mount_root)
    except InvalidLFN as exc:
        raise fail(f"[mount] root: {exc}") from exc
    mount = _parse_mount(mount_table, base, fail)

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
        mount=mount,
        path=path,
    )


def _parse_mount(table: Mapping[str, Any], base: Path, fail: Any) -> MountSettings:
    """The ``[mount]`` settings other than the root, checked."""

    def seconds(key: str, value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise fail(f"[mount] {key} must be a number of seconds")
        return float(value)

    def flag(key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise fail(f"[mount] {key} must be true or false")
        return value

    def directory(key: str, value: Any) -> Path:
        if not isinstance(value, str) or not value:
            raise fail(f"[mount] {key} must be a directory path")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path

    def id_table(key: str, value: Any) -> Mapping[str, int]:
        if not isinstance(value, Mapping):
            raise fail(f"[mount.{key}] must be a table of grid name = local id")
        ids = {name: _local_id(f"[mount.{key}] {name}", v, fail) for name, v in value.items()}
        if len(set(ids.values())) != len(ids):
            raise fail(f"[mount.{key}] maps two grid names to one local id")
        return MappingProxyType(ids)

    readers: dict[str, Callable[[str, Any], Any]] = {
        "attr_timeout": seconds,
        "entry_timeout": seconds,
        "stage_timeout": seconds,
        "stage_pin": seconds,
        "read_only": flag,
        "stage_eagain": flag,
        "fallback_uid": lambda key, value: _local_id(f"[mount] {key}", value, fail),
        "fallback_gid": lambda key, value: _local_id(f"[mount] {key}", value, fail),
        "cache_dir": directory,
        "staging_dir": directory,
        "cache_size": lambda key, value: _size(f"[mount] {key}", value, fail),
        "users": id_table,
        "groups": id_table,
    }
    return MountSettings(
        **{key: read(key, table[key]) for key, read in readers.items() if key in table}
    )


def _local_id(where: str, value: Any, fail: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 32:
        raise fail(f"{where} must be a local uid or gid (a number)")
    return value


def _size(where: str, value: Any, fail: Any) -> int:
    """A byte count: a number, or a string with a K, M, G or T suffix (powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip().upper().removesuffix("B").removesuffix("I")
        number, unit = (text[:-1], text[-1]) if text[-1:] in _SIZE_UNITS else (text, "")
        try:
            count = float(number) * _SIZE_UNITS[unit]
        except ValueError:
            count = 0
        if count >= 1:
            return int(count)
    raise fail(f"{where} must be a size in bytes, or with a K, M, G or T suffix (e.g. 10G)")


# Settings a mount option (-o key=value) may override; "ro" and "stage_eagain" take no value.
_OPTION_KEYS = {
    "attr_timeout": float,
    "entry_timeout": float,
    "stage_timeout": float,
    "stage_pin": float,
    "fallback_uid": int,
    "fallback_gid": int,
    "cache_dir": str,
    "staging_dir": str,
    "cache_size": str,
}


def apply_mount_options(
    settings: MountSettings, options: Mapping[str, str | None]
) -> MountSettings:
    """``settings`` with mount options applied: ``ro``, ``stage_eagain`` and ``key=value``.

    The keys are those of the ``[mount]`` table (``cache_size=2G``,
    ``attr_timeout=30``...); a relative ``cache_dir`` or ``staging_dir`` is relative to the
    working directory. Raises :class:`ConfigError` naming a bad option.
    """

    def fail(message: str) -> ConfigError:
        return ConfigError(f"bad mount option: {message}")

    table: dict[str, Any] = {}
    for key, value in options.items():
        if key in ("ro", "stage_eagain"):
            if value is not None:
                raise fail(f"{key} takes no value")
            table["read_only" if key == "ro" else key] = True
        elif key in _OPTION_KEYS:
            if not value:
                raise fail(f"{key} needs a value ({key}=...)")
            try:
                table[key] = _OPTION_KEYS[key](value)
            except ValueError:
                raise fail(f"{key}={value} is not a number") from None
        else:
            raise fail(f"{key} is unknown")
    parsed = _parse_mount(table, Path.cwd(), fail)
    return dataclasses.replace(settings, **{key: getattr(parsed, key) for key in table})


def _parse_storage(
    storage: Mapping[str, Any], base: Path, fail: Any, string: Any, strings: Any
) -> tuple[str | None, tuple[str, ...], BackendOptions]:
    default_se = (
        string("[storage] default_se", storage["default_se"]) if "default_se" in storage else None
    )
    protocols = strings("[storage] protocols", storage.get("protocols", list(KNOWN_PROTOCOLS)))
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
    for key in ("read", "write", "tpc"):
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
        third_party=spec.get("tpc", False),
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
    if "://" in url and not url.startswith("sqlite"):
        return url  # a server's URL: which catalog speaks its scheme is gfal's to say
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
    """Write a new configuration file, readable by its owner alone (it may hold a password).

    An existing file is replaced only with ``overwrite``, and only if it is
    the configuration of the same grid (the same catalog): never another's.
    """
    new = _parse(document, path)  # never write what we could not read back
    if path.exists():
        if not overwrite:
            raise ConfigError(f"a configuration file exists already at {path}", str(path))
        try:
            old = load_config(path).catalog_url
        except ConfigError as exc:
            raise ConfigError(f"{path} is kept: it is not readable as a grid's ({exc})") from exc
        if old != new.catalog_url:
            raise ConfigError(
                f"{path} is the configuration of another grid (catalog {_safe_url(old)}): "
                "kept; remove it or name another file",
                str(path),
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace_file(path, tomlkit.dumps(document), 0o600)


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # a URL gfal knows and SQLAlchemy does not: as it is
        return url


def _replace_file(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` at once (a reader sees the old file or the new), with ``mode``."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with open(fd, "w") as stream:
            os.fchmod(fd, mode)
            stream.write(text)
            stream.flush()
            os.fsync(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _rewrite(path: Path, document: tomlkit.TOMLDocument) -> None:
    """Write an edited configuration back, keeping the file's mode."""
    _parse(document.unwrap(), path)
    _replace_file(path, tomlkit.dumps(document), path.stat().st_mode & 0o7777)


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
    _rewrite(path, document)


def add_se_to_config(path: Path, name: str, spec: Mapping[str, Any]) -> list[str]:
    """Add ``[se.<name>]`` to the file at ``path``, keeping its comments and layout.

    The SE is usable at once: its access protocols that a ``[storage]
    protocols`` list of the file lacks are added to its end (least
    preferred). Returns those protocols.
    """
    document = _edit(path)
    ses = document.setdefault("se", tomlkit.table(is_super_table=True))
    if name in ses:
        raise ConfigError(f"storage element {name!r} exists already in {path}", str(path))
    ses[name] = dict(spec)
    offered = [*(["file"] if "root" in spec else []), *dict(spec.get("protocols", {}))]
    storage = document.get("storage")
    added: list[str] = []
    if storage is not None and "protocols" in storage:
        preference = storage["protocols"]
        added = [p for p in dict.fromkeys(offered) if p not in preference]
        preference.extend(added)
    _rewrite(path, document)
    return added
