"""One contract for every protocol backend, against real servers.

file:// (a directory), root:// (an xrootd daemon), WebDAV over http and https (WsgiDAV).
"""

from __future__ import annotations

import errno
import os
import secrets
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridfs.errors import AlreadyExists, NotFound, StorageUnavailable
from gridfs.storage import BackendOptions, StorageBackend, backend_for
from tests.processes import free_port
from tests.storage_servers import WebDAVServer, XRootDServer

DOWN = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ETIMEDOUT, errno.EREMOTEIO}


@dataclass
class Store:
    """A backend, a fresh area on its server (as a TURL prefix), and that area on disk."""

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
    if request.param == "file":
        yield Store(backend_for("file:///"), (tmp_path / area).as_uri(), tmp_path / area)
    elif request.param == "root":
        server: XRootDServer = request.getfixturevalue("xrootd_server")
        yield Store(backend_for(server.url), f"{server.url}/{area}", server.data_dir / area)
    else:
        name = "webdav_server" if request.param == "dav" else "webdavs_server"
        dav: WebDAVServer = request.getfixturevalue(name)
        options = BackendOptions(ca_file=str(dav.ca_file) if dav.ca_file else None)
        base = request.param + dav.url[dav.url.index("://") :].rstrip("/") + f"/{area}"
        yield Store(backend_for(base, options), base, dav.data_dir / area)


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
    backend = backend_for(turl, BackendOptions(timeout_s=5))
    for call in (backend.stat, backend.open_reader, backend.checksum):
        with pytest.raises(StorageUnavailable) as info:
            call(turl)
        assert info.value.errno in DOWN
        assert isinstance(info.value, ConnectionError)
    with pytest.raises(StorageUnavailable):
        backend.write(turl, [b"data"])


def test_a_tls_certificate_that_does_not_verify(webdavs_server: WebDAVServer) -> None:
    turl = "davs" + webdavs_server.url[webdavs_server.url.index("://") :] + "anything"
    backend = backend_for(turl, BackendOptions(timeout_s=5))  # the system CAs only
    with pytest.raises(StorageUnavailable, match="certificate does not verify") as info:
        backend.stat(turl)
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
