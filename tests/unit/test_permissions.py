"""Mode bits, POSIX ACLs and ownership rules: pure tables, then the catalog with two users."""

from __future__ import annotations

import pytest

from gridfs.catalog import SUPERUSER, Catalog, Identity
from gridfs.catalog.permissions import (
    EXECUTE,
    READ,
    WRITE,
    AclEdit,
    AclEntry,
    AclTag,
    edit_acl,
    format_acl,
    inherit,
    is_allowed,
    parse_acl,
    parse_acl_keys,
)
from gridfs.errors import InvalidArgument, NotPermitted, PermissionDenied
from tests.conftest import ALICE, BOB

CAROL = Identity("carol", ("gilda",))
RW, RX, R = READ | WRITE, READ | EXECUTE, READ


def allowed(who: Identity, mode: int, want: int, acl: str = "", directory: bool = False) -> bool:
    extended = [e for e in parse_acl(acl) if e.tag not in (AclTag.USER_OBJ, AclTag.OTHER)]
    return is_allowed(
        who,
        owner="alice",
        group="gilda",
        mode=mode,
        acl=extended,
        want=want,
        is_directory=directory,
    )


@pytest.mark.parametrize(
    ("who", "mode", "want", "acl", "expected"),
    [
        (ALICE, 0o640, RW, "", True),
        (ALICE, 0o040, READ, "", False),  # the owner class decides for the owner
        (CAROL, 0o640, READ, "", True),
        (CAROL, 0o640, WRITE, "", False),
        (BOB, 0o640, READ, "", False),
        (BOB, 0o644, READ, "", True),
        (CAROL, 0o604, READ, "", False),  # a matching group with no rights denies
        (BOB, 0o600, READ, "user:bob:r--,group::---,mask::r--", True),
        (BOB, 0o600, WRITE, "user:bob:rw-,group::---,mask::r--", False),  # masked
        (BOB, 0o604, READ, "user:bob:---,group::---,mask::rwx", False),  # named user beats other
        (CAROL, 0o600, READ, "group::---,group:atlas:r--,group:gilda:r--,mask::r--", True),
        (BOB, 0o600, READ, "group::---,group:cms:rw-,mask::rwx", True),
        (SUPERUSER, 0o000, RW, "", True),
        (SUPERUSER, 0o600, EXECUTE, "", False),  # root executes nothing nobody may
        (SUPERUSER, 0o100, EXECUTE, "", True),
    ],
)
def test_access_check(who: Identity, mode: int, want: int, acl: str, expected: bool) -> None:
    assert allowed(who, mode, want, acl) is expected


def test_superuser_searches_any_directory() -> None:
    assert allowed(SUPERUSER, 0o000, EXECUTE, directory=True)


def test_acl_text_round_trips() -> None:
    text = (
        "user::rwx\nuser:bob:r-x\ngroup::r-x\ngroup:cms:rw-\nmask::rwx\nother::---\n"
        "default:user::rwx\ndefault:group::r-x\ndefault:other::---\n"
    )
    assert format_acl(parse_acl(text)) == text
    assert parse_acl("u::rw-, g::r--, o::r--  # a comment") == [
        AclEntry(False, AclTag.USER_OBJ, "", RW),
        AclEntry(False, AclTag.GROUP_OBJ, "", R),
        AclEntry(False, AclTag.OTHER, "", R),
    ]
    for bad in ("user:bob", "user:bob:rwz", "mask:x:rwx", "owner::rwx", "user:bob:rwxr"):
        with pytest.raises(InvalidArgument, match="ACL"):
            parse_acl(bad)


def test_acl_text_in_the_short_forms_setfacl_and_lfc_take() -> None:
    assert parse_acl("u:bob:rx,g:atlas:5,d:u:bob:rw,o::-,m:7,user:carol:wr") == [
        AclEntry(False, AclTag.USER, "bob", RX),
        AclEntry(False, AclTag.GROUP, "atlas", RX),
        AclEntry(True, AclTag.USER, "bob", RW),
        AclEntry(False, AclTag.OTHER, "", 0),
        AclEntry(False, AclTag.MASK, "", 7),
        AclEntry(False, AclTag.USER, "carol", RW),
    ]
    assert parse_acl_keys("user:bob,d:g:atlas,default:user:carol:rwx,mask::") == [
        (False, AclTag.USER, "bob"),
        (True, AclTag.GROUP, "atlas"),
        (True, AclTag.USER, "carol"),
        (False, AclTag.MASK, ""),
    ]
    for bad in ("u:bob:8", "u:bob:rr", "u:bob:", "d:u:bob"):
        with pytest.raises(InvalidArgument, match="ACL"):
            parse_acl(bad)


def test_getacl_text_shows_what_the_mask_cuts() -> None:
    text = format_acl(parse_acl("u::rw-,u:bob:rwx,g::r-x,g:cms:r--,m::r--,o::---,d:u:bob:rw-"))
    assert text.splitlines()[:5] == [
        "user::rw-",
        "user:bob:rwx\t#effective:r--",
        "group::r-x\t#effective:r--",
        "group:cms:r--",
        "mask::r--",
    ]
    assert text.endswith("default:user:bob:rw-\n")  # no default mask: nothing cut there


@pytest.mark.parametrize(
    ("current", "edit", "expected"),
    [
        # -m recomputes the mask from the group class, unless it gives one.
        (
            "u::rw-,u:bob:r-x,g::r--,m::r-x,o::---",
            AclEdit(modify=tuple(parse_acl("u:dave:rwx"))),
            "u::rw-,u:bob:r-x,u:dave:rwx,g::r--,m::rwx,o::---",
        ),
        (
            "u::rw-,g::r--,o::---",
            AclEdit(modify=tuple(parse_acl("u:dave:rwx,m::r--"))),
            "u::rw-,u:dave:rwx,g::r--,m::r--,o::---",
        ),
        # A default ACL named in part gets its base entries from the access ACL.
        (
            "u::rwx,g::r-x,o::--x",
            AclEdit(modify=tuple(parse_acl("d:u:bob:r-x"))),
            "u::rwx,g::r-x,o::--x,d:u::rwx,d:u:bob:r-x,d:g::r-x,d:m::r-x,d:o::--x",
        ),
        # -x removes (a missing entry is no error), and the mask shrinks; it stays.
        (
            "u::rw-,u:bob:rwx,g::r--,m::rwx,o::---",
            AclEdit(remove=((False, AclTag.USER, "bob"), (False, AclTag.USER, "eve"))),
            "u::rw-,g::r--,m::r--,o::---",
        ),
        # -b strips to the base entries, the owning group's own; -k drops the defaults.
        (
            "u::rw-,u:bob:rwx,g::r--,m::rwx,o::---,d:u::rwx,d:g::---,d:o::---",
            AclEdit(strip=True),
            "u::rw-,g::r--,o::---",
        ),
        (
            "u::rwx,u:bob:rwx,g::r--,m::rwx,o::---,d:u::rwx,d:g::---,d:o::---",
            AclEdit(drop_default=True),
            "u::rwx,u:bob:rwx,g::r--,m::rwx,o::---",
        ),
    ],
)
def test_acl_edits_as_setfacl_makes_them(current: str, edit: AclEdit, expected: str) -> None:
    assert sorted(edit_acl(parse_acl(current), edit)) == sorted(parse_acl(expected))


def test_acl_edits_keep_the_base_entries() -> None:
    with pytest.raises(InvalidArgument, match="group:: entry cannot be removed"):
        edit_acl(
            parse_acl("u::rw-,g::r--,o::---"), AclEdit(remove=((False, AclTag.GROUP_OBJ, ""),))
        )


def test_inheritance_of_default_acls() -> None:
    default = parse_acl("d:u::rwx,d:u:bob:rwx,d:g::r-x,d:m::rwx,d:o::---")
    mode, acl = inherit(default, 0o666, is_directory=False)
    assert mode == 0o660  # the mask (group class) is cut to the requested rw-
    assert AclEntry(False, AclTag.USER, "bob", 7) in acl
    assert AclEntry(False, AclTag.MASK, "", RW) in acl
    assert not [e for e in acl if e.default]
    mode, acl = inherit(default, 0o777, is_directory=True)
    assert mode == 0o770
    assert [e for e in acl if e.default] == default
    assert inherit([], 0o644, is_directory=False) == (0o644, [])


# -- the catalog, with several users -------------------------------------------


@pytest.fixture
def shared(catalog: Catalog) -> tuple[Catalog, Catalog, Catalog]:
    """Alice owns /grid/gilda (drwxr-x---, group gilda); Bob and Carol look on."""
    admin = catalog.as_identity(SUPERUSER)
    admin.mkdir("/grid/gilda", 0o750, parents=True)
    assert admin.stat("/grid").mode == 0o775
    admin.chown("/grid/gilda", "alice", "gilda")
    catalog.add_file("/grid/gilda/secret", size=1, mode=0o640)
    return catalog, catalog.as_identity(BOB), catalog.as_identity(CAROL)


def test_search_permission_on_every_ancestor(shared) -> None:
    alice, bob, carol = shared
    with pytest.raises(PermissionDenied) as info:
        bob.stat("/grid/gilda/secret")
    assert info.value.errno == 13
    assert carol.stat("/grid/gilda/secret").size == 1
    alice.chmod("/grid/gilda", 0o700)
    with pytest.raises(PermissionDenied):
        carol.stat("/grid/gilda/secret")
    for call in (lambda: carol.replicas_many(["/grid/gilda/secret"]),):
        assert call() == {}
    with pytest.raises(PermissionDenied):
        carol.lfns_of(alice.guid_of("/grid/gilda/secret"))


def test_read_and_write_permissions(shared) -> None:
    alice, bob, carol = shared
    assert [e.name for e in carol.iterdir("/grid/gilda")] == ["secret"]
    assert carol.replicas("/grid/gilda/secret") == []
    with pytest.raises(PermissionDenied):
        carol.add_file("/grid/gilda/mine", size=1)
    with pytest.raises(PermissionDenied):
        carol.unlink("/grid/gilda/secret")
    with pytest.raises(PermissionDenied):
        carol.commit_version(
            carol.stat("/grid/gilda/secret").id,
            size=5,
            checksum="00000005",
            checksum_type="adler32",
            se="se",
            surl="srm://se/v2",
        )
    with pytest.raises(PermissionDenied):
        carol.add_replica(alice.guid_of("/grid/gilda/secret"), "se", "srm://se/x")
    alice.chmod("/grid/gilda/secret", 0o600)
    with pytest.raises(PermissionDenied):
        carol.replicas("/grid/gilda/secret")
    with pytest.raises(PermissionDenied):
        bob.iterdir("/grid/gilda")


def test_calls_by_id_check_the_walk_to_the_entry(shared) -> None:
    alice, bob, carol = shared
    alice.mkdir("/grid/gilda/deep/er", 0o755, parents=True)
    alice.add_file("/grid/gilda/deep/er/open", size=1, mode=0o644)
    deep, inner = alice.stat("/grid/gilda/deep"), alice.stat("/grid/gilda/deep/er")
    target = alice.stat("/grid/gilda/deep/er/open").id
    assert carol.stat_walked(target, READ).size == 1
    assert carol.lookup(inner.id, "open").id == target
    with pytest.raises(PermissionDenied):
        carol.stat_walked(target, WRITE)
    # Bob may search neither /grid/gilda (rwxr-x---) nor, so, anything below it.
    for call in (
        lambda: bob.stat_walked(target),
        lambda: bob.stat_replicas(target),
        lambda: bob.lookup(inner.id, "open"),
        lambda: bob.lookup(deep.id, "er"),
    ):
        with pytest.raises(PermissionDenied, match="/grid/gilda/deep"):
            call()
    assert bob.stat_id(target).size == 1  # the plain inode call checks nothing


def test_ownership_rules(shared) -> None:
    alice, bob, carol = shared
    with pytest.raises(NotPermitted) as info:
        carol.chmod("/grid/gilda/secret", 0o777)
    assert info.value.errno == 1
    with pytest.raises(NotPermitted):
        carol.chown("/grid/gilda/secret", group="gilda")
    with pytest.raises(NotPermitted):
        carol.setacl("/grid/gilda/secret", parse_acl("u::rwx,g::rwx,o::rwx"))
    with pytest.raises(NotPermitted):
        carol.utime("/grid/gilda/secret", 1, 1)
    admin = alice.as_identity(SUPERUSER)
    assert admin.chown("/grid/gilda/secret", "bob", "cms").owner == "bob"
    alice.chmod("/grid/gilda", 0o751)  # others may search, so Bob reaches his file
    assert bob.chmod("/grid/gilda/secret", 0o604).mode == 0o604


def test_sticky_directories(catalog: Catalog) -> None:
    admin = catalog.as_identity(SUPERUSER)
    admin.mkdir("/scratch", 0o1777)
    alice, bob = catalog, catalog.as_identity(BOB)
    alice.add_file("/scratch/a", size=1)
    bob.add_file("/scratch/b", size=1)
    with pytest.raises(NotPermitted, match="sticky"):
        bob.unlink("/scratch/a")
    with pytest.raises(NotPermitted, match="sticky"):
        bob.rename("/scratch/a", "/scratch/c")
    with pytest.raises(NotPermitted, match="sticky"):
        bob.rename("/scratch/b", "/scratch/a")  # would replace Alice's file
    alice.unlink("/scratch/a")
    admin.unlink("/scratch/b")


def test_acls_grant_and_are_inherited(shared) -> None:
    alice, bob, _ = shared
    alice.setacl("/grid/gilda", parse_acl("u::rwx,u:bob:r-x,g::r-x,o::---"))
    acl = format_acl(alice.getacl("/grid/gilda"))
    assert acl == "user::rwx\nuser:bob:r-x\ngroup::r-x\nmask::r-x\nother::---\n"
    assert alice.stat("/grid/gilda").mode == 0o750  # the group bits show the mask
    assert bob.stat("/grid/gilda/secret").size == 1  # search is all that stat needs
    with pytest.raises(PermissionDenied):
        bob.replicas("/grid/gilda/secret")  # rw-r-----, and no entry for Bob there
    alice.setacl("/grid/gilda/secret", parse_acl("u::rw-,u:bob:r--,g::r--,o::---"))
    assert bob.stat("/grid/gilda/secret").size == 1
    assert bob.replicas("/grid/gilda/secret") == []
    alice.chmod("/grid/gilda/secret", 0o600)  # a chmod of the group bits sets the mask
    with pytest.raises(PermissionDenied):
        bob.replicas("/grid/gilda/secret")

    alice.setacl(
        "/grid/gilda",
        parse_acl("u::rwx,g::r-x,o::---,d:u::rwx,d:u:bob:rwx,d:g::r-x,d:m::rwx,d:o::---,u:bob:rwx"),
    )
    made = alice.mkdir("/grid/gilda/shared", 0o777)
    assert made.mode == 0o770
    bob.add_file("/grid/gilda/shared/from-bob", size=2, mode=0o644)
    entry = bob.stat("/grid/gilda/shared/from-bob")
    assert entry.mode == 0o640  # the inherited mask is cut to the requested group r--
    assert "default:user:bob:rwx" in format_acl(alice.getacl("/grid/gilda/shared"))
    with pytest.raises(InvalidArgument, match="default ACL"):
        alice.setacl(
            "/grid/gilda/secret", parse_acl("u::rw-,g::r--,o::---,d:u::rwx,d:g::---,d:o::---")
        )
    with pytest.raises(InvalidArgument, match="exactly one"):
        alice.setacl("/grid/gilda/secret", parse_acl("u::rw-,o::---"))


def test_edit_acl_is_one_catalog_call_for_the_owner(shared) -> None:
    alice, bob, carol = shared
    alice.chmod("/grid/gilda", 0o755)
    alice.setacl("/grid/gilda/secret", parse_acl("u::rw-,u:bob:r--,g::r--,o::---"))
    assert not bob.access("/grid/gilda/secret", WRITE)
    edited = alice.edit_acl("/grid/gilda/secret", AclEdit(modify=tuple(parse_acl("u:bob:rw"))))
    assert AclEntry(False, AclTag.MASK, "", RW) in edited
    assert alice.stat("/grid/gilda/secret").mode == 0o660  # the group bits show the new mask
    assert bob.access("/grid/gilda/secret", WRITE)
    with pytest.raises(NotPermitted):
        carol.edit_acl("/grid/gilda/secret", AclEdit(strip=True))
    with pytest.raises(InvalidArgument, match="only a directory"):
        alice.edit_acl("/grid/gilda/secret", AclEdit(modify=tuple(parse_acl("d:u:bob:r"))))
    assert alice.getacl("/grid/gilda/secret") == edited


def test_setgid_directories_pass_their_group_on(catalog: Catalog) -> None:
    admin = catalog.as_identity(SUPERUSER)
    admin.mkdir("/grid/atlas", 0o2777, parents=True)
    admin.chown("/grid/atlas", group="atlas-prod")
    made = catalog.mkdir("/grid/atlas/run1")
    assert made.group == "atlas-prod"
    assert made.mode & 0o2000
    assert catalog.add_file("/grid/atlas/run1/f", size=1).group == "atlas-prod"
