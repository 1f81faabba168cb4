"""The client finds credentials in the WLCG discovery order; scopes match whole components."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gridfs.errors import ConfigError, PermissionDenied
from gridfs.service.credentials import caller_credential, caller_file, find_credential
from gridfs.service.scopes import Scopes
from gridfs.service.settings import load_server_settings

UID = 4242


def test_the_discovery_order_is_the_wlcgs(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    (runtime / f"bt_u{UID}").write_text("from-runtime\n")
    token_file = tmp_path / "token"
    token_file.write_text(" from-file ")
    proxy = tmp_path / "proxy.pem"
    proxy.write_text("x")
    env = {
        "BEARER_TOKEN": "from-env",
        "BEARER_TOKEN_FILE": str(token_file),
        "XDG_RUNTIME_DIR": str(runtime),
        "X509_USER_PROXY": str(proxy),
        "HOME": str(tmp_path),
    }
    order = []
    for drop in ("", "BEARER_TOKEN", "BEARER_TOKEN_FILE", "XDG_RUNTIME_DIR"):
        env.pop(drop, None)
        found = find_credential(env, UID)
        assert found is not None
        order.append(found.token or str(found.cert))
    assert order == ["from-env", "from-file", "from-runtime", str(proxy)]
    env.pop("X509_USER_PROXY")
    globus = tmp_path / ".globus"
    globus.mkdir()
    (globus / "usercert.pem").write_text("c")
    (globus / "userkey.pem").write_text("k")
    found = find_credential(env, UID)
    assert found is not None
    assert (found.cert, found.key) == (globus / "usercert.pem", globus / "userkey.pem")


def test_a_token_file_named_but_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no token there"):
        find_credential({"BEARER_TOKEN_FILE": str(tmp_path / "none")}, UID)


def test_scopes_match_whole_components_under_the_issuers_base() -> None:
    scopes = Scopes.parse("openid storage.read:/foo storage.modify:/w", "/grid/gilda")
    assert scopes is not None
    assert scopes.allows("read", "/grid/gilda/foo")
    assert scopes.allows("read", "/grid/gilda/foo/bar")
    assert not scopes.allows("read", "/grid/gilda/foobar")
    assert not scopes.allows("read", "/grid/gilda")
    assert scopes.allows("create", "/grid/gilda/w/new")  # modify includes create
    assert not scopes.allows("create", "/grid/gilda/foo/new")
    assert Scopes.parse("openid offline_access") is None  # an identity token: ACLs alone
    escaped = Scopes.parse("storage.read:/../../etc", "/grid/gilda")
    assert escaped is not None
    assert escaped.describe() == ["storage.read:/grid/gilda/etc"]


def test_the_server_table_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('[server]\nlisten = "127.0.0.1:1"\nfoo = 1\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_server_settings(config)
    config.write_text(
        '[server]\n[[server.token_issuers]]\nissuer = "i"\naudience = "a"\njwks = "k"\n'
        'algorithms = ["HS256"]\n'
    )
    with pytest.raises(ConfigError, match="public-key"):
        load_server_settings(config)
    config.write_text('[catalog]\nurl = "sqlite:///c.db"\n[server]\nworkers = 3\n')
    settings = load_server_settings(config)
    assert settings.workers == 3
    assert settings.catalog_url == f"sqlite:///{tmp_path / 'c.db'}"
    assert not settings.tls


def _places(tmp_path: Path) -> tuple[str, ...]:
    return (str(tmp_path / "bt_u{uid}"), str(tmp_path / "x509up_u{uid}"))


def test_a_callers_token_file_is_read_through_one_checked_descriptor(tmp_path: Path) -> None:
    uid = os.getuid()
    token = tmp_path / f"bt_u{uid}"
    token.write_text(" the-token\n")
    token.chmod(0o600)
    found = caller_file(uid, _places(tmp_path))
    assert found is not None
    assert not found.is_proxy
    with caller_credential(found) as credential:
        assert credential.token == "the-token"
        assert credential.source == str(token)
    token.write_text("a-longer-new-token\n")  # rewritten in place: a new stamp
    again = caller_file(uid, _places(tmp_path))
    assert again is not None
    assert again.stamp != found.stamp


def test_a_callers_file_that_is_not_its_alone_is_refused(tmp_path: Path) -> None:
    uid = os.getuid()
    token = tmp_path / f"bt_u{uid}"
    assert caller_file(uid, _places(tmp_path)) is None
    token.write_text("t")
    token.chmod(0o640)
    with pytest.raises(PermissionDenied, match="open to others"):
        caller_file(uid, _places(tmp_path))
    token.chmod(0o600)
    with pytest.raises(PermissionDenied, match=f"not {uid + 1}"):
        caller_file(uid + 1, (str(token),))
    token.rename(tmp_path / "elsewhere")
    token.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PermissionDenied, match="not a regular file"):
        caller_file(uid, _places(tmp_path))


def test_a_callers_proxy_is_loaded_from_its_open_descriptor(tmp_path: Path) -> None:
    uid = os.getuid()
    proxy = tmp_path / f"x509up_u{uid}"
    proxy.write_text("x")
    proxy.chmod(0o600)
    found = caller_file(uid, _places(tmp_path))
    assert found is not None
    assert found.is_proxy
    with caller_credential(found) as credential:
        assert credential.cert is not None
        assert credential.cert.read_text() == "x"
        assert credential.source == str(proxy)
