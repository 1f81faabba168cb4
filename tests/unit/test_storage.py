"""SE registry, SURL -> TURL resolution and the file:// backend."""

from __future__ import annotations

import errno
import os
import zlib
from pathlib import Path
from types import MappingProxyType

import pytest

from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    IsADirectory,
    NotFound,
    UnknownSE,
)
from gridfs.storage import (
    Adler32,
    BackendOptions,
    SERegistry,
    StorageElement,
    file_backend,
    make_surl,
    resolve_turl,
)
from gridfs.storage.file_backend import FileBackend, turl_to_path

SE = StorageElement(
    name="cern-se",
    site="cern",
    surl_prefix="srm://se.cern.example/grid",
    protocols=MappingProxyType(
        {"file": "file:///data/se", "root": "root://se.cern.example//data/se"}
    ),
)


@pytest.mark.parametrize(
    ("surl", "protocols", "turl"),
    [
        ("srm://se.cern.example/grid/a/b", ["file"], "file:///data/se/a/b"),
        ("srm://se.cern.example/grid/a/b", ["root", "file"], "root://se.cern.example//data/se/a/b"),
        ("srm://se.cern.example/grid/a/b", ["davs", "file"], "file:///data/se/a/b"),
    ],
)
def test_surl_to_turl(surl: str, protocols: list[str], turl: str) -> None:
    assert resolve_turl(surl, SE, protocols) == turl


@pytest.mark.parametrize(
    ("surl", "protocols", "message"),
    [
        ("srm://other.example/grid/a", ["file"], "not on storage element"),
        ("srm://se.cern.example/gridx/a", ["file"], "not on storage element"),
        ("srm://se.cern.example/grid/a", ["davs"], "offers none of davs"),
    ],
)
def test_surl_to_turl_errors(surl: str, protocols: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resolve_turl(surl, SE, protocols)


def test_make_surl_accepts_only_safe_relative_paths() -> None:
    assert (
        make_surl(SE, "generated/2026-01-01/file-x")
        == "srm://se.cern.example/grid/generated/2026-01-01/file-x"
    )
    for bad in ("../x", "/abs", "a//b", "a b", "a/../b", ""):
        with pytest.raises(InvalidArgument):
            make_surl(SE, bad)


def test_registry() -> None:
    other = StorageElement("ral-se", "ral", "srm://se.ral.example/grid")
    registry = SERegistry([SE, other])
    assert registry.get("ral-se") is other
    assert "cern-se" in registry
    assert len(registry) == 2
    with pytest.raises(UnknownSE, match="known: cern-se, ral-se"):
        registry.get("nowhere")
    with pytest.raises(ValueError, match="twice"):
        SERegistry([SE, SE])


def test_adler32_matches_zlib_in_chunks() -> None:
    data = os.urandom(100_000)
    digest = Adler32()
    for start in range(0, len(data), 4096):
        digest.update(data[start : start + 4096])
    assert digest.hexdigest() == f"{zlib.adler32(data):08x}"
    assert Adler32().hexdigest() == "00000001"


# -- the file:// backend -------------------------------------------------------


@pytest.fixture
def area(tmp_path: Path) -> Path:
    return tmp_path / "se"


def url(path: Path) -> str:
    return path.as_uri()


def test_write_read_stat_checksum_delete(area: Path) -> None:
    backend = FileBackend(BackendOptions())
    data = os.urandom(3 * 1024 * 1024 + 17)
    target = area / "generated" / "f1"
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    result = backend.write(url(target), iter(chunks))
    assert (result.size, result.checksum) == (len(data), f"{zlib.adler32(data):08x}")
    assert target.read_bytes() == data
    assert backend.stat(url(target)).size == len(data)
    assert backend.checksum(url(target)) == result.checksum
    with backend.open_reader(url(target)) as reader:
        assert reader.size == len(data)
        assert reader.pread(0, 10) == data[:10]
        assert reader.pread(1_000_000, 70_000) == data[1_000_000:1_070_000]
        assert reader.pread(len(data) - 5, 100) == data[-5:]
        assert reader.pread(len(data) + 10, 100) == b""
    with pytest.raises(ValueError, match="closed"):
        reader.pread(0, 1)
    backend.delete(url(target))
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == []


def test_write_never_replaces_a_replica(area: Path) -> None:
    backend = FileBackend(BackendOptions())
    backend.write(url(area / "f"), [b"first"])
    with pytest.raises(AlreadyExists):
        backend.write(url(area / "f"), [b"second"])
    assert (area / "f").read_bytes() == b"first"
    assert [p.name for p in area.iterdir()] == ["f"]


def test_a_failing_source_leaves_nothing(area: Path) -> None:
    def chunks():
        yield b"x" * 1000
        raise OSError(errno.EIO, "source disk failed")

    with pytest.raises(OSError, match="source disk failed"):
        FileBackend(BackendOptions()).write(url(area / "f"), chunks())
    assert list(area.iterdir()) == []


def test_an_adoption_that_fails_once_linked_leaves_no_object(
    area: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = tmp_path / "staged"
    staged.write_bytes(b"content")

    def failing_disk(fd: int) -> str:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_backend, "_summed", failing_disk)
    with pytest.raises(GridError) as failed:
        FileBackend(BackendOptions()).adopt(url(area / "f"), str(staged))
    assert failed.value.errno == errno.EIO
    assert list(area.iterdir()) == []
    assert staged.read_bytes() == b"content"  # the writer's file is still its own


def test_an_adopted_file_summed_as_written_is_not_read_again(
    area: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = tmp_path / "staged"
    staged.write_bytes(b"content")
    summed = f"{zlib.adler32(b'content'):08x}"

    def unreadable(fd: int) -> str:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_backend, "_summed", unreadable)
    written = FileBackend(BackendOptions()).adopt(url(area / "f"), str(staged), summed=summed)
    assert written is not None
    assert (written.size, written.checksum, written.stored_checksum) == (7, summed, summed)
    assert (area / "f").read_bytes() == b"content"


def test_errors_are_mapped_with_honest_errno(area: Path) -> None:
    backend = FileBackend(BackendOptions())
    missing = url(area / "missing")
    for call in (backend.stat, backend.open_reader, backend.delete, backend.checksum):
        with pytest.raises(NotFound) as info:
            call(missing)
        assert info.value.errno == errno.ENOENT
        assert info.value.filename == missing
    area.mkdir()
    with pytest.raises(IsADirectory):
        backend.stat(url(area))
    with pytest.raises(InvalidArgument):
        backend.checksum(missing, "md5")


def test_file_urls() -> None:
    assert turl_to_path("file:///data/a%20b") == "/data/a b"
    assert turl_to_path("file://localhost/data/x") == "/data/x"
    for bad in ("file://otherhost/x", "root://host//x", "file:"):
        with pytest.raises(InvalidArgument):
            turl_to_path(bad)
