"""The names of replicas and of partial uploads, made and recognized in one place."""

from __future__ import annotations

import datetime
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from gridfs.errors import InvalidArgument
from gridfs.storage import (
    GENERATED_AREA,
    BackendPool,
    ReplicaName,
    StorageElement,
    generated_surl,
    is_generated_name,
    is_partial_upload,
    new_version_tag,
    parse_replica_name,
    partial_upload_name,
    replica_surl,
)
from tests.storage_servers import WebDAVServer, XRootDServer

SE = StorageElement(
    name="cern-se",
    site="cern",
    surl_prefix="srm://se.cern.example/grid",
    protocols=MappingProxyType({"file": "file:///data/se"}),
)
GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_a_replica_surl_is_the_lcg_cr_layout() -> None:
    assert replica_surl(SE, GUID, day="2026-11-22") == (
        f"srm://se.cern.example/grid/generated/2026-11-22/file-{GUID}"
    )
    assert replica_surl(SE, GUID, version="a1b2c3d4", day="2026-11-22") == (
        f"srm://se.cern.example/grid/generated/2026-11-22/file-{GUID}-a1b2c3d4"
    )


def test_the_day_is_today_in_utc() -> None:
    before = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    day = replica_surl(SE, GUID).split("/")[-2]
    after = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    assert day in (before, after)


@pytest.mark.parametrize("version", [None, "a1b2c3d4"])
def test_names_round_trip(version: str | None) -> None:
    guid = str(uuid.uuid4())
    name = replica_surl(SE, guid, version=version).rsplit("/", 1)[1]
    assert is_generated_name(name)
    assert parse_replica_name(name) == ReplicaName(guid, version)
    assert str(ReplicaName(guid, version)) == name


def test_version_tags_are_fresh_and_make_valid_names() -> None:
    tags = {new_version_tag() for _ in range(50)}
    assert len(tags) == 50
    for tag in tags:
        assert re.fullmatch(r"[0-9a-f]{8}", tag)
        assert parse_replica_name(f"file-{GUID}-{tag}") == ReplicaName(GUID, tag)


@pytest.mark.parametrize(
    "name",
    [
        "file-",
        "file-abc",
        f"file-{GUID}-",
        f"file-{GUID}-XYZ",
        f"file-{GUID}x",
        f"myfile-{GUID}",
        f".file-{GUID}.part-0123abcd",
        "README",
    ],
)
def test_names_gridfs_does_not_give_are_not_replicas(name: str) -> None:
    assert not is_generated_name(name)
    assert parse_replica_name(name) is None


@pytest.mark.parametrize(("guid", "version"), [("not-a-guid", None), (GUID, "a/b"), (GUID, "")])
def test_malformed_parts_are_refused(guid: str, version: str | None) -> None:
    with pytest.raises(InvalidArgument):
        replica_surl(SE, guid, version=version)


def test_the_generated_area_and_its_days() -> None:
    prefix = "srm://se.cern.example/grid"
    assert generated_surl(SE) == f"{prefix}/{GENERATED_AREA}"
    assert generated_surl(SE, "2026-01-02") == f"{prefix}/generated/2026-01-02"
    assert generated_surl(SE, "2026-01-02", "x") == f"{prefix}/generated/2026-01-02/x"
    with pytest.raises(InvalidArgument):
        generated_surl(SE, "yesterday")
    with pytest.raises(InvalidArgument):
        generated_surl(SE, name="x")


def test_partial_names_are_recognized_and_registered_names_are_not() -> None:
    name = f"file-{GUID}"
    partial = partial_upload_name(name)
    assert partial.startswith(f".{name}.part-")
    assert partial_upload_name(name) != partial
    assert is_partial_upload(partial)
    assert not is_partial_upload(name)
    assert not is_partial_upload(f"file-{GUID}-a1b2c3d4")
    assert not is_partial_upload(f".{name}.part-")
    assert not is_partial_upload(f"{name}.part-0123abcd")


@pytest.fixture(params=["file", "root", "dav"])
def area(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A TURL and the directory on disk behind it, for each backend that uploads."""
    if request.param == "file":
        yield (tmp_path / "se").as_uri(), tmp_path / "se"
    elif request.param == "root":
        server: XRootDServer = request.getfixturevalue("xrootd_server")
        yield f"{server.url}/naming", server.data_dir / "naming"
    else:
        dav: WebDAVServer = request.getfixturevalue("webdav_server")
        yield (
            "dav" + dav.url[dav.url.index("://") :].rstrip("/") + "/naming",
            dav.data_dir / "naming",
        )


def _uploading(disk: Path) -> list[str]:
    """The hidden names in ``disk``, once the server has made one (it may take a moment)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if hidden := [p.name for p in disk.glob(".*")]:
            return hidden
        time.sleep(0.01)
    return []


def test_each_backend_uploads_under_a_partial_name(area: tuple[str, Path]) -> None:
    base, disk = area
    name = f"file-{GUID}"
    seen: list[str] = []

    def chunks() -> Iterator[bytes]:
        yield b"half"
        seen.extend(_uploading(disk))
        yield b" and the rest"

    with BackendPool() as pool:
        backend = pool.backend(base)
        backend.write(f"{base}/{name}-{new_version_tag()}", [b"other"])
        backend.write(f"{base}/{name}", chunks())
    assert seen, "no upload in progress seen"
    assert all(is_partial_upload(n) for n in seen), seen
    assert sorted(p.name for p in disk.iterdir())[0] == name
    assert not any(is_partial_upload(p.name) for p in disk.iterdir())
