"""Attribute types: their names, validation, and the exact text form of values. Pure.

A schema names each attribute's type as AMGA does: ``int``, ``float``,
``varchar(n)`` (1 <= n <= 512), ``text``, ``timestamp`` and ``bool``. Python
values are :class:`int`, :class:`float`, :class:`str`, :class:`datetime.datetime`
(aware, UTC, microsecond resolution) and :class:`bool`.

:func:`format_value` and :func:`parse_value` convert between a value and its
text (the form of ``user.<attr>`` extended attributes and of the CLI); they are
exact inverses: ``parse_value(t, format_value(t, v)) == v`` for every valid ``v``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from enum import StrEnum

from gridfs.errors import InvalidArgument

__all__ = [
    "FREE_FORM",
    "MAX_VARCHAR",
    "STORAGE_COLUMNS",
    "AttributeType",
    "Family",
    "Storage",
    "Value",
    "check_value",
    "format_value",
    "from_stored",
    "parse_type",
    "parse_value",
    "storage_of",
    "timestamp_from_micros",
    "timestamp_to_micros",
    "to_stored",
]

MAX_VARCHAR = 512  # indexed: 512 characters of UTF-8 stay under PostgreSQL's btree row limit
_INT64 = (-(2**63), 2**63 - 1)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_NAMED = re.compile(r"^(int|float|text|timestamp|bool)$")
_VARCHAR = re.compile(r"^varchar\((\d{1,4})\)$")

Value = int | float | str | bool | _dt.datetime


class Family(StrEnum):
    """What a type compares with: values of one family are comparable."""

    NUMBER = "number"
    STRING = "string"
    TIMESTAMP = "timestamp"
    BOOL = "bool"


_FAMILIES = {
    "int": Family.NUMBER,
    "float": Family.NUMBER,
    "varchar": Family.STRING,
    "text": Family.STRING,
    "timestamp": Family.TIMESTAMP,
    "bool": Family.BOOL,
    "bytes": Family.STRING,
}


class Storage(StrEnum):
    """The typed column of ``meta_values`` that holds a type's values."""

    INT = "int_value"
    FLOAT = "float_value"
    STR = "str_value"
    TEXT = "text_value"


@dataclass(frozen=True)
class AttributeType:
    """One attribute type; ``length`` is set for ``varchar(n)`` only."""

    base: str
    length: int | None = None

    def __str__(self) -> str:
        if self.base == "bytes":
            return "free-form"
        return f"varchar({self.length})" if self.base == "varchar" else self.base

    @property
    def family(self) -> Family:
        """The family of the type: which others it compares with."""
        return _FAMILIES[self.base]

    @property
    def free_form(self) -> bool:
        """Whether this is :data:`FREE_FORM`: a name in no schema, compared as a string."""
        return self.base == "bytes"


# What a query takes an attribute in no schema for: a free-form ``user.*`` value
# (its bytes), compared as a string; not a type a schema can name.
FREE_FORM = AttributeType("bytes")


def parse_type(name: str) -> AttributeType:
    """The type named ``name`` (``int``, ``varchar(32)``...); case and spaces are ignored."""
    normal = "".join(str(name).split()).lower()
    if _NAMED.match(normal):
        return AttributeType(normal)
    match = _VARCHAR.match(normal)
    if match and 1 <= int(match.group(1)) <= MAX_VARCHAR:
        return AttributeType("varchar", int(match.group(1)))
    raise InvalidArgument(
        f"unknown attribute type {name!r}: int, float, varchar(n) with 1 <= n <= {MAX_VARCHAR}, "
        "text, timestamp or bool"
    )


def storage_of(kind: AttributeType) -> Storage:
    """The column that stores values of ``kind`` (int, bool and timestamp share one)."""
    return _STORAGES[kind.base]


_STORAGES = {
    "int": Storage.INT,
    "bool": Storage.INT,
    "timestamp": Storage.INT,
    "float": Storage.FLOAT,
    "varchar": Storage.STR,
    "text": Storage.TEXT,
}
# The name of the column of each base type (storage_of(kind).value), for the writes.
STORAGE_COLUMNS = {base: storage.value for base, storage in _STORAGES.items()}


def _invalid(attribute: str, value: object, kind: AttributeType, why: str = "") -> InvalidArgument:
    reason = f" ({why})" if why else ""
    return InvalidArgument(
        f"attribute {attribute!r}: {value!r} is not a valid {kind}{reason}", attribute
    )


def check_value(kind: AttributeType, value: object, attribute: str = "?") -> Value:  # noqa: PLR0912 - a case per type
    """``value`` as a valid Python value of ``kind``, or :class:`InvalidArgument`.

    The error names the attribute, the value and the expected type. A string
    given for a type that is not a string type is read with :func:`parse_value`;
    an int is a valid float, a naive datetime is taken as UTC.
    """
    if isinstance(value, str) and kind.family is not Family.STRING:
        return parse_value(kind, value, attribute)
    match kind.base:
        case "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _invalid(attribute, value, kind)
            if not _INT64[0] <= value <= _INT64[1]:
                raise _invalid(attribute, value, kind, "out of the 64-bit range")
            return value
        case "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _invalid(attribute, value, kind)
            if math.isnan(value):
                raise _invalid(attribute, value, kind, "NaN compares with nothing")
            return float(value)
        case "bool":
            if not isinstance(value, bool):
                raise _invalid(attribute, value, kind)
            return value
        case "timestamp":
            if not isinstance(value, _dt.datetime):
                raise _invalid(attribute, value, kind)
            return _utc(value)
        case _:
            if not isinstance(value, str):
                raise _invalid(attribute, value, kind)
            if "\0" in value:
                raise _invalid(attribute, value, kind, "it contains a NUL character")
            if kind.length is not None and len(value) > kind.length:
                raise _invalid(attribute, value, kind, f"longer than {kind.length} characters")
            return value


def _utc(value: _dt.datetime) -> _dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC)


def format_value(kind: AttributeType, value: Value) -> str:
    """The text of ``value``: what :func:`parse_value` reads back exactly.

    ints in decimal, floats as :func:`repr` (shortest exact form), bools as
    ``true``/``false``, timestamps in ISO 8601 with microseconds and ``+00:00``.
    """
    value = check_value(kind, value)
    match kind.base:
        case "bool":
            return "true" if value else "false"
        case "float":
            assert isinstance(value, int | float)
            return repr(float(value))
        case "timestamp":
            assert isinstance(value, _dt.datetime)
            return value.isoformat(timespec="microseconds")
        case _:
            return str(value)


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def parse_value(kind: AttributeType, text: str, attribute: str = "?") -> Value:
    """The value of type ``kind`` that ``text`` spells, or :class:`InvalidArgument`.

    Accepts what :func:`format_value` writes, and also ``1/0/yes/no`` for bools,
    any ISO 8601 date or time for timestamps (naive ones are UTC) and
    ``inf``/``-inf`` for floats.
    """
    stripped = text.strip()
    try:
        match kind.base:
            case "int":
                return check_value(kind, int(stripped, 10), attribute)
            case "float":
                return check_value(kind, float(stripped), attribute)
            case "bool":
                lowered = stripped.lower()
                if lowered in _TRUE or lowered in _FALSE:
                    return lowered in _TRUE
                raise ValueError(text)
            case "timestamp":
                return _utc(_dt.datetime.fromisoformat(stripped))
            case _:
                return check_value(kind, text, attribute)
    except ValueError:
        raise _invalid(attribute, text, kind) from None


def timestamp_to_micros(value: _dt.datetime) -> int:
    """Microseconds since the epoch (UTC): how a timestamp is stored and compared."""
    delta = _utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamp_from_micros(micros: int) -> _dt.datetime:
    """The UTC timestamp stored as ``micros``."""
    return _EPOCH + _dt.timedelta(microseconds=micros)


def to_stored(kind: AttributeType, value: Value) -> int | float | str:
    """The database form of a valid value: bools as 0/1, timestamps as microseconds."""
    if kind.base == "timestamp":
        assert isinstance(value, _dt.datetime)
        return timestamp_to_micros(value)
    if kind.base == "bool":
        return int(bool(value))
    assert not isinstance(value, _dt.datetime)
    return value


def from_stored(kind: AttributeType, stored: int | float | str | bytes) -> Value:
    """The Python value of a stored one (the inverse of :func:`to_stored`).

    A free-form value's bytes come back as text (bytes not UTF-8 replaced).
    """
    if isinstance(stored, bytes):
        return stored.decode("utf-8", "replace")
    match kind.base:
        case "timestamp":
            return timestamp_from_micros(int(stored))
        case "bool":
            return bool(stored)
        case "float":
            return float(stored)
        case _:
            return stored
