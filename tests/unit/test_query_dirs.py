"""The virtual query directories of the mount, called without the kernel."""

from __future__ import annotations

import errno

import pytest

from gridfs.catalog import Stat
from gridfs.errors import GridError
from gridfs.fuse import queries as queries_module
from gridfs.fuse.queries import QueryDirectories, VirtualEntry
from gridfs.gfal import Grid, Nodes
from tests.conftest import BOB

MOVIES = "/grid/gilda/movies"


@pytest.fixture
def movies(any_grid: Grid) -> Grid:
    """Movies with a Runtime and a Genre, in a directory and a subdirectory, on both databases."""
    grid = any_grid
    for directory in (MOVIES, f"{MOVIES}/old", f"{MOVIES}/old/older"):
        grid.makedirs(directory)
        grid.setxattr(directory, "user.schema.Runtime", b"int")
        grid.setxattr(directory, "user.schema.Genre", b"varchar(32)")
    for lfn, runtime, genre in [
        (f"{MOVIES}/matrix.mpg", 136, "Sci-Fi"),
        (f"{MOVIES}/amelie.mpg", 122, "Comedy"),
        (f"{MOVIES}/short.mpg", 12, "Comedy"),
        (f"{MOVIES}/old/chaplin.mpg", 87, "Comedy"),
        (f"{MOVIES}/old/older/lumiere.mpg", 1, "Documentary"),
        (f"{MOVIES}/old/metropolis.mpg", 153, "Sci-Fi"),
    ]:
        with grid.open(lfn, "wb") as stream:
            stream.write(lfn.encode())
        grid.setxattr(lfn, "user.Runtime", str(runtime).encode())
        grid.setxattr(lfn, "user.Genre", genre.encode())
    grid.setxattr(f"{MOVIES}/old", "user.Genre", b"Comedy")  # directories match too
    grid.mkdir(f"{MOVIES}/old/empty")
    grid.setxattr(f"{MOVIES}/old/empty", "user.Genre", b"Comedy")
    return grid


def names(entries: list[tuple[str, Stat | VirtualEntry]]) -> list[str]:
    return [name for name, _ in entries]


def test_a_condition_lists_the_matching_entries_as_themselves(movies: Grid) -> None:
    queries = QueryDirectories()
    directory = movies.stat(MOVIES)
    query = queries.query_dir(Nodes(movies), directory.id)
    result = queries.lookup(Nodes(movies), query, 'Genre = "Comedy" and Runtime > 100')
    assert isinstance(result, VirtualEntry)
    assert names(queries.listing(Nodes(movies), result)) == ["amelie.mpg"]
    comedies = queries.lookup(Nodes(movies), query, "Genre = 'Comedy'")
    listed = dict(queries.listing(Nodes(movies), comedies))
    assert sorted(listed) == ["amelie.mpg", "old", "short.mpg"]
    amelie = listed["amelie.mpg"]
    assert isinstance(amelie, Stat)
    assert amelie.id == movies.stat(f"{MOVIES}/amelie.mpg").id  # the file itself
    old = listed["old"]
    assert isinstance(old, VirtualEntry)
    assert old.kind == "link"
    assert old.target == "../../old"  # from .query/<condition>/ back to the real directory
    assert queries.lookup(Nodes(movies), comedies, "short.mpg") == listed["short.mpg"]


def test_the_recursive_form_keeps_the_tree(movies: Grid) -> None:
    queries = QueryDirectories()
    query = queries.query_dir(Nodes(movies), movies.stat(MOVIES).id)
    recursive = queries.lookup(Nodes(movies), query, "recursive")
    assert isinstance(recursive, VirtualEntry)
    result = queries.lookup(Nodes(movies), recursive, "Runtime < 100")
    assert isinstance(result, VirtualEntry)
    top = dict(queries.listing(Nodes(movies), result))
    assert sorted(top) == ["old", "short.mpg"]
    old = top["old"]
    assert isinstance(old, VirtualEntry)
    assert old.kind == "result"
    below = dict(queries.listing(Nodes(movies), old))
    assert sorted(below) == ["chaplin.mpg", "older"]
    older = below["older"]
    assert isinstance(older, VirtualEntry)
    assert names(queries.listing(Nodes(movies), older)) == ["lumiere.mpg"]
    # A matching directory links back to the real one; one with matches below
    # is the tree of those matches.
    comedies = queries.lookup(Nodes(movies), recursive, "Genre = 'Comedy'")
    assert isinstance(comedies, VirtualEntry)
    old = dict(queries.listing(Nodes(movies), comedies))["old"]
    assert isinstance(old, VirtualEntry)
    assert old.kind == "result"
    link = dict(queries.listing(Nodes(movies), old))["empty"]
    assert isinstance(link, VirtualEntry)
    assert link.kind == "link"
    assert link.target == "../../../../old/empty"


def test_saved_queries_appear_by_name(movies: Grid) -> None:
    movies.save_query(MOVIES, "scifi", "Genre = 'Sci-Fi'", recursive=True)
    movies.save_query(MOVIES, "long", "Runtime > 130")
    queries = QueryDirectories()
    query = queries.query_dir(Nodes(movies), movies.stat(MOVIES).id)
    listed = dict(queries.listing(Nodes(movies), query))
    assert sorted(listed) == ["long", "scifi"]
    long = listed["long"]
    assert isinstance(long, VirtualEntry)
    assert names(queries.listing(Nodes(movies), long)) == ["matrix.mpg"]
    scifi = queries.lookup(Nodes(movies), query, "scifi")
    assert isinstance(scifi, VirtualEntry)
    assert sorted(names(queries.listing(Nodes(movies), scifi))) == ["matrix.mpg", "old"]
    with pytest.raises(GridError) as caught:
        queries.lookup(Nodes(movies), query, "unsaved")
    assert caught.value.errno == errno.ENOENT


@pytest.mark.parametrize(
    "condition",
    ["Runtime >", "Runtime > 'long'", "Nothing = 1", "x'; DROP TABLE entries; --", "((("],
)
def test_a_malformed_condition_is_einval_and_harms_nothing(movies: Grid, condition: str) -> None:
    queries = QueryDirectories()
    query = queries.query_dir(Nodes(movies), movies.stat(MOVIES).id)
    with pytest.raises(GridError) as caught:
        queries.lookup(Nodes(movies), query, condition)
    assert caught.value.errno == errno.EINVAL
    assert len(movies.listdir(MOVIES)) == 4


def test_searches_run_as_the_caller(movies: Grid) -> None:
    movies.chmod(f"{MOVIES}/matrix.mpg", 0o600)
    bob = movies.as_identity(BOB)
    queries = QueryDirectories()  # one mount, two users, the same path at once
    for grid, expected in ((movies, ["matrix.mpg"]), (bob, [])):
        query = queries.query_dir(Nodes(grid), grid.stat(MOVIES).id)
        result = queries.lookup(Nodes(grid), query, "Runtime > 130")
        assert isinstance(result, VirtualEntry)
        assert names(queries.listing(Nodes(grid), result)) == expected
    assert queries.is_virtual(result.inode)
    assert not queries.is_virtual(movies.stat(MOVIES).id)


def test_a_saved_recursive_query_links_from_its_own_depth(movies: Grid) -> None:
    movies.save_query(MOVIES, "comedy", "Genre = 'Comedy'", recursive=True)
    queries = QueryDirectories()
    query = queries.query_dir(Nodes(movies), movies.stat(MOVIES).id)
    saved = queries.lookup(Nodes(movies), query, "comedy")  # D/.query/comedy: depth 2
    assert isinstance(saved, VirtualEntry)
    old = queries.lookup(Nodes(movies), saved, "old")
    assert isinstance(old, VirtualEntry)
    link = queries.lookup(Nodes(movies), old, "empty")
    assert isinstance(link, VirtualEntry)
    assert link.target == "../../../old/empty"  # D/.query/comedy/old/empty -> D/old/empty


def test_results_keep_their_inodes_when_searched_again(
    movies: Grid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries_module, "RESULT_TTL_S", 0.0)  # every look searches again
    queries = QueryDirectories()
    query = queries.query_dir(Nodes(movies), movies.stat(MOVIES).id)
    recursive = queries.lookup(Nodes(movies), query, "recursive")
    assert isinstance(recursive, VirtualEntry)
    first = queries.lookup(Nodes(movies), recursive, "Runtime < 100")
    old = queries.lookup(Nodes(movies), first, "old")
    again = queries.lookup(Nodes(movies), recursive, "Runtime < 100")
    assert again.inode == first.inode
    assert queries.lookup(Nodes(movies), again, "old").inode == old.inode
    assert queries.entry(old.inode).kind == "result"
    # A directory without matches any more is gone, and so is its inode.
    movies.setxattr(f"{MOVIES}/old/chaplin.mpg", "user.Runtime", b"200")
    movies.setxattr(f"{MOVIES}/old/older/lumiere.mpg", "user.Runtime", b"200")
    assert names(queries.listing(Nodes(movies), again)) == ["short.mpg"]
    with pytest.raises(GridError) as caught:
        queries.entry(old.inode)
    assert caught.value.errno == errno.ENOENT


def test_a_result_is_only_its_searchers(movies: Grid) -> None:
    queries = QueryDirectories()
    query = queries.query_dir(Nodes(movies), movies.stat(MOVIES).id)
    alices = queries.lookup(Nodes(movies), query, "Runtime > 130")
    assert isinstance(alices, VirtualEntry)
    with pytest.raises(GridError) as caught:  # bob holding alice's inode
        queries.listing(Nodes(movies.as_identity(BOB)), alices)
    assert caught.value.errno == errno.ENOENT
