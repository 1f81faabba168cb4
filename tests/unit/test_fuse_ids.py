"""Grid names as local ids and local callers as grid identities (gridfs.fuse.ids)."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

pytest.importorskip("pyfuse3")

from gridfs.catalog import Identity
from gridfs.errors import InvalidArgument
from gridfs.fuse.ids import NOBODY, IdMapper, ProcessGroups

ALICE = Identity("/DC=org/CN=Alice", ("gilda", "atlas"))


def mapper() -> IdMapper:
    return IdMapper(
        ALICE,
        users={"/DC=org/CN=Bob": 12345},
        groups={"atlas": 23456, "cms": 34567},
        fallback_uid=60000,
        fallback_gid=60001,
        own_uid=1000,
        own_gid=1000,
    )


def test_grid_names_show_as_local_ids() -> None:
    ids = mapper()
    assert ids.uid("/DC=org/CN=Alice") == 1000  # the mounting user
    assert ids.gid("gilda") == 1000  # its primary group
    assert ids.uid("/DC=org/CN=Bob") == 12345  # the table
    assert ids.gid("atlas") == 23456
    assert ids.uid("root") == pwd.getpwnam("root").pw_uid  # a local account of that name
    assert ids.gid("root") == grp.getgrnam("root").gr_gid
    assert ids.uid("/DC=org/CN=Carol") == 60000  # nobody knows: the fallback
    assert ids.gid("no-such-group") == 60001


def test_local_ids_back_to_grid_names() -> None:
    ids = mapper()
    assert ids.owner(1000) == "/DC=org/CN=Alice"
    assert ids.owner(12345) == "/DC=org/CN=Bob"
    assert ids.group(34567) == "cms"
    assert ids.owner(0) == "root"
    free = next(uid for uid in range(4242, 9999) if uid not in {p.pw_uid for p in pwd.getpwall()})
    # An id without a name is given as its number, and shows as that id again.
    assert ids.owner(free) == str(free)
    assert ids.uid(str(free)) == free
    assert ids.group(free) == str(free)
    assert ids.gid(str(free)) == free
    assert ids.caller(free, free) == NOBODY  # a caller still needs a grid name
    with pytest.raises(InvalidArgument):
        ids.owner(2**32 - 1)


def test_callers_act_as_grid_identities() -> None:
    ids = mapper()
    assert ids.caller(1000, 1000) is ALICE
    bob = ids.caller(12345, 34567)
    assert bob == Identity("/DC=org/CN=Bob", ("cms",))
    root = ids.caller(0, 0)
    assert (root.user, root.group, root.superuser) == ("root", "root", False)
    unknown = max({p.pw_uid for p in pwd.getpwall()}) + 1000
    assert ids.caller(unknown, 0) == NOBODY


def test_a_table_entry_wins_over_a_local_account_of_the_same_name() -> None:
    ids = IdMapper(ALICE, users={"root": 5000}, own_uid=1000, own_gid=1000)
    assert ids.uid("root") == 5000
    assert ids.user_name(5000) == "root"
    assert ids.user_name(0) is None  # local root is not the grid's "root" here


def _status(proc: Path, pid: int, groups: str) -> None:
    (proc / str(pid)).mkdir(exist_ok=True)
    (proc / str(pid) / "status").write_text(f"Name:\tx\nUid:\t12345\nGroups:\t{groups}\n")


def test_a_callers_groups_are_its_process_groups_not_its_accounts(tmp_path: Path) -> None:
    processes = ProcessGroups(ttl=60, proc=str(tmp_path))
    ids = IdMapper(
        ALICE,
        users={"/DC=org/CN=Bob": 12345},
        groups={"atlas": 23456, "cms": 34567},
        own_uid=1000,
        own_gid=1000,
        processes=processes,
    )
    _status(tmp_path, 77, "23456 34567 ")  # after setgroups(): atlas and cms
    _status(tmp_path, 78, "")  # setgroups(0, NULL): none but the primary one
    assert ids.caller(12345, 34567, 77) == Identity("/DC=org/CN=Bob", ("cms", "atlas"))
    assert ids.caller(12345, 23456, 78) == Identity("/DC=org/CN=Bob", ("atlas",))
    # Kept for the ttl: a change within it is seen later; a process gone falls back.
    _status(tmp_path, 77, "")
    assert ids.caller(12345, 34567, 77).groups == ("cms", "atlas")
    assert ids.caller(12345, 34567, 79) == Identity("/DC=org/CN=Bob", ("cms",))  # no /proc/79
    assert ids.caller(1000, 1000, 77) is ALICE  # the mounting user is its identity


def test_process_groups_are_read_again_after_the_ttl(tmp_path: Path) -> None:
    processes = ProcessGroups(ttl=0, proc=str(tmp_path))
    _status(tmp_path, 5, "1 2")
    assert processes.groups(5) == (1, 2)
    _status(tmp_path, 5, "3")
    assert processes.groups(5) == (3,)
    assert ProcessGroups().groups(os.getpid()) == tuple(os.getgroups())
