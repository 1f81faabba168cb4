"""The typed syntax tree of metadata queries, and the errors that point into the text.

Every node keeps the 1-based ``column`` where it starts in the query text, so
that errors found later (an unknown attribute, a type mismatch) can say where.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from enum import StrEnum

from gridfs.errors import InvalidArgument

__all__ = [
    "And",
    "Attribute",
    "Between",
    "Comparison",
    "Condition",
    "InList",
    "IsNull",
    "Like",
    "Literal",
    "Not",
    "Operand",
    "Operator",
    "Or",
    "OrderKey",
    "QueryError",
    "QuerySyntaxError",
    "SelectQuery",
]

LiteralValue = int | float | str | bool | _dt.datetime


class QueryError(InvalidArgument):
    """A query that cannot run: the message says why and at which column."""

    def __init__(self, message: str, query: str, column: int) -> None:
        super().__init__(f"{message} (column {column})", query)
        self.query = query
        self.column = column


class QuerySyntaxError(QueryError):
    """A query that does not parse; ``column`` is where, ``expected`` what would have fit."""

    def __init__(self, query: str, column: int, expected: str, found: str) -> None:
        super().__init__(f"syntax error: expected {expected}, found {found}", query, column)
        self.expected = expected
        self.found = found


class Operator(StrEnum):
    """A comparison operator."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def mirrored(self) -> Operator:
        """The operator with its operands swapped: ``a < b`` is ``b > a``."""
        return {
            Operator.LT: Operator.GT,
            Operator.LE: Operator.GE,
            Operator.GT: Operator.LT,
            Operator.GE: Operator.LE,
        }.get(self, self)


@dataclass(frozen=True)
class Attribute:
    """An attribute reference: ``name`` alone, or ``/collection:name``.

    ``collection`` is ``None`` for the query's own directory. The name ``FILE``
    is the entry's name, as in AMGA.
    """

    name: str
    collection: str | None = None
    column: int = 0

    def __str__(self) -> str:
        return f"{self.collection}:{self.name}" if self.collection else self.name


@dataclass(frozen=True)
class Literal:
    """A number, string, boolean or timestamp written in the query."""

    value: LiteralValue
    column: int = 0


Operand = Attribute | Literal


@dataclass(frozen=True)
class Comparison:
    """``left op right``."""

    op: Operator
    left: Operand
    right: Operand
    column: int = 0


@dataclass(frozen=True)
class Like:
    """``operand like 'pattern'`` (or AMGA's ``like(operand, 'pattern')``): ``%`` and ``_``."""

    operand: Operand
    pattern: Literal
    negated: bool = False
    column: int = 0


@dataclass(frozen=True)
class InList:
    """``operand in (v1, v2, ...)``."""

    operand: Operand
    values: tuple[Literal, ...]
    negated: bool = False
    column: int = 0


@dataclass(frozen=True)
class Between:
    """``operand between low and high`` (both ends included)."""

    operand: Operand
    low: Operand
    high: Operand
    negated: bool = False
    column: int = 0


@dataclass(frozen=True)
class IsNull:
    """``operand is null`` / ``is not null``: the entry has no value for the attribute."""

    operand: Operand
    negated: bool = False
    column: int = 0


@dataclass(frozen=True)
class Not:
    """``not condition``."""

    item: Condition
    column: int = 0


@dataclass(frozen=True)
class And:
    """``a and b and ...``."""

    items: tuple[Condition, ...]
    column: int = 0


@dataclass(frozen=True)
class Or:
    """``a or b or ...``."""

    items: tuple[Condition, ...]
    column: int = 0


Condition = Comparison | Like | InList | Between | IsNull | Not | And | Or


@dataclass(frozen=True)
class OrderKey:
    """One ``ORDER BY`` key."""

    attribute: Attribute
    descending: bool = False


@dataclass(frozen=True)
class SelectQuery:
    """``SELECT attrs [FROM collections] [WHERE condition] [ORDER BY keys] [LIMIT n]``."""

    attributes: tuple[Attribute, ...]
    collections: tuple[str, ...] = ()
    where: Condition | None = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
