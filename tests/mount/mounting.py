"""Starting and stopping real gridfs mounts for the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

GRIDFS = str(Path(sys.executable).with_name("gridfs"))
MOUNT_HELPER = str(Path(sys.executable).with_name("mount.fuse.gridfs"))
FUSERMOUNT = shutil.which("fusermount3") or shutil.which("fusermount")

needs_fuse = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or FUSERMOUNT is None,
    reason="needs /dev/fuse and fusermount3 (apt install fuse3)",
)


def wait_for_mount(path: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until ``path`` is a mount point; fail at once if the process died."""
    deadline = time.monotonic() + 30
    while not os.path.ismount(path):
        if process.poll() is not None:
            pytest.fail(f"gridfs mount exited with {process.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no mount at {path} after 30 s: {log.read_text()}")
        time.sleep(0.02)


def start_mount(
    config_path: Path, target: Path, log: Path, *arguments: str
) -> subprocess.Popen[bytes]:
    """``gridfs mount -f`` as a child we own, logging to ``log``; returns once mounted."""
    target.mkdir(exist_ok=True)
    with log.open("wb") as log_stream:
        process = subprocess.Popen(
            [GRIDFS, "--config", str(config_path), "mount", "-f", *arguments, str(target)],
            stdout=log_stream,
            stderr=subprocess.STDOUT,
        )
    wait_for_mount(target, process, log)
    return process


def unmount(path: Path) -> None:
    if os.path.ismount(path):
        subprocess.run([FUSERMOUNT, "-u", str(path)], check=False)


def stop_mount(process: subprocess.Popen[bytes], target: Path, log: Path) -> str:
    """Unmount, wait for the process, check it ended cleanly; returns its log."""
    unmount(target)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"gridfs mount did not exit after unmount: {log.read_text()}")
    text = log.read_text()
    assert process.returncode == 0, text
    assert "Traceback" not in text
    return text


@contextmanager
def mounted(config_path: Path, target: Path, log: Path, *arguments: str) -> Iterator[Path]:
    """A foreground mount for the length of a ``with``; checked to end cleanly."""
    process = start_mount(config_path, target, log, *arguments)
    try:
        yield target
    finally:
        stop_mount(process, target, log)
