"""The one compiler from query syntax trees to SQLAlchemy expressions. No I/O.

Each collection a query names becomes an alias of ``entries`` restricted to
the directory's children; each attribute it uses becomes an alias of
``meta_values`` joined on (entry id, attribute name), and a condition on it a
condition on the alias's typed column, with the literal as a bound parameter.
An attribute that is in no schema is a free-form ``user.*`` value: an alias of
``meta_xattrs`` instead, compared by the text of its value as a ``text``
attribute would be (a value that is not UTF-8 has none, so it matches no
condition but ``is null``).
Attributes that a top-level ``and`` term needs a value of (``x = 5``,
``x like ...``, ``x is not null``) are inner joins, the rest outer joins: the
results are those of SQL's three-valued logic either way, and the inner join
lets the database start from the (name, value, entry_id) index.

Values of different families never compare (an int with a string is an
error naming the column), and ``like`` is case-sensitive on every dialect:
``%`` is any run of characters, ``_`` one character, and a backslash makes
the next character literal.

Long flat chains stay within the database's limits (SQLite parses ``a or b
or ...`` into a tree as deep as the chain, and refuses one deeper than 1000):
equality terms of one attribute in an ``or`` become one ``IN (...)`` list,
and the other terms of a long ``and`` or ``or`` are nested as a balanced
tree of parenthesized groups, so that the depth grows with the logarithm
of the length.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Double,
    FromClause,
    and_,
    bindparam,
    not_,
    or_,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import NamedFromClause

from gridfs.catalog.models import EntryModel
from gridfs.errors import InvalidArgument
from gridfs.metadata.models import ValueModel, XattrModel
from gridfs.metadata.syntax import (
    And,
    Attribute,
    Between,
    Comparison,
    Condition,
    InList,
    IsNull,
    Like,
    Literal,
    Not,
    Operand,
    Operator,
    Or,
    QueryError,
)
from gridfs.metadata.types import (
    FREE_FORM,
    AttributeType,
    Family,
    check_value,
    storage_of,
    to_stored,
)

__all__ = ["FILE", "FILE_TYPE", "Collection", "QueryCompiler", "attributes_of"]

FILE = "FILE"  # AMGA's name for the entry's own name
FILE_TYPE = AttributeType("varchar", 255)
_GROUP = 8  # terms per parenthesized group of a long chain: depth 8 * log8(length)

_OPERATORS: dict[Operator, Callable[[Any, Any], ColumnElement[bool]]] = {
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.LT: operator.lt,
    Operator.LE: operator.le,
    Operator.GT: operator.gt,
    Operator.GE: operator.ge,
}


@dataclass(frozen=True)
class Collection:
    """A directory as a query sees it: its LFN, id and schema."""

    lfn: str
    directory_id: int
    schema: Mapping[str, AttributeType] = field(default_factory=dict)


def attributes_of(node: Condition | Operand) -> Iterator[Attribute]:
    """Every attribute reference in ``node``, in text order."""
    match node:
        case Attribute():
            yield node
        case Literal():
            return
        case Comparison(left=left, right=right):
            yield from attributes_of(left)
            yield from attributes_of(right)
        case Like(operand=operand) | InList(operand=operand) | IsNull(operand=operand):
            yield from attributes_of(operand)
        case Between(operand=operand, low=low, high=high):
            for part in (operand, low, high):
                yield from attributes_of(part)
        case Not(item=item):
            yield from attributes_of(item)
        case And(items=items) | Or(items=items):
            for item in items:
                yield from attributes_of(item)


class QueryCompiler:
    """Compiles conditions over ``collections`` for one query on one dialect.

    ``collections`` maps each collection path the query names, and ``None``
    for bare attribute names, to its :class:`Collection`. Use :meth:`condition`
    (and :meth:`column`) first, then :meth:`from_clause` and :meth:`entries`.
    """

    def __init__(
        self, query: str, collections: Mapping[str | None, Collection], *, dialect: str
    ) -> None:
        self.query = query
        self._collections = collections
        self._glob = dialect == "sqlite"
        self._entries: dict[int, NamedFromClause] = {}
        self._values: dict[tuple[int, str], NamedFromClause] = {}
        self._required: set[tuple[int, str]] = set()

    # -- sources -----------------------------------------------------------------

    def collection(self, ref: Attribute) -> Collection:
        """The collection an attribute reference names."""
        found = self._collections.get(ref.collection)
        if found is None:
            raise self._error(f"no collection for {ref}", ref.column)
        return found

    def entries(self, collection: Collection) -> NamedFromClause:
        """The alias of ``entries`` standing for the entries of ``collection``."""
        alias = self._entries.get(collection.directory_id)
        if alias is None:
            alias = EntryModel.__table__.alias(f"e{len(self._entries)}")
            self._entries[collection.directory_id] = alias
        return alias

    def column(self, ref: Attribute) -> tuple[ColumnElement[Any], AttributeType]:
        """The typed column of an attribute reference, and its type."""
        collection = self.collection(ref)
        entries = self.entries(collection)
        if ref.name == FILE:
            return entries.c.name, FILE_TYPE
        kind = collection.schema.get(ref.name, FREE_FORM)
        key = (collection.directory_id, ref.name)
        alias = self._values.get(key)
        if alias is None:
            # Both tables have (entry_id, name): from_clause joins either the same way.
            table = XattrModel.__table__ if kind.free_form else ValueModel.__table__
            alias = table.alias(f"v{len(self._values)}")
            self._values[key] = alias
        return alias.c["text" if kind.free_form else storage_of(kind).value], kind

    def from_clause(self) -> FromClause:
        """The entries of every collection used, each joined with its attribute values.

        Several collections make a product, restricted by the conditions that
        join them (``/a:FILE = /b:FILE``); ``ON true`` keeps it explicit.
        """
        clause: FromClause | None = None
        for directory_id, entries in self._entries.items():
            clause = entries if clause is None else clause.join(entries, true())
            for (owner, name), alias in self._values.items():
                if owner != directory_id:
                    continue
                on = and_(alias.c.entry_id == entries.c.id, alias.c.name == name)
                if (owner, name) in self._required:
                    clause = clause.join(alias, on)
                else:
                    clause = clause.outerjoin(alias, on)
        if clause is None:
            raise InvalidArgument("a query needs at least one collection", self.query)
        return clause

    def used_entries(self) -> list[tuple[int, NamedFromClause]]:
        """(directory id, entries alias) of every collection used, in order of use."""
        return list(self._entries.items())

    # -- conditions --------------------------------------------------------------

    def condition(self, node: Condition) -> ColumnElement[bool]:
        """The SQL expression of ``node``; literals become bound parameters."""
        terms = node.items if isinstance(node, And) else (node,)
        for term in terms:
            for ref in _null_rejecting(term):
                collection = self.collection(ref)
                if ref.name != FILE:
                    self._required.add((collection.directory_id, ref.name))
        return self._compile(node)

    def _compile(self, node: Condition) -> ColumnElement[bool]:  # noqa: PLR0911 - one per node
        match node:
            case And(items=items):
                return _balanced(and_, [self._compile(item) for item in items])
            case Or(items=items):
                return _balanced(or_, self._disjuncts(items))
            case Not(item=item):
                return not_(self._compile(item))
            case Comparison():
                return self._comparison(node)
            case Like():
                return self._like(node)
            case InList(operand=operand, values=values, negated=negated):
                column, kind = self._attribute(operand, "IN")
                bound = [self._bound(value, kind, operand) for value in values]
                return column.not_in(bound) if negated else column.in_(bound)
            case Between(operand=operand, low=low, high=high, negated=negated):
                column, kind = self._attribute(operand, "BETWEEN")
                between = column.between(
                    self._side(low, kind, operand), self._side(high, kind, operand)
                )
                return not_(between) if negated else between
            case IsNull(operand=operand, negated=negated):
                column, _ = self._attribute(operand, "IS NULL")
                return column.is_not(None) if negated else column.is_(None)
        raise AssertionError(f"unknown node {node!r}")

    def _disjuncts(self, items: tuple[Condition, ...]) -> list[ColumnElement[bool]]:
        """The terms of an ``or``, equality terms of one attribute merged into one ``IN``.

        A merged term takes the place of the first of its terms.
        """
        compiled: list[ColumnElement[bool] | None] = []
        lists: dict[tuple[int, str], tuple[int, ColumnElement[Any], list[Any]]] = {}
        for item in items:
            equal = _equality(item)
            if equal is None:
                compiled.append(self._compile(item))
                continue
            ref, literals = equal
            column, kind = self.column(ref)
            key = (self.collection(ref).directory_id, ref.name)
            if key not in lists:
                lists[key] = (len(compiled), column, [])
                compiled.append(None)
            lists[key][2].extend(self._bound(literal, kind, ref) for literal in literals)
        for index, column, values in lists.values():
            compiled[index] = column == values[0] if len(values) == 1 else column.in_(values)
        return [term for term in compiled if term is not None]

    def _comparison(self, node: Comparison) -> ColumnElement[bool]:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, Literal):
            if isinstance(right, Literal):
                raise self._error("a comparison needs an attribute on one side", node.column)
            left, right, op = right, left, op.mirrored()
        column, kind = self.column(left)
        return _OPERATORS[op](column, self._side(right, kind, left))

    def _side(self, node: Operand, kind: AttributeType, against: Operand) -> Any:
        """The other side of a comparison with an attribute of type ``kind``."""
        if isinstance(node, Literal):
            return self._bound(node, kind, against)
        column, other = self.column(node)
        if other.family is not kind.family:
            raise self._error(
                f"{against} is {kind} but {node} is {other}: they do not compare", node.column
            )
        return column

    def _like(self, node: Like) -> ColumnElement[bool]:
        column, kind = self._attribute(node.operand, "LIKE")
        if kind.family is not Family.STRING:
            raise self._error(
                f"LIKE needs a string attribute; {node.operand} is {kind}", node.column
            )
        pattern = node.pattern.value
        if not isinstance(pattern, str):
            raise self._error("a LIKE pattern is a quoted string", node.pattern.column)
        parts = _like_parts(pattern)
        if self._glob:
            # SQLite's LIKE ignores case; GLOB does not, and says the same in its own syntax.
            expression = column.op("GLOB", is_comparison=True)(_glob(parts))
        else:
            expression = column.like(_like(parts), escape="\\")
        return not_(expression) if node.negated else expression

    def _attribute(self, node: Operand, what: str) -> tuple[ColumnElement[Any], AttributeType]:
        if not isinstance(node, Attribute):
            raise self._error(f"{what} applies to an attribute, not a value", node.column)
        return self.column(node)

    def _bound(self, literal: Literal, kind: AttributeType, against: Operand) -> Any:
        """A literal as the stored form of ``kind``, to go in a bound parameter."""
        value = literal.value
        family = kind.family
        if (
            family is Family.NUMBER
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            if kind.base == "float" or isinstance(value, float):
                # A typed parameter: PostgreSQL would cast 2.5 to the column's BIGINT, making 3.
                return bindparam(None, float(value), type_=Double())
            return self._checked(kind, value, literal, against)
        if family is Family.STRING and isinstance(value, str):
            return value
        if family is Family.BOOL and (isinstance(value, bool) or value in (0, 1)):
            return 1 if value else 0
        if family is Family.TIMESTAMP and isinstance(value, str):
            return to_stored(kind, self._checked(kind, value, literal, against))
        if family is Family.TIMESTAMP and not isinstance(value, int | float | bool):
            return to_stored(kind, value)
        if kind.free_form:
            raise self._error(
                f"{against} is in no schema: a free-form value, compared with a quoted string",
                literal.column,
            )
        raise self._error(f"{against} is {kind}; {value!r} is not a {family} value", literal.column)

    def _checked(self, kind: AttributeType, value: Any, literal: Literal, against: Operand) -> Any:
        try:
            return check_value(kind, value, str(against))
        except InvalidArgument as exc:
            raise self._error(str(exc), literal.column) from None

    def _error(self, message: str, column: int) -> QueryError:
        return QueryError(message, self.query, column)


def _equality(node: Condition) -> tuple[Attribute, tuple[Literal, ...]] | None:
    """``(attribute, values)`` of ``attribute = value`` or ``attribute in (values)``, else None."""
    match node:
        case Comparison(op=Operator.EQ, left=Attribute() as ref, right=Literal() as value):
            return ref, (value,)
        case Comparison(op=Operator.EQ, left=Literal() as value, right=Attribute() as ref):
            return ref, (value,)
        case InList(operand=Attribute() as ref, values=values, negated=False):
            return ref, values
    return None


class _Parenthesized(ColumnElement[bool]):
    """``(inner)``, kept: SQLAlchemy flattens ``or_(or_(a, b), c)`` back into one chain."""

    inherit_cache = False  # its inner expression is no part of a cache key
    type = Boolean()

    def __init__(self, inner: ColumnElement[bool]) -> None:
        self.inner = inner


@compiles(_Parenthesized)
def _render_parenthesized(element: _Parenthesized, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.inner, **kw)})"


def _balanced(
    join: Callable[..., ColumnElement[bool]], terms: list[ColumnElement[bool]]
) -> ColumnElement[bool]:
    """``join(*terms)`` as a balanced tree of groups of at most ``_GROUP`` terms."""
    if len(terms) <= _GROUP:
        return join(*terms)
    size = -(-len(terms) // _GROUP)
    return join(
        *(
            _Parenthesized(_balanced(join, terms[start : start + size]))
            for start in range(0, len(terms), size)
        )
    )


def _null_rejecting(term: Condition) -> list[Attribute]:
    """Attributes ``term`` is false or unknown without: those an inner join may require."""
    match term:
        case Comparison() | Like() | InList() | Between():
            return [ref for ref in attributes_of(term)]
        case IsNull(operand=Attribute() as ref, negated=True):
            return [ref]
    return []


_ANY, _ONE = object(), object()


def _like_parts(pattern: str) -> list[object]:
    """A LIKE pattern as literal characters and the two wildcards; ``\\`` escapes."""
    parts: list[object] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(_ANY)
        elif char == "_":
            parts.append(_ONE)
        else:
            parts.append(char)
    if escaped:
        parts.append("\\")
    return parts


def _glob(parts: list[object]) -> str:
    def one(part: object) -> str:
        if part is _ANY:
            return "*"
        if part is _ONE:
            return "?"
        assert isinstance(part, str)
        return f"[{part}]" if part in "*?[" else part

    return "".join(one(part) for part in parts)


def _like(parts: list[object]) -> str:
    def one(part: object) -> str:
        if part is _ANY:
            return "%"
        if part is _ONE:
            return "_"
        assert isinstance(part, str)
        return "\\" + part if part in "%_\\" else part

    return "".join(one(part) for part in parts)
