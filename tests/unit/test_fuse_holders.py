"""gridfs.fuse.holders: descriptors open for writing on a file, in every process we can see."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gridfs.fuse.holders import pid_mark, writers_holding


def test_descriptors_for_writing_are_counted_in_every_process(tmp_path: Path) -> None:
    target, other = tmp_path / "f", tmp_path / "g"
    target.write_bytes(b"")
    other.write_bytes(b"")
    inode = target.stat().st_ino
    assert writers_holding(str(tmp_path), inode) == 0
    reader = os.open(target, os.O_RDONLY)
    elsewhere = os.open(other, os.O_WRONLY)
    writer = os.open(target, os.O_WRONLY)
    try:
        assert writers_holding(str(tmp_path), inode) == 1  # not the reader, not another file
        assert writers_holding(str(tmp_path / "sub"), inode) == 0  # only under the mount point
        # A child given the descriptor (a shell's redirection) holds it too.
        with subprocess.Popen(["sleep", "60"], stdout=writer) as child:
            try:
                assert writers_holding(str(tmp_path), inode) == 2
            finally:
                child.kill()
        assert writers_holding(str(tmp_path), inode) == 1
    finally:
        for fd in (reader, elsewhere, writer):
            os.close(fd)
    assert writers_holding(str(tmp_path), inode) == 0


def test_an_open_looks_only_at_its_opener_and_the_processes_made_since(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"")
    inode = target.stat().st_ino
    handed = os.open(target, os.O_WRONLY)
    with subprocess.Popen(["sleep", "60"], stdout=handed) as older:
        os.close(handed)  # the older process's alone now
        try:
            since = pid_mark()
            assert since >= older.pid
            writer = os.open(target, os.O_WRONLY)
            scoped = {"opener": os.getpid(), "since": since}
            try:
                assert writers_holding(str(tmp_path), inode) == 2
                # The older process cannot hold this open: it is not looked at.
                assert writers_holding(str(tmp_path), inode, **scoped) == 1
                with subprocess.Popen(["sleep", "60"], stdout=writer) as child:
                    try:
                        assert writers_holding(str(tmp_path), inode, **scoped) == 2
                    finally:
                        child.kill()
            finally:
                os.close(writer)
            assert writers_holding(str(tmp_path), inode, **scoped) == 0
        finally:
            older.kill()
