"""FIFOs, sockets and devices through a real mount: catalog entries, their I/O the kernel's."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from gridfs.catalog import EntryKind
from tests.mount.mounting import GRIDFS, mounted, needs_fuse

pytestmark = [pytest.mark.mount, needs_fuse]


def test_a_fifo_passes_data_between_two_processes(mountpoint: Path, populated) -> None:
    grid, _ = populated
    fifo = mountpoint / "gilda" / "pipe"
    os.mkfifo(fifo, 0o640)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.stat(fifo).st_mode & 0o777 == 0o640 & ~_umask()
    entry = grid.lstat("/grid/gilda/pipe")
    assert (entry.kind, entry.guid, entry.owner) == (EntryKind.FIFO, None, "alice")
    writer = subprocess.Popen(["sh", "-c", f"echo through the pipe > {fifo}"])
    reader = subprocess.run(["cat", fifo], capture_output=True, text=True, timeout=30, check=True)
    assert writer.wait(timeout=30) == 0
    assert reader.stdout == "through the pipe\n"
    # It is an entry like another: listed with its type, renamed, removed.
    listing = _output("ls", "-l", fifo.parent).splitlines()
    assert any(line.startswith("prw-") and line.endswith(" pipe") for line in listing)
    # find takes the type from readdir.
    assert _output("find", fifo.parent, "-maxdepth", "1", "-type", "p") == f"{fifo}\n"
    fifo.rename(fifo.with_name("pipe2"))
    assert grid.lstat("/grid/gilda/pipe2").kind is EntryKind.FIFO
    fifo.with_name("pipe2").unlink()
    assert "pipe2" not in grid.listdir("/grid/gilda")


def test_a_unix_socket_binds_and_serves_in_the_mount(mountpoint: Path, populated) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "socket"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert grid.lstat("/grid/gilda/socket").kind is EntryKind.SOCKET
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"hello")
                assert accepted.recv(5) == b"hello"
    path.unlink()
    assert "socket" not in grid.listdir("/grid/gilda")


def test_mknod_of_a_regular_file_makes_an_empty_stored_file(mountpoint: Path, populated) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "empty-by-mknod"
    os.mknod(path, 0o644 | stat.S_IFREG)
    assert path.read_bytes() == b""
    entry = grid.lstat("/grid/gilda/empty-by-mknod")
    assert (entry.kind, entry.size) == (EntryKind.FILE, 0)
    assert len(grid.catalog.replicas(entry.id)) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="making devices needs root")
def test_devices_show_their_numbers_to_ls_stat_and_gridfs(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    # Devices are the superuser's to make: the mounting identity must be one.
    config_path.write_text(config_path.read_text().replace("[site]", "superuser = true\n[site]"))
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log") as target:
        tty = target / "gilda" / "tty"
        disk = target / "gilda" / "disk"
        os.mknod(tty, 0o600 | stat.S_IFCHR, os.makedev(4, 1))
        subprocess.run(["mknod", "-m", "660", str(disk), "b", "8", "3"], check=True)
        shown = os.stat(tty)
        assert stat.S_ISCHR(shown.st_mode)
        assert (os.major(shown.st_rdev), os.minor(shown.st_rdev)) == (4, 1)
        assert _output("stat", "-c", "%F %t:%T", disk) == "block special file 8:3\n"
        with pytest.raises(PermissionError):  # a mount is nodev: the device stays closed
            disk.open("rb")
    entry = grid.lstat("/grid/gilda/tty")
    assert (entry.kind, entry.rdev, entry.mode) == (EntryKind.CHAR_DEVICE, os.makedev(4, 1), 0o600)
    listed = _output(GRIDFS, "--config", config_path, "ls", "-l", "/grid/gilda")
    assert any(
        line.startswith("crw-------") and " 4, 1 " in line and line.endswith("tty")
        for line in listed.splitlines()
    ), listed
    described = _output(GRIDFS, "--config", config_path, "stat", "/grid/gilda/disk")
    assert "block_device" in described, described
    assert "device:    8, 3" in described, described


def test_devices_are_refused_to_an_identity_that_is_no_superuser(
    mountpoint: Path, populated
) -> None:
    with pytest.raises(PermissionError):
        os.mknod(mountpoint / "gilda" / "tty", 0o600 | stat.S_IFCHR, os.makedev(4, 1))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _output(*command: str | Path) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout
