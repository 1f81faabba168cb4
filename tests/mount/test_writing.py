"""Writing through a real mount: files are stored and registered when they are closed."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import random
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from gridfs.catalog import FileStatus
from gridfs.errors import NotFound
from gridfs.storage import Adler32
from tests.conftest import needs_tmpfs, small_disk, stored_files
from tests.mount.mounting import FUSERMOUNT, mounted, needs_fuse, start_mount

pytestmark = [pytest.mark.mount, needs_fuse]


def run(*command: str | Path, cwd: Path | None = None) -> str:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=True, cwd=cwd
    ).stdout


def adler32(data: bytes) -> str:
    digest = Adler32()
    digest.update(data)
    return digest.hexdigest()


def test_python_open_write_is_stored_and_registered_on_close(mountpoint: Path, populated) -> None:
    grid, _ = populated
    data = random.Random(5).randbytes(3_000_001)
    path = mountpoint / "gilda" / "new.dat"
    with path.open("wb") as stream:
        stream.write(data)
    # close() has returned: the file is stored, verified and registered.
    entry = grid.stat("/grid/gilda/new.dat")
    assert (entry.size, entry.checksum, entry.status) == (
        len(data),
        adler32(data),
        FileStatus.READY,
    )
    (replica,) = grid.catalog.replicas("/grid/gilda/new.dat")
    assert replica.se == "cern-se"  # [storage] default_se
    assert os.stat(path).st_size == len(data)
    assert path.read_bytes() == data
    with grid.open("/grid/gilda/new.dat") as stream:
        assert stream.read() == data
    os.unlink(path)
    with pytest.raises(NotFound):
        grid.stat("/grid/gilda/new.dat")


def test_cp_rsync_tar_and_diff(mountpoint: Path, populated, tmp_path: Path) -> None:
    grid, _ = populated
    source = tmp_path / "src"
    (source / "sub" / "deeper").mkdir(parents=True)
    files = {
        "a.bin": random.Random(1).randbytes(200_000),
        "sub/b.txt": b"hello grid\n",
        "sub/deeper/c.bin": random.Random(2).randbytes(1_500_000),
        "sub/empty": b"",
    }
    for name, data in files.items():
        (source / name).write_bytes(data)
    (source / "sub" / "link").symlink_to("b.txt")
    gilda = mountpoint / "gilda"

    run("cp", "-r", source, gilda / "by-cp")
    run("diff", "-r", source, gilda / "by-cp")
    run("rsync", "-a", f"{source}/", gilda / "by-rsync")
    run("diff", "-r", source, gilda / "by-rsync")
    assert os.readlink(gilda / "by-rsync" / "sub" / "link") == "b.txt"
    assert os.stat(gilda / "by-rsync" / "a.bin").st_mtime == os.stat(source / "a.bin").st_mtime
    archive = tmp_path / "src.tar"
    run("tar", "-cf", archive, "-C", source, ".")
    (gilda / "by-tar").mkdir()
    run("tar", "-xf", archive, "-C", gilda / "by-tar")
    run("diff", "-r", source, gilda / "by-tar")
    # tar sets each file's times (whole seconds) before it closes it: the store at close
    # keeps them.
    for name in files:
        extracted = os.stat(gilda / "by-tar" / name).st_mtime
        assert extracted == int(os.stat(source / name).st_mtime)
    run("tar", "-cf", tmp_path / "back.tar", "-C", gilda / "by-tar", ".")
    out = tmp_path / "back"
    out.mkdir()
    run("tar", "-xf", tmp_path / "back.tar", "-C", out)
    run("diff", "-r", source, out)
    for name, data in files.items():
        entry = grid.stat(f"/grid/gilda/by-rsync/{name}")
        assert (entry.size, entry.checksum) == (len(data), adler32(data))
    run("sed", "-i", "s/grid/GRID/", gilda / "by-cp" / "sub" / "b.txt")  # new file, renamed
    assert (gilda / "by-cp" / "sub" / "b.txt").read_bytes() == b"hello GRID\n"
    (gilda / "by-cp" / "sub" / "b.txt").write_bytes(files["sub/b.txt"])
    run("mv", gilda / "by-cp", gilda / "moved")
    run("diff", "-r", source, gilda / "moved")
    run("rm", "-r", gilda / "moved", gilda / "by-rsync", gilda / "by-tar")
    assert sorted(os.listdir(gilda)) == ["neo.mpg", "trailers"]


def test_times_set_before_close_are_kept_and_a_later_write_makes_them_now(
    mountpoint: Path, populated
) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "timed"
    with path.open("wb") as stream:
        stream.write(b"data")
        stream.flush()  # written before the times are set, as tar does
        os.utime(stream.fileno(), ns=(1_000_000_000, 2_000_000_000))
    assert os.stat(path).st_mtime_ns == 2_000_000_000
    assert grid.stat("/grid/gilda/timed").mtime_ns == 2_000_000_000
    with path.open("ab") as stream:
        os.utime(stream.fileno(), ns=(1_000_000_000, 2_000_000_000))
        stream.write(b"more")
        stream.flush()
    assert os.stat(path).st_mtime > 2
    assert path.read_bytes() == b"datamore"


def test_a_directory_filled_through_the_mount_shows_each_change_at_once(
    mountpoint: Path, populated
) -> None:
    """The mount keeps a directory it fills current: names made, changed and removed."""
    grid, _ = populated
    gilda = mountpoint / "gilda"
    tree = gilda / "tree"
    before = os.stat(gilda).st_mtime_ns
    tree.mkdir()
    sub = tree / "sub"
    sub.mkdir()
    assert os.listdir(tree) == ["sub"]
    assert os.listdir(sub) == []
    tree_mtime = os.stat(tree).st_mtime_ns
    for index in range(3):  # as tar x does: create, write, set times, owner and mode, close
        fd = os.open(sub / f"f{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"x" * (index + 1))
            os.utime(fd, ns=(1_000_000_000, (index + 2) * 1_000_000_000))
            os.fchown(fd, os.getuid(), os.getgid())
            os.fchmod(fd, 0o640)
        finally:
            os.close(fd)
        with pytest.raises(FileExistsError):
            os.open(sub / f"f{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    assert sorted(os.listdir(sub)) == ["f0", "f1", "f2"]
    for index in range(3):
        shown = os.stat(sub / f"f{index}")
        entry = grid.stat(f"/grid/gilda/tree/sub/f{index}")
        assert (shown.st_size, shown.st_mode & 0o777) == (index + 1, 0o640)
        assert shown.st_mtime_ns == entry.mtime_ns == (index + 2) * 1_000_000_000
        assert (entry.size, entry.mode, entry.status) == (index + 1, 0o640, FileStatus.READY)
    # Names made in a directory change its times, also where its directory shows them.
    assert os.stat(sub).st_mtime_ns == grid.stat("/grid/gilda/tree/sub").mtime_ns
    assert os.stat(sub).st_mtime_ns > tree_mtime
    assert os.stat(tree).st_mtime_ns == grid.stat("/grid/gilda/tree").mtime_ns
    assert os.stat(gilda).st_mtime_ns == grid.stat("/grid/gilda").mtime_ns > before
    with pytest.raises(FileNotFoundError):
        os.stat(sub / "absent")
    os.unlink(sub / "f1")
    os.rename(sub / "f2", sub / "g2")
    assert sorted(os.listdir(sub)) == ["f0", "g2"]
    with pytest.raises(FileNotFoundError):
        os.stat(sub / "f1")
    assert (sub / "g2").read_bytes() == b"xxx"
    (sub / "f1").write_bytes(b"again")  # a name removed and made again
    assert (sub / "f1").read_bytes() == b"again"
    assert sorted(os.listdir(sub)) == ["f0", "f1", "g2"]
    for name in ("f0", "f1", "g2"):
        os.unlink(sub / name)
    os.rmdir(sub)
    assert os.listdir(tree) == []
    with pytest.raises(FileNotFoundError):
        os.stat(sub)


def test_overwrite_append_exclusive_truncate(mountpoint: Path, populated) -> None:
    grid, contents = populated
    trailers = mountpoint / "gilda" / "trailers"
    lfn = "/grid/gilda/trailers/alien.mpg"
    guid = grid.lg(lfn)
    old_surls = set(grid.lr(lfn))

    (trailers / "alien.mpg").write_bytes(b"new content")  # open(O_TRUNC) on an existing file
    entry = grid.stat(lfn)
    assert (entry.guid, entry.size, entry.checksum) == (guid, 11, adler32(b"new content"))
    assert not old_surls & set(grid.lr(lfn))  # a new version: the old replicas are gone
    assert (trailers / "alien.mpg").read_bytes() == b"new content"

    with (trailers / "alien.mpg").open("ab") as stream:  # O_APPEND
        stream.write(b", appended")
    assert (trailers / "alien.mpg").read_bytes() == b"new content, appended"
    fd = os.open(trailers / "alien.mpg", os.O_WRONLY | os.O_APPEND)
    try:
        os.pwrite(fd, b"!", 0)  # Linux appends whatever the offset
    finally:
        os.close(fd)
    assert grid.stat(lfn).size == len(b"new content, appended!")

    with pytest.raises(FileExistsError):
        os.open(trailers / "alien.mpg", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    fd = os.open(trailers / "fresh.dat", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.write(fd, b"x" * 10)
    os.close(fd)
    assert grid.stat("/grid/gilda/trailers/fresh.dat").mode == 0o640 & ~_umask()

    data = contents["amelie.mpg"]
    run("dd", "if=/dev/zero", f"of={trailers / 'amelie.mpg'}", "bs=4096", "seek=10", "count=2",
        "conv=notrunc")  # fmt: skip
    expected = data[: 10 * 4096] + bytes(8192) + data[12 * 4096 :]
    assert (trailers / "amelie.mpg").read_bytes() == expected
    assert grid.stat("/grid/gilda/trailers/amelie.mpg").checksum == adler32(expected)

    os.truncate(trailers / "amelie.mpg", 5000)  # by path: stored at once
    assert grid.stat("/grid/gilda/trailers/amelie.mpg").size == 5000
    assert (trailers / "amelie.mpg").read_bytes() == expected[:5000]
    with (trailers / "matrix.mpg").open("r+b") as stream:  # read-modify-write, then ftruncate
        assert stream.read(4) == contents["matrix.mpg"][:4]
        stream.seek(0)
        stream.write(b"ABCD")
        stream.truncate(100)
    assert (trailers / "matrix.mpg").read_bytes() == b"ABCD" + contents["matrix.mpg"][4:100]
    run("sh", "-c", f"echo redirected > {trailers / 'matrix.mpg'}")
    assert grid.stat("/grid/gilda/trailers/matrix.mpg").size == len("redirected\n")


def test_a_new_file_shows_while_written_and_goes_if_never_stored(
    mountpoint: Path, populated
) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "open.dat"
    stream = path.open("wb")
    try:
        stream.write(b"partial")
        stream.flush()
        assert grid.stat("/grid/gilda/open.dat").status is FileStatus.WRITING
        assert "open.dat" in os.listdir(mountpoint / "gilda")
        listing = run("ls", "-l", mountpoint / "gilda").splitlines()
        (line,) = [line for line in listing if line.endswith(" open.dat")]
        assert line.split()[4] == "7"  # the size written so far, as for a local file
        assert os.stat(path).st_size == 7
    finally:
        stream.close()
    assert grid.stat("/grid/gilda/open.dat").status is FileStatus.READY
    assert path.read_bytes() == b"partial"


def test_user_xattrs_with_getfattr_and_setfattr(mountpoint: Path, populated) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "trailers" / "matrix.mpg"
    lfn = "/grid/gilda/trailers/matrix.mpg"
    guid = run("getfattr", "-n", "user.guid", "--absolute-names", path)
    assert f'user.guid="{grid.lg(lfn)}"' in guid
    assert os.getxattr(path, "user.status") == b"ONLINE"
    assert "user.guid" not in run("getfattr", "-d", "-m", "-", "--absolute-names", path)
    assert os.getxattr(path, "user.checksum").decode() == grid.stat(lfn).checksum
    assert set(os.getxattr(path, "user.replicas").decode().splitlines()) == set(grid.lr(lfn))
    run("setfattr", "-n", "user.comment", "-v", "the best trailer", path)
    assert grid.stat(lfn).comment == "the best trailer"
    assert os.getxattr(path, "user.comment") == b"the best trailer"
    run("setfattr", "-x", "user.comment", path)
    assert grid.stat(lfn).comment is None
    with pytest.raises(OSError, match="Operation not permitted"):
        os.setxattr(path, "user.guid", b"x")
    with pytest.raises(OSError, match="No data available"):
        os.getxattr(path, "user.comment")

    directory = mountpoint / "gilda" / "to-ral"
    directory.mkdir()
    os.setxattr(directory, "user.grid.default_se", b"ral-se")
    (directory / "f.dat").write_bytes(b"on ral")
    (replica,) = grid.catalog.replicas("/grid/gilda/to-ral/f.dat")
    assert replica.se == "ral-se"
    with pytest.raises(OSError, match="Invalid argument"):
        os.setxattr(directory, "user.grid.default_se", b"no-such-se")


def test_concurrent_readers_of_one_file(mountpoint: Path, populated) -> None:
    _, contents = populated
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    path = mountpoint / "gilda" / "trailers" / "amelie.mpg"
    digest = hashlib.sha256(contents["amelie.mpg"]).hexdigest()

    def read(_: int) -> str:
        with path.open("rb", buffering=0) as stream:
            return hashlib.sha256(stream.read()).hexdigest()

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(read, range(24))) == {digest}


def test_an_upload_failing_on_close_is_eio_and_leaves_nothing(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    # The default SE's root is a plain file: every upload to it fails.
    se_root = config_path.parent / "se" / "cern-se"
    se_root.parent.mkdir(parents=True, exist_ok=True)
    se_root.write_bytes(b"not a directory")
    before = stored_files(config_path.parent)
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log") as target:
        stream = (target / "gilda" / "doomed.dat").open("wb")
        stream.write(b"never stored")
        with pytest.raises(OSError, match="Input/output error") as failed:
            stream.close()
        assert failed.value.errno == errno.EIO
        with pytest.raises(FileNotFoundError):
            os.stat(target / "gilda" / "doomed.dat")
    with pytest.raises(NotFound):
        grid.stat("/grid/gilda/doomed.dat")
    assert stored_files(config_path.parent) == before
    assert "storing /grid/gilda/doomed.dat failed" in (tmp_path / "mount.log").read_text()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_files_are_staged_in_the_staging_dir(config_path: Path, populated, tmp_path: Path) -> None:
    grid, _ = populated
    staging = tmp_path / "staging"
    options = ("-o", f"staging_dir={staging}")
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log", *options) as target:
        with (target / "gilda" / "staged.dat").open("wb", buffering=0) as stream:
            stream.write(b"x" * 1000)
            (staged,) = staging.iterdir()  # the staging file, while it is written
            assert staged.stat().st_size == 1000
        # Stored when close() returned; dropped at RELEASE, which the kernel sends after.
        assert grid.stat("/grid/gilda/staged.dat").size == 1000
        deadline = time.monotonic() + 10
        while list(staging.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(staging.iterdir()) == []
    assert grid.stat("/grid/gilda/staged.dat").size == 1000


# -- write-path integrity ---------------------------------------------------------


def fails(*command: str | Path) -> str:
    """Run a command that must fail; returns what it said on stderr."""
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0, done
    return done.stderr


def fill(stream: BinaryIO) -> None:
    """Write until the disk is full (the error is raised)."""
    while True:
        stream.write(bytes(1 << 20))


def versions_stored(log: Path, lfn: str) -> int:
    """How many versions of ``lfn`` the mount stored, from its log."""
    return log.read_text().count(f"stored {lfn}: ")


@needs_tmpfs
def test_a_failed_write_registers_nothing(
    config_path: Path, populated, make_file, tmp_path: Path
) -> None:
    grid, contents = populated
    big = make_file("big.bin", 8_000_000, seed=3)
    lfn = "/grid/gilda/trailers/amelie.mpg"
    old = (grid.stat(lfn), sorted(grid.lr(lfn)))
    before = stored_files(config_path.parent)
    options = ("-o", f"staging_dir={tmp_path / 'staging'}")
    with (
        small_disk(tmp_path / "staging", "5m"),
        mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log", *options) as target,
    ):
        for name in ("amelie.mpg", "new.bin"):  # an existing file, a new one
            assert "No space left on device" in fails(
                "cp", big, target / "gilda" / "trailers" / name
            )
        stream = (target / "gilda" / "python.bin").open("wb", buffering=0)
        with pytest.raises(OSError, match="No space left"):
            fill(stream)
        with pytest.raises(OSError, match="Input/output error"):  # close() fails too
            stream.close()
        assert (target / "gilda" / "trailers" / "amelie.mpg").read_bytes() == contents["amelie.mpg"]
        assert sorted(os.listdir(target / "gilda")) == ["neo.mpg", "trailers"]
    assert (grid.stat(lfn), sorted(grid.lr(lfn))) == old
    for gone in ("/grid/gilda/trailers/new.bin", "/grid/gilda/python.bin"):
        with pytest.raises(NotFound):
            grid.stat(gone)
    assert stored_files(config_path.parent) == before
    assert versions_stored(tmp_path / "mount.log", lfn) == 0


def test_a_redirection_shared_by_processes_stores_one_version(
    mountpoint: Path, populated, make_file, tmp_path: Path
) -> None:
    grid, _ = populated
    parts = [make_file(f"part{i}", 2_000_000, seed=10 + i) for i in range(10)]
    data = b"".join(part.read_bytes() for part in parts)
    log = tmp_path / "mount.log"
    for name in ("f", "trailers/matrix.mpg"):  # a new file, an existing one
        path, lfn = mountpoint / "gilda" / name, f"/grid/gilda/{name}"
        loop = f"(for part in {' '.join(map(str, parts))}; do cat $part; done) > {path}"
        run("bash", "-c", loop)
        entry = grid.stat(lfn)  # stored and registered when the last close returned
        assert (entry.size, entry.checksum, entry.status) == (
            20_000_000,
            adler32(data),
            FileStatus.READY,
        )
        assert os.stat(path).st_size == 20_000_000
        assert versions_stored(log, lfn) == 1
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()
    run("bash", "-c", f"echo hello > {mountpoint / 'gilda' / 'f'}")  # the shell's own close
    assert versions_stored(log, "/grid/gilda/f") == 2
    assert (mountpoint / "gilda" / "f").read_bytes() == b"hello\n"
    # Two opens of one file are two writers: each close stores its own version.
    first = os.open(mountpoint / "gilda" / "f", os.O_WRONLY | os.O_TRUNC)
    second = os.open(mountpoint / "gilda" / "f", os.O_WRONLY | os.O_TRUNC)
    os.write(first, b"one")
    os.close(first)
    assert grid.stat("/grid/gilda/f").size == 3
    os.write(second, b"second")
    os.close(second)
    assert (mountpoint / "gilda" / "f").read_bytes() == b"second"
    assert versions_stored(log, "/grid/gilda/f") == 4


@needs_tmpfs
@pytest.mark.expect_warnings
def test_a_failed_overwrite_keeps_the_old_version(
    config_path: Path, populated, make_file, tmp_path: Path
) -> None:
    grid, _ = populated
    small, onemb = make_file("small.bin", 100_000, seed=4), make_file("onemb.bin", 1 << 20, seed=5)
    full = tmp_path / "full-se"
    with config_path.open("a") as config:
        config.write(f'[se.full-se]\nsite = "cern"\nroot = "{full}"\n')
    log = tmp_path / "mount.log"
    with small_disk(full, "512k"), mounted(config_path, tmp_path / "mnt", log) as target:
        directory = target / "gilda" / "full"
        directory.mkdir()
        os.setxattr(directory, "user.grid.default_se", b"full-se")
        run("cp", small, directory / "keep.bin")
        lfn = "/grid/gilda/full/keep.bin"
        old = (grid.stat(lfn), sorted(grid.lr(lfn)))
        said = fails("bash", "-c", f"cat {onemb} > {directory / 'keep.bin'}")
        assert "Input/output error" in said
        assert (grid.stat(lfn), sorted(grid.lr(lfn))) == old
        assert (directory / "keep.bin").read_bytes() == small.read_bytes()
        assert os.stat(directory / "keep.bin").st_size == 100_000
    assert versions_stored(log, lfn) == 1
    assert f"{lfn} keeps its old version" in log.read_text()


def test_a_file_being_written_shows_its_size_to_other_processes(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    options = ("-o", "entry_timeout=0")  # every stat looks the name up again
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log", *options) as target:
        for name in ("new.bin", "trailers/alien.mpg"):  # a new file, one truncated by open
            path = target / "gilda" / name
            with path.open("wb", buffering=0) as stream:
                stream.write(b"x" * 3000)
                seen = run("stat", "-c", "%s", path), run("ls", "-l", path.parent)
                assert seen[0] == "3000\n"
                (line,) = [line for line in seen[1].splitlines() if line.endswith(path.name)]
                assert line.split()[4] == "3000"
                assert grid.stat(f"/grid/gilda/{name}").size != 3000  # not stored yet
            assert grid.stat(f"/grid/gilda/{name}").size == 3000


def test_the_next_mount_clears_what_a_killed_daemon_left(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    staging = tmp_path / "staging"
    options = ("-o", f"staging_dir={staging}")
    target, log = tmp_path / "mnt", tmp_path / "mount.log"
    process = start_mount(config_path, target, log, *options)
    stream = (target / "gilda" / "crash.dat").open("wb", buffering=0)
    try:
        stream.write(b"x" * 1000)
        (left,) = staging.iterdir()
        crashed_id = grid.stat("/grid/gilda/crash.dat").id
        assert left.name.startswith(f"gridfs-{process.pid}-")  # whose it is
        # A live writer in this process, staged in the same directory, is not a leftover.
        alive = grid.with_options(staging_dir=str(staging)).open("/grid/gilda/alive.dat", "wb")
        alive.write(b"alive")
        alive.flush()
    finally:
        process.kill()  # mid-write, by its PID
        process.wait(timeout=30)
        with contextlib.suppress(OSError):  # the mount is gone
            stream.close()
        subprocess.run([FUSERMOUNT, "-u", str(target)], check=False)
    assert len(list(staging.iterdir())) == 2
    with mounted(config_path, target, log, *options):
        assert [p.name.startswith(f"gridfs-{os.getpid()}-") for p in staging.iterdir()] == [True]
    assert f"removed {left}: its writer has ended" in log.read_text()
    # The file it had created and never stored is gone from the catalog too.
    assert left.name.endswith(f".e{crashed_id}.staging")
    assert f"unregistered entry {crashed_id}: its writer died" in log.read_text()
    with pytest.raises(FileNotFoundError):
        grid.stat("/grid/gilda/crash.dat")
    alive.close()
    assert grid.stat("/grid/gilda/alive.dat").size == 5
    assert list(staging.iterdir()) == []
