"""``gridfs meta``, run as a user runs it."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import fails, home, run

__all__ = ["home"]  # the fixture, shared with the other CLI tests

MOVIES = "/grid/gilda/trailers"


def test_schema_values_and_queries(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "mkdir", MOVIES)
    run(
        *cfg,
        "meta",
        "addattr",
        MOVIES,
        "Title",
        "varchar(64)",
        "Runtime",
        "int",
        "Seen",
        "timestamp",
    )
    assert run(*cfg, "meta", "listattr", MOVIES).stdout == (
        "Title\tvarchar(64)\nRuntime\tint\nSeen\ttimestamp\n"
    )
    for name in ("alien.mpg", "matrix.mpg"):
        run(*cfg, "cr", make_file(name, 100), f"{MOVIES}/{name}")
    run(*cfg, "meta", "set", f"{MOVIES}/alien.mpg", "Title=Alien", "Runtime=117")
    run(
        *cfg,
        "meta",
        "set",
        f"{MOVIES}/matrix.mpg",
        "Title=The Matrix",
        "Runtime=136",
        "Seen=2024-05-01T20:00:00",
    )
    assert run(*cfg, "meta", "get", f"{MOVIES}/matrix.mpg").stdout == (
        "Title\tThe Matrix\nRuntime\t136\nSeen\t2024-05-01T20:00:00.000000+00:00\n"
    )
    assert run(*cfg, "meta", "get", f"{MOVIES}/alien.mpg", "Seen").stdout == "Seen\tNULL\n"
    assert run(*cfg, "meta", "find", MOVIES, "Runtime > 120").stdout == f"{MOVIES}/matrix.mpg\n"
    assert run(*cfg, "meta", "ls", MOVIES).stdout.splitlines() == [
        "FILE\tTitle\tRuntime\tSeen",
        "alien.mpg\tAlien\t117\tNULL",
        "matrix.mpg\tThe Matrix\t136\t2024-05-01T20:00:00.000000+00:00",
    ]
    out = run(
        *cfg, "meta", "select", f"{MOVIES}:FILE", f"{MOVIES}:Runtime", "-w", "like(Title, 'A%')"
    )
    assert out.stdout == "alien.mpg\t117\n"
    query = f"SELECT Title FROM {MOVIES} WHERE Runtime > 100 ORDER BY Runtime DESC"
    assert run(*cfg, "meta", "query", query).stdout == "The Matrix\nAlien\n"
    run(*cfg, "meta", "save", MOVIES, "long", "Runtime >= 120")
    assert run(*cfg, "meta", "save", "--list", MOVIES).stdout == "long\tRuntime >= 120\n"
    assert run(*cfg, "meta", "find", MOVIES, "--saved", "long").stdout == f"{MOVIES}/matrix.mpg\n"
    run(*cfg, "meta", "save", "--remove", MOVIES, "long")
    run(*cfg, "meta", "clear", f"{MOVIES}/matrix.mpg", "Seen")
    assert run(*cfg, "meta", "get", f"{MOVIES}/matrix.mpg", "Seen").stdout == "Seen\tNULL\n"
    run(*cfg, "meta", "rmattr", MOVIES, "Seen")
    assert "Seen" not in run(*cfg, "meta", "listattr", MOVIES).stdout


def test_bad_input_is_one_clear_line(home: Path, make_file) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "mkdir", MOVIES)
    run(*cfg, "meta", "addattr", MOVIES, "Runtime", "int")
    run(*cfg, "cr", make_file("alien.mpg", 100), f"{MOVIES}/alien.mpg")
    fails(
        *cfg,
        "meta",
        "find",
        MOVIES,
        "Runtime > (1",
        message="expected an attribute or a value, found '(' (column 11)",
    )
    fails(
        *cfg,
        "meta",
        "set",
        f"{MOVIES}/alien.mpg",
        "Runtime=long",
        message="attribute 'Runtime': 'long' is not a valid int",
    )
    fails(
        *cfg,
        "meta",
        "addattr",
        MOVIES,
        "x",
        "varchar(9999)",
        message="unknown attribute type 'varchar(9999)'",
    )
    fails(*cfg, "meta", "find", MOVIES, "Director = 2", message="Director is in no schema")
    assert run(*cfg, "meta", "get", f"{MOVIES}/alien.mpg").stdout == "Runtime\tNULL\n"
