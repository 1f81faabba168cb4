"""The /grid mount for real: a gridfs process, the kernel, and ordinary tools."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.mount.conftest import TRAILERS, replica_file
from tests.mount.mounting import GRIDFS, mounted, needs_fuse, start_mount, unmount

pytestmark = [pytest.mark.mount, needs_fuse]


def test_the_tree_and_its_attributes(mountpoint: Path, populated) -> None:
    grid, _ = populated
    assert os.listdir(mountpoint) == ["gilda"]
    assert sorted(os.listdir(mountpoint / "gilda")) == ["neo.mpg", "trailers"]
    assert sorted(os.listdir(mountpoint / "gilda" / "trailers")) == sorted(TRAILERS)
    for name, size in TRAILERS.items():
        st = os.stat(mountpoint / "gilda" / "trailers" / name)
        entry = grid.stat(f"/grid/gilda/trailers/{name}")
        assert st.st_size == size
        assert st.st_ino == entry.id
        assert st.st_mode == entry.st_mode
        assert st.st_mtime_ns == entry.mtime_ns
        assert st.st_uid == os.getuid()  # the mounting user's own grid identity
    assert os.stat(mountpoint).st_ino == 1
    listing = subprocess.run(
        ["ls", "-lR", str(mountpoint)], capture_output=True, text=True, check=True
    ).stdout
    assert "neo.mpg -> trailers/matrix.mpg" in listing
    assert os.statvfs(mountpoint).f_namemax == 255


def test_reads_through_python_cat_sha256sum_and_dd(mountpoint: Path, populated) -> None:
    _, contents = populated
    trailers = mountpoint / "gilda" / "trailers"
    for name, data in contents.items():
        with open(trailers / name, "rb") as stream:
            assert stream.read() == data
        cat = subprocess.run(["cat", str(trailers / name)], capture_output=True, check=True)
        assert cat.stdout == data
        digest = subprocess.run(
            ["sha256sum", str(trailers / name)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        assert digest == hashlib.sha256(data).hexdigest()
    data = contents["amelie.mpg"]
    dd = subprocess.run(
        ["dd", f"if={trailers / 'amelie.mpg'}", "bs=4096", "skip=300", "count=5"],
        capture_output=True,
        check=True,
    )
    assert dd.stdout == data[300 * 4096 : 305 * 4096]
    with open(trailers / "amelie.mpg", "rb") as stream:
        stream.seek(3_000_001)
        assert stream.read(100) == data[3_000_001:3_000_101]
        assert os.pread(stream.fileno(), 10, len(data) - 4) == data[-4:]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may widen a mount's readahead")
def test_the_mount_reads_ahead_one_mib(mountpoint: Path) -> None:
    device = os.stat(mountpoint).st_dev
    setting = Path(f"/sys/class/bdi/{os.major(device)}:{os.minor(device)}/read_ahead_kb")
    deadline = time.monotonic() + 10  # set by the daemon just after it starts serving
    while setting.read_text().strip() != "1024" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert setting.read_text().strip() == "1024"


def test_an_alias_reads_as_its_file(mountpoint: Path, populated) -> None:
    _, contents = populated
    link = mountpoint / "gilda" / "neo.mpg"
    assert os.readlink(link) == "trailers/matrix.mpg"
    assert os.lstat(link).st_size == len("trailers/matrix.mpg")
    assert link.read_bytes() == contents["matrix.mpg"]


def test_parallel_readers(mountpoint: Path, populated) -> None:
    _, contents = populated
    names = list(contents) * 8

    def read(name: str) -> bool:
        return (mountpoint / "gilda" / "trailers" / name).read_bytes() == contents[name]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(read, names))


def test_a_large_directory_lists_each_entry_once(mountpoint: Path, populated) -> None:
    grid, _ = populated
    grid.mkdir("/grid/gilda/many")
    names = {f"run{index:05}.root" for index in range(1500)}
    for name in names:
        grid.catalog.add_file(f"/grid/gilda/many/{name}", size=1, checksum="00000001")
    listed = os.listdir(mountpoint / "gilda" / "many")
    assert len(listed) == len(names)
    assert set(listed) == names


def test_a_read_only_mount_refuses_every_change(
    config_path: Path, populated, tmp_path: Path
) -> None:
    with mounted(config_path, tmp_path / "ro", tmp_path / "ro.log", "-o", "ro") as target:
        trailers = target / "gilda" / "trailers"
        for path, flags in (
            (trailers / "new.mpg", os.O_WRONLY | os.O_CREAT),
            (trailers / "matrix.mpg", os.O_RDWR),
            (trailers / "matrix.mpg", os.O_WRONLY | os.O_TRUNC),
        ):
            with pytest.raises(OSError, match="Read-only file system") as info:
                os.open(path, flags)
            assert info.value.errno == errno.EROFS
        for change in (
            lambda: os.mkdir(trailers / "sub"),
            lambda: os.unlink(trailers / "alien.mpg"),
            lambda: os.rename(trailers / "alien.mpg", trailers / "b.mpg"),
            lambda: os.chmod(trailers / "alien.mpg", 0o600),
            lambda: os.symlink("alien.mpg", trailers / "link"),
            lambda: os.setxattr(trailers / "alien.mpg", "user.comment", b"x"),
        ):
            with pytest.raises(OSError, match="Read-only file system"):
                change()
        assert (trailers / "alien.mpg").read_bytes() == populated[1]["alien.mpg"]
        options = next(
            line.split()[3]
            for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1] == str(target)
        )
        assert options.split(",")[0] == "ro"


def test_errors_are_errno(mountpoint: Path) -> None:
    trailers = mountpoint / "gilda" / "trailers"
    with pytest.raises(FileNotFoundError):
        os.stat(trailers / "nope.mpg")
    with pytest.raises(FileNotFoundError):
        os.stat(mountpoint / b"\xff\xfe".decode("utf-8", "surrogateescape"))
    with pytest.raises(OSError, match="Invalid argument"):
        os.mkdir(mountpoint / "gilda" / b"\xff".decode("utf-8", "surrogateescape"))
    with pytest.raises(OSError, match="Directory not empty"):
        os.rmdir(trailers)
    with pytest.raises(NotADirectoryError):
        os.listdir(trailers / "alien.mpg")
    with pytest.raises(OSError, match="Operation not permitted"):
        os.link(trailers / "alien.mpg", trailers / "hard.mpg")


def test_open_falls_over_to_another_replica(mountpoint: Path, populated) -> None:
    grid, contents = populated
    lfn = "/grid/gilda/trailers/alien.mpg"
    replica_file(grid, lfn, "infn-se").unlink()
    for _ in range(4):  # whichever replica the policy tries first
        assert (mountpoint / "gilda" / "trailers" / "alien.mpg").read_bytes() == contents[
            "alien.mpg"
        ]
    replica_file(grid, lfn, "ral-se").unlink()
    with pytest.raises(OSError, match="Input/output error") as info:
        (mountpoint / "gilda" / "trailers" / "alien.mpg").read_bytes()
    assert info.value.errno == errno.EIO
    # The mount survives a failing file: others still read.
    assert (mountpoint / "gilda" / "trailers" / "empty").read_bytes() == b""


def test_daemon_mode_mounts_and_umount_ends_it(
    config_path: Path, populated, tmp_path: Path
) -> None:
    target = tmp_path / "daemon-mnt"
    target.mkdir()
    log = tmp_path / "daemon.log"
    result = subprocess.run(
        # A relative log path: the daemon leaves the working directory behind.
        [GRIDFS, "--config", str(config_path), "mount", "daemon-mnt", "--log", log.name, "--debug"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    pid = int(result.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        assert os.path.ismount(target)
        assert sorted(os.listdir(target / "gilda" / "trailers")) == sorted(TRAILERS)
        assert (target / "gilda" / "trailers" / "empty").read_bytes() == b""
        again = subprocess.run(
            [GRIDFS, "--config", str(config_path), "mount", str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == 1
        assert "mounted at" in again.stderr
        subprocess.run([GRIDFS, "umount", str(target)], check=True, timeout=60)
        assert not os.path.ismount(target)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "the daemon did not exit after umount"
    finally:
        unmount(target)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert "unmounted" in log.read_text()
    assert "/grid/gilda/trailers/empty: reading replica file://" in log.read_text()


def test_sigterm_unmounts_cleanly(config_path: Path, populated, tmp_path: Path) -> None:
    target = tmp_path / "mnt"
    log = tmp_path / "mount.log"
    process = start_mount(config_path, target, log)
    try:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
        assert not os.path.ismount(target)
    finally:
        unmount(target)
        if process.poll() is None:
            process.kill()
            process.wait()


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        finished = 0  # not our child: ask the kernel instead
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return finished == 0
