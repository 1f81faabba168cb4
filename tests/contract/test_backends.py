"""One contract for every protocol backend, against real servers.

file:// (a directory), root:// (an xrootd daemon), WebDAV over http and https (WsgiDAV).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from XRootD.client.file import File

from gridfs.errors import AlreadyExists, NotFound, StorageUnavailable
from gridfs.storage import BackendOptions, BackendPool, Capability, StorageBackend
from gridfs.storage.file_backend import FileBackend
from gridfs.storage.http_ranges import RangeClient
from tests.processes import free_port
from tests.storage_servers import WebDAVServer, XRootDServer

DOWN = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ETIMEDOUT, errno.EREMOTEIO}


@dataclass
class Store:
    """A backend, a fresh area on its server (as a TURL prefix), and that area on disk."""

    scheme: str
    backend: StorageBackend
    base: str
    disk: Path

    def turl(self, name: str) -> str:
        return f"{self.base}/{name}"

    def leftovers(self) -> list[str]:
        return (
            sorted(p.name for p in self.disk.rglob("*") if p.is_file())
            if self.disk.exists()
            else []
        )


@pytest.fixture(params=["file", "root", "dav", "davs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    area = f"area-{secrets.token_hex(4)}"
    scheme = request.param
    if scheme == "file":
        base, disk, options = (tmp_path / area).as_uri(), tmp_path / area, BackendOptions()
    elif scheme == "root":
        server: XRootDServer = request.getfixturevalue("xrootd_server")
        base, disk, options = f"{server.url}/{area}", server.data_dir / area, BackendOptions()
    else:
        dav: WebDAVServer = request.getfixturevalue(
            "webdav_server" if scheme == "dav" else "webdavs_server"
        )
        options = BackendOptions(ca_file=str(dav.ca_file) if dav.ca_file else None)
        base = scheme + dav.url[dav.url.index("://") :].rstrip("/") + f"/{area}"
        disk = dav.data_dir / area
    with BackendPool(options) as pool:
        yield Store(scheme, pool.backend(base), base, disk)


def chunked(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_write_stat_read_checksum_delete(store: Store) -> None:
    data = os.urandom(3 * 1024 * 1024 + 11)
    turl = store.turl("generated/2026-11-22/file-a")
    written = store.backend.write(turl, chunked(data))
    assert (written.size, written.checksum) == (len(data), f"{zlib.adler32(data):08x}")
    assert store.backend.stat(turl).size == len(data)
    assert store.backend.checksum(turl) == written.checksum
    # What a write reports of the stored object, where it reports anything, is the truth.
    assert written.stored_checksum in (None, written.checksum)
    with store.backend.open_reader(turl) as reader:
        assert reader.size == len(data)
        assert reader.pread(0, 100) == data[:100]
        assert reader.pread(2_000_000, 300_000) == data[2_000_000:2_300_000]
        assert reader.pread(len(data) - 7, 100) == data[-7:]
        assert reader.pread(len(data), 10) == b""
    assert store.leftovers() == ["file-a"]  # no partial upload stays behind
    store.backend.delete(turl)
    with pytest.raises(NotFound):
        store.backend.stat(turl)


def test_an_empty_object(store: Store) -> None:
    turl = store.turl("empty")
    assert store.backend.write(turl, iter([])).size == 0
    assert store.backend.checksum(turl) == "00000001"
    with store.backend.open_reader(turl) as reader:
        assert reader.pread(0, 10) == b""


def test_a_write_never_replaces_a_replica(store: Store) -> None:
    turl = store.turl("once")
    store.backend.write(turl, [b"first"])
    with pytest.raises(AlreadyExists):
        store.backend.write(turl, [b"second"])
    with store.backend.open_reader(turl) as reader:
        assert reader.pread(0, 100) == b"first"
    assert store.leftovers() == ["once"]


def test_a_failing_source_leaves_nothing(store: Store) -> None:
    def source() -> Iterator[bytes]:
        yield b"x" * 100_000
        raise OSError(errno.EIO, "the source disk failed")

    with pytest.raises(OSError, match="source disk failed"):
        store.backend.write(store.turl("broken"), source())
    with pytest.raises(NotFound):
        store.backend.stat(store.turl("broken"))
    assert store.leftovers() == []


def test_missing_objects_are_enoent(store: Store) -> None:
    missing = store.turl("missing")
    store.backend.write(store.turl("present"), [b"x"])  # the area itself exists
    for call in (
        store.backend.stat,
        store.backend.open_reader,
        store.backend.delete,
        store.backend.checksum,
    ):
        with pytest.raises(NotFound) as info:
            call(missing)
        assert info.value.errno == errno.ENOENT


@pytest.mark.parametrize("scheme", ["root", "dav", "davs"])
def test_a_server_that_is_down_is_not_enoent(scheme: str) -> None:
    separator = "//" if scheme == "root" else "/"
    turl = f"{scheme}://127.0.0.1:{free_port()}{separator}data/x"
    with BackendPool(BackendOptions(timeout_s=5)) as pool:
        backend = pool.backend(turl)
        for call in (backend.stat, backend.open_reader, backend.checksum):
            with pytest.raises(StorageUnavailable) as info:
                call(turl)
            assert info.value.errno in DOWN
            assert isinstance(info.value, ConnectionError)
        with pytest.raises(StorageUnavailable):
            backend.write(turl, [b"data"])


def test_a_tls_certificate_that_does_not_verify(webdavs_server: WebDAVServer) -> None:
    turl = "davs" + webdavs_server.url[webdavs_server.url.index("://") :] + "anything"
    with (
        BackendPool(BackendOptions(timeout_s=5)) as pool,  # the system CAs only
        pytest.raises(StorageUnavailable, match="certificate does not verify") as info,
    ):
        pool.backend(turl).stat(turl)
    assert info.value.errno == errno.EPROTO


def test_mkdir_and_list(store: Store) -> None:
    store.backend.mkdir(store.turl("d/e"))
    store.backend.mkdir(store.turl("d/e"))  # an existing directory is fine
    store.backend.write(store.turl("d/f1"), [b"abc"])
    entries = sorted(store.backend.list(store.turl("d")), key=lambda e: e.name)
    assert [(e.name, e.is_dir) for e in entries] == [("e", True), ("f1", False)]
    assert entries[1].size == 3
    assert list(store.backend.list(store.turl("d/e"))) == []
    with pytest.raises(NotFound):
        store.backend.list(store.turl("nowhere"))


def _sockets() -> int:
    """How many sockets this process holds open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the fd that listed the directory
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def test_close_releases_the_connections_and_is_idempotent(store: Store) -> None:
    before = _sockets()
    store.backend.write(store.turl("x"), [b"data"])
    with store.backend.open_reader(store.turl("x")) as reader:
        assert reader.pread(0, 4) == b"data"
    if store.scheme.startswith("dav"):
        assert _sockets() > before  # a kept-alive connection, which close() must end
    store.backend.close()
    store.backend.close()
    if store.scheme != "root":  # XrdCl keeps its connections for the whole process
        assert _sockets() == before
    with pytest.raises(ValueError, match="closed"):
        store.backend.stat(store.turl("x"))


def test_idle_range_connections_close_by_themselves(webdav_server: WebDAVServer) -> None:
    assert webdav_server.data_dir is not None
    (webdav_server.data_dir / "idle.dat").write_bytes(b"0123456789")
    url = f"{webdav_server.url}idle.dat"
    before = _sockets()
    client = RangeClient(5, ssl.create_default_context(), idle_s=0.2)
    try:
        answers = [client.get(url, "2-5", url, "read") for _ in range(3)]
        assert [(a.status, a.body) for a in answers] == [(206, b"2345")] * 3
        assert _sockets() == before + 1  # one connection, kept alive and reused
        deadline = time.monotonic() + 30
        while _sockets() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _sockets() == before  # closed while idle, without close()
        assert client.get(url, "0-1", url, "read").body == b"01"  # a new one when wanted
    finally:
        client.close()


def test_a_reader_gives_the_local_path_only_for_local_replicas(store: Store) -> None:
    turl = store.turl("generated/2026-11-22/file-a")
    store.backend.write(turl, [b"local bytes"])
    with store.backend.open_reader(turl) as reader:
        if Capability.LOCAL_PATH in store.backend.capabilities:
            assert reader.local_path is not None
            assert Path(reader.local_path).read_bytes() == b"local bytes"
        else:
            assert reader.local_path is None


EXPECTED_CAPABILITIES = {
    "file": {Capability.LOCAL_PATH},
    "root": {Capability.SERVER_CHECKSUM, Capability.THIRD_PARTY_COPY},
    "dav": {Capability.THIRD_PARTY_COPY},  # HTTP TPC, where its SE is marked tpc
    "davs": {Capability.THIRD_PARTY_COPY},
}


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the object was read through the client")


def test_each_backend_declares_what_it_can_do(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.backend.capabilities == EXPECTED_CAPABILITIES[store.scheme]
    turl = store.turl("summed")
    written = store.backend.write(turl, [os.urandom(100_000)])
    # Break every way each client reads an object's bytes: only a server checksum survives.
    monkeypatch.setattr(FileBackend, "open_reader", _refuse)
    monkeypatch.setattr(File, "open", _refuse)
    monkeypatch.setattr(httpx.Client, "stream", _refuse)
    if Capability.SERVER_CHECKSUM in store.backend.capabilities:
        assert store.backend.checksum(turl) == written.checksum
    else:
        with pytest.raises(AssertionError, match="read through the client"):
            store.backend.checksum(turl)


def test_a_local_file_is_adopted_only_where_it_can_be_linked_in(
    store: Store, tmp_path: Path
) -> None:
    data = os.urandom(200_000)
    local = tmp_path / "staged"
    local.write_bytes(data)
    turl = store.turl("adopted/file-a")
    written = store.backend.adopt(turl, str(local))
    if store.scheme != "file":
        assert written is None  # a network backend copies: write() it
        return
    assert written is not None
    assert (written.size, written.checksum) == (len(data), f"{zlib.adler32(data):08x}")
    assert written.stored_checksum == written.checksum
    assert (store.disk / "adopted/file-a").stat().st_ino == local.stat().st_ino
    with pytest.raises(AlreadyExists):
        store.backend.adopt(turl, str(local))
