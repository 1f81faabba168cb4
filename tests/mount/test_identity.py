"""A shared mount (allow_other): each local caller acts as its own grid identity."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridfs.catalog import parse_acl
from tests.mount.mounting import mounted, needs_fuse

pytestmark = [
    pytest.mark.mount,
    needs_fuse,
    pytest.mark.skipif(os.geteuid() != 0, reason="acting as another local user needs root"),
]

NOBODY = 65534


def as_nobody(*command: str | Path) -> subprocess.CompletedProcess[str]:
    """``command`` run as the local user nobody (uid and gid 65534, no other groups)."""
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        + [str(part) for part in command],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory other local users can reach (pytest's own temp dirs are private)."""
    directory = Path(tempfile.mkdtemp(prefix="gridfs-shared-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_another_local_user_gets_what_the_catalog_allows(
    config_path: Path, populated, shared_dir: Path, tmp_path: Path
) -> None:
    grid, contents = populated
    (shared_dir / "mnt").mkdir()
    grid.chmod("/grid/gilda", 0o777)
    # The mode bits let everyone read; the ACL takes reading away from nobody.
    grid.setacl(
        "/grid/gilda/trailers/amelie.mpg",
        parse_acl("user::rw-,user:nobody:---,group::r--,mask::r--,other::r--"),
    )
    grid.mkdir("/grid/gilda/drop", 0o777)
    grid.setacl(
        "/grid/gilda/drop", parse_acl("user::rwx,user:nobody:r-x,group::rwx,mask::rwx,other::rwx")
    )
    with mounted(
        config_path, shared_dir / "mnt", tmp_path / "mount.log", "-o", "allow_other"
    ) as target:
        trailers = target / "gilda" / "trailers"
        assert os.stat(trailers / "amelie.mpg").st_mode & 0o777 == 0o644
        denied = as_nobody("cat", trailers / "amelie.mpg")
        assert denied.returncode != 0
        assert "Permission denied" in denied.stderr
        allowed = as_nobody("sha256sum", trailers / "alien.mpg")
        assert allowed.returncode == 0, allowed.stderr
        assert allowed.stdout.split()[0] == hashlib.sha256(contents["alien.mpg"]).hexdigest()
        # The mounting user (alice in the grid) still reads it.
        assert (trailers / "amelie.mpg").read_bytes() == contents["amelie.mpg"]

        refused = as_nobody("mkdir", target / "gilda" / "drop" / "mine")
        assert refused.returncode != 0
        assert "Permission denied" in refused.stderr
        made = as_nobody("mkdir", target / "gilda" / "mine")
        assert made.returncode == 0, made.stderr
        entry = grid.stat("/grid/gilda/mine")
        assert (entry.owner, entry.group) == ("nobody", "nogroup")
        assert os.stat(target / "gilda" / "mine").st_uid == NOBODY
        written = as_nobody("sh", "-c", f"echo from nobody > {target / 'gilda' / 'mine' / 'n'}")
        assert written.returncode == 0, written.stderr
        assert grid.stat("/grid/gilda/mine/n").owner == "nobody"
        assert (target / "gilda" / "mine" / "n").read_text() == "from nobody\n"


def test_the_mount_decides_as_the_catalog_named_entries_and_mask_included(
    config_path: Path, populated, shared_dir: Path, tmp_path: Path
) -> None:
    grid, _ = populated
    (shared_dir / "mnt").mkdir()
    grid.chmod("/grid/gilda", 0o755)
    grid.mkdir("/grid/gilda/private", 0o700)
    grid.setacl("/grid/gilda/private", parse_acl("user::rwx,user:nobody:--x,group::---,other::---"))
    for name, acl in [
        ("secret.txt", "user::rw-,user:nobody:r--,group::---,other::---"),
        ("masked.txt", "user::rw-,user:nobody:rw-,group::---,mask::r--,other::---"),
        ("closed.txt", ""),
    ]:
        with grid.open(f"/grid/gilda/private/{name}", "wb") as stream:
            stream.write(b"for nobody\n")
        grid.chmod(f"/grid/gilda/private/{name}", 0o600)
        if acl:
            grid.setacl(f"/grid/gilda/private/{name}", parse_acl(acl))
    grid.mkdir("/grid/gilda/shut", 0o700)  # no ACL: nobody may not search it
    with grid.open("/grid/gilda/shut/open.txt", "wb") as stream:
        stream.write(b"readable by all, below a shut directory\n")
    with mounted(
        config_path, shared_dir / "mnt", tmp_path / "mount.log", "-o", "allow_other"
    ) as target:
        private = target / "gilda" / "private"
        read = as_nobody("cat", private / "secret.txt")
        assert (read.returncode, read.stdout) == (0, "for nobody\n"), read.stderr
        assert "Permission denied" in as_nobody("cat", private / "closed.txt").stderr
        assert "Permission denied" in as_nobody("ls", private).stderr  # --x: search only
        # access(2) and chdir ask the catalog too; the mask cuts nobody's rw- to r--.
        tests = "test -r secret.txt && ! test -w secret.txt && ! test -r closed.txt"
        checked = as_nobody("sh", "-c", f"cd {private} && {tests} && test -r masked.txt")
        assert checked.returncode == 0, checked.stderr
        refused = as_nobody("sh", "-c", f"echo x >> {private / 'masked.txt'}")
        assert "Permission denied" in refused.stderr
        assert grid.stat("/grid/gilda/private/masked.txt").size == len(b"for nobody\n")
        # A name the kernel holds from the mounting user's walk is still checked.
        shut = target / "gilda" / "shut" / "open.txt"
        assert shut.read_bytes().startswith(b"readable")
        assert "Permission denied" in as_nobody("cat", shut).stderr
        assert "Permission denied" in as_nobody("ls", shut.parent).stderr


def test_named_entries_name_grid_users_and_groups_as_the_tables_map_callers(
    config_path: Path, populated, shared_dir: Path, tmp_path: Path
) -> None:
    grid, _ = populated
    (shared_dir / "mnt").mkdir()
    # Local uid and gid 65534 stand for grid user dave and group physics here.
    text = config_path.read_text()
    config_path.write_text(text + "[mount.users]\ndave = 65534\n[mount.groups]\nphysics = 65534\n")
    grid.chmod("/grid/gilda", 0o750)
    grid.setacl("/grid/gilda", parse_acl("u::rwx,g::r-x,o::---,u:dave:--x"))
    grid.mkdir("/grid/gilda/team", 0o700)
    grid.setacl("/grid/gilda/team", parse_acl("u::rwx,g::---,o::---,g:physics:rwx"))
    with grid.open("/grid/gilda/team/notes", "wb") as stream:
        stream.write(b"physics only\n")
    grid.setacl("/grid/gilda/team/notes", parse_acl("u::rw-,g::---,o::---,u:nobody:rw-"))
    with mounted(
        config_path, shared_dir / "mnt", tmp_path / "mount.log", "-o", "allow_other"
    ) as target:
        team = target / "gilda" / "team"
        listed = as_nobody("ls", team)
        assert (listed.returncode, listed.stdout) == (0, "notes\n"), listed.stderr
        # The caller is dave (group physics), not the grid user nobody: no entry for it.
        assert "Permission denied" in as_nobody("cat", team / "notes").stderr
        made = as_nobody("mkdir", team / "by-dave")
        assert made.returncode == 0, made.stderr
        entry = grid.stat("/grid/gilda/team/by-dave")
        assert (entry.owner, entry.group) == ("dave", "physics")


def test_owner_rules_and_the_sticky_bit_are_the_catalogs(
    config_path: Path, populated, shared_dir: Path, tmp_path: Path
) -> None:
    grid, _ = populated
    (shared_dir / "mnt").mkdir()
    grid.chmod("/grid/gilda", 0o1777)  # everyone may create; only owners remove
    with grid.open("/grid/gilda/alices", "wb") as stream:
        stream.write(b"alice's\n")
    grid.chmod("/grid/gilda/alices", 0o666)
    with mounted(
        config_path, shared_dir / "mnt", tmp_path / "mount.log", "-o", "allow_other"
    ) as target:
        alices = target / "gilda" / "alices"
        assert "Operation not permitted" in as_nobody("chmod", "600", alices).stderr
        assert "Operation not permitted" in as_nobody("rm", "-f", alices).stderr
        assert "Operation not permitted" in as_nobody("mv", alices, target / "gilda" / "x").stderr
        assert grid.stat("/grid/gilda/alices").mode & 0o777 == 0o666
        mine = as_nobody(
            "sh", "-c", f"echo n > {target / 'gilda' / 'n'} && rm {target / 'gilda' / 'n'}"
        )
        assert mine.returncode == 0, mine.stderr


def _as(uid: int, gid: int, groups: str, *command: str | Path) -> subprocess.CompletedProcess[str]:
    """``command`` run as local ``uid``/``gid`` with supplementary ``groups`` ("" for none)."""
    supplementary = [f"--groups={groups}"] if groups else ["--clear-groups"]
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", *supplementary]
        + [str(part) for part in command],
        capture_output=True,
        text=True,
        check=False,
    )


def _with_tables(config_path: Path) -> None:
    """Local uids 65531 and 65532 are grid users u1 and u2; gids 65531..65533 groups g1..g3."""
    text = config_path.read_text()
    config_path.write_text(
        text + "[mount.users]\nu1 = 65531\nu2 = 65532\n"
        "[mount.groups]\ng1 = 65531\ng2 = 65532\ng3 = 65533\n"
    )


def test_chown_by_its_owner_clears_the_set_id_bits_as_linux_does(
    config_path: Path, populated, shared_dir: Path, tmp_path: Path
) -> None:
    grid, _ = populated
    (shared_dir / "mnt").mkdir()
    _with_tables(config_path)
    grid.chmod("/grid/gilda", 0o777)
    with mounted(
        config_path, shared_dir / "mnt", tmp_path / "mount.log", "-o", "allow_other"
    ) as target:
        program = target / "gilda" / "program"
        made = _as(65531, 65531, "65532", "sh", "-c", f"touch {program} && chmod 6755 {program}")
        assert made.returncode == 0, made.stderr
        assert os.stat(program).st_mode & 0o7777 == 0o6755
        changed = _as(65531, 65531, "65532", "chgrp", "65532", program)
        assert changed.returncode == 0, changed.stderr
        assert os.stat(program).st_mode & 0o7777 == 0o755  # both gone: it is g+x
        entry = grid.stat("/grid/gilda/program")
        assert (entry.group, entry.mode) == ("g2", 0o755)
        # Without group execute, set-group-ID means mandatory locking: it stays.
        _as(65531, 65531, "65532", "chmod", "6745", program)
        assert _as(65531, 65531, "65532", "chgrp", "65531", program).returncode == 0
        assert os.stat(program).st_mode & 0o7777 == 0o2745
        # A refused chown (a group the caller is not in) changes nothing.
        _as(65531, 65531, "65532", "chmod", "6755", program)
        refused = _as(65531, 65531, "65532", "chgrp", "65533", program)
        assert "Operation not permitted" in refused.stderr
        assert os.stat(program).st_mode & 0o7777 == 0o6755
        # A directory keeps them, as on Linux.
        directory = target / "gilda" / "shared"
        _as(65531, 65531, "65532", "sh", "-c", f"mkdir {directory} && chmod 6775 {directory}")
        assert _as(65531, 65531, "65532", "chgrp", "65532", directory).returncode == 0
        assert os.stat(directory).st_mode & 0o7777 == 0o6775


def test_the_callers_groups_are_its_processs_after_setgroups(
    config_path: Path, populated, shared_dir: Path, tmp_path: Path
) -> None:
    grid, _ = populated
    (shared_dir / "mnt").mkdir()
    _with_tables(config_path)
    grid.chmod("/grid/gilda", 0o755)
    grid.mkdir("/grid/gilda/g3-only", 0o770)
    grid.chown("/grid/gilda/g3-only", group="gilda")
    grid.setacl("/grid/gilda/g3-only", parse_acl("u::rwx,g::---,g:g3:rwx,mask::rwx,o::---"))
    with mounted(
        config_path, shared_dir / "mnt", tmp_path / "mount.log", "-o", "allow_other"
    ) as target:
        inside = target / "gilda" / "g3-only"
        # u1's account has no groups here: only a process holding g3 gets in.
        assert "Permission denied" in _as(65531, 65531, "", "ls", inside).stderr
        made = _as(65531, 65531, "65533", "touch", inside / "by-u1")
        assert made.returncode == 0, made.stderr
        assert _as(65531, 65531, "65532,65533", "ls", inside).stdout == "by-u1\n"
        # Another process of u1 without g3 is judged without it (the cache is per process).
        assert "Permission denied" in _as(65531, 65531, "65532", "ls", inside).stderr
    assert grid.stat("/grid/gilda/g3-only/by-u1").owner == "u1"


def test_lchown_and_lutimes_change_the_link_itself(
    config_path: Path, populated, tmp_path: Path
) -> None:
    grid, _ = populated
    text = config_path.read_text().replace('groups = ["gilda"]', 'groups = ["gilda", "atlas"]')
    config_path.write_text(text + "[mount.groups]\natlas = 2001\n")
    before = grid.stat("/grid/gilda/trailers/matrix.mpg")
    with mounted(config_path, tmp_path / "mnt", tmp_path / "mount.log") as target:
        link = target / "gilda" / "neo.mpg"
        os.utime(link, ns=(1_000_000_000, 2_000_000_000), follow_symlinks=False)
        os.chown(link, -1, 2001, follow_symlinks=False)
        shown = os.lstat(link)
        assert (shown.st_atime_ns, shown.st_mtime_ns, shown.st_gid) == (
            1_000_000_000,
            2_000_000_000,
            2001,
        )
        assert os.stat(link).st_mtime_ns == before.mtime_ns  # the file it leads to is untouched
    entry = grid.lstat("/grid/gilda/neo.mpg")
    assert (entry.atime_ns, entry.mtime_ns, entry.group) == (1_000_000_000, 2_000_000_000, "atlas")
    after = grid.stat("/grid/gilda/trailers/matrix.mpg")
    assert (after.mtime_ns, after.group) == (before.mtime_ns, before.group)
