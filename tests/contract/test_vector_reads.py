"""Vector reads (``readv``) against real servers, and through the Python API with failover.

file:// reads range by range; root:// sends XRootD vector reads; XrdHttp (XRootD's
WebDAV door) answers multi-range GETs with multipart/byteranges; WsgiDAV answers only
the first range of a multi-range GET, so the rest are read one range each; a server
that ignores ranges altogether is refused rather than read whole.
"""

from __future__ import annotations

import errno
import http.server
import random
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import gridfs
from gridfs.config import load_config
from gridfs.errors import InvalidArgument, StorageUnavailable
from gridfs.gfal import Grid
from gridfs.storage import BackendOptions, BackendPool, RangeReader
from gridfs.storage.http_backend import WebDAVBackend
from gridfs.storage.retrying import RetryingBackend
from tests.conftest import make_vo
from tests.storage_servers import (
    LOOPBACK,
    WebDAVServer,
    XRootDServer,
)

SIZE = 5 * (1 << 20) + 4321  # a few of XRootD's 2 MiB chunk limit, and an odd tail


@dataclass
class Replica:
    """An object of ``SIZE`` random bytes on a server, and the TURL to read it at."""

    turl: str
    data: bytes
    pool: BackendPool

    def reader(self) -> RangeReader:
        return self.pool.backend(self.turl).open_reader(self.turl)


@pytest.fixture(params=["file", "root", "xrdhttp", "dav"])
def replica(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Replica]:
    data = random.Random(13).randbytes(SIZE)
    name = f"vector-{secrets.token_hex(4)}"
    options = BackendOptions()
    if request.param == "file":
        path = tmp_path / name
        path.write_bytes(data)
        turl = path.as_uri()
    elif request.param in ("root", "xrdhttp"):
        fixture = "xrootd_server" if request.param == "root" else "xrdhttp_server"
        xrootd: XRootDServer = request.getfixturevalue(fixture)
        xrootd.put_file(name, data)
        turl = f"{xrootd.url}/{name}" if request.param == "root" else xrootd.http_url + name
    else:
        dav: WebDAVServer = request.getfixturevalue("webdav_server")
        assert dav.data_dir is not None
        (dav.data_dir / name).write_bytes(data)
        turl = f"{dav.url}{name}"
    with BackendPool(options) as pool:
        yield Replica(turl, data, pool)


def expected(data: bytes, ranges: list[tuple[int, int]]) -> list[bytes]:
    return [data[offset : offset + size] for offset, size in ranges]


def test_random_ranges(replica: Replica) -> None:
    chance = random.Random(7)
    ranges = [
        (chance.randrange(SIZE), chance.choice([1, 100, 4096, 65536, 300_000])) for _ in range(300)
    ]
    with replica.reader() as reader:
        assert reader.readv(ranges) == expected(replica.data, ranges)


def test_overlapping_repeated_and_unordered_ranges(replica: Replica) -> None:
    ranges = [(5000, 100), (5050, 100), (0, 10), (5000, 100), (4000, 3000), (10, 0), (1, 2)]
    with replica.reader() as reader:
        assert reader.readv(ranges) == expected(replica.data, ranges)


def test_ranges_longer_than_a_vector_read_chunk(replica: Replica) -> None:
    ranges = [(1, 4 << 20), (SIZE - (3 << 20), 3 << 20), (100, 10)]
    with replica.reader() as reader:
        assert reader.readv(ranges) == expected(replica.data, ranges)


def test_ranges_at_and_past_the_end(replica: Replica) -> None:
    ranges = [(SIZE - 10, 10), (SIZE - 5, 100), (SIZE, 10), (SIZE + 1000, 1), (0, 3)]
    with replica.reader() as reader:
        got = reader.readv(ranges)
    assert got == expected(replica.data, ranges)
    assert [len(piece) for piece in got] == [10, 5, 0, 0, 3]


def test_no_ranges(replica: Replica) -> None:
    with replica.reader() as reader:
        assert reader.readv([]) == []


def test_a_negative_range_is_invalid(replica: Replica) -> None:
    with replica.reader() as reader, pytest.raises(InvalidArgument, match="negative"):
        reader.readv([(0, 10), (-1, 10)])


def test_a_server_that_answers_one_range_only_gives_every_range(
    webdav_server: WebDAVServer,
) -> None:
    """WsgiDAV answers a multi-range GET with its first range: the rest are read one by one."""
    assert webdav_server.data_dir is not None
    data = random.Random(3).randbytes(100_000)
    (webdav_server.data_dir / "first-only").write_bytes(data)
    ranges = [(10, 10), (50_000, 20), (99_990, 10)]
    with BackendPool() as pool:
        turl = f"{webdav_server.url}first-only"
        with pool.backend(turl).open_reader(turl) as reader:
            assert reader.readv(ranges) == expected(data, ranges)
            assert reader.readv(ranges[::-1]) == expected(data, ranges[::-1])


def test_multipart_answers_are_used_where_the_server_gives_them(
    xrdhttp_server: XRootDServer, webdav_server: WebDAVServer
) -> None:
    """XrdHttp answers multipart/byteranges (kept asking); WsgiDAV does not (asked no more)."""
    assert webdav_server.data_dir is not None
    data = random.Random(4).randbytes(70_000)
    xrdhttp_server.put_file("multi", data)
    (webdav_server.data_dir / "multi").write_bytes(data)
    ranges = [(0, 10), (30_000, 100), (69_000, 1000)]
    with BackendPool() as pool:
        for url, multipart in ((xrdhttp_server.http_url, True), (webdav_server.url, False)):
            turl = f"{url}multi"
            backend = pool.backend(turl)
            assert isinstance(backend, RetryingBackend)
            dav = backend.inner
            assert isinstance(dav, WebDAVBackend)
            with backend.open_reader(turl) as reader:
                assert reader.readv(ranges) == expected(data, ranges)
            assert dav.offers_multirange(turl) is multipart


class _NoRanges(http.server.BaseHTTPRequestHandler):
    """A server that knows WebDAV's PROPFIND but answers every GET with the whole file."""

    body = bytes(range(256)) * 64

    def do_PROPFIND(self) -> None:
        reply = (
            '<?xml version="1.0"?><multistatus xmlns="DAV:"><response><href>/f</href>'
            f"<propstat><prop><resourcetype/><getcontentlength>{len(self.body)}"
            "</getcontentlength></prop></propstat></response></multistatus>"
        ).encode()
        self.send_response(207)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_that_ignores_ranges_is_refused_not_read_whole() -> None:
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _NoRanges)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        turl = f"dav://{LOOPBACK}:{server.server_address[1]}/f"
        with BackendPool() as pool, pool.backend(turl).open_reader(turl) as reader:
            with pytest.raises(StorageUnavailable, match="ignores byte ranges") as caught:
                reader.readv([(0, 10), (100, 10)])
            assert caught.value.errno == errno.EREMOTEIO
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.expect_warnings
def test_readv_through_the_python_api_fails_over(
    tmp_path: Path, make_file, private_xrootd: XRootDServer
) -> None:
    """gridfs.open(...).readv: when the replica's server dies, the next replica serves it."""
    config = tmp_path / "grid.toml"
    config.write_text(
        '[catalog]\nurl = "sqlite:///c.db"\n[identity]\nuser = "alice"\ngroups = ["gilda"]\n'
        '[site]\nname = "near"\n'
        '[storage]\ndefault_se = "remote"\nprotocols = ["root", "file"]\ntimeout = 10\n'
        '[se.remote]\nsite = "near"\nsurl_prefix = "srm://remote/grid"\n'
        f'[se.remote.protocols]\nroot = "{private_xrootd.url}/se"\n'
        '[se.far]\nsite = "far"\nroot = "far-se"\n'
    )
    source = make_file("baskets.root", SIZE, seed=5)
    data = source.read_bytes()
    ranges = [(offset, 4096 + offset % 60_000) for offset in range(0, SIZE, 77_777)]
    with Grid.from_config(load_config(config), create=True) as grid:
        make_vo(grid)
        grid.cr(source, "/grid/gilda/baskets.root")
        grid.rep("/grid/gilda/baskets.root", "far")
        with grid.open("/grid/gilda/baskets.root") as stream:
            assert isinstance(stream, gridfs.GridFile)
            assert stream.replica.se == "remote"
            assert stream.readv(ranges) == expected(data, ranges)
            assert stream.read(10) == data[:10]  # readv moves no position
            private_xrootd.kill()
            assert stream.readv(ranges[::-1]) == expected(data, ranges[::-1])
            assert stream.replica.se == "far"
        with pytest.raises(ValueError, match="closed"):
            stream.readv(ranges)
