"""Free-form user.* attributes on SQLite and PostgreSQL: stored, listed, queried, moved, gone."""

from __future__ import annotations

import errno

import pytest
from sqlalchemy import func, select

from gridfs.catalog import Catalog
from gridfs.errors import GridError, InvalidArgument, NotPermitted, PermissionDenied
from gridfs.metadata import Metadata, QueryError
from gridfs.metadata.models import XattrModel
from tests.conftest import BOB

DATA = "/grid/gilda/data"


@pytest.fixture
def meta(catalog: Catalog) -> Metadata:
    """Two files in a directory whose schema types ``run``; everything else is free-form."""
    catalog.mkdir(DATA, parents=True)
    metadata = Metadata(catalog)
    metadata.addattr(DATA, "run", "int")
    for name in ("a.root", "b.root", "c.root"):
        catalog.add_file(f"{DATA}/{name}", size=1)
    return metadata


def _errno(call, *args: object) -> int:
    with pytest.raises(GridError) as caught:
        call(*args)
    return caught.value.errno


def test_any_bytes_are_kept_and_listed_after_the_typed_ones(meta: Metadata) -> None:
    lfn = f"{DATA}/a.root"
    binary = bytes(range(256)) * 256  # 64 KiB, every byte value: the Linux limit
    meta.set_xattr(lfn, "blob", binary)
    meta.set_xattr(lfn, "origin", b"mc")
    meta.set_xattr(lfn, "run", b"42")  # in the schema: typed
    assert meta.get_xattr(lfn, "blob") == binary
    assert meta.get_xattr(lfn, "origin") == b"mc"
    assert meta.get_xattr(lfn, "run") == b"42"
    assert meta.getattr(lfn, ["run"]) == {"run": 42}
    assert meta.xattr_names(lfn) == ["run", "blob", "origin"]
    meta.set_xattr(lfn, "origin", b"data")  # replaced
    assert meta.get_xattr(lfn, "origin") == b"data"
    meta.remove_xattr(lfn, "origin")
    meta.remove_xattr(lfn, "run")
    assert meta.xattr_names(lfn) == ["blob"]
    assert _errno(meta.get_xattr, lfn, "origin") == errno.ENODATA
    assert _errno(meta.remove_xattr, lfn, "origin") == errno.ENODATA
    assert _errno(meta.get_xattr, lfn, "run") == errno.ENODATA


def test_limits_types_and_links_are_refused(meta: Metadata, catalog: Catalog) -> None:
    lfn = f"{DATA}/a.root"
    assert _errno(meta.set_xattr, lfn, "big", b"x" * 65537) == errno.E2BIG
    assert _errno(meta.set_xattr, lfn, "n" * 251, b"x") == errno.ERANGE
    with pytest.raises(InvalidArgument, match="not a valid int"):
        meta.set_xattr(lfn, "run", b"many")
    with pytest.raises(InvalidArgument, match="UTF-8"):
        meta.set_xattr(lfn, "run", b"\xff")
    catalog.symlink(lfn, f"{DATA}/link")
    with pytest.raises(NotPermitted):
        meta.set_xattr(catalog.stat(f"{DATA}/link", follow_symlinks=False).id, "x", b"1")
    assert meta.xattr_names(catalog.stat(f"{DATA}/link", follow_symlinks=False).id) == []
    assert meta.xattr_names(lfn) == []


def test_permissions_are_the_entrys(meta: Metadata, catalog: Catalog) -> None:
    lfn = f"{DATA}/a.root"
    meta.set_xattr(lfn, "origin", b"mc")
    catalog.chmod(lfn, 0o640)
    bob = meta.as_identity(BOB)
    with pytest.raises(PermissionDenied):
        bob.get_xattr(lfn, "origin")
    catalog.chmod(lfn, 0o644)
    assert bob.get_xattr(lfn, "origin") == b"mc"
    with pytest.raises(PermissionDenied):
        bob.set_xattr(lfn, "origin", b"data")
    with pytest.raises(PermissionDenied):
        bob.remove_xattr(lfn, "origin")


def test_values_move_with_the_entry_and_go_with_it(meta: Metadata, catalog: Catalog) -> None:
    meta.set_xattr(f"{DATA}/a.root", "origin", b"mc")
    catalog.mkdir(f"{DATA}/sub")
    catalog.rename(f"{DATA}/a.root", f"{DATA}/sub/moved.root")
    assert meta.get_xattr(f"{DATA}/sub/moved.root", "origin") == b"mc"
    # An editor's save: a new file renamed over the old one takes its values.
    catalog.add_file(f"{DATA}/sub/.new", size=2)
    catalog.rename(f"{DATA}/sub/.new", f"{DATA}/sub/moved.root")
    assert meta.get_xattr(f"{DATA}/sub/moved.root", "origin") == b"mc"
    entry_id = catalog.stat(f"{DATA}/sub/moved.root").id
    catalog.unlink(f"{DATA}/sub/moved.root")
    with catalog.store.engine.connect() as connection:
        left = connection.scalar(
            select(func.count()).select_from(XattrModel).where(XattrModel.entry_id == entry_id)
        )
    assert left == 0


def test_directories_and_the_root_hold_free_form_values(meta: Metadata) -> None:
    meta.set_xattr(DATA, "project", b"higgs")
    meta.set_xattr("/", "site", b"cern")
    assert meta.get_xattr(DATA, "project") == b"higgs"
    assert meta.xattr_names("/") == ["site"]


def test_queries_compare_free_form_values_as_strings(meta: Metadata) -> None:
    meta.set_xattr(f"{DATA}/a.root", "origin", b"mc")
    meta.set_xattr(f"{DATA}/b.root", "origin", b"data")
    meta.set_xattr(f"{DATA}/c.root", "origin", "m\u00e9lange".encode())
    meta.set_xattr(f"{DATA}/a.root", "run", b"7")

    def found(condition: str) -> list[str]:
        return sorted(lfn.rsplit("/", 1)[1] for lfn in meta.find(DATA, condition))

    assert found("origin = 'mc'") == ["a.root"]
    assert found("origin != 'mc'") == ["b.root", "c.root"]
    assert found("origin in ('mc', 'data')") == ["a.root", "b.root"]
    meta.set_xattr(f"{DATA}/b.root", "tag", b"\xff")  # not text: no string matches it
    assert found("tag is null") == ["a.root", "b.root", "c.root"]
    assert found("like(tag, '%')") == []
    assert found("like(origin, 'm%')") == ["a.root", "c.root"]
    assert found("like(origin, 'M%')") == []  # case-sensitive, as the typed ones
    assert found("like(origin, 'm_lange')") == ["c.root"]  # one character, not one byte
    assert found("origin is null") == []
    assert found("missing is null") == ["a.root", "b.root", "c.root"]
    assert found("origin = 'mc' and run = 7") == ["a.root"]  # typed ones keep their type
    with pytest.raises(QueryError, match="run is int"):
        meta.find(DATA, "run = 'seven'")
    with pytest.raises(QueryError, match="origin is in no schema"):
        meta.find(DATA, "origin = 5")
    rows = meta.selectattr([f"{DATA}:FILE", f"{DATA}:origin"], "origin = 'data'")
    assert list(rows) == [("b.root", "data")]
