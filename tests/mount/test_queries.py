"""Metadata through a real mount: setfattr/getfattr, and the virtual query directories."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from gridfs.gfal import Grid
from tests.mount.mounting import needs_fuse

pytestmark = [pytest.mark.mount, needs_fuse]

RUNTIMES = {
    "matrix.mpg": (136, "Sci-Fi"),
    "alien.mpg": (117, "Sci-Fi"),
    "amelie.mpg": (122, "Comedy"),
}


def run(*command: str | Path) -> str:
    return subprocess.run(
        [str(part) for part in command], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def tagged(mountpoint: Path) -> Path:
    """The trailers with a Runtime and a Genre, set with setfattr through the mount."""
    trailers = mountpoint / "gilda" / "trailers"
    run("setfattr", "-n", "user.schema.Runtime", "-v", "int", trailers)
    run("setfattr", "-n", "user.schema.Genre", "-v", "varchar(32)", trailers)
    for name, (runtime, genre) in RUNTIMES.items():
        run("setfattr", "-n", "user.Runtime", "-v", str(runtime), trailers / name)
        run("setfattr", "-n", "user.Genre", "-v", genre, trailers / name)
    (trailers / "shorts").mkdir()
    (trailers / "shorts" / "one.mpg").write_bytes(b"a short film")
    run("setfattr", "-n", "user.schema.Runtime", "-v", "int", trailers / "shorts")
    run("setfattr", "-n", "user.Runtime", "-v", "3", trailers / "shorts" / "one.mpg")
    return trailers


def test_metadata_attributes_through_the_mount(tagged: Path) -> None:
    dump = run("getfattr", "-d", tagged / "matrix.mpg")
    assert 'user.Runtime="136"' in dump
    assert 'user.Genre="Sci-Fi"' in dump
    assert "user.guid=" not in dump  # read by name only: copies get their own
    assert os.getxattr(tagged, "user.schema.Genre") == b"varchar(32)"
    wrong = subprocess.run(
        ["setfattr", "-n", "user.Runtime", "-v", "long", str(tagged / "alien.mpg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0
    assert "Invalid argument" in wrong.stderr
    assert os.getxattr(tagged / "alien.mpg", "user.Runtime") == b"117"


def test_query_directories_list_what_matches(
    tagged: Path, populated: tuple[Grid, dict[str, bytes]]
) -> None:
    _, contents = populated
    query = tagged / ".query"
    comedies = query / 'Genre = "Comedy" and Runtime > 100'
    assert sorted(os.listdir(comedies)) == ["amelie.mpg"]
    scifi = query / "Genre = 'Sci-Fi'"
    assert sorted(os.listdir(scifi)) == ["alien.mpg", "matrix.mpg"]
    # The matches are the files themselves: read, checksummed, found, copied.
    assert (scifi / "matrix.mpg").read_bytes() == contents["matrix.mpg"]
    assert os.stat(scifi / "matrix.mpg").st_ino == os.stat(tagged / "matrix.mpg").st_ino
    sums = run("sha256sum", *sorted(scifi.iterdir()))
    assert hashlib.sha256(contents["alien.mpg"]).hexdigest() in sums
    found = run("find", scifi, "-type", "f").splitlines()
    assert sorted(Path(f).name for f in found) == ["alien.mpg", "matrix.mpg"]
    # The recursive form keeps the tree; runtime < 100 is the short film only.
    short = query / "recursive" / "Runtime < 100"
    assert run("find", short, "-type", "f").splitlines() == [str(short / "shorts" / "one.mpg")]
    assert (short / "shorts" / "one.mpg").read_bytes() == b"a short film"
    # Nothing can be made or removed there.
    with pytest.raises(OSError, match="Read-only file system"):
        (scifi / "new").write_bytes(b"x")
    with pytest.raises(OSError, match="Read-only file system"):
        (scifi / "matrix.mpg").unlink()
    assert (tagged / "matrix.mpg").exists()
    # The .query directory is never listed, so find and du do not wander into it.
    assert ".query" not in os.listdir(tagged)


def test_a_malformed_condition_is_a_clear_error(tagged: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        ["ls", str(tagged / ".query" / "Runtime >")], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "Invalid argument" in result.stderr
    assert "column" in (tmp_path / "mount.log").read_text()


def test_saved_queries_appear_by_name(
    tagged: Path, populated: tuple[Grid, dict[str, bytes]]
) -> None:
    grid, _ = populated
    grid.metadata.save_query("/grid/gilda/trailers", "long", "Runtime > 120")
    assert os.listdir(tagged / ".query") == ["long"]
    assert sorted(os.listdir(tagged / ".query" / "long")) == ["amelie.mpg", "matrix.mpg"]
