"""Writing grid files: open's write modes, versions, and the same calls on a local dir."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gridfs.catalog import Catalog, FileStatus, ReplicaStatus
from gridfs.config import Config, load_config
from gridfs.errors import (
    AlreadyExists,
    ChecksumMismatch,
    GridError,
    NoReplicaAvailable,
    NoSpace,
    NotFound,
    PermissionDenied,
)
from gridfs.gfal import Grid, Nodes, ReplicaAccess, StagedFile, clear_staging_leftovers
from gridfs.gfal.checksums import Verify, checksum
from gridfs.gfal.dataset import plan_replicate
from gridfs.gfal.delete import delete
from gridfs.storage import SERegistry, file_backend
from tests.conftest import BOB, make_vo, needs_tmpfs, small_disk, stored_files

TRAILERS = "/grid/gilda/trailers"


@pytest.fixture
def wgrid(any_grid: Grid) -> Grid:
    """The three-site test grid with its trailers directory, on SQLite and on PostgreSQL."""
    any_grid.makedirs(TRAILERS)
    return any_grid


def replica_ses(grid: Grid, lfn: str) -> list[tuple[str, ReplicaStatus]]:
    return sorted((r.se, r.status) for r in grid.catalog.replicas(lfn))


# -- the same sequence of calls on os and on the grid -------------------------


def adler32_of(data: bytes) -> str:
    return f"{zlib.adler32(data):08x}"


def _sequence(opener: Callable[..., Any], exists: Callable[[str], bool], name: str) -> list[Any]:
    """Open modes as cp, >, >> and editors use them; what each step leaves or raises."""
    seen: list[Any] = []

    def content() -> bytes:
        with opener(name, "rb") as stream:
            return stream.read()

    def attempt(step: Callable[[], Any]) -> None:
        try:
            seen.append(step())
        except OSError as exc:
            seen.append(type(exc).__mro__[1].__name__ if exc.errno is None else exc.errno)

    def write(mode: str, data: bytes, *, seek: int | None = None) -> bytes:
        with opener(name, mode) as stream:
            if seek is not None:
                stream.seek(seek)
            stream.write(data)
        return content()

    def read_plus(mode: str) -> tuple[bytes, int]:
        with opener(name, mode) as stream:
            head = stream.read(5)
            stream.seek(0, os.SEEK_END)
            end = stream.tell()
            stream.write(b"!")
        return head, end

    def truncated() -> bytes:
        with opener(name, "r+b") as stream:
            stream.seek(3)
            stream.truncate()
        return content()

    attempt(lambda: opener(name, "rb"))  # missing
    attempt(lambda: opener(name, "r+b"))  # missing: r+ does not create
    attempt(lambda: write("wb", b"hello world"))
    attempt(lambda: exists(name))
    attempt(lambda: write("xb", b"again"))  # exists: O_EXCL fails
    attempt(lambda: write("ab", b", and more"))  # >>
    attempt(lambda: write("r+b", b"HELLO", seek=0))  # in the middle, rest kept
    attempt(lambda: write("ab", b"?", seek=0))  # append ignores the position
    attempt(lambda: read_plus("r+b"))
    attempt(lambda: read_plus("a+b"))
    attempt(lambda: write("wb", b"short"))  # > replaces
    attempt(truncated)
    attempt(lambda: write("w+b", b""))  # truncate to nothing
    attempt(lambda: write("r+b", b"xy", seek=4))  # a hole filled with zeros
    return seen


def test_open_modes_behave_as_on_a_local_directory(wgrid: Grid, tmp_path: Path) -> None:
    local = tmp_path / "os"
    local.mkdir()

    def local_open(name: str, mode: str) -> io.IOBase:
        return open(local / name, mode)

    expected = _sequence(local_open, lambda name: (local / name).exists(), "f")
    got = _sequence(
        lambda name, mode: wgrid.open(f"{TRAILERS}/{name}", mode),
        lambda name: wgrid.access(f"{TRAILERS}/{name}", os.F_OK),
        "f",
    )
    assert got == expected
    entry = wgrid.stat(f"{TRAILERS}/f")
    assert entry.size == (local / "f").stat().st_size
    assert entry.checksum == adler32_of((local / "f").read_bytes())


def test_access_answers_as_os_access(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/private"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"x")
    wgrid.chmod(lfn, 0o600)
    bob = wgrid.as_identity(BOB)
    assert wgrid.access(lfn, os.R_OK | os.W_OK)
    assert not wgrid.access(lfn, os.X_OK)
    assert bob.access(lfn, os.F_OK)
    assert not bob.access(lfn, os.R_OK)
    assert not wgrid.access(f"{TRAILERS}/missing", os.F_OK)
    assert not wgrid.access(f"{lfn}/below-a-file", os.F_OK)
    wgrid.chmod(TRAILERS, 0o700)
    assert not bob.access(lfn, os.F_OK)  # no search permission on the way


# -- versions ------------------------------------------------------------------


def test_a_new_version_keeps_the_guid_and_leaves_no_old_bytes(
    wgrid: Grid, make_file, tmp_path: Path
) -> None:
    lfn = f"{TRAILERS}/v"
    first = wgrid.cr(make_file("v", 300_000), lfn, "infn-se")
    wgrid.rep(lfn, "ral-se")
    old_files = set(stored_files(tmp_path))
    assert len(old_files) == 2
    with wgrid.open(lfn, "ab") as stream:
        stream.write(b"tail")
    entry = wgrid.stat(lfn)
    assert entry.guid == first.guid
    assert entry.size == 300_004
    data = make_file("v", 300_000).read_bytes() + b"tail"
    assert entry.checksum == adler32_of(data)
    # The new version went to the SE of the primary replica; the old copies are gone.
    assert replica_ses(wgrid, lfn) == [("infn-se", ReplicaStatus.AVAILABLE)]
    (now,) = stored_files(tmp_path)
    assert now not in old_files
    assert now.read_bytes() == data
    with wgrid.open(lfn) as stream:
        assert stream.read() == data
    wgrid.rep(lfn, "cern-se")  # the new checksum verifies a new replica
    assert len(stored_files(tmp_path)) == 2


def test_opening_for_update_without_writing_changes_nothing(wgrid: Grid, make_file) -> None:
    lfn = f"{TRAILERS}/same"
    before = wgrid.cr(make_file("same", 1000), lfn)
    surls = wgrid.lr(lfn)
    with wgrid.open(lfn, "r+b") as stream:
        assert len(stream.read()) == 1000
    after = wgrid.stat(lfn)
    assert (after.guid, after.checksum, after.mtime_ns) == (
        before.guid,
        before.checksum,
        before.mtime_ns,
    )
    assert wgrid.lr(lfn) == surls


@pytest.mark.expect_warnings
def test_an_old_copy_that_cannot_be_deleted_stays_stale_and_is_never_read(
    config: Config, make_file, tmp_path: Path
) -> None:
    lfn = f"{TRAILERS}/s"
    with Grid.from_config(config) as grid:
        make_vo(grid)
        grid.makedirs(TRAILERS)
        grid.cr(make_file("s", 5000), lfn)
        grid.rep(lfn, "ral-se")
        ral = replica_ses(grid, lfn)
    # ral-se drops out of the configuration: its copy cannot be deleted now.
    ses = [se for se in config.ses if se.name != "ral-se"]
    grid = Grid(
        Catalog.from_url(config.catalog_url, config.identity),
        ReplicaAccess(SERegistry(ses), default_se="cern-se"),
    )
    with grid.open(lfn, "wb") as stream:
        stream.write(b"new content")
    assert replica_ses(grid, lfn) == [
        ("cern-se", ReplicaStatus.AVAILABLE),
        ("ral-se", ReplicaStatus.STALE),
    ]
    assert ral != replica_ses(grid, lfn)
    # Back in the configuration, the stale copy is still never read...
    full = Grid(
        Catalog.from_url(config.catalog_url, config.identity),
        ReplicaAccess(SERegistry(config.ses), default_se="cern-se"),
    )
    for _ in range(20):
        with full.open(lfn) as stream:
            assert stream.read() == b"new content"
    # ...and the next version cleans it up.
    with full.open(lfn, "ab") as stream:
        stream.write(b"!")
    assert replica_ses(full, lfn) == [("cern-se", ReplicaStatus.AVAILABLE)]
    assert len(stored_files(tmp_path)) == 1
    grid.close()
    full.close()


# -- files being written, failures -------------------------------------------


def test_a_file_being_written_is_visible_but_not_readable(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/pending"
    staged = wgrid.open_staged(lfn, create=True)
    entry = wgrid.stat(lfn)
    assert entry.status is FileStatus.WRITING
    assert entry.size == 0
    with pytest.raises(GridError) as caught:
        wgrid.open(lfn)
    assert caught.value.errno == errno.EBUSY
    staged.pwrite(b"abc", 0)
    staged.close()  # never committed: unregistered again
    with pytest.raises(NotFound):
        wgrid.stat(lfn)


def test_directory_default_se_chooses_where_new_files_go(wgrid: Grid, tmp_path: Path) -> None:
    wgrid.makedirs(f"{TRAILERS}/ral/deep")
    wgrid.catalog.set_property(f"{TRAILERS}/ral", "default_se", "ral-se")
    with wgrid.open(f"{TRAILERS}/ral/deep/x", "wb") as stream:
        stream.write(b"x")
    with wgrid.open(f"{TRAILERS}/y", "wb") as stream:
        stream.write(b"y")
    assert replica_ses(wgrid, f"{TRAILERS}/ral/deep/x") == [("ral-se", ReplicaStatus.AVAILABLE)]
    assert replica_ses(wgrid, f"{TRAILERS}/y") == [("cern-se", ReplicaStatus.AVAILABLE)]


@needs_tmpfs
def test_a_failed_upload_registers_nothing_and_keeps_the_data(tmp_path: Path) -> None:
    small = tmp_path / "small-se"
    with small_disk(small, "64k"):
        config_file = tmp_path / "full.toml"
        config_file.write_text(f'[catalog]\nurl = "sqlite:///c.db"\n[se.small]\nroot = "{small}"\n')
        with Grid.from_config(load_config(config_file), create=True) as grid:
            make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
            stream = grid.open("/grid/big", "wb", se="small")
            stream.write(os.urandom(200_000))
            with pytest.raises(NoSpace) as caught:
                stream.close()
            assert grid.listdir("/grid") == []
            assert [p for p in small.rglob("*") if p.is_file()] == []
            (note,) = caught.value.__notes__
            kept = Path(note.rsplit(" ", 1)[-1])
            assert kept.stat().st_size == 200_000
            kept.unlink()


def test_write_permission_is_checked_at_open(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/alices"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"a")
    bob = wgrid.as_identity(BOB)
    with pytest.raises(PermissionDenied):
        bob.open(lfn, "ab")
    with pytest.raises(PermissionDenied):
        bob.open(f"{TRAILERS}/bobs", "wb")
    assert wgrid.listdir(TRAILERS) == ["alices"]


def test_a_file_expected_new_is_opened_as_it_is_when_it_exists(wgrid: Grid) -> None:
    # expect_new (a mount's CREATE) registers first: what it finds instead is
    # opened, refused or reported as without it.
    lfn = f"{TRAILERS}/shared"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"old")
    wgrid.chmod(lfn, 0o666)
    wgrid.chmod(TRAILERS, 0o755)  # bob may write the file, not create in the directory
    bob = wgrid.as_identity(BOB)
    with bob.open_staged(lfn, create=True, truncate=True, expect_new=True) as staged:
        staged.pwrite(b"new", 0)
        staged.commit()
    with wgrid.open(lfn) as stream:
        assert stream.read() == b"new"
    with pytest.raises(AlreadyExists):
        wgrid.open_staged(lfn, create=True, exclusive=True, expect_new=True)
    with pytest.raises(PermissionDenied):
        bob.open_staged(f"{TRAILERS}/bobs", create=True, expect_new=True)
    wgrid.symlink(f"{TRAILERS}/nowhere", f"{TRAILERS}/dangling")
    with pytest.raises(AlreadyExists):
        wgrid.open_staged(f"{TRAILERS}/dangling", create=True, expect_new=True)


def test_per_call_protocol_preference(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/p"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"p")
    with wgrid.open(lfn, protocols=["root", "file"]) as stream:
        assert stream.read() == b"p"
    with pytest.raises(NoReplicaAvailable, match="offers none of root"):
        wgrid.open(lfn, protocols=["root"])


# -- extended attributes -------------------------------------------------------


def test_grid_attributes_in_the_style_of_gfal2(wgrid: Grid, make_file) -> None:
    lfn = f"{TRAILERS}/x"
    entry = wgrid.cr(make_file("x", 1234), lfn)
    # Read by name, never listed: copy tools copy what is listed (see gridfs.gfal.xattrs).
    assert wgrid.listxattr(lfn) == []
    assert sorted(wgrid.listxattr(lfn, every=True)) == [
        "user.checksum",
        "user.chksumtype",
        "user.guid",
        "user.replicas",
        "user.status",
    ]
    assert wgrid.getxattr(lfn, "user.guid") == entry.guid.encode()
    assert wgrid.getxattr(lfn, "user.checksum") == entry.checksum.encode()
    assert wgrid.getxattr(lfn, "user.chksumtype") == b"adler32"
    assert wgrid.getxattr(lfn, "user.status") == b"ONLINE"
    (surl,) = wgrid.lr(lfn)
    assert wgrid.getxattr(lfn, "user.replicas") == surl.encode()
    # -SURL unregisters, +SURL registers again (the stored copy stays in between).
    wgrid.setxattr(lfn, "user.replicas", f"-{surl}".encode())
    assert wgrid.getxattr(lfn, "user.replicas") == b""
    wgrid.setxattr(lfn, "user.replicas", f"+{surl}".encode())
    assert wgrid.lr(lfn) == [surl]
    wgrid.setxattr(lfn, "user.comment", b"trailer, 2001")
    assert wgrid.getxattr(lfn, "user.comment") == b"trailer, 2001"
    with pytest.raises(GridError) as caught:
        wgrid.setxattr(lfn, "user.comment", b"again", os.XATTR_CREATE)
    assert caught.value.errno == errno.EEXIST
    wgrid.removexattr(lfn, "user.comment")
    assert "user.comment" not in wgrid.listxattr(lfn)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda g, f: g.getxattr(f, "user.nothing"), errno.ENODATA),
        (lambda g, f: g.getxattr(f, "security.selinux"), errno.ENOTSUP),
        (lambda g, f: g.setxattr(f, "user.guid", b"x"), errno.EPERM),
        (lambda g, f: g.setxattr(f, "user.replicas", b"srm://x"), errno.EINVAL),
        (lambda g, f: g.setxattr(f, "user.replicas", b"+srm://nowhere/x"), errno.EINVAL),
        (lambda g, f: g.setxattr(f, "user.status", b"NEARLINE"), errno.EINVAL),
        (lambda g, f: g.setxattr(f, "user.comment", b"\xff"), errno.EINVAL),
        (lambda g, f: g.setxattr(f, "user.comment", b"x", os.XATTR_REPLACE), errno.ENODATA),
        (lambda g, f: g.removexattr(f, "user.guid"), errno.EPERM),
        (lambda g, f: g.removexattr(f, "user.comment"), errno.ENODATA),
        (lambda g, f: g.getxattr(TRAILERS, "user.guid"), errno.ENODATA),
        (lambda g, f: g.setxattr(TRAILERS, "user.grid.default_se", b"no-se"), errno.EINVAL),
        (lambda g, f: g.getxattr(f"{TRAILERS}/missing", "user.guid"), errno.ENOENT),
    ],
)
def test_attribute_errors_carry_the_errno_linux_uses(wgrid: Grid, call, expected: int) -> None:
    lfn = f"{TRAILERS}/e"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"e")
    with pytest.raises(GridError) as caught:
        call(wgrid, lfn)
    assert caught.value.errno == expected


def test_default_se_attribute_of_a_directory(wgrid: Grid) -> None:
    assert wgrid.listxattr(TRAILERS) == []
    wgrid.setxattr(TRAILERS, "user.grid.default_se", b"infn-se")
    assert wgrid.getxattr(TRAILERS, "user.grid.default_se") == b"infn-se"
    with wgrid.open(f"{TRAILERS}/n", "wb") as stream:
        stream.write(b"n")
    assert replica_ses(wgrid, f"{TRAILERS}/n") == [("infn-se", ReplicaStatus.AVAILABLE)]
    with pytest.raises(PermissionDenied):
        wgrid.as_identity(BOB).setxattr(TRAILERS, "user.grid.default_se", b"ral-se")
    wgrid.removexattr(TRAILERS, "user.grid.default_se")
    assert wgrid.listxattr(TRAILERS) == []


def _namespace_calls(fs: Any, root: str) -> list[Any]:
    """A sequence of namespace calls; each step's result or errno."""
    seen: list[Any] = []

    def attempt(step: Callable[[], Any]) -> None:
        try:
            result = step()
        except OSError as exc:
            seen.append(errno.errorcode.get(exc.errno or 0, exc.errno))
        else:
            if isinstance(result, list):
                seen.append(sorted(result))
            elif isinstance(result, bool | str):
                seen.append(result.replace(root, "ROOT") if isinstance(result, str) else result)
            else:
                seen.append("ok")

    def write(name: str, data: bytes) -> None:
        with fs.open(f"{root}/{name}", "wb") as stream:
            stream.write(data)

    attempt(lambda: fs.mkdir(f"{root}/d"))
    attempt(lambda: fs.mkdir(f"{root}/d"))  # EEXIST
    attempt(lambda: fs.mkdir(f"{root}/no/such"))  # ENOENT
    attempt(lambda: write("d/f", b"data"))
    attempt(lambda: fs.listdir(f"{root}/d"))
    attempt(lambda: fs.listdir(f"{root}/d/f"))  # ENOTDIR
    attempt(lambda: fs.mkdir(f"{root}/d/f/x"))  # ENOTDIR
    attempt(lambda: fs.rmdir(f"{root}/d"))  # ENOTEMPTY
    attempt(lambda: fs.rmdir(f"{root}/d/f"))  # ENOTDIR
    attempt(lambda: fs.unlink(f"{root}/d"))  # EISDIR
    attempt(lambda: fs.open(f"{root}/d", "rb"))  # EISDIR
    attempt(lambda: fs.open(f"{root}/d", "wb"))  # EISDIR
    attempt(lambda: fs.readlink(f"{root}/d/f"))  # EINVAL
    attempt(lambda: fs.symlink(f"{root}/d/f", f"{root}/link"))
    attempt(lambda: fs.symlink(f"{root}/d/f", f"{root}/link"))  # EEXIST
    attempt(lambda: fs.readlink(f"{root}/link"))
    attempt(lambda: fs.mkdir(f"{root}/e"))
    attempt(lambda: fs.rename(f"{root}/d/f", f"{root}/e"))  # EISDIR
    attempt(lambda: fs.rename(f"{root}/e", f"{root}/d/f"))  # ENOTDIR
    attempt(lambda: fs.rename(f"{root}/d", f"{root}/d/sub"))  # EINVAL
    attempt(lambda: fs.rename(f"{root}/d/f", f"{root}/e/g"))
    attempt(lambda: fs.listdir(f"{root}/e"))
    attempt(lambda: fs.rename(f"{root}/e", f"{root}/d"))  # d is empty now: replaced
    attempt(lambda: fs.listdir(root))
    attempt(lambda: fs.stat(f"{root}/link"))  # dangling: ENOENT
    attempt(lambda: fs.unlink(f"{root}/link"))
    attempt(lambda: fs.unlink(f"{root}/link"))  # ENOENT
    attempt(lambda: fs.rmdir(f"{root}/nothing"))  # ENOENT
    attempt(lambda: fs.chmod(f"{root}/d", 0o700))
    attempt(lambda: fs.access(f"{root}/d/g", os.R_OK))
    attempt(lambda: fs.unlink(f"{root}/d/g"))
    attempt(lambda: fs.rmdir(f"{root}/d"))
    attempt(lambda: fs.listdir(root))
    return seen


class _LocalOs:
    """The calls of :func:`_namespace_calls` on the local filesystem."""

    open = staticmethod(open)
    mkdir = staticmethod(os.mkdir)
    listdir = staticmethod(os.listdir)
    rmdir = staticmethod(os.rmdir)
    unlink = staticmethod(os.unlink)
    readlink = staticmethod(os.readlink)
    symlink = staticmethod(os.symlink)
    rename = staticmethod(os.rename)
    stat = staticmethod(os.stat)
    chmod = staticmethod(os.chmod)
    access = staticmethod(os.access)


def test_namespace_calls_match_os(wgrid: Grid, tmp_path: Path) -> None:
    (tmp_path / "os").mkdir()
    expected = _namespace_calls(_LocalOs, str(tmp_path / "os"))
    assert _namespace_calls(wgrid, TRAILERS) == expected


# -- metadata as extended attributes -------------------------------------------


def test_metadata_values_and_schemas_as_attributes(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/matrix.mpg"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"m")
    wgrid.setxattr(TRAILERS, "user.schema.Runtime", b"int")
    wgrid.setxattr(TRAILERS, "user.schema.Genre", b"varchar(32)")
    wgrid.setxattr(TRAILERS, "user.schema.Genre", b"varchar(32)")  # the same again: fine
    assert wgrid.getxattr(TRAILERS, "user.schema.Genre") == b"varchar(32)"
    assert {"user.schema.Runtime", "user.schema.Genre"} <= set(wgrid.listxattr(TRAILERS))
    wgrid.setxattr(lfn, "user.Runtime", b"136")
    wgrid.setxattr(lfn, "user.Genre", b"Sci-Fi")
    assert wgrid.getxattr(lfn, "user.Runtime") == b"136"
    assert {"user.Runtime", "user.Genre"} <= set(wgrid.listxattr(lfn))
    assert list(wgrid.find(TRAILERS, "Runtime > 100 and Genre = 'Sci-Fi'")) == [lfn]
    wgrid.removexattr(lfn, "user.Genre")
    assert "user.Genre" not in wgrid.listxattr(lfn)
    wgrid.removexattr(TRAILERS, "user.schema.Runtime")
    assert "user.Runtime" not in wgrid.listxattr(lfn)


@pytest.mark.parametrize(
    ("target", "name", "value", "expected"),
    [
        ("f", "user.Runtime", b"long", errno.EINVAL),  # the wrong type
        ("d", "user.schema.Runtime", b"float", errno.EEXIST),  # retyping
        ("d", "user.schema.X", b"complex", errno.EINVAL),  # no such type
        ("f", "user.schema.X", b"int", errno.ENOTSUP),  # a file has no schema
    ],
)
def test_metadata_attribute_errors(
    wgrid: Grid, target: str, name: str, value: bytes, expected: int
) -> None:
    lfn = f"{TRAILERS}/f"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"f")
    wgrid.setxattr(TRAILERS, "user.schema.Runtime", b"int")
    with pytest.raises(GridError) as caught:
        wgrid.setxattr(lfn if target == "f" else TRAILERS, name, value)
    assert caught.value.errno == expected
    assert "user.Runtime" not in wgrid.listxattr(lfn)


# -- races and failures the review found -----------------------------------------


def test_a_write_during_a_commit_is_never_lost(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/busy"
    staged = wgrid.open_staged(lfn, create=True)
    staged.pwrite(b"a" * (8 << 20), 0)
    committing = threading.Thread(target=staged.commit)
    committing.start()
    staged.pwrite(b"Z", 0)  # before, during or after the upload: never dropped
    committing.join()
    staged.commit()
    staged.close()
    with wgrid.open(lfn) as stream:
        assert stream.read(2) == b"Za"


def test_a_write_that_would_wait_is_not_done_now(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/now"
    with wgrid.open_staged(lfn, create=True) as staged:
        assert staged.pwrite_now(b"abc", 0) == 3
        assert not staged.close_now()  # never stored: closing unregisters it, a catalog call
        staged.commit()
        assert staged.close_now()  # stored: nothing left to wait for
        assert not os.path.exists(staged.path)
    with wgrid.open_staged(lfn) as staged:  # its old content is still to be fetched
        assert staged.pwrite_now(b"X", 0) is None
        assert staged.pread(3, 0) == b"abc"  # fetched: now a write need not wait
        assert staged.pwrite_now(b"X", 0) == 1
        staged.commit()
    with wgrid.open(lfn) as stream:
        assert stream.read() == b"Xbc"


def test_a_copy_of_an_older_version_is_not_registered(wgrid: Grid, make_file) -> None:
    lfn = f"{TRAILERS}/moving"
    old = wgrid.cr(make_file("moving", 1000), lfn)
    with wgrid.open(lfn, "ab") as stream:
        stream.write(b"+")
    with pytest.raises(ChecksumMismatch, match="changed while it was copied"):
        wgrid.catalog.add_replica(
            old.guid, "ral-se", "srm://ral-se.ral.example/grid/x", checksum=old.checksum
        )
    assert wgrid.lr(lfn) == [r.surl for r in wgrid.catalog.replicas(lfn)]


def stale_on_ral(config: Config, make_file) -> str:
    """A file written anew while ral-se was out of the configuration: its copy there is stale."""
    lfn = f"{TRAILERS}/s"
    with Grid.from_config(config) as grid:
        make_vo(grid)
        grid.makedirs(TRAILERS)
        grid.cr(make_file("s", 5000), lfn)
        grid.rep(lfn, "ral-se")
    without_ral = [se for se in config.ses if se.name != "ral-se"]
    with (
        Grid(
            Catalog.from_url(config.catalog_url, config.identity),
            ReplicaAccess(SERegistry(without_ral), default_se="cern-se"),
        ) as grid,
        grid.open(lfn, "wb") as stream,
    ):
        stream.write(b"new")
    return lfn


@pytest.mark.expect_warnings
def test_stale_replicas_are_not_replicas(config: Config, make_file, tmp_path: Path) -> None:
    lfn = stale_on_ral(config, make_file)
    with Grid.from_config(config) as grid:
        assert [se for se, _ in replica_ses(grid, lfn)] == ["cern-se", "ral-se"]
        (current,) = grid.lr(lfn)  # the stale one is not listed
        assert "cern-se" in current
        assert grid.getxattr(lfn, "user.replicas").decode() == current
        grid.rep(lfn, "ral-se")  # the stale copy there is no replica of this content
        assert len(grid.lr(lfn)) == 2


def test_write_only_files_take_new_versions_but_not_appends(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/drop-box"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"first")
    wgrid.chmod(lfn, 0o200)
    with wgrid.open(lfn, "wb") as stream:  # > needs no read permission
        stream.write(b"second")
    assert wgrid.stat(lfn).size == 6
    for mode in ("ab", "r+b", "w+b"):  # these read (the old content, or as O_RDWR)
        with pytest.raises(PermissionDenied):
            wgrid.open(lfn, mode)


@needs_tmpfs
def test_a_full_staging_disk_stores_nothing(wgrid: Grid, tmp_path: Path) -> None:
    lfn = f"{TRAILERS}/kept"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"the good version")
    small = tmp_path / "staging"
    with small_disk(small, "64k"):
        stream = wgrid.with_options(staging_dir=str(small)).open(lfn, "wb")
        try:
            stream.write(b"x" * 40_000)  # buffered
            with pytest.raises(NoSpace) as caught:
                stream.write(os.urandom(200_000))  # past the buffer: to the full disk
        finally:
            with contextlib.suppress(NoSpace):  # the last flush may fail again
                stream.close()  # ...and closing stores nothing
        (note,) = caught.value.__notes__
        assert note.startswith("nothing was stored; what was written is kept in ")
        with wgrid.open(lfn) as reader:
            assert reader.read() == b"the good version"


def test_no_staging_file_no_entry(wgrid: Grid, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        wgrid.with_options(staging_dir=str(tmp_path / "missing")).open(f"{TRAILERS}/n", "wb")
    assert wgrid.listdir(TRAILERS) == []


def test_a_file_being_written_can_only_be_replaced(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/w"
    first = wgrid.open_staged(lfn, create=True)
    assert wgrid.listxattr(lfn) == []
    assert wgrid.getxattr(lfn, "user.status") == b"UNAVAILABLE"
    for mode in ("r+b", "ab"):
        with pytest.raises(GridError) as caught:
            wgrid.open(lfn, mode)
        assert caught.value.errno == errno.EBUSY
    with wgrid.open(lfn, "wb") as stream:  # a crashed writer's entry can be written anew
        stream.write(b"w")
    first.close()
    assert wgrid.stat(lfn).size == 1


def test_symbolic_links_have_no_user_attributes(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/target"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"t")
    link = wgrid.symlink(lfn, f"{TRAILERS}/link")
    nodes = Nodes(wgrid)
    assert nodes.listxattr(link.id) == []
    with pytest.raises(GridError) as caught:
        nodes.getxattr(link.id, "user.guid")
    assert caught.value.errno == errno.ENODATA
    with pytest.raises(GridError) as caught:
        nodes.setxattr(link.id, "user.comment", b"x")
    assert caught.value.errno == errno.EPERM
    wgrid.setxattr(f"{TRAILERS}/link", "user.comment", b"via the link")  # follows, as os does
    assert wgrid.getxattr(lfn, "user.comment") == b"via the link"


@pytest.mark.expect_warnings
def test_transfers_leave_stale_replicas_out(config: Config, make_file) -> None:
    lfn = stale_on_ral(config, make_file)
    with Grid.from_config(config) as grid:
        report = checksum(grid, lfn, verify=Verify.ALL)
        assert [r.surl for r in report.replicas] == grid.lr(lfn)
        assert report.mismatches() == []
        tasks, skipped = plan_replicate(grid, lfn, ["ral-se"], space_token=None)
        assert (len(tasks), skipped) == (1, 0)  # ral-se holds no replica of this content
        grid.rep(lfn, "ral-se")
        delete(grid, lfn, se="ral-se")  # the current replica there, not the stale one
        assert [se for se, status in replica_ses(grid, lfn)] == ["cern-se", "ral-se"]
        assert ReplicaStatus.STALE in dict(replica_ses(grid, lfn)).values()


# -- write-path integrity ------------------------------------------------------


def _fill(staged: StagedFile) -> None:
    offset = 0
    while True:  # pwrite writes what fits, then fails
        offset += staged.pwrite(bytes(100_000), offset)


@needs_tmpfs
def test_a_failed_write_is_remembered_and_no_commit_stores_it(wgrid: Grid, tmp_path: Path) -> None:
    lfn = f"{TRAILERS}/kept"
    with wgrid.open(lfn, "wb") as stream:
        stream.write(b"the good version")
    before = (wgrid.stat(lfn), wgrid.lr(lfn))
    with small_disk(tmp_path / "staging", "64k"):
        staged = wgrid.with_options(staging_dir=str(tmp_path / "staging")).open_staged(
            lfn, truncate=True
        )
        with contextlib.closing(staged):
            with pytest.raises(NoSpace):
                _fill(staged)
            assert isinstance(staged.failed, NoSpace)
            with pytest.raises(GridError, match=r"nothing stored of .*: a write failed") as caught:
                staged.commit()
            assert caught.value.errno == errno.EIO
    assert (wgrid.stat(lfn), wgrid.lr(lfn)) == before


@needs_tmpfs
@pytest.mark.expect_warnings
def test_a_failed_overwrite_keeps_the_old_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    small = tmp_path / "small-se"
    with small_disk(small, "64k"):
        config_file = tmp_path / "full.toml"
        config_file.write_text(f'[catalog]\nurl = "sqlite:///c.db"\n[se.small]\nroot = "{small}"\n')
        with Grid.from_config(load_config(config_file), create=True) as grid:
            make_vo(grid, "/grid", grid.catalog.identity.user, grid.catalog.identity.group)
            with grid.open("/grid/f", "wb", se="small") as stream:
                stream.write(b"old")
            before = (grid.stat("/grid/f"), grid.lr("/grid/f"))
            stream = grid.open("/grid/f", "wb")
            stream.write(os.urandom(200_000))
            with pytest.raises(NoSpace) as caught:
                stream.close()
            assert (grid.stat("/grid/f"), grid.lr("/grid/f")) == before
            with grid.open("/grid/f") as reader:
                assert reader.read() == b"old"
            Path(caught.value.__notes__[0].rsplit(" ", 1)[-1]).unlink()
    assert "/grid/f keeps its old version: storing the new one failed" in caplog.text


_WRITER = """
import sys
from gridfs.config import load_config
from gridfs.gfal import Grid
grid = Grid.from_config(load_config(sys.argv[1])).with_options(staging_dir=sys.argv[2])
staged = grid.open_staged(sys.argv[3], create=True)
staged.pwrite(b"x" * 100, 0)
print(staged.path, flush=True)
sys.stdin.read()
"""


def test_staging_files_of_dead_writers_are_cleared_by_the_next(
    config_path: Path, tmp_path: Path
) -> None:
    with Grid.from_config(load_config(config_path)) as grid:
        make_vo(grid)
    staging = tmp_path / "staging"
    staging.mkdir()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(config_path), str(staging), f"/grid/gilda/{name}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("killed", "alive")
    ]
    killed, alive = [Path(writer.stdout.readline().strip()) for writer in writers]  # type: ignore[union-attr]
    assert killed.name.startswith(f"gridfs-{writers[0].pid}-")
    writers[0].kill()
    writers[0].communicate()
    kept = staging / "gridfs-1-kept.kept"  # what a failed close kept for its user
    kept.write_bytes(b"k")
    with Grid.from_config(load_config(config_path)) as grid:
        staged = grid.with_options(staging_dir=str(staging)).open_staged(
            "/grid/gilda/third", create=True
        )
        assert sorted(staging.iterdir()) == sorted([alive, kept, Path(staged.path)])
        staged.close()
    writers[1].communicate("")  # it ends without closing its file: a leftover now
    assert clear_staging_leftovers(str(staging)) == [str(alive)]
    assert sorted(staging.iterdir()) == [kept]


def test_staged_bytes_summed_in_order_are_not_read_back(
    wgrid: Grid, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Written in order, the staged bytes are summed as they come: the SE on the
    # staging file's own disk takes the file over, fsynced, and registers that sum
    # without reading it again. Written out of order, the file is read once.
    def unreadable(fd: int) -> str:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(file_backend, "_summed", unreadable)
    lfn = f"{TRAILERS}/in-order"
    with wgrid.open_staged(lfn, create=True) as staged:
        staged.pwrite(b"a" * 300_000, 0)
        staged.pwrite(b"b" * 300_000, 300_000)
        entry = staged.commit()
    assert entry.checksum == adler32_of(b"a" * 300_000 + b"b" * 300_000)
    with wgrid.open(lfn) as stream:
        assert stream.read() == b"a" * 300_000 + b"b" * 300_000
    scattered = f"{TRAILERS}/out-of-order"
    with wgrid.open_staged(scattered, create=True) as staged:
        staged.pwrite(b"tail", 10)
        staged.pwrite(b"head", 0)
        with pytest.raises(GridError) as failed:
            staged.commit()
    assert failed.value.errno == errno.EIO
    with pytest.raises(NotFound):
        wgrid.stat(scattered)
    assert len(stored_files(tmp_path)) == 1


def test_files_written_out_of_order_are_summed_at_the_commit(wgrid: Grid) -> None:
    lfn = f"{TRAILERS}/scattered"
    with wgrid.open(lfn, "wb") as stream:
        stream.seek(5000)
        stream.write(b"tail")
        stream.seek(0)
        stream.write(b"head")
    expected = b"head" + b"\0" * 4996 + b"tail"
    assert wgrid.stat(lfn).checksum == adler32_of(expected)
    with wgrid.open(lfn, "r+b") as stream:  # loaded in order, then written over
        stream.seek(1)
        stream.write(b"E")
    assert wgrid.stat(lfn).checksum == adler32_of(b"hEad" + expected[4:])
    with wgrid.open(lfn, "ab") as stream:  # loaded, then appended to: summed on the way
        stream.write(b"!")
    assert wgrid.stat(lfn).checksum == adler32_of(b"hEad" + expected[4:] + b"!")
    with wgrid.open(lfn) as reader:
        assert reader.read() == b"hEad" + expected[4:] + b"!"


def test_the_staging_file_becomes_the_replica_and_later_writes_are_a_new_version(
    wgrid: Grid, tmp_path: Path
) -> None:
    lfn = f"{TRAILERS}/adopted"
    staged = wgrid.open_staged(lfn, create=True)
    staged.pwrite(b"first", 0)
    staged_inode = os.stat(staged.path).st_ino
    staged.commit()
    (first,) = stored_files(tmp_path)
    assert first.stat().st_ino == staged_inode  # linked in, not copied
    assert first.stat().st_nlink == 1  # the staging name is gone
    assert oct(first.stat().st_mode & 0o777) == "0o600"
    staged.pwrite(b"F", 0)  # goes on in a new staging file, from the stored content
    staged.pwrite(b"!", 5)
    assert first.read_bytes() == b"first"  # the stored copy is untouched
    staged.commit()
    staged.close()
    with wgrid.open(lfn) as stream:
        assert stream.read() == b"First!"
    assert wgrid.stat(lfn).checksum == adler32_of(b"First!")
    assert [p.read_bytes() for p in stored_files(tmp_path)] == [b"First!"]  # the old one deleted


@needs_tmpfs
def test_a_staging_file_on_another_disk_is_copied_and_checked_on_the_way(
    config: Config, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "staging", "4m") as staging, Grid.from_config(config) as grid:
        make_vo(grid)
        grid.makedirs(TRAILERS)
        writer = grid.with_options(staging_dir=str(staging))
        staged = writer.open_staged(f"{TRAILERS}/copied", create=True)
        staged.pwrite(b"a" * 500_000, 0)
        with open(staged.path, "r+b") as disk:  # the staging file, behind its back
            disk.write(b"X")
        with pytest.raises(ChecksumMismatch, match="expected adler32"):
            staged.commit()
        staged.close()
        with pytest.raises(NotFound):
            grid.stat(f"{TRAILERS}/copied")
        with writer.open(f"{TRAILERS}/copied", "wb") as stream:  # stored by copying
            stream.write(b"a" * 500_000)
        with grid.open(f"{TRAILERS}/copied") as stream:
            assert stream.read() == b"a" * 500_000
    assert len(stored_files(tmp_path)) == 1
