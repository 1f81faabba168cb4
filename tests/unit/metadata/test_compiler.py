"""The compiler: trees -> SQL from tables, type errors with columns, no user text in SQL."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from gridfs.metadata import QueryError, parse_condition
from gridfs.metadata.compiler import Collection, QueryCompiler
from gridfs.metadata.types import parse_type

SCHEMA = {
    "n": parse_type("int"),
    "x": parse_type("float"),
    "s": parse_type("varchar(16)"),
    "t": parse_type("timestamp"),
    "b": parse_type("bool"),
    "d": parse_type("text"),
}
COLLECTIONS = {
    None: Collection("/a", 7, SCHEMA),
    "/a": Collection("/a", 7, SCHEMA),
    "/b": Collection("/b", 8, {"n": parse_type("int")}),
}


def compiled(query: str, dialect: str = "sqlite") -> tuple[str, dict[str, object], str]:
    """(WHERE clause, its parameters, FROM clause) of ``query`` over /a (and /b)."""
    compiler = QueryCompiler(query, COLLECTIONS, dialect=dialect)
    where = compiler.condition(parse_condition(query))
    engine_dialect = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
    sql = where.compile(dialect=engine_dialect)
    joins = str(compiler.from_clause().compile(dialect=engine_dialect))
    return str(sql), dict(sql.params), " ".join(joins.split())


@pytest.mark.parametrize(
    ("query", "sql", "params"),
    [
        ("n > 100", "v0.int_value > ?", [100]),
        ("100 <= n", "v0.int_value >= ?", [100]),
        ("x < 2", "v0.float_value < ?", [2.0]),
        ("s = 'x' and n != 2", "v0.str_value = ? AND v1.int_value != ?", ["x", 2]),
        ("n = 1 or x is null", "v0.int_value = ? OR v1.float_value IS NULL", [1]),
        ("like(s, 'a%_\\%*')", "v0.str_value GLOB ?", ["a*?%[*]"]),
        ("s not like 'x'", "NOT (v0.str_value GLOB ?)", ["x"]),
        ("n in (1, 2)", "v0.int_value IN (__[POSTCOMPILE_int_value_1])", [[1, 2]]),
        ("n not between 1 and x", "v0.int_value NOT BETWEEN ? AND v1.float_value", [1]),
        ("t < '2024-01-01'", "v0.int_value < ?", [1704067200000000]),
        ("b = true", "v0.int_value = ?", [1]),
        ("FILE = 'f1'", "e0.name = ?", ["f1"]),
        ("d like 'a%'", "v0.text_value GLOB ?", ["a*"]),
        ("n = /b:n", "v0.int_value = v1.int_value", []),
        ("n = /a:n", "v0.int_value = v0.int_value", []),
    ],
)
def test_trees_compile_to_sql_with_bound_parameters(
    query: str, sql: str, params: list[object]
) -> None:
    where, bound, _ = compiled(query)
    assert where == sql
    assert list(bound.values()) == params


def test_like_on_postgresql_escapes_with_backslash() -> None:
    where, bound, _ = compiled("like(s, 'a%_\\%')", "postgresql")
    assert where == "v0.str_value LIKE %(str_value_1)s::VARCHAR ESCAPE '\\'"
    assert list(bound.values()) == ["a%_\\%"]


def test_required_attributes_are_inner_joins_the_others_outer() -> None:
    *_, joins = compiled("s = 'x' and (n = 1 or x is null)")
    assert joins == (
        "entries AS e0 JOIN meta_values AS v0 ON v0.entry_id = e0.id AND v0.name = ? "
        "LEFT OUTER JOIN meta_values AS v1 ON v1.entry_id = e0.id AND v1.name = ? "
        "LEFT OUTER JOIN meta_values AS v2 ON v2.entry_id = e0.id AND v2.name = ?"
    )


def test_two_collections_join_explicitly() -> None:
    *_, joins = compiled("FILE = /b:FILE")
    assert joins == "entries AS e0 JOIN entries AS e1 ON 1 = 1"


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("n = 'x'", 5, "n is int; 'x' is not a number value"),
        ("s > 3", 5, "s is varchar(16); 3 is not a string value"),
        ("n = s", 5, "n is int but s is varchar(16): they do not compare"),
        ("1 = 2", 1, "a comparison needs an attribute on one side"),
        ("missing = 1", 11, "missing is in no schema: a free-form value, compared with a quoted"),
        ("/c:n = 1", 1, "no collection for /c:n"),
        ("like(n, 'x')", 1, "LIKE needs a string attribute; n is int"),
        ("t = 'noon'", 5, "'noon' is not a valid timestamp"),
        ("n = 99999999999999999999", 5, "out of the 64-bit range"),
        ("b = 2", 5, "b is bool; 2 is not a bool value"),
        ("'x' in ('y')", 1, "IN applies to an attribute, not a value"),
    ],
)
def test_type_errors_say_where(query: str, column: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        compiled(query)
    assert caught.value.column == column
    assert message in str(caught.value)


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1)


@settings(database=None, deadline=None)  # no files left in the worktree; a busy CI is slow
@given(_TEXT)
def test_user_strings_only_ever_reach_sql_as_parameters(text: str) -> None:
    """Whatever the string (quotes, semicolons, comments, DROP TABLE), the SQL is the same."""
    quoted = "'" + text.replace("'", "''") + "'"
    for shape in ("s = {}", "like(s, {})", "s in ({}, 'x')", "FILE != {}"):
        for dialect in ("sqlite", "postgresql"):
            where, bound, _ = compiled(shape.format(quoted), dialect)
            reference, _, _ = compiled(shape.format("'placeholder'"), dialect)
            assert where == reference
            first = next(iter(bound.values()))
            values = first if isinstance(first, list) else [first]
            if not shape.startswith("like"):
                assert text in values


def test_a_fraction_compared_with_an_int_is_not_rounded_on_postgresql() -> None:
    # A parameter typed like the BIGINT column would be cast there: 2.5 would become 3.
    where, bound, _ = compiled("n > 2.5", "postgresql")
    assert where == "v0.int_value > %(param_1)s"
    assert bound == {"param_1": 2.5}


def _depth(sql: str) -> int:
    depth = deepest = 0
    for char in sql:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    return deepest


def test_long_chains_become_in_lists_and_balanced_trees() -> None:
    where, bound, _ = compiled(" or ".join(f"n = {i}" for i in range(10_000)) + " or s = 'x'")
    assert where == "v0.int_value IN (__[POSTCOMPILE_int_value_1]) OR v1.str_value = ?"
    assert list(bound.values()) == [list(range(10_000)), "x"]
    where, _, _ = compiled(" and ".join(f"n != {i}" for i in range(10_000)))
    assert where.count("v0.int_value != ?") == 10_000
    assert _depth(where) <= 5  # 8 terms a group: log8(10,000) levels
    where, _, _ = compiled(" or ".join(f"n < {i} or s = 'x{i}'" for i in range(5_000)))
    assert "IN" in where
    assert _depth(where) <= 5
