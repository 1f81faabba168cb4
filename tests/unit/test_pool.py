"""The backend pool: one backend per scheme family, made once, closed with the pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import ClassVar

import pytest

from gridfs.errors import InvalidArgument
from gridfs.storage import (
    BackendOptions,
    BackendPool,
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
)
from gridfs.storage import pool as pool_module
from gridfs.storage.http_backend import WebDAVBackend
from gridfs.storage.retrying import RetryingBackend


class Recorded(StorageBackend):
    """A backend that only counts how often it is made and closed; making one is slow."""

    made: ClassVar[list[Recorded]] = []

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        time.sleep(0.05)  # a window in which a second thread could make another
        self.closes = 0
        Recorded.made.append(self)

    def close(self) -> None:
        self.closes += 1
        if self.options.ca_file == "fail-on-close":
            raise OSError("cannot close")

    def stat(self, turl: str) -> ObjectStat:
        raise NotImplementedError

    def open_reader(self, turl: str) -> RangeReader:
        raise NotImplementedError

    def write(self, turl: str, chunks: Iterable[bytes]) -> WriteResult:
        raise NotImplementedError

    def delete(self, turl: str) -> None:
        raise NotImplementedError

    def checksum(self, turl: str, checksum_type: str = "adler32") -> str:
        raise NotImplementedError

    def mkdir(self, turl: str) -> None:
        raise NotImplementedError

    def list(self, turl: str) -> Iterator[ListEntry]:
        raise NotImplementedError


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> type[Recorded]:
    """Scheme ``rec://`` (and its family member ``rec2://``) made by :class:`Recorded`."""
    monkeypatch.setattr(Recorded, "made", [])
    for scheme in ("rec", "rec2"):
        monkeypatch.setitem(
            pool_module._KNOWN_BACKENDS, scheme, (f"{__name__}:{Recorded.__name__}", "")
        )
    return Recorded


def inner(backend: StorageBackend) -> StorageBackend:
    assert isinstance(backend, RetryingBackend)
    return backend.inner


def test_one_backend_per_scheme_family_with_the_pool_options() -> None:
    options = BackendOptions(timeout_s=7)
    with BackendPool(options) as pool:
        dav = pool.backend("dav://host/a")
        assert all(pool.backend(f"{s}://other/b") is dav for s in ("davs", "http", "https"))
        assert isinstance(inner(dav), WebDAVBackend)
        assert dav.options == options
        local = pool.backend("file:///x")
        assert local is not dav
        assert pool.backend("file:///y") is local


def test_two_pools_share_nothing() -> None:
    with BackendPool() as first, BackendPool() as second:
        assert first.backend("file:///") is not second.backend("file:///")


def test_closing_the_pool_closes_every_backend_it_made_once() -> None:
    pool = BackendPool()
    dav, local = pool.backend("davs://host/a"), pool.backend("file:///")
    client = inner(dav)
    assert isinstance(client, WebDAVBackend)
    pool.close()
    pool.close()
    assert client.client.is_closed
    for backend in (dav, local):
        with pytest.raises(ValueError, match="closed"):
            backend.stat("file:///x")
    with pytest.raises(ValueError, match="closed pool"):
        pool.backend("file:///")


def test_backends_are_made_once_when_threads_ask_at_once(recorded: type[Recorded]) -> None:
    pool = BackendPool()
    start = threading.Barrier(8)
    got: list[StorageBackend] = []

    def ask(scheme: str) -> None:
        start.wait()
        got.append(pool.backend(f"{scheme}://host/x"))

    threads = [threading.Thread(target=ask, args=("rec" if i % 2 else "rec2",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(recorded.made) == 1
    assert len({id(backend) for backend in got}) == 1
    pool.close()
    assert recorded.made[0].closes == 1


def test_a_backend_that_fails_to_close_spares_the_others(recorded: type[Recorded]) -> None:
    failing = BackendPool(BackendOptions(ca_file="fail-on-close"))
    failing.backend("rec://host/x")
    failing.backend("file:///")
    with pytest.raises(OSError, match="cannot close"):
        failing.close()
    assert recorded.made[0].closes == 1
    with pytest.raises(ValueError, match="closed"):
        failing.backend("rec://host/x")


def test_unknown_schemes_and_missing_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    with BackendPool() as pool:
        with pytest.raises(InvalidArgument, match="no backend for gsiftp"):
            pool.backend("gsiftp://host/x")
        monkeypatch.setitem(
            pool_module._KNOWN_BACKENDS, "s3", ("no_such_client_lib:Backend", "pip install x")
        )
        with pytest.raises(InvalidArgument, match=r"needs no_such_client_lib.*pip install x"):
            pool.backend("s3://bucket/x")
