"""The query parser: query -> tree from tables, errors with columns, and fuzzing."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridfs.errors import InvalidArgument
from gridfs.metadata import QueryError, QuerySyntaxError, parse_condition, parse_select
from gridfs.metadata.syntax import (
    And,
    Attribute,
    Between,
    Comparison,
    InList,
    IsNull,
    Like,
    Literal,
    Not,
    Operator,
    Or,
    OrderKey,
    SelectQuery,
)


def strip(node: object) -> object:
    """The tree without columns, to compare shapes."""
    if isinstance(node, tuple):
        return tuple(strip(item) for item in node)
    if hasattr(node, "__dataclass_fields__"):
        fields = {
            name: strip(getattr(node, name))
            for name in node.__dataclass_fields__
            if name != "column"
        }
        return (type(node).__name__, fields)
    return node


def a(name: str, collection: str | None = None) -> Attribute:
    return Attribute(name, collection)


def v(value: object) -> Literal:
    return Literal(value)  # type: ignore[arg-type]


CONDITIONS = [
    ("Runtime > 100", Comparison(Operator.GT, a("Runtime"), v(100))),
    ("Runtime<>1", Comparison(Operator.NE, a("Runtime"), v(1))),
    ("x != -2.5e3", Comparison(Operator.NE, a("x"), v(-2500.0))),
    ("100 <= Runtime", Comparison(Operator.LE, v(100), a("Runtime"))),
    ("title = 'it''s'", Comparison(Operator.EQ, a("title"), v("it's"))),
    ('title = "say ""hi"""', Comparison(Operator.EQ, a("title"), v('say "hi"'))),
    ("ok = TRUE", Comparison(Operator.EQ, a("ok"), v(True))),
    (
        "t >= timestamp '2024-01-02 03:04:05'",
        Comparison(Operator.GE, a("t"), v(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC))),
    ),
    (
        "/grid/vo/mc:Runtime = /grid/vo/data:Runtime",
        Comparison(Operator.EQ, a("Runtime", "/grid/vo/mc"), a("Runtime", "/grid/vo/data")),
    ),
    ("like(FILE, '%.mp3')", Like(a("FILE"), v("%.mp3"))),
    ("name not like 'a_%'", Like(a("name"), v("a_%"), negated=True)),
    ("n in (1, 2, 3)", InList(a("n"), (v(1), v(2), v(3)))),
    ("n NOT IN ('a')", InList(a("n"), (v("a"),), negated=True)),
    ("n between 1 and 5", Between(a("n"), v(1), v(5))),
    ("n not between 1 and 5", Between(a("n"), v(1), v(5), negated=True)),
    ("n is null", IsNull(a("n"))),
    ("n IS NOT NULL", IsNull(a("n"), negated=True)),
    ("not n = 1", Not(Comparison(Operator.EQ, a("n"), v(1)))),
    (
        "a = 1 or b = 2 and c = 3",
        Or(
            (
                Comparison(Operator.EQ, a("a"), v(1)),
                And((Comparison(Operator.EQ, a("b"), v(2)), Comparison(Operator.EQ, a("c"), v(3)))),
            )
        ),
    ),
    (
        "(a = 1 or b = 2) and not (c = 3)",
        And(
            (
                Or((Comparison(Operator.EQ, a("a"), v(1)), Comparison(Operator.EQ, a("b"), v(2)))),
                Not(Comparison(Operator.EQ, a("c"), v(3))),
            )
        ),
    ),
    (
        "n between 1 and 5 and m = 2",
        And((Between(a("n"), v(1), v(5)), Comparison(Operator.EQ, a("m"), v(2)))),
    ),
]


@pytest.mark.parametrize(("query", "tree"), CONDITIONS, ids=[q for q, _ in CONDITIONS])
def test_conditions_parse_to_trees(query: str, tree: object) -> None:
    assert strip(parse_condition(query)) == strip(tree)


def test_nodes_know_their_columns() -> None:
    tree = parse_condition("a = 1 and  b like 'x'")
    assert isinstance(tree, And)
    assert [item.column for item in tree.items] == [1, 12]
    second = tree.items[1]
    assert isinstance(second, Like)
    assert second.pattern.column == 19


def test_select_query() -> None:
    query = parse_select(
        "SELECT FILE, /grid/a:x FROM /grid/a, /grid/b WHERE x > 1 ORDER BY x DESC, FILE LIMIT 10"
    )
    expected = SelectQuery(
        (a("FILE"), a("x", "/grid/a")),
        ("/grid/a", "/grid/b"),
        Comparison(Operator.GT, a("x"), v(1)),
        (OrderKey(a("x"), descending=True), OrderKey(a("FILE"))),
        10,
    )
    assert strip(query) == strip(expected)


@pytest.mark.parametrize(
    ("query", "column", "expected"),
    [
        ("", 1, "a condition"),
        ("Runtime >", 10, "an attribute or a value"),
        ("Runtime > 1 and", 16, "an attribute or a value"),
        ("(a = 1", 7, "')'"),
        ("a = 1)", 6, "the end of the query"),
        ("a 1", 3, "a comparison, LIKE, IN, BETWEEN or IS"),
        ("a not 1", 7, "LIKE, IN or BETWEEN"),
        ("a = 'open", 5, "a closing quote"),
        ("a = 1; DROP TABLE entries", 6, "a token"),
        ("a = 1 -- comment", 7, "the end of the query"),
        ("a = - 'x'", 7, "a value"),
        ("a is 1", 6, "'NULL'"),
        ("a in ()", 7, "a value"),
        ("/grid/x = 1", 9, "':' and an attribute name after the collection"),
        ("t = timestamp 'noon'", 15, "an ISO 8601 timestamp"),
        ("like(a 'x')", 8, "','"),
    ],
)
def test_syntax_errors_say_where_and_what(query: str, column: int, expected: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_condition(query)
    error = caught.value
    assert isinstance(error, InvalidArgument)
    assert error.column == column
    assert error.expected.startswith(expected)
    assert f"(column {column})" in str(error)


def test_select_needs_its_parts() -> None:
    with pytest.raises(QuerySyntaxError, match="expected 'SELECT'"):
        parse_select("FIND x")
    with pytest.raises(QuerySyntaxError, match="a whole number"):
        parse_select("SELECT x FROM /a LIMIT 1.5")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(QueryError, match="nested more than"):
        parse_condition("(" * 5000 + "a = 1" + ")" * 5000)
    with pytest.raises(QueryError, match="nested more than"):
        parse_condition("not " * 5000 + "a = 1")


_ADVERSARIAL = st.sampled_from(
    [
        "'",
        '"',
        ";",
        "--",
        "/*",
        "*/",
        "DROP TABLE entries",
        "' OR '1'='1",
        "\0",
        "(",
        ")",
        "and",
        "or",
        "not",
        "like",
        "in",
        "between",
        "is null",
        "=",
        "<>",
        ":",
        "/grid/a",
        "x",
        "1",
        "-",
        "1e999",
        "timestamp",
        ",",
        " ",
    ]
)


@settings(max_examples=400, database=None, deadline=None)  # no files left; a busy CI is slow
@given(st.one_of(st.text(), st.lists(_ADVERSARIAL, max_size=20).map(" ".join)))
def test_random_text_never_crashes_the_parser(text: str) -> None:
    column = 1
    try:
        parse_condition(text)
    except QueryError as error:
        column = error.column
    assert 1 <= column <= len(text) + 1
    with contextlib.suppress(QueryError):
        parse_select("SELECT x FROM /a WHERE " + text)
