"""The ``[server]`` table of the configuration: how ``gridfs serve`` listens and whom it trusts.

::

    [server]
    listen = "0.0.0.0:8443"          # or a list of addresses
    cert = "hostcert.pem"            # the host certificate and key; without them, plain
    key = "hostkey.pem"              #   HTTP, for a TLS proxy in front only
    ca_dir = "/etc/grid-security/certificates"   # X509_CERT_DIR layout: CAs, CRLs (<hash>.rN)
    workers = 4                      # processes
    threads = 16                     # each's threads for listings, queries, bulk calls
    catalog_url = "postgresql://catalog-db/grid"  # default: [catalog] url
    gridmap = "grid-mapfile"         # "DN" user [group,group...] per line
    superusers = ["/DC=org/CN=Admin"]  # credentials that pass every permission check:
                                     #   DNs, or a token's "issuer subject"
    max_request = "16M"              # a larger body gets 413
    page = 1000                      # items per page of a streamed listing

    [[server.token_issuers]]
    issuer = "https://iam.example"
    audience = "https://catalog.example"   # or a list
    jwks = "issuer-jwks.json"        # a file, or an https:// URL
    algorithms = ["RS256", "ES256"]
    user_claim = "sub"
    base_path = "/grid/gilda"        # scope paths start here in the LFN tree

Relative paths are relative to the file's directory.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridfs.config import config_path, load_config
from gridfs.errors import ConfigError
from gridfs.gfal.services import is_service_url
from gridfs.service.tokens import Issuer

__all__ = ["ServerSettings", "load_server_settings"]

_KEYS = {
    "listen",
    "cert",
    "key",
    "ca_dir",
    "workers",
    "threads",
    "catalog_url",
    "gridmap",
    "superusers",
    "max_request",
    "page",
    "token_issuers",
}
_ISSUER_KEYS = {
    "issuer",
    "audience",
    "jwks",
    "algorithms",
    "user_claim",
    "base_path",
    "leeway",
}
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@dataclass(frozen=True)
class ServerSettings:
    """The ``[server]`` table, validated, with absolute paths."""

    listen: tuple[str, ...]
    catalog_url: str
    cert: Path | None = None
    key: Path | None = None
    ca_dir: Path | None = None
    workers: int = 2
    threads: int = 8
    gridmap: Path | None = None
    superusers: tuple[str, ...] = ()
    max_request: int = 16 << 20
    page: int = 1000
    issuers: tuple[Issuer, ...] = ()

    @property
    def tls(self) -> bool:
        """Whether the server speaks HTTPS."""
        return self.cert is not None


def load_server_settings(explicit: str | Path | None = None) -> ServerSettings:
    """The ``[server]`` table of the configuration file (found as for every verb)."""
    config = load_config(explicit)
    path = config.path or config_path(explicit)
    with path.open("rb") as stream:
        data = tomllib.load(stream)
    table = data.get("server")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: no [server] table: `gridfs serve` needs one", str(path))
    return _parse(table, path.parent.resolve(), config.catalog_url, path)


def _parse(table: Mapping[str, Any], base: Path, catalog_url: str, path: Path) -> ServerSettings:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"{path}: [server] {message}", str(path))

    unknown = set(table) - _KEYS
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(unknown))}")

    def file(key: str) -> Path | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise fail(f"{key} must be a path")
        return base / value

    def count(key: str, default: int) -> int:
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise fail(f"{key} must be a positive integer")
        return value

    listen = table.get("listen", "127.0.0.1:8443")
    addresses = (listen,) if isinstance(listen, str) else tuple(listen)
    if not addresses or not all(isinstance(a, str) and ":" in a for a in addresses):
        raise fail("listen must be host:port, or a list of them")
    cert, key = file("cert"), file("key")
    if (cert is None) != (key is None):
        raise fail("cert and key go together")
    url = table.get("catalog_url", catalog_url)
    if not isinstance(url, str) or is_service_url(url):
        raise fail("catalog_url must name a database (the service's own catalog)")
    return ServerSettings(
        listen=addresses,
        catalog_url=url,
        cert=cert,
        key=key,
        ca_dir=file("ca_dir"),
        workers=count("workers", 2),
        threads=count("threads", 8),
        gridmap=file("gridmap"),
        superusers=_strings(table.get("superusers", []), "superusers", fail),
        max_request=_size(table.get("max_request", 16 << 20), fail),
        page=count("page", 1000),
        issuers=tuple(
            _issuer(spec, base, fail) for spec in _tables(table.get("token_issuers", []), fail)
        ),
    )


def _strings(value: Any, key: str, fail: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise fail(f"{key} must be a string or a list of strings")
    return tuple(values)


def _size(value: Any, fail: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    text = str(value).strip().upper()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "")
    if not number.isdigit():
        raise fail(f"max_request must be bytes, or with K, M, G: {value!r}")
    return int(number) * _UNITS[unit]


def _tables(value: Any, fail: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise fail("token_issuers must be an array of tables ([[server.token_issuers]])")
    return value


def _issuer(spec: Mapping[str, Any], base: Path, fail: Any) -> Issuer:
    unknown = set(spec) - _ISSUER_KEYS
    if unknown:
        raise fail(f"unknown key(s) in token_issuers: {', '.join(sorted(unknown))}")
    for key in ("issuer", "audience", "jwks"):
        if key not in spec:
            raise fail(f"a token issuer needs {key}")
    jwks = str(spec["jwks"])
    if not jwks.startswith("https://"):
        jwks = str(base / jwks)
    algorithms = _strings(spec.get("algorithms", ["RS256", "ES256"]), "algorithms", fail)
    if any(alg.lower() == "none" or alg.startswith("HS") for alg in algorithms):
        raise fail("token algorithms must be public-key ones (RS*, ES*, PS*, EdDSA)")
    leeway = spec.get("leeway", 30)
    if not isinstance(leeway, int | float) or leeway < 0:
        raise fail("leeway must be seconds")
    return Issuer(
        issuer=str(spec["issuer"]),
        audience=_strings(spec["audience"], "audience", fail),
        jwks=jwks,
        algorithms=algorithms,
        user_claim=str(spec.get("user_claim", "sub")),
        base_path=str(spec.get("base_path", "/")),
        leeway=float(leeway),
    )
