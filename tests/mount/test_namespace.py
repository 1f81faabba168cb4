"""Changing the namespace through a real mount, with the ordinary Unix tools."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from gridfs.catalog import SUPERUSER
from gridfs.errors import NotFound
from tests.mount.conftest import TRAILERS, replica_file
from tests.mount.mounting import mounted, needs_fuse

pytestmark = [pytest.mark.mount, needs_fuse]


def run(*command: str | Path) -> str:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=True
    ).stdout


def test_mkdir_ln_mv_chmod_touch_rm_as_the_catalog_sees_them(mountpoint: Path, populated) -> None:
    grid, contents = populated
    gilda = mountpoint / "gilda"
    run("mkdir", "-p", gilda / "runs" / "2024" / "a")
    assert grid.stat("/grid/gilda/runs/2024/a").is_dir()
    os.mkdir(gilda / "runs" / "private", 0o750)
    assert grid.stat("/grid/gilda/runs/private").mode == 0o750 & ~_umask()

    run("ln", "-s", "../trailers/amelie.mpg", gilda / "runs" / "amelie")
    assert grid.readlink("/grid/gilda/runs/amelie") == "../trailers/amelie.mpg"
    assert (gilda / "runs" / "amelie").read_bytes() == contents["amelie.mpg"]

    guid = grid.lg("/grid/gilda/trailers/alien.mpg")
    run("mv", gilda / "trailers" / "alien.mpg", gilda / "runs" / "2024")
    assert grid.lg("/grid/gilda/runs/2024/alien.mpg") == guid
    assert "alien.mpg" not in os.listdir(gilda / "trailers")
    assert (gilda / "runs" / "2024" / "alien.mpg").read_bytes() == contents["alien.mpg"]

    run("chmod", "600", gilda / "runs" / "2024" / "alien.mpg")
    assert grid.stat("/grid/gilda/runs/2024/alien.mpg").mode == 0o600
    assert os.stat(gilda / "runs" / "2024" / "alien.mpg").st_mode & 0o777 == 0o600
    run("touch", "-m", "-d", "2001-02-03 04:05:06 UTC", gilda / "runs" / "2024" / "alien.mpg")
    assert grid.stat("/grid/gilda/runs/2024/alien.mpg").mtime_ns == 981173106 * 10**9
    assert os.stat(gilda / "runs" / "2024" / "alien.mpg").st_mtime == 981173106

    stored = [
        replica_file(grid, "/grid/gilda/trailers/matrix.mpg", se) for se in ("infn-se", "ral-se")
    ]
    assert all(path.exists() for path in stored)
    run("rm", gilda / "trailers" / "matrix.mpg")
    assert not any(path.exists() for path in stored)  # the replicas went from their SEs
    with pytest.raises(NotFound):
        grid.lstat("/grid/gilda/trailers/matrix.mpg")

    with pytest.raises(OSError, match="Directory not empty"):
        os.rmdir(gilda / "runs")
    run("rm", "-r", gilda / "runs")
    with pytest.raises(NotFound):
        grid.stat("/grid/gilda/runs")
    assert sorted(os.listdir(gilda)) == ["neo.mpg", "trailers"]


def test_find_du_and_a_renamed_directory(mountpoint: Path, populated) -> None:
    grid, contents = populated
    gilda = mountpoint / "gilda"
    grid.aa("/grid/gilda/trailers/amelie.mpg", "/grid/gilda/amelie-alias.mpg")
    found = run("find", gilda).splitlines()
    assert sorted(found) == sorted(
        [str(gilda / name) for name in ("", "neo.mpg", "amelie-alias.mpg", "trailers")]
        + [str(gilda / "trailers" / name) for name in TRAILERS]
    )
    kib = int(run("du", "-s", "-k", gilda / "trailers").split()[0])
    assert kib >= sum(TRAILERS.values()) // 1024
    run("mv", gilda / "trailers", gilda / "films")
    assert sorted(os.listdir(gilda / "films")) == sorted(TRAILERS)
    assert grid.stat("/grid/gilda/films/amelie.mpg").size == TRAILERS["amelie.mpg"]
    # An alias follows its file (lcg-aa); a plain link keeps its target, as POSIX links do.
    assert os.readlink(gilda / "amelie-alias.mpg") == "films/amelie.mpg"
    assert (gilda / "amelie-alias.mpg").read_bytes() == contents["amelie.mpg"]
    assert os.readlink(gilda / "neo.mpg") == "trailers/matrix.mpg"


def test_rename_replaces_a_file_and_deletes_its_replicas(mountpoint: Path, populated) -> None:
    grid, contents = populated
    trailers = mountpoint / "gilda" / "trailers"
    replaced = replica_file(grid, "/grid/gilda/trailers/amelie.mpg", "infn-se")
    os.rename(trailers / "alien.mpg", trailers / "amelie.mpg")
    assert not replaced.exists()
    assert (trailers / "amelie.mpg").read_bytes() == contents["alien.mpg"]
    assert os.stat(trailers / "amelie.mpg").st_size == TRAILERS["alien.mpg"]


def test_the_mounts_own_changes_show_at_once_with_long_timeouts(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    options = ("-o", "attr_timeout=3600,entry_timeout=3600")
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log", *options) as target:
        trailers = target / "gilda" / "trailers"
        before = os.stat(trailers / "empty")
        sorted(os.listdir(trailers))
        os.chmod(trailers / "empty", 0o640)
        assert os.stat(trailers / "empty").st_mode & 0o777 == 0o640
        os.rename(trailers / "empty", trailers / "void")
        assert "void" in os.listdir(trailers)
        assert "empty" not in os.listdir(trailers)
        assert os.stat(trailers / "void").st_ino == before.st_ino
        os.mkdir(trailers / "new")
        assert os.stat(trailers).st_mtime_ns == grid.stat("/grid/gilda/trailers").mtime_ns
        os.rmdir(trailers / "new")
        with pytest.raises(FileNotFoundError):
            os.stat(trailers / "new")
        # Listings too (the mount keeps them for entry_timeout): written, then removed.
        (trailers / "fresh.dat").write_bytes(b"12345")
        assert listed_sizes(trailers)["fresh.dat"] == "5"
        (trailers / "fresh.dat").write_bytes(b"1234567")
        assert listed_sizes(trailers)["fresh.dat"] == "7"
        os.unlink(trailers / "fresh.dat")
        assert "fresh.dat" not in os.listdir(trailers)


def test_ownership_maps_through_the_tables_and_falls_back(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    text = config_path.read_text().replace('groups = ["gilda"]', 'groups = ["gilda", "cms"]')
    config_path.write_text(text + "[mount.users]\nbob = 12345\n[mount.groups]\ncms = 23456\n")
    admin = grid.catalog.as_identity(SUPERUSER)
    admin.mkdir("/grid/gilda/bobs")
    admin.chown("/grid/gilda/bobs", "bob", "cms")
    admin.mkdir("/grid/gilda/carols")
    admin.chown("/grid/gilda/carols", "carol-from-elsewhere", "nowhere-group")
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log") as target:
        gilda = target / "gilda"
        own = os.stat(gilda / "trailers")
        assert (own.st_uid, own.st_gid) == (os.getuid(), os.getgid())
        bobs = os.stat(gilda / "bobs")
        assert (bobs.st_uid, bobs.st_gid) == (12345, 23456)
        carols = os.stat(gilda / "carols")
        assert (carols.st_uid, carols.st_gid) == (65534, 65534)

        os.chown(gilda / "trailers" / "alien.mpg", -1, 23456)  # chgrp to a group alice is in
        assert grid.stat("/grid/gilda/trailers/alien.mpg").group == "cms"
        assert os.stat(gilda / "trailers" / "alien.mpg").st_gid == 23456
        with pytest.raises(PermissionError) as refused:  # only the superuser gives files away
            os.chown(gilda / "trailers" / "alien.mpg", 12345, -1)
        assert refused.value.errno == errno.EPERM
        unmapped = _uid_without_account()  # its number would be the owner: still a giving away
        with pytest.raises(PermissionError):
            os.chown(gilda / "trailers" / "alien.mpg", unmapped, -1)
        assert grid.stat("/grid/gilda/trailers/alien.mpg").owner == "alice"


def test_kernel_xattr_namespaces_and_the_serving_replica(mountpoint: Path, populated) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "trailers" / "amelie.mpg"
    for name in ("security.selinux", "system.posix_acl_access", "trusted.x"):
        with pytest.raises(OSError, match="not supported") as missing:
            os.getxattr(path, name)
        assert missing.value.errno == errno.ENOTSUP
    with pytest.raises(OSError, match="not supported") as refused:
        os.setxattr(path, "security.selinux", b"x")
    assert refused.value.errno == errno.ENOTSUP
    with pytest.raises(OSError, match="No data available"):
        os.getxattr(path, "user.replica")  # shown only while the file is open
    with path.open("rb") as stream:
        stream.read(10)
        turl = os.getxattr(path, "user.replica").decode()
        assert "user.replica" not in os.listxattr(path)  # read by name only
    replicas = {
        replica_file(grid, "/grid/gilda/trailers/amelie.mpg", se).as_uri()
        for se in ("infn-se", "ral-se")
    }
    assert turl in replicas
    dump = subprocess.run(
        ["getfattr", "-d", "-m", "-", str(path)], capture_output=True, text=True, check=False
    )
    assert dump.returncode == 0, dump.stderr


def test_ls_l_of_2000_entries_uses_the_listings_attributes(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    grid.mkdir("/grid/gilda/many")
    names = {f"run{index:05}.root" for index in range(2000)}
    with grid.catalog.transaction():
        for name in names:
            grid.catalog.add_file(f"/grid/gilda/many/{name}", size=7, checksum="00000001")
    log = tmp_path / "mount.log"
    with mounted(config_path, tmp_path / "mnt", log, "--debug") as target:
        listing = run("ls", "-l", target / "gilda" / "many").splitlines()
        assert len(listing) == 2001  # and the "total" line
        assert all(line.split()[4] == "7" for line in listing[1:])
    served = _requests_served(log.read_text())
    assert served["readdir"] >= 1
    # One lookup per path component, none per listed entry; ls asks one file's
    # label and ACL, hears "not supported" and asks no other file.
    assert served.get("lookup", 0) + served.get("getattr", 0) < 50, served
    assert served["getxattr"] <= 4, served


def listed_sizes(directory: Path) -> dict[str, str]:
    """Name -> size as ``ls -l`` shows them."""
    lines = run("ls", "-l", directory).splitlines()[1:]
    return {line.split()[-1]: line.split()[4] for line in lines}


def _requests_served(log: str) -> dict[str, int]:
    line = next(line for line in log.splitlines() if "requests served:" in line)
    pairs = line.split("requests served:", 1)[1].split(",")
    return {name: int(count) for name, count in (pair.split() for pair in pairs)}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _uid_without_account() -> int:
    import pwd  # noqa: PLC0415

    taken = {entry.pw_uid for entry in pwd.getpwall()}
    return next(uid for uid in range(40000, 50000) if uid not in taken)


def test_sed_i_keeps_the_files_metadata_comment_and_aliases(mountpoint: Path, populated) -> None:
    grid, _ = populated
    trailers = mountpoint / "gilda" / "trailers"
    lfn = "/grid/gilda/trailers/notes.txt"
    (trailers / "notes.txt").write_text("hello world\n")
    grid.addattrs("/grid/gilda/trailers", {"Runtime": "int", "Title": "varchar(32)"})
    grid.setattr(lfn, {"Runtime": 136, "Title": "Notes"})
    grid.set_comment(lfn, "read me")
    grid.aa(lfn, "/grid/gilda/notes-alias.txt")
    old_guid = grid.lg(lfn)
    old_copy = replica_file(grid, lfn, "cern-se")
    inode = os.stat(trailers / "notes.txt").st_ino

    run("sed", "-i", "s/world/grid/", trailers / "notes.txt")  # a new file renamed over it

    assert (trailers / "notes.txt").read_text() == "hello grid\n"
    assert os.stat(trailers / "notes.txt").st_ino != inode  # rename(2): the new file's inode
    assert grid.lg(lfn) != old_guid  # new content, new GUID
    assert not old_copy.exists()
    assert grid.getattr(lfn) == {"Runtime": 136, "Title": "Notes"}
    assert grid.stat(lfn).comment == "read me"
    assert grid.la(lfn) == [lfn, "/grid/gilda/notes-alias.txt"]
    assert (mountpoint / "gilda" / "notes-alias.txt").read_text() == "hello grid\n"
    assert sorted(os.listdir(trailers)) == sorted([*TRAILERS, "notes.txt"])


def test_mv_of_a_file_with_metadata_over_another_keeps_its_own(mountpoint: Path, populated) -> None:
    grid, _ = populated
    trailers = "/grid/gilda/trailers"
    grid.addattrs(trailers, {"Runtime": "int"})
    grid.setattr(f"{trailers}/alien.mpg", {"Runtime": 117})
    grid.setattr(f"{trailers}/amelie.mpg", {"Runtime": 122})
    grid.set_comment(f"{trailers}/amelie.mpg", "replaced")
    os.rename(
        mountpoint / "gilda" / "trailers" / "alien.mpg",
        mountpoint / "gilda" / "trailers" / "amelie.mpg",
    )
    assert grid.getattr(f"{trailers}/amelie.mpg") == {"Runtime": 117}
    assert grid.stat(f"{trailers}/amelie.mpg").comment == "replaced"  # alien had none


def test_a_file_created_read_only_is_written_through_its_descriptor(
    mountpoint: Path, populated
) -> None:
    grid, _ = populated
    path = mountpoint / "gilda" / "read-only"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o444)  # as cp of a 0444 file
    try:
        os.write(fd, b"written once\n")
    finally:
        os.close(fd)  # stores it: the mode is for later opens
    assert path.read_bytes() == b"written once\n"
    assert grid.stat("/grid/gilda/read-only").mode == 0o444
    with pytest.raises(PermissionError):
        path.write_bytes(b"again")
