"""gridfs.fuse.holders: descriptors open for writing on a file, in every process we can see."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gridfs.fuse.holders import writers_holding


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
