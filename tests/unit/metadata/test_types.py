"""Attribute types: names, validation, and the exact text form of values."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridfs.errors import InvalidArgument
from gridfs.metadata import format_value, parse_type, parse_value
from gridfs.metadata.types import AttributeType, check_value, from_stored, to_stored

INT = parse_type("int")
FLOAT = parse_type("float")
BOOL = parse_type("bool")
TIMESTAMP = parse_type("timestamp")
VARCHAR = parse_type("varchar(8)")
TEXT = parse_type("text")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("int", AttributeType("int")),
        ("INT", AttributeType("int")),
        ("varchar(32)", AttributeType("varchar", 32)),
        ("VarChar ( 512 )", AttributeType("varchar", 512)),
        ("text", AttributeType("text")),
        ("timestamp", AttributeType("timestamp")),
        ("bool", AttributeType("bool")),
        ("float", AttributeType("float")),
    ],
)
def test_type_names(name: str, expected: AttributeType) -> None:
    assert parse_type(name) == expected
    assert parse_type(str(expected)) == expected


@pytest.mark.parametrize("name", ["varchar", "varchar(0)", "varchar(513)", "string", "int(3)", ""])
def test_unknown_types_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument, match="unknown attribute type"):
        parse_type(name)


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        (INT, 1.5, "not a valid int"),
        (INT, True, "not a valid int"),
        (INT, 2**63, "64-bit"),
        (INT, "12a", "not a valid int"),
        (FLOAT, float("nan"), "NaN"),
        (BOOL, 1, "not a valid bool"),
        (BOOL, "maybe", "not a valid bool"),
        (VARCHAR, "123456789", "longer than 8"),
        (VARCHAR, 5, "not a valid varchar"),
        (TEXT, "a\0b", "NUL"),
        (TIMESTAMP, "yesterday", "not a valid timestamp"),
    ],
)
def test_invalid_values_name_attribute_value_and_type(
    kind: AttributeType, value: object, reason: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_value(kind, value, "Runtime")
    message = str(caught.value)
    assert "'Runtime'" in message
    assert repr(value) in message
    assert str(kind) in message
    assert reason in message


def test_text_is_parsed_for_typed_attributes() -> None:
    assert check_value(INT, " 42 ") == 42
    assert check_value(FLOAT, "2") == 2.0
    assert check_value(BOOL, "yes") is True
    assert check_value(TIMESTAMP, "2024-02-03") == dt.datetime(2024, 2, 3, tzinfo=dt.UTC)
    assert check_value(VARCHAR, " padded ") == " padded "


def test_timestamps_are_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    value = check_value(TIMESTAMP, dt.datetime(2024, 1, 1, 12, tzinfo=paris))
    assert value == dt.datetime(2024, 1, 1, 11, tzinfo=dt.UTC)
    assert format_value(TIMESTAMP, value) == "2024-01-01T11:00:00.000000+00:00"


_moments = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)
)
_cases = st.one_of(
    st.tuples(st.just(INT), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just(FLOAT), st.floats(allow_nan=False)),
    st.tuples(st.just(BOOL), st.booleans()),
    st.tuples(st.just(TIMESTAMP), _moments),
    st.tuples(st.just(TEXT), st.text().filter(lambda s: "\0" not in s)),
    st.tuples(st.just(VARCHAR), st.text(max_size=8).filter(lambda s: "\0" not in s)),
)


@settings(database=None, deadline=None)  # no files left in the worktree; a busy CI is slow
@given(_cases)
def test_text_form_and_stored_form_are_exact(case: tuple[AttributeType, object]) -> None:
    kind, value = case
    text = format_value(kind, value)  # type: ignore[arg-type]
    assert parse_value(kind, text) == value
    assert type(parse_value(kind, text)) is type(value)
    assert from_stored(kind, to_stored(kind, value)) == value  # type: ignore[arg-type]
