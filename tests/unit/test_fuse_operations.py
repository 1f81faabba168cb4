"""The mount's request handlers called directly, without the kernel: the errno of each case."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pyfuse3 = pytest.importorskip("pyfuse3")
trio = pytest.importorskip("trio")

from sqlalchemy import event  # noqa: E402 - after the skips
from sqlalchemy.engine import Engine  # noqa: E402

from gridfs.catalog import SUPERUSER  # noqa: E402
from gridfs.config import MountSettings  # noqa: E402
from gridfs.errors import NotFound  # noqa: E402
from gridfs.fuse.operations import GridOperations  # noqa: E402
from gridfs.gfal import Grid  # noqa: E402

ME = SimpleNamespace(uid=os.getuid(), gid=os.getgid(), umask=0o022, pid=os.getpid())
STRANGER = SimpleNamespace(uid=4_000_000, gid=4_000_000, umask=0o022, pid=1)


def call(handler: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return trio.run(lambda: handler(*args))


def fails(code: int, handler: Callable[..., Awaitable[Any]], *args: Any) -> None:
    with pytest.raises(pyfuse3.FUSEError) as info:
        call(handler, *args)
    assert info.value.errno == code, os.strerror(info.value.errno)


@pytest.fixture
def ops(grid: Grid) -> Iterator[GridOperations]:
    operations = GridOperations(grid, grid.stat("/grid").id, "/grid")
    yield operations
    operations.close()


def inode(grid: Grid, lfn: str) -> int:
    return grid.stat(lfn).id


def test_namespace_errors(ops: GridOperations, grid: Grid) -> None:
    gilda = inode(grid, "/grid/gilda")
    trailers = inode(grid, "/grid/gilda/trailers")
    fails(errno.ENOENT, ops.lookup, gilda, b"\xff", ME)
    fails(errno.ENOENT, ops.lookup, gilda, b"nothing", ME)
    fails(errno.EEXIST, ops.mkdir, gilda, b"trailers", 0o755, ME)
    fails(errno.EINVAL, ops.mkdir, gilda, b"\xff", 0o755, ME)
    fails(errno.ENAMETOOLONG, ops.lookup, gilda, b"x" * 256, ME)
    fails(errno.ENAMETOOLONG, ops.mkdir, gilda, b"x" * 256, 0o755, ME)
    fails(errno.EACCES, ops.rmdir, pyfuse3.ROOT_INODE, b"gilda", ME)  # /grid is root's
    fails(errno.ENOENT, ops.unlink, trailers, b"nothing", ME)
    attrs = call(ops.mkdir, trailers, b"sub", 0o777, ME)
    assert attrs.st_mode & 0o777 == 0o755  # the caller's umask
    fails(errno.ENOTEMPTY, ops.rmdir, gilda, b"trailers", ME)
    fails(errno.EINVAL, ops.rename, gilda, b"trailers", attrs.st_ino, b"inside", 0, ME)
    call(ops.mkdir, gilda, b"other", 0o755, ME)
    fails(errno.EEXIST, ops.rename, gilda, b"other", trailers, b"sub", pyfuse3.RENAME_NOREPLACE, ME)
    exchange = pyfuse3.RENAME_EXCHANGE
    fails(errno.EINVAL, ops.rename, gilda, b"other", trailers, b"sub", exchange, ME)
    call(ops.rename, gilda, b"other", trailers, b"sub", 0, ME)  # an empty directory is replaced
    assert grid.listdir("/grid/gilda") == ["trailers"]
    fails(errno.EPERM, ops.link, attrs.st_ino, gilda, b"hard", ME)
    grid.chmod("/grid/gilda", 0o755)  # no hard links, but the directory's checks come first
    fails(errno.EACCES, ops.link, attrs.st_ino, gilda, b"hard", STRANGER)


def test_the_kernels_xattr_namespaces_never_reach_the_database(
    ops: GridOperations, grid: Grid
) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    gilda = inode(grid, "/grid/gilda")
    event.listen(Engine, "before_cursor_execute", count)
    try:

        async def ask() -> None:
            for name in (b"security.selinux", b"system.posix_acl_access", b"trusted.x") * 100:
                with pytest.raises(pyfuse3.FUSEError) as info:
                    await ops.getxattr(gilda, name, ME)
                assert info.value.errno == errno.ENOTSUP

        trio.run(ask)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert statements == []
    fails(errno.ENOTSUP, ops.setxattr, gilda, b"security.selinux", b"x", ME)
    fails(errno.ENODATA, ops.getxattr, gilda, b"user.comment", ME)
    fails(errno.ENODATA, ops.getxattr, gilda, b"user.replica", ME)
    fails(errno.EPERM, ops.setxattr, gilda, b"user.replica", b"x", ME)
    fails(errno.EINVAL, ops.setxattr, gilda, b"user.grid.default_se", b"no-such-se", ME)
    call(ops.setxattr, gilda, b"user.comment", b"hello", ME)
    assert call(ops.getxattr, gilda, b"user.comment", ME) == b"hello"
    assert b"user.comment" in call(ops.listxattr, gilda, ME)


def test_a_read_only_mount_refuses_every_change(grid: Grid) -> None:
    ops = GridOperations(
        grid, grid.stat("/grid").id, "/grid", settings=MountSettings(read_only=True)
    )
    gilda = inode(grid, "/grid/gilda")
    fails(errno.EROFS, ops.mkdir, gilda, b"new", 0o755, ME)
    fails(errno.EROFS, ops.unlink, gilda, b"trailers", ME)
    fails(errno.EROFS, ops.create, gilda, b"f", 0o644, os.O_WRONLY | os.O_CREAT, ME)
    fails(errno.EROFS, ops.setxattr, gilda, b"user.comment", b"x", ME)
    fails(errno.EROFS, ops.symlink, gilda, b"l", b"trailers", ME)
    assert call(ops.getattr, gilda, ME).st_ino == gilda
    ops.close()


def test_writing_handles(ops: GridOperations, grid: Grid) -> None:
    trailers = inode(grid, "/grid/gilda/trailers")
    flags = os.O_WRONLY | os.O_CREAT
    info, attrs = call(ops.create, trailers, b"f.dat", 0o666, flags, ME)
    assert attrs.st_mode & 0o777 == 0o644
    fails(errno.EBUSY, ops.open, attrs.st_ino, os.O_RDONLY, ME)  # not stored yet
    assert call(ops.write, info.fh, 0, b"hello") == 5
    call(ops.flush, info.fh)
    call(ops.release, info.fh)
    assert grid.stat("/grid/gilda/trailers/f.dat").size == 5
    fails(errno.EEXIST, ops.create, trailers, b"f.dat", 0o644, flags | os.O_EXCL, ME)
    reading = call(ops.open, attrs.st_ino, os.O_RDONLY, ME)
    assert call(ops.read, reading.fh, 1, 100) == b"ello"
    fails(errno.EBADF, ops.write, reading.fh, 0, b"x")
    call(ops.release, reading.fh)
    appending = call(ops.open, attrs.st_ino, os.O_WRONLY | os.O_APPEND, ME)
    call(ops.write, appending.fh, 0, b" world")  # O_APPEND: at the end whatever the offset
    call(ops.flush, appending.fh)
    call(ops.release, appending.fh)
    with grid.open("/grid/gilda/trailers/f.dat") as stream:
        assert stream.read() == b"hello world"


def test_setattr_size_chown_and_links(ops: GridOperations, grid: Grid, make_file) -> None:
    grid.cr(make_file("a", 1000), "/grid/gilda/a")
    grid.symlink("a", "/grid/gilda/link")
    entry = grid.stat("/grid/gilda/a")
    attr = pyfuse3.EntryAttributes()
    attr.st_size = 10
    sizing = SimpleNamespace(
        update_size=True,
        update_mode=False,
        update_uid=False,
        update_gid=False,
        update_atime=False,
        update_mtime=False,
    )
    assert call(ops.setattr, entry.id, attr, sizing, None, ME).st_size == 10
    assert grid.stat("/grid/gilda/a").size == 10
    owning = SimpleNamespace(**{**vars(sizing), "update_size": False, "update_uid": True})
    attr.st_uid = 4_000_000  # no local account, no table entry: given as its number...
    fails(errno.EPERM, ops.setattr, entry.id, attr, owning, None, ME)  # ...by the superuser only
    link = grid.lstat("/grid/gilda/link")
    attr.st_uid = os.getuid()
    unchanged = call(ops.setattr, link.id, attr, owning, None, ME)
    assert unchanged.st_size == 1  # the link ("a"), not its target
    assert grid.stat("/grid/gilda/a").owner == "alice"


def test_each_caller_acts_as_its_own_grid_identity(ops: GridOperations, grid: Grid) -> None:
    gilda = inode(grid, "/grid/gilda")
    grid.chmod("/grid/gilda", 0o755)
    # The stranger maps to the grid's "nobody", who may not write alice's directory.
    fails(errno.EACCES, ops.mkdir, gilda, b"theirs", 0o755, STRANGER)
    grid.chmod("/grid/gilda", 0o777)
    made = call(ops.mkdir, gilda, b"theirs", 0o755, STRANGER)
    entry = grid.stat("/grid/gilda/theirs")
    assert (entry.owner, entry.group) == ("nobody", "nogroup")
    assert made.st_uid == 65534  # "nobody" is a local account too
    call(ops.mkdir, gilda, b"mine", 0o700, ME)
    fails(errno.EACCES, ops.lookup, inode(grid, "/grid/gilda/mine"), b"x", STRANGER)
    fails(errno.EACCES, ops.opendir, inode(grid, "/grid/gilda/mine"), STRANGER)


@pytest.mark.expect_warnings
def test_an_upload_failing_at_flush_is_eio_and_unregisters(
    ops: GridOperations, grid: Grid, config_path: Path
) -> None:
    se_root = config_path.parent / "se" / "cern-se"
    se_root.parent.mkdir(parents=True, exist_ok=True)
    se_root.write_bytes(b"not a directory")
    trailers = inode(grid, "/grid/gilda/trailers")
    info, _ = call(ops.create, trailers, b"doomed", 0o644, os.O_WRONLY | os.O_CREAT, ME)
    call(ops.write, info.fh, 0, b"bytes")
    fails(errno.EIO, ops.flush, info.fh)
    call(ops.release, info.fh)
    with pytest.raises(NotFound):
        grid.stat("/grid/gilda/trailers/doomed")


def test_times_set_on_the_catalog_root_show_at_once(grid: Grid) -> None:
    """A mount of "/": its root has no directory to keep it, but its kept stat goes."""
    grid.catalog.as_identity(SUPERUSER).chmod("/", 0o777)  # alice may set its times to now
    operations = GridOperations(grid, grid.stat("/").id, "/")
    try:
        before = call(operations.getattr, pyfuse3.ROOT_INODE, ME)  # now kept
        attr = pyfuse3.EntryAttributes()
        attr.st_atime_ns = attr.st_mtime_ns = time.time_ns()  # "now": write permission will do
        timing = SimpleNamespace(
            update_size=False,
            update_mode=False,
            update_uid=False,
            update_gid=False,
            update_atime=True,
            update_mtime=True,
        )
        call(operations.setattr, pyfuse3.ROOT_INODE, attr, timing, None, ME)
        after = call(operations.getattr, pyfuse3.ROOT_INODE, ME)
        assert after.st_mtime_ns == grid.stat("/").mtime_ns > before.st_mtime_ns
    finally:
        operations.close()
