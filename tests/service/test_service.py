"""``gridfs serve`` for real: TLS on 127.0.0.1, test CA, proxies, tokens, two users."""

from __future__ import annotations

import base64
import errno
import os
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gridfs.catalog import SUPERUSER, Catalog, CatalogAPI, EntryKind, Identity, NewFile
from gridfs.errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    GridError,
    InvalidLFN,
    NotFound,
    NotPermitted,
    PermissionDenied,
    StorageUnavailable,
)
from gridfs.gfal.services import open_catalog, whoami
from gridfs.metadata import MetadataAPI
from gridfs.service import client
from gridfs.service.scopes import RULES
from gridfs.service.wire import LOCAL_MEMBERS, members, operations
from tests.connect_proxy import connect_proxy
from tests.service_pki import (
    AUDIENCE,
    GridPKI,
    hs256_token,
    tampered,
    unsigned_token,
)
from tests.service_server import ServiceProcess, write_service_config

VO = "/grid/gilda"
ANYONE = Identity("whoever", ("whatever",), superuser=True)  # what a config may claim


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> GridPKI:
    return GridPKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def users(pki: GridPKI) -> dict[str, object]:
    return {"alice": pki.user("Alice"), "bob": pki.user("Bob"), "admin": pki.user("Admin")}


@pytest.fixture(scope="module")
def server(
    pki: GridPKI, users: dict[str, typing.Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """One server (2 workers) over a SQLite catalog whose VO alice owns, bob not."""
    root = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{root / 'catalog.db'}"
    admin = Catalog.from_url(url, SUPERUSER, create=True)
    admin.mkdir(VO, parents=True)
    admin.chown(VO, "alice", "gilda")
    admin.chmod(VO, 0o755)
    admin.close()
    gridmap = {
        users["alice"].dn: "alice gilda,atlas",
        users["bob"].dn: "bob cms",
        users["admin"].dn: "root root",
    }
    config = write_service_config(root, pki, url, gridmap, workers=2, threads=4, max_request="64K")
    process = ServiceProcess(config, pki)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def connect(
    server: ServiceProcess, pki: GridPKI, users: dict[str, typing.Any], monkeypatch, tmp_path
):
    """Opens the service as a user, with a token (``how="token"``) or a proxy."""
    monkeypatch.setenv("X509_CERT_DIR", str(pki.ca_dir))
    for name in ("BEARER_TOKEN", "BEARER_TOKEN_FILE", "X509_USER_PROXY", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    opened: list[CatalogAPI] = []

    def open_as(
        user: str, how: str = "token", token: str | None = None, **claims: object
    ) -> tuple[CatalogAPI, MetadataAPI]:
        monkeypatch.delenv("BEARER_TOKEN", raising=False)
        if how != "env":  # "env": as the test has set it
            monkeypatch.delenv("X509_USER_PROXY", raising=False)
        if how == "token":
            groups = {"alice": ["/gilda", "/atlas"], "bob": ["/cms"]}.get(user, [])
            value = token or pki.token(user, **{"wlcg.groups": groups, **claims})
            monkeypatch.setenv("BEARER_TOKEN", value)
        elif how == "proxy":
            monkeypatch.setenv("X509_USER_PROXY", str(pki.proxy(users[user])))
        catalog, metadata = open_catalog(server.url + "/", ANYONE)
        opened.append(catalog)
        return catalog, metadata

    yield open_as
    for catalog in opened:
        catalog.close()


def test_every_operation_of_the_seam_is_served_typed_and_scoped() -> None:
    served = {(op.interface, op.name) for op in operations().values()}
    for interface, protocol, remote in (
        ("catalog", CatalogAPI, client.RemoteCatalog),
        ("metadata", MetadataAPI, client.RemoteMetadata),
    ):
        for name in members(protocol):
            assert hasattr(remote, name), f"the client lacks {interface}.{name}"
            if name in LOCAL_MEMBERS:
                continue
            assert (interface, name) in served
            assert f"{interface}.{name}" in RULES, f"no scope rule for {interface}.{name}"
            theirs = typing.get_type_hints(getattr(protocol, name))
            assert typing.get_type_hints(getattr(remote, name)) == theirs, name


@pytest.mark.parametrize("how", ["token", "proxy"])
def test_alice_and_bob_are_who_their_credentials_say_and_the_acls_hold(connect, how) -> None:
    alice, alice_meta = connect("alice", how)
    bob, _ = connect("bob", how)
    assert whoami(alice)["user"] == "alice"
    assert alice.identity == Identity("alice", ("gilda", "atlas"))
    assert bob.identity.user == "bob"
    assert not bob.identity.superuser  # whatever the config claimed (ANYONE)
    private = f"{VO}/private-{how}"
    alice.mkdir(private, 0o700)
    alice.add_file(f"{private}/f", size=3, replicas=[("cern-se", f"srm://x/{how}/f")])
    alice_meta.addattr(private, "run", "int")
    alice_meta.setattr(f"{private}/f", {"run": 7})
    assert alice_meta.getattr(f"{private}/f") == {"run": 7}
    assert [s.name for s in alice.iterdir(private)] == ["f"]
    for denied in (
        lambda: bob.stat(f"{private}/f"),
        lambda: list(bob.iterdir(private)),
        lambda: bob.unlink(f"{private}/f"),
        lambda: bob.chmod(private, 0o777),
        lambda: bob.replicas(f"{private}/f"),
        lambda: bob.mkdir(f"{VO}/bob-{how}"),
    ):
        with pytest.raises(PermissionError):  # EACCES, or EPERM for the owner's calls
            denied()
    with pytest.raises(NotPermitted, match="needs alice's credential"):
        bob.as_identity(alice.identity)
    assert alice.stat(f"{private}/f").size == 3


def test_superusers_are_named_by_credential_never_by_user_name(connect) -> None:
    admin, _ = connect("admin", "proxy")  # its DN is in [server] superusers
    assert admin.identity == Identity("root", ("root",), superuser=True)
    admin.chmod(VO, 0o755)  # the owner's call, allowed to the superuser
    impostor, _ = connect("root", "token")  # an issuer may hand out any user name
    assert impostor.identity.user == "root"
    assert not impostor.identity.superuser
    with pytest.raises(PermissionError):
        impostor.chmod(VO, 0o777)


def test_a_write_waiting_for_the_database_holds_up_no_read(
    pki: GridPKI, users: dict[str, typing.Any], tmp_path: Path, monkeypatch
) -> None:
    """One worker: while a write waits for SQLite's write lock, a stat is still answered.

    Ordering, not timing: the stat returns while the write still waits. A write run
    on the worker's event loop would hold the stat until the write had ended.
    """
    db = tmp_path / "catalog.db"
    admin = Catalog.from_url(f"sqlite:///{db}", SUPERUSER, create=True)
    admin.mkdir(VO, parents=True)
    admin.chown(VO, "alice", "gilda")
    admin.close()
    gridmap = {users["alice"].dn: "alice gilda,atlas"}
    config = write_service_config(tmp_path, pki, f"sqlite:///{db}", gridmap, workers=1, threads=4)
    process = ServiceProcess(config, pki)
    process.start()
    monkeypatch.setenv("X509_CERT_DIR", str(pki.ca_dir))
    monkeypatch.setenv("X509_USER_PROXY", str(pki.proxy(users["alice"])))
    monkeypatch.delenv("BEARER_TOKEN", raising=False)
    writer, _ = open_catalog(process.url + "/", ANYONE)
    reader, _ = open_catalog(process.url + "/", ANYONE)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held by someone else
        waiting = threading.Thread(target=writer.mkdir, args=(f"{VO}/made",))
        waiting.start()
        waiting.join(1.0)  # time for the mkdir to reach the server and wait there
        assert waiting.is_alive()
        assert reader.stat(VO).kind is EntryKind.DIRECTORY
        assert waiting.is_alive()  # answered while the write still waited
        holder.execute("ROLLBACK")
        waiting.join(30)
        assert not waiting.is_alive()
        assert reader.stat(f"{VO}/made").kind is EntryKind.DIRECTORY
    finally:
        holder.close()
        writer.close()
        reader.close()
        process.stop()


def test_a_proxy_named_by_the_environment_is_tunnelled_through(connect, monkeypatch) -> None:
    """https_proxy as curl reads it: CONNECT to the server, TLS and the credential inside."""
    with connect_proxy() as proxy:
        monkeypatch.setenv("https_proxy", proxy.url.replace("//", "//grid:s%40cret@"))
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        alice, _ = connect("alice", "proxy")  # an X.509 proxy: the chain passes the tunnel
        assert alice.identity.user == "alice"
        assert alice.stat(VO).kind is EntryKind.DIRECTORY
        ((request_line, *headers),) = proxy.heads  # one connection, kept alive
        port = request_line.split(" ")[1].rpartition(":")[2]
        assert request_line.startswith(f"CONNECT 127.0.0.1:{port} HTTP/1.")
        assert f"Proxy-Authorization: Basic {base64.b64encode(b'grid:s@cret').decode()}" in headers
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        bob, _ = connect("bob", "token")
        bob.stat(VO)
        assert len(proxy.heads) == 1  # no_proxy: straight to the server


def test_errors_arrive_as_the_same_classes_with_the_same_errno(connect) -> None:
    alice, metadata = connect("alice")
    alice.mkdir(f"{VO}/errors/full", parents=True)
    with pytest.raises(AlreadyExists) as exists:
        alice.mkdir(f"{VO}/errors")
    assert exists.value.errno == errno.EEXIST
    assert exists.value.filename == f"{VO}/errors"
    with pytest.raises(NotFound) as missing:
        alice.stat(f"{VO}/errors/nothing")
    assert missing.value.errno == errno.ENOENT
    with pytest.raises(DirectoryNotEmpty):
        alice.rmdir(f"{VO}/errors")
    with pytest.raises(NotFound, match=r"not in the metadata schema|no attribute"):
        metadata.getattr(f"{VO}/errors", ["nothing"])


def test_special_files_go_over_the_wire_with_kind_and_device_number(connect) -> None:
    alice, _ = connect("alice")
    admin, _ = connect("admin", "proxy")
    alice.mkdir(f"{VO}/special")
    fifo = alice.mknod(f"{VO}/special/pipe", EntryKind.FIFO, 0o640)
    assert (fifo.kind, fifo.mode, fifo.owner, fifo.guid) == (EntryKind.FIFO, 0o640, "alice", None)
    with pytest.raises(NotPermitted):
        alice.mknod(f"{VO}/special/tty", EntryKind.CHAR_DEVICE, rdev=os.makedev(4, 1))
    admin.mknod(f"{VO}/special/tty", EntryKind.CHAR_DEVICE, 0o620, rdev=os.makedev(4, 1))
    assert alice.stat(f"{VO}/special/tty").rdev == os.makedev(4, 1)
    assert {s.name: s.kind for s in alice.iterdir(f"{VO}/special")} == {
        "pipe": EntryKind.FIFO,
        "tty": EntryKind.CHAR_DEVICE,
    }


def test_listings_stream_in_pages_and_bulk_replicas_are_one_call(connect) -> None:
    alice, _ = connect("alice")
    top = f"{VO}/many"
    alice.mkdir(top)
    names = [f"f{i:04d}" for i in range(2500)]  # several pages of 1000
    for name in names:
        alice.add_file(f"{top}/{name}", size=1, replicas=[("cern-se", f"srm://x/many/{name}")])
    assert [s.name for s in alice.iterdir(top)] == names
    found = alice.replicas_many([f"{top}/{name}" for name in names])
    assert len(found) == 2500
    assert all(len(replicas) == 1 for replicas in found.values())


def test_bulk_registration_is_served_in_parts_under_the_servers_limit(connect) -> None:
    alice, _ = connect("alice")
    bob, _ = connect("bob")
    top = f"{VO}/bulk"
    alice.mkdir(top)
    files = [
        NewFile(f"{top}/f{i:04d}", size=i, replicas=(("cern-se", f"srm://x/bulk/f{i:04d}"),))
        for i in range(1500)  # some 200 KB of JSON: several requests to a 64K server
    ]
    files[1234] = NewFile(f"{top}/bad", size=-1)
    done = alice.add_files(files)
    assert (done.added, done.present) == (1499, 0)
    assert [(index, "negative size" in why) for index, why in done.refused] == [(1234, True)]
    assert alice.stat(f"{top}/f0777").size == 777
    assert alice.add_files(files[:10]).present == 10
    refused = bob.add_files([NewFile(f"{top}/bobs", size=1)]).refused
    assert [why.rsplit(": ", 1)[0] for _, why in refused] == [f"{top}/bobs: permission denied"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda pki: pki.token("alice", exp=1_000_000), id="expired"),
        pytest.param(lambda pki: pki.token("alice", nbf=4_000_000_000), id="not-yet-valid"),
        pytest.param(lambda pki: pki.token("alice", aud="https://other.example"), id="wrong-aud"),
        pytest.param(lambda pki: pki.token("alice", iss="https://evil.example"), id="wrong-iss"),
        pytest.param(lambda pki: unsigned_token(pki.claims("alice")), id="alg-none"),
        pytest.param(lambda pki: tampered(pki.token("bob"), sub="alice"), id="tampered"),
        pytest.param(
            lambda pki: hs256_token(pki.claims("alice"), pki.public_pem()), id="hs256-public-key"
        ),
        pytest.param(lambda pki: "not.a.token", id="garbage"),
    ],
)
def test_bad_tokens_are_refused(connect, pki: GridPKI, server: ServiceProcess, make) -> None:
    with pytest.raises(PermissionDenied, match=r"refused|untrusted"):
        connect("alice", token=make(pki))
    answer = httpx.get(
        f"{server.url}/v1/whoami",
        headers={"Authorization": f"Bearer {make(pki)}"},
        verify=ssl.create_default_context(capath=pki.ca_dir),
    )
    assert answer.status_code == 401


def test_a_scope_reaches_its_subtree_only_on_whole_components(connect) -> None:
    owner, _ = connect("alice")
    for name in ("foo", "foobar"):
        owner.mkdir(f"{VO}/{name}", exist_ok=True)
        owner.add_file(f"{VO}/{name}/f", size=1)
    scope = f"storage.read:{VO}/foo storage.create:{VO}/foo"
    scoped, scoped_meta = connect("alice", scope=scope)
    assert scoped.stat(f"{VO}/foo/f").size == 1
    scoped.mkdir(f"{VO}/foo/new")
    with pytest.raises(PermissionDenied, match="scopes do not allow stat"):
        scoped.stat(f"{VO}/foobar/f")
    with pytest.raises(PermissionDenied, match="scopes"):
        scoped.mkdir(f"{VO}/foobar/new")
    with pytest.raises(PermissionDenied, match=r"storage\.modify"):
        scoped.unlink(f"{VO}/foo/f")  # create is no licence to remove
    with pytest.raises(InvalidLFN):  # no walking out of a scope
        scoped.stat(f"{VO}/foo/../foobar/f")
    with pytest.raises(PermissionDenied):
        scoped_meta.listattr(f"{VO}/foobar")
    reader, _ = connect("alice", scope=f"storage.read:{VO}")
    assert reader.stat(f"{VO}/foobar/f").size == 1
    with pytest.raises(PermissionDenied, match=r"storage\.create"):
        reader.mkdir(f"{VO}/foobar/no")


def test_user_attributes_over_the_service_with_their_scopes(connect) -> None:
    owner, owner_meta = connect("alice")
    owner.mkdir(f"{VO}/tags", exist_ok=True)
    lfn = f"{VO}/tags/f"
    owner.add_file(lfn, size=1)
    owner_meta.addattr(f"{VO}/tags", "run", "int")
    binary = bytes(range(256)) * 128  # every byte value: base64 on the wire
    owner_meta.set_xattr(lfn, "blob", binary)
    owner_meta.set_xattr(owner.stat(lfn).id, "run", b"7")
    assert owner_meta.get_xattr(lfn, "blob") == binary
    owner_meta.set_xattr(lfn, "origin", b"mc")
    assert owner_meta.xattr_names(lfn) == ["run", "blob", "origin"]
    assert list(owner_meta.find(f"{VO}/tags", "run = 7 and origin = 'mc'")) == [lfn]
    owner_meta.remove_xattr(lfn, "origin")
    with pytest.raises(GridError) as missing:
        owner_meta.get_xattr(lfn, "nothing")
    assert missing.value.errno == errno.ENODATA
    _, reader = connect("alice", scope=f"storage.read:{VO}")
    assert reader.get_xattr(lfn, "run") == b"7"
    assert reader.xattr_names(lfn) == ["run", "blob"]
    with pytest.raises(PermissionDenied, match=r"storage\.modify"):
        reader.set_xattr(lfn, "origin", b"mc")
    with pytest.raises(PermissionDenied, match=r"storage\.modify"):
        reader.remove_xattr(lfn, "blob")
    owner_meta.remove_xattr(lfn, "blob")
    assert owner_meta.xattr_names(lfn) == ["run"]


def test_no_credential_is_401_with_how_to_supply_one(connect) -> None:
    with pytest.raises(PermissionDenied, match="BEARER_TOKEN") as refused:
        connect("alice", how="none")
    assert "X509_USER_PROXY" in str(refused.value)


def test_unknown_ca_and_expired_proxy_are_refused(connect, pki, users, monkeypatch, tmp_path):
    stranger = GridPKI(tmp_path / "other", ca_name="Other CA")
    monkeypatch.setenv("X509_USER_PROXY", str(stranger.proxy(stranger.user("Alice"))))
    with pytest.raises(StorageUnavailable, match="no catalog service answers"):
        connect("alice", how="env")
    monkeypatch.setenv("X509_USER_PROXY", str(pki.proxy(users["alice"], hours=-1, start=-2)))
    with pytest.raises(StorageUnavailable, match="no catalog service answers"):
        connect("alice", how="env")
    alice, _ = connect("alice", how="proxy")  # the server goes on serving
    assert alice.stat(VO).is_dir()


def test_malformed_and_oversized_requests_get_4xx_and_the_server_goes_on(
    server: ServiceProcess, pki: GridPKI, connect
) -> None:
    token = pki.token("alice", **{"wlcg.groups": ["/gilda"]})
    with httpx.Client(
        verify=ssl.create_default_context(capath=pki.ca_dir),
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        stat = f"{server.url}/v1/catalog/stat"
        cases = {
            400: [
                http.post(stat, content=b"{not json"),
                http.post(stat, content=b"[1, 2]"),
                http.post(stat, json={"lfn": 5}),
                http.post(stat, json={"lfn": VO, "sudo": True}),
                http.post(stat, json={}),
                http.post(stat, json={"lfn": "relative/path"}),
                http.post(stat, content=b"\xff\xfe"),
            ],
            404: [http.post(f"{server.url}/v1/catalog/drop_database", json={})],
            405: [http.get(stat)],
            413: [http.post(stat, json={"lfn": "/" + "a" * 70_000})],
        }
        for status, answers in cases.items():
            for answer in answers:
                assert answer.status_code == status, answer.text
                assert "error" in answer.json()
        assert http.post(stat, json={"lfn": VO}).status_code == 200
        assert _raw(server, pki, b"POST /v1/catalog/stat HTTP/1.1\r\nContent-Length: x\r\n\r\n")
        # Request lines and headers are bounded, as gunicorn bounded them.
        assert _raw(server, pki, b"GET /health?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        many = b"".join(b"X-%d: 1\r\n" % index for index in range(101))
        assert _raw(server, pki, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        long = b"X-Long: " + b"a" * 8190 + b"\r\n"
        assert _raw(server, pki, b"GET /health HTTP/1.1\r\nHost: x\r\n" + long + b"\r\n")
        fine = b"".join(b"X-%d: 1\r\n" % index for index in range(90))
        assert not _raw(server, pki, b"GET /health HTTP/1.1\r\nHost: x\r\n" + fine + b"\r\n")
        health = http.get(f"{server.url}/health")
        assert health.json() == {"status": "ok"}
        metrics = http.get(f"{server.url}/metrics").text
        assert 'gridfs_requests_total{operation="catalog.stat",status="200"}' in metrics
        assert 'gridfs_request_seconds_bucket{operation="catalog.stat",le="+Inf"}' in metrics


def test_gridfs_whoami_prints_what_the_server_granted(
    server: ServiceProcess, pki: GridPKI, tmp_path: Path
) -> None:
    config = tmp_path / "client.toml"
    config.write_text(f'[catalog]\nurl = "{server.url}/"\n[identity]\nuser = "root"\n')
    token = pki.token("bob", scope=f"storage.read:{VO}", **{"wlcg.groups": ["/cms"]})

    def gridfs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gridfs.cli", "--config", str(config), *args],
            env={"BEARER_TOKEN": token, "X509_CERT_DIR": str(pki.ca_dir), "PATH": "/usr/bin"},
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    result = gridfs("whoami")
    assert result.returncode == 0, result.stderr
    assert "user:     bob\n" in result.stdout
    assert "groups:   cms" in result.stdout
    assert f"scopes:   storage.read:{VO}" in result.stdout
    assert AUDIENCE not in result.stdout
    listed = gridfs("ls", VO)
    assert listed.returncode == 0, listed.stderr
    outside = gridfs("ls", "/grid")  # above the token's scope
    assert outside.returncode == 1
    assert "scopes do not allow" in outside.stderr
    refused = gridfs("mkdir", f"{VO}/by-bob")  # the ACLs, and a read-only scope
    assert refused.returncode == 1
    assert refused.stderr.startswith("gridfs: ")
    assert refused.stderr.count("\n") == 1  # one line, no traceback


def _raw(server: ServiceProcess, pki: GridPKI, request: bytes) -> bool:
    """Whether a request that is not HTTP gets the server's own 400."""
    context = ssl.create_default_context(capath=pki.ca_dir)
    assert server.port is not None
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as tls,
    ):
        tls.sendall(request)
        return tls.recv(100).startswith(b"HTTP/1.1 400")


def test_two_servers_on_one_postgresql_and_the_client_fails_over(
    postgres_url: str, pki: GridPKI, users: dict[str, typing.Any], tmp_path: Path, monkeypatch
) -> None:
    admin = Catalog.from_url(postgres_url, SUPERUSER, create=True)
    admin.mkdir(VO, parents=True)
    admin.chown(VO, "alice", "gilda")
    admin.close()
    gridmap = {users["alice"].dn: "alice gilda"}
    servers = [
        ServiceProcess(write_service_config(tmp_path / name, pki, postgres_url, gridmap), pki)
        for name in ("one", "two")
    ]
    for server in servers:
        server.start()
    try:
        monkeypatch.setenv("X509_CERT_DIR", str(pki.ca_dir))
        monkeypatch.delenv("BEARER_TOKEN", raising=False)
        monkeypatch.setenv("X509_USER_PROXY", str(pki.proxy(users["alice"])))
        urls = ",".join(f"{server.url}/" for server in servers)
        catalog, _ = open_catalog(urls, ANYONE)
        try:
            catalog.mkdir(f"{VO}/before")
            servers[0].stop()  # the one the client was using
            assert catalog.stat(f"{VO}/before").is_dir()  # the other serves the same catalog
            catalog.mkdir(f"{VO}/after")  # a connection refused sent nothing: safe to go on
            assert [s.name for s in catalog.iterdir(VO)] == ["before", "after"]
            servers[1].stop()
            with pytest.raises(StorageUnavailable, match="no catalog service answers"):
                catalog.stat(VO)
        finally:
            catalog.close()
    finally:
        for server in servers:
            server.stop()
