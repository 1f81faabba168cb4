"""The one-query path walk and lookups (gridfs.catalog.queries) answer as the ORM walk does."""

from __future__ import annotations

import functools

import pytest

from gridfs.catalog import Catalog, Stat, parse_acl
from gridfs.errors import GridError
from tests.conftest import BOB

PATHS = [
    "/grid",
    "/grid/gilda/open/f",
    "/grid/gilda/closed/f",
    "/grid/gilda/closed/missing",
    "/grid/gilda/acl/f",
    "/grid/gilda/acl",  # an ACL on the entry itself: stat needs none of it
    "/grid/gilda/open/f/below",
    "/grid/gilda/open/missing/below",
    "/grid/gilda/link/f",
    "/grid/gilda/link",
    "/grid/gilda/dangling",
]


def _answer(call) -> tuple[str, object]:
    try:
        found = call()
    except GridError as exc:
        return type(exc).__name__, exc.errno
    assert isinstance(found, Stat)
    return "ok", found


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_one_query_walks_give_what_the_orm_walk_gives(catalog: Catalog, who: str) -> None:
    catalog.mkdir("/grid/gilda/open", 0o755, parents=True)
    catalog.chmod("/grid/gilda", 0o755)
    catalog.add_file("/grid/gilda/open/f", size=1)
    catalog.mkdir("/grid/gilda/closed", 0o700)
    catalog.add_file("/grid/gilda/closed/f", size=1)
    catalog.mkdir("/grid/gilda/acl", 0o755)
    catalog.add_file("/grid/gilda/acl/f", size=1)
    catalog.setacl(
        "/grid/gilda/acl", parse_acl("user::rwx,user:bob:---,group::r-x,mask::r-x,other::r-x")
    )
    catalog.symlink("open", "/grid/gilda/link")
    catalog.symlink("nowhere", "/grid/gilda/dangling")
    identity = catalog.identity if who == "alice" else BOB
    seen = catalog.as_identity(identity)
    store = seen.store
    for lfn in PATHS:
        for follow in (True, False):
            fast = _answer(functools.partial(seen.stat, lfn, follow_symlinks=follow))

            def slow(lfn: str = lfn, follow: bool = follow) -> Stat:
                with store.session() as session:
                    return store.to_stat(store.resolve(session, lfn, follow_last=follow))

            assert fast == _answer(slow), (who, lfn, follow)


def test_children_are_what_lookups_give(catalog: Catalog) -> None:
    catalog.mkdir("/grid/gilda/many", parents=True)
    for index in range(7):
        catalog.add_file(f"/grid/gilda/many/f{index}", size=index)
    directory = catalog.stat("/grid/gilda/many").id
    first = catalog.children(directory, limit=4)
    rest = catalog.children(directory, after=first[-1].id, limit=4)
    assert [e.name for e in first + rest] == [f"f{i}" for i in range(7)]
    assert all(catalog.lookup(directory, e.name) == e for e in first + rest)
    catalog.chmod("/grid/gilda/many", 0o600)
    bob = catalog.as_identity(BOB)
    with pytest.raises(GridError) as denied:
        bob.children(directory, limit=10)
    with pytest.raises(GridError) as looked_up:
        bob.lookup(directory, "f1")
    assert denied.value.errno == looked_up.value.errno
