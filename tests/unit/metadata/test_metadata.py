"""The metadata catalog on SQLite and PostgreSQL: schemas, values, queries, permissions."""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3

import pytest
from sqlalchemy import event, func, select

from gridfs.catalog import Catalog, EntryKind
from gridfs.catalog.models import EntryModel
from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    NotADirectory,
    NotFound,
    PermissionDenied,
    UnknownAttribute,
)
from gridfs.metadata import Metadata, QueryError, QuerySyntaxError, parse_type
from gridfs.metadata.models import ValueModel
from tests.conftest import BOB

MOVIES = "/grid/gilda/trailers"
AUDIO = "/grid/gilda/audio"


def add(catalog: Catalog, lfn: str) -> None:
    catalog.add_file(lfn, size=1)


@pytest.fixture
def meta(catalog: Catalog) -> Metadata:
    """Alice's trailers, as in the AMGA example of the gLite slides."""
    catalog.mkdir(MOVIES, parents=True)
    metadata = Metadata(catalog, page_size=3)
    metadata.addattr(MOVIES, "Title", "varchar(64)")
    metadata.addattr(MOVIES, "Runtime", "int")
    metadata.addattr(MOVIES, "Rating", "float")
    metadata.addattr(MOVIES, "Released", "timestamp")
    metadata.addattr(MOVIES, "Comedy", "bool")
    metadata.addattr(MOVIES, "Plot", "text")
    movies = [
        ("BatmanBegins.mpg", "Batman Begins", 140, 8.2, 2005, False),
        ("alien.mpg", "Alien", 117, 8.5, 1979, False),
        ("amelie.mpg", "Amelie", 122, 8.3, 2001, True),
        ("madagascar.mpg", "Madagascar", 86, 6.9, 2005, True),
        ("matrix.mpg", "The Matrix", 136, 8.7, 1999, False),
        ("pinkpanther.mov", "The Pink Panther", 93, 5.6, 2006, True),
        ("spiderman.mpg", "Spider-Man 2", 127, 7.5, 2004, False),
    ]
    for name, title, runtime, rating, year, comedy in movies:
        lfn = f"{MOVIES}/{name}"
        add(catalog, lfn)
        metadata.setattr(
            lfn,
            {
                "Title": title,
                "Runtime": runtime,
                "Rating": rating,
                "Released": dt.datetime(year, 6, 1, tzinfo=dt.UTC),
                "Comedy": comedy,
            },
        )
    return metadata


def found(meta: Metadata, condition: str, directory: str = MOVIES, **options: bool) -> list[str]:
    return sorted(lfn.rsplit("/", 1)[1] for lfn in meta.find(directory, condition, **options))


def test_schema_add_list_remove(meta: Metadata) -> None:
    schema = meta.listattr(MOVIES)
    assert {name: str(kind) for name, kind in schema.items()} == {
        "Title": "varchar(64)",
        "Runtime": "int",
        "Rating": "float",
        "Released": "timestamp",
        "Comedy": "bool",
        "Plot": "text",
    }
    with pytest.raises(AlreadyExists):
        meta.addattr(MOVIES, "Runtime", "float")
    meta.removeattr(MOVIES, "Runtime")
    assert "Runtime" not in meta.listattr(MOVIES)
    with pytest.raises(NotFound, match="no attribute 'Runtime'"):
        meta.getattr(f"{MOVIES}/alien.mpg", ["Runtime"])
    meta.addattr(MOVIES, "Runtime", "int")
    # Removing an attribute removed its values: a new one of the same name starts empty.
    assert meta.getattr(f"{MOVIES}/alien.mpg", ["Runtime"]) == {"Runtime": None}
    with pytest.raises(NotFound):
        meta.removeattr(MOVIES, "nothing")


@pytest.mark.parametrize("name", ["and", "FILE", "1x", "a-b", "", "x" * 65])
def test_attribute_names_are_checked(meta: Metadata, name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid name"):
        meta.addattr(MOVIES, name, "int")


def test_schemas_are_on_directories_only(meta: Metadata) -> None:
    with pytest.raises(NotADirectory):
        meta.addattr(f"{MOVIES}/alien.mpg", "x", "int")


def test_get_returns_python_values(meta: Metadata) -> None:
    assert meta.getattr(f"{MOVIES}/amelie.mpg") == {
        "Title": "Amelie",
        "Runtime": 122,
        "Rating": 8.3,
        "Released": dt.datetime(2001, 6, 1, tzinfo=dt.UTC),
        "Comedy": True,
        "Plot": None,
    }
    assert meta.getattr(f"{MOVIES}/amelie.mpg", ["Runtime"]) == {"Runtime": 122}


def test_set_many_entries_and_clear(meta: Metadata) -> None:
    lfns = [f"{MOVIES}/alien.mpg", f"{MOVIES}/matrix.mpg"]
    meta.setattr([*lfns, lfns[0]], {"Plot": "In space...", "Runtime": "100"})
    for lfn in lfns:
        values = meta.getattr(lfn, ["Plot", "Runtime"])
        assert values == {"Plot": "In space...", "Runtime": 100}
    meta.setattr(lfns[0], {"Plot": None})
    assert meta.getattr(lfns[0], ["Plot"]) == {"Plot": None}
    meta.clearattr(lfns[1], ["Plot"])
    assert meta.getattr(lfns[1])["Plot"] is None
    assert meta.getattr(lfns[1])["Runtime"] == 100
    meta.clearattr(lfns[1])
    assert set(meta.getattr(lfns[1]).values()) == {None}


def test_invalid_values_change_nothing(meta: Metadata) -> None:
    lfns = [f"{MOVIES}/alien.mpg", f"{MOVIES}/matrix.mpg"]
    with pytest.raises(InvalidArgument, match=r"attribute 'Title': 'x{65}' is not a valid"):
        meta.setattr(lfns, {"Runtime": 1, "Title": "x" * 65})
    with pytest.raises(InvalidArgument, match="'long' is not a valid int"):
        meta.setattr(lfns[0], {"Runtime": "long"})
    with pytest.raises(NotFound, match="no attribute 'Director'"):
        meta.setattr(lfns[0], {"Director": "Scott"})
    assert meta.getattr(lfns[0], ["Runtime"]) == {"Runtime": 117}


def test_list_entries_streams_every_entry(meta: Metadata, catalog: Catalog) -> None:
    add(catalog, f"{MOVIES}/unrated.avi")
    listed = dict(meta.list_entries(MOVIES))
    assert len(listed) == 8
    assert listed["unrated.avi"] == dict.fromkeys(meta.listattr(MOVIES))
    assert listed["matrix.mpg"]["Runtime"] == 136


@pytest.mark.parametrize(
    ("condition", "names"),
    [
        ("Runtime > 130", ["BatmanBegins.mpg", "matrix.mpg"]),
        ("Runtime > 135.5", ["BatmanBegins.mpg", "matrix.mpg"]),
        ("Runtime <= 116.9", ["madagascar.mpg", "pinkpanther.mov"]),
        ("Rating >= 8", ["BatmanBegins.mpg", "alien.mpg", "amelie.mpg", "matrix.mpg"]),
        ("Runtime >= 136 and Rating > 8.5", ["matrix.mpg"]),
        ("Comedy = true and not Runtime < 90", ["amelie.mpg", "pinkpanther.mov"]),
        ("like(Title, 'The %')", ["matrix.mpg", "pinkpanther.mov"]),
        ("Title like 'the %'", []),  # LIKE is case-sensitive on both dialects
        ("Title like '_lien'", ["alien.mpg"]),
        ("Title not like '%a%' and Title not like '%A%'", []),
        ("FILE like '%.mov'", ["pinkpanther.mov"]),
        ("Runtime in (86, 93)", ["madagascar.mpg", "pinkpanther.mov"]),
        ("Runtime between 117 and 122", ["alien.mpg", "amelie.mpg"]),
        ("Released < '1990-01-01'", ["alien.mpg"]),
        (
            "Released >= timestamp '2005-06-01T00:00:00+00:00'",
            ["BatmanBegins.mpg", "madagascar.mpg", "pinkpanther.mov"],
        ),
        ("Plot is null and (Rating < 6 or Runtime < 90)", ["madagascar.mpg", "pinkpanther.mov"]),
        ("Plot is not null", []),
        ("Rating > Runtime", []),
    ],
)
def test_find(meta: Metadata, condition: str, names: list[str]) -> None:
    assert found(meta, condition) == names


def test_an_entry_without_a_value_matches_neither_a_condition_nor_its_negation(
    meta: Metadata, catalog: Catalog
) -> None:
    add(catalog, f"{MOVIES}/unrated.avi")
    assert "unrated.avi" not in found(meta, "Runtime = 1") + found(meta, "not Runtime = 1")
    assert found(meta, "Runtime is null") == ["unrated.avi"]


def test_find_recursive_and_by_id(meta: Metadata, catalog: Catalog) -> None:
    catalog.mkdir(f"{MOVIES}/classics")
    meta.addattr(f"{MOVIES}/classics", "Runtime", "int")
    add(catalog, f"{MOVIES}/classics/metropolis.mpg")
    meta.setattr(f"{MOVIES}/classics/metropolis.mpg", {"Runtime": 153})
    assert found(meta, "Runtime > 137") == ["BatmanBegins.mpg"]
    assert sorted(meta.find(MOVIES, "Runtime > 137", recursive=True)) == [
        f"{MOVIES}/BatmanBegins.mpg",
        f"{MOVIES}/classics/metropolis.mpg",
    ]
    directory = catalog.stat(MOVIES).id
    found_ids = list(meta.find_ids(directory, "Runtime > 137", recursive=True))
    placed = sorted(([d.name for d in f.directories], f.entry.name) for f in found_ids)
    assert placed == [([], "BatmanBegins.mpg"), (["classics"], "metropolis.mpg")]
    assert all(f.entry.kind is EntryKind.FILE for f in found_ids)


@pytest.fixture
def audio(meta: Metadata, catalog: Catalog) -> Metadata:
    """A second collection whose entries share names with the first."""
    catalog.mkdir(AUDIO)
    meta.addattr(AUDIO, "Author", "varchar(64)")
    meta.addattr(AUDIO, "Runtime", "int")
    for name, author, runtime in [("alien.mpg", "Goldsmith", 110), ("matrix.mpg", "Davis", 60)]:
        add(catalog, f"{AUDIO}/{name}")
        meta.setattr(f"{AUDIO}/{name}", {"Author": author, "Runtime": runtime})
    return meta


def test_query_errors_come_at_the_call(audio: Metadata) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        audio.find(MOVIES, "Runtime > 100 and and")
    assert caught.value.column == 19
    assert list(audio.find(MOVIES, "Director = 'x'")) == []  # in no schema: free-form
    with pytest.raises(QueryError, match="Director is in no schema"):
        audio.find(MOVIES, "Director = 1")
    with pytest.raises(QueryError, match="find searches one collection"):
        audio.find(MOVIES, f"Runtime = {AUDIO}:Runtime")


def test_selectattr_joins_collections(audio: Metadata) -> None:
    rows = audio.selectattr(
        [f"{MOVIES}:FILE", f"{MOVIES}:Title", f"{AUDIO}:Author"],
        f"{MOVIES}:FILE = {AUDIO}:FILE and {MOVIES}:Runtime > {AUDIO}:Runtime",
    )
    assert sorted(rows) == [
        ("alien.mpg", "Alien", "Goldsmith"),
        ("matrix.mpg", "The Matrix", "Davis"),
    ]
    rows = audio.selectattr([f"{MOVIES}:Title"], "Runtime < 90")
    assert list(rows) == [("Madagascar",)]
    with pytest.raises(QueryError, match="needs its collection"):
        audio.selectattr([f"{MOVIES}:Title", f"{AUDIO}:Author"], "Runtime < 90")


def test_select_query(audio: Metadata) -> None:
    rows = audio.select_query(
        f"SELECT FILE, Runtime, Released FROM {MOVIES} WHERE Comedy = false "
        "ORDER BY Runtime DESC LIMIT 2"
    )
    assert list(rows) == [
        ("BatmanBegins.mpg", 140, dt.datetime(2005, 6, 1, tzinfo=dt.UTC)),
        ("matrix.mpg", 136, dt.datetime(1999, 6, 1, tzinfo=dt.UTC)),
    ]
    rows = audio.select_query(
        f"SELECT {MOVIES}:Title, {AUDIO}:Author FROM {MOVIES}, {AUDIO} "
        f"WHERE {MOVIES}:FILE = {AUDIO}:FILE ORDER BY {AUDIO}:Author"
    )
    assert list(rows) == [("The Matrix", "Davis"), ("Alien", "Goldsmith")]


def test_saved_queries(meta: Metadata) -> None:
    saved = meta.save_query(MOVIES, "long", "Runtime > 130")
    assert saved.directory == MOVIES
    assert [q.name for q in meta.saved_queries(MOVIES)] == ["long"]
    assert sorted(meta.run_saved_query(MOVIES, "long")) == [
        f"{MOVIES}/BatmanBegins.mpg",
        f"{MOVIES}/matrix.mpg",
    ]
    with pytest.raises(AlreadyExists):
        meta.save_query(MOVIES, "long", "Runtime > 1")
    with pytest.raises(QueryError, match="in no schema"):
        meta.save_query(MOVIES, "bad", "Director > 1")
    meta.remove_query(MOVIES, "long")
    with pytest.raises(NotFound):
        meta.run_saved_query(MOVIES, "long")


def test_rename_keeps_and_delete_removes_metadata(meta: Metadata, catalog: Catalog) -> None:
    catalog.rename(f"{MOVIES}/alien.mpg", f"{MOVIES}/alien-1979.mpg")
    assert meta.getattr(f"{MOVIES}/alien-1979.mpg", ["Runtime"]) == {"Runtime": 117}
    assert found(meta, "Runtime = 117") == ["alien-1979.mpg"]
    entry_id = catalog.stat(f"{MOVIES}/alien-1979.mpg").id
    catalog.unlink(f"{MOVIES}/alien-1979.mpg")
    with catalog.store.engine.connect() as connection:
        left = connection.scalar(
            select(func.count()).select_from(ValueModel).where(ValueModel.entry_id == entry_id)
        )
    assert left == 0


def test_a_file_renamed_over_a_file_takes_its_values_and_comment(
    meta: Metadata, catalog: Catalog
) -> None:
    target = f"{MOVIES}/alien.mpg"
    catalog.set_comment(target, "the 1979 cut")
    add(catalog, f"{MOVIES}/.alien.swp")  # an editor's new file: no values, no comment
    new_id = catalog.stat(f"{MOVIES}/.alien.swp").id
    catalog.rename(f"{MOVIES}/.alien.swp", target)
    assert catalog.stat(target).id == new_id
    assert meta.getattr(target, ["Runtime", "Title"]) == {"Runtime": 117, "Title": "Alien"}
    assert catalog.stat(target).comment == "the 1979 cut"
    assert found(meta, "Runtime = 117") == ["alien.mpg"]
    # A file with values of its own keeps them: mv matrix.mpg alien.mpg.
    catalog.rename(f"{MOVIES}/matrix.mpg", target)
    assert meta.getattr(target, ["Runtime"]) == {"Runtime": 136}
    assert found(meta, "Runtime = 117") == []


def test_values_move_with_their_entry_to_another_directory(
    audio: Metadata, catalog: Catalog
) -> None:
    catalog.rename(f"{MOVIES}/madagascar.mpg", f"{AUDIO}/madagascar.mpg")
    # The audio schema has Runtime (an int too) but no Title.
    assert audio.getattr(f"{AUDIO}/madagascar.mpg") == {"Author": None, "Runtime": 86}
    assert found(audio, "Runtime < 100", AUDIO) == ["madagascar.mpg", "matrix.mpg"]
    assert found(audio, "Runtime < 100") == ["pinkpanther.mov"]


def test_file_and_metadata_change_in_one_transaction(meta: Metadata, catalog: Catalog) -> None:
    def new_file_with_a_bad_value() -> None:
        with catalog.transaction():
            add(catalog, f"{MOVIES}/new.mpg")
            meta.setattr(f"{MOVIES}/new.mpg", {"Runtime": 90})
            meta.setattr(f"{MOVIES}/new.mpg", {"Runtime": "ninety"})

    with pytest.raises(InvalidArgument):
        new_file_with_a_bad_value()
    with pytest.raises(NotFound):
        catalog.stat(f"{MOVIES}/new.mpg")
    with catalog.transaction():
        add(catalog, f"{MOVIES}/new.mpg")
        meta.setattr(f"{MOVIES}/new.mpg", {"Runtime": 90})
    assert found(meta, "Runtime = 90") == ["new.mpg"]


def test_results_stream_and_close_early(meta: Metadata, catalog: Catalog) -> None:
    for number in range(20):
        add(catalog, f"{MOVIES}/extra{number:02d}")
    meta.setattr([f"{MOVIES}/extra{n:02d}" for n in range(20)], {"Runtime": 1})
    rows = meta.find(MOVIES, "Runtime = 1")  # page size 3: seven pages
    assert len(list(rows)) == 20
    with meta.find(MOVIES, "Runtime = 1") as rows:
        next(rows)
    with pytest.raises(StopIteration):
        next(rows)
    pool = catalog.store.engine.pool
    assert pool.checkedout() == 0


def test_permissions_with_two_identities(meta: Metadata, catalog: Catalog) -> None:
    bob = meta.as_identity(BOB)
    # Others may read (mode 664/775): Bob reads values and finds.
    assert bob.getattr(f"{MOVIES}/alien.mpg", ["Runtime"]) == {"Runtime": 117}
    assert len(found(bob, "Runtime > 0")) == 7
    with pytest.raises(PermissionDenied):
        bob.setattr(f"{MOVIES}/alien.mpg", {"Runtime": 1})
    with pytest.raises(PermissionDenied):
        bob.clearattr(f"{MOVIES}/alien.mpg")
    with pytest.raises(PermissionDenied):
        bob.addattr(MOVIES, "Director", "varchar(32)")
    with pytest.raises(PermissionDenied):
        bob.removeattr(MOVIES, "Runtime")
    with pytest.raises(PermissionDenied):
        bob.save_query(MOVIES, "mine", "Runtime > 1")
    # A file Bob may not read drops out of his results; its values are hidden.
    catalog.chmod(f"{MOVIES}/matrix.mpg", 0o660)
    with pytest.raises(PermissionDenied):
        bob.getattr(f"{MOVIES}/matrix.mpg")
    assert "matrix.mpg" not in found(bob, "Runtime > 0")
    assert ("The Matrix",) not in list(bob.selectattr([f"{MOVIES}:Title"]))
    assert "matrix.mpg" not in dict(bob.list_entries(MOVIES))
    assert "matrix.mpg" in found(meta, "Runtime > 0")
    # A directory Bob may not read cannot be searched at all.
    catalog.chmod(MOVIES, 0o770)
    with pytest.raises(PermissionDenied):
        bob.find(MOVIES, "Runtime > 0")
    with pytest.raises(PermissionDenied):
        bob.listattr(MOVIES)


def test_adversarial_conditions_never_reach_the_database(meta: Metadata, catalog: Catalog) -> None:
    for condition in [
        "Title = 'x''; DROP TABLE entries; --'",
        'Title = "\'); DELETE FROM meta_values; --"',
        "like(Title, '%'' OR 1=1 --')",
        "Title in ('a'';', '/* */')",
    ]:
        assert found(meta, condition) == []
    for condition in ["Title = 'x'; DROP TABLE entries", "Title = 1 /* */", "Runtime = 1 --"]:
        with pytest.raises(QuerySyntaxError):
            meta.find(MOVIES, condition)
    with catalog.store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(EntryModel)) > 7
        assert connection.scalar(select(func.count()).select_from(ValueModel)) == 35


def test_values_text_form_for_extended_attributes(meta: Metadata) -> None:
    from gridfs.metadata import format_value, parse_value  # noqa: PLC0415 - the API under test

    schema = meta.listattr(MOVIES)
    values = meta.getattr(f"{MOVIES}/alien.mpg")
    texts = {
        name: format_value(schema[name], value)
        for name, value in values.items()
        if value is not None
    }
    assert texts == {
        "Title": "Alien",
        "Runtime": "117",
        "Rating": "8.5",
        "Released": "1979-06-01T00:00:00.000000+00:00",
        "Comedy": "false",
    }
    assert {name: parse_value(schema[name], text) for name, text in texts.items()} == {
        name: value for name, value in values.items() if value is not None
    }
    assert str(parse_type("VARCHAR(64)")) == str(schema["Title"])


# -- named operations: each one transaction, so a remote catalog can serve it in one request


def test_addattrs_adds_all_or_none(meta: Metadata) -> None:
    with pytest.raises(AlreadyExists):
        meta.addattrs(MOVIES, {"Director": "varchar(32)", "Runtime": "int"})
    with pytest.raises(InvalidArgument):
        meta.addattrs(MOVIES, {"Director": "varchar(32)", "Budget": "money"})
    assert "Director" not in meta.listattr(MOVIES)
    meta.addattrs(MOVIES, {"Director": "varchar(32)", "Budget": "float"})
    assert list(meta.listattr(MOVIES))[-2:] == ["Director", "Budget"]


def test_removeattrs_removes_all_or_none(meta: Metadata) -> None:
    with pytest.raises(UnknownAttribute):
        meta.removeattrs(MOVIES, ["Runtime", "Director"])
    assert meta.getattr(f"{MOVIES}/alien.mpg", ["Runtime"]) == {"Runtime": 117}
    meta.removeattrs(MOVIES, ["Runtime", "Rating"])
    assert "Runtime" not in meta.listattr(MOVIES)
    meta.addattr(MOVIES, "Runtime", "int")
    assert meta.getattr(f"{MOVIES}/alien.mpg", ["Runtime"]) == {"Runtime": None}  # values gone


def test_schema_changes_need_write_permission(meta: Metadata) -> None:
    bob = meta.as_identity(BOB)
    with pytest.raises(PermissionDenied):
        bob.addattrs(MOVIES, {"Director": "varchar(32)"})
    with pytest.raises(PermissionDenied):
        bob.removeattrs(MOVIES, ["Runtime"])
    assert "Runtime" in meta.listattr(MOVIES)


def test_an_unknown_attribute_is_its_own_error(meta: Metadata) -> None:
    lfn = f"{MOVIES}/alien.mpg"
    for call in (
        lambda: meta.getattr(lfn, ["Director"]),
        lambda: meta.setattr(lfn, {"Director": "Scott"}),
        lambda: meta.clearattr(lfn, ["Director"]),
        lambda: meta.removeattr(MOVIES, "Director"),
    ):
        with pytest.raises(UnknownAttribute) as unknown:
            call()
        assert isinstance(unknown.value, NotFound)
        assert unknown.value.errno == errno.ENOENT


def test_add_entry_registers_a_file_and_its_values_at_once(
    meta: Metadata, catalog: Catalog
) -> None:
    lfn = f"{MOVIES}/up.mpg"
    entry = meta.add_entry(lfn, {"Title": "Up", "Runtime": 96}, size=5)
    assert (entry.size, entry.mode, catalog.stat(lfn).id) == (5, 0o644, entry.id)
    assert meta.getattr(lfn, ["Title", "Runtime"]) == {"Title": "Up", "Runtime": 96}
    with pytest.raises(AlreadyExists):
        meta.add_entry(lfn, {})


def test_add_entry_leaves_nothing_when_a_value_is_refused(meta: Metadata, catalog: Catalog) -> None:
    for values in ({"Runtime": "ninety"}, {"Director": "Docter"}):
        with pytest.raises((InvalidArgument, UnknownAttribute)):
            meta.add_entry(f"{MOVIES}/up.mpg", values)
        with pytest.raises(NotFound):
            catalog.stat(f"{MOVIES}/up.mpg")
    with pytest.raises(PermissionDenied):
        meta.as_identity(BOB).add_entry(f"{MOVIES}/bobs.mpg", {"Runtime": 1})


def test_find_ids_places_each_match_below_the_directory_searched(
    meta: Metadata, catalog: Catalog
) -> None:
    deep = f"{MOVIES}/a/b"
    catalog.mkdir(deep, parents=True)
    meta.addattr(deep, "Runtime", "int")
    add(catalog, f"{deep}/short.mpg")
    meta.setattr(f"{deep}/short.mpg", {"Runtime": 5})
    top = catalog.stat(MOVIES).id
    [match] = list(meta.find_ids(top, "Runtime < 10", recursive=True))
    assert [d.name for d in match.directories] == ["a", "b"]
    assert [d.id for d in match.directories] == [
        catalog.stat(f"{MOVIES}/a").id,
        catalog.stat(deep).id,
    ]
    assert match.directories[0].parent_id == top
    assert match.entry.name == "short.mpg"
    direct = list(meta.find_ids(top, "Runtime = 117"))
    assert [(f.directories, f.entry.name) for f in direct] == [((), "alien.mpg")]


@pytest.mark.parametrize("terms", [1000, 10000])
def test_long_flat_chains_compile_within_the_database_limits(meta: Metadata, terms: int) -> None:
    every = found(meta, "Runtime >= 0")
    assert len(every) == 7
    # Runtimes are 86 to 140: each chain below names them all.
    equal = " or ".join(f"Runtime = {i}" for i in range(terms))  # one IN list
    assert found(meta, equal) == every
    mixed = " or ".join(f"Title = 'Alien{i}' or Runtime > {100_000 + i}" for i in range(terms))
    assert found(meta, mixed + " or Title = 'Alien'") == ["alien.mpg"]
    unequal = " and ".join(f"Runtime != {i}" for i in range(terms))
    assert found(meta, unequal) == []
    assert found(meta, f"not ({unequal}) and Comedy = true") == [
        "amelie.mpg",
        "madagascar.mpg",
        "pinkpanther.mov",
    ]


def test_a_query_beyond_the_database_limits_fails_in_one_line(
    meta: Metadata, catalog: Catalog
) -> None:
    engine = catalog.store.engine
    if engine.dialect.name == "sqlite":
        # This SQLite is built to take 250,000 parameters; many builds take 32,766 (or 999).
        event.listen(engine, "connect", _fewer_sqlite_parameters)
        engine.dispose()
    # 70,000 values: more bound parameters than PostgreSQL (65,535) takes.
    condition = " or ".join(f"Runtime = {i}" for i in range(70_000))
    with pytest.raises(GridError) as info:
        meta.find(MOVIES, condition)
    message = str(info.value)
    assert "\n" not in message
    assert "SELECT" not in message
    assert "parameters" in message or "variables" in message


def _fewer_sqlite_parameters(connection: sqlite3.Connection, _: object) -> None:
    connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)


def test_add_entry_refuses_values_on_a_file_it_makes_read_only(
    meta: Metadata, catalog: Catalog
) -> None:
    # Values need write permission on the new file, as setattr does, whichever path runs.
    lfn = f"{MOVIES}/read-only.mpg"
    with pytest.raises(PermissionDenied):
        meta.add_entry(lfn, {"Runtime": 1}, mode=0o444)
    with pytest.raises(NotFound):
        catalog.stat(lfn)
    assert meta.add_entry(lfn, {}, mode=0o444).mode == 0o444
