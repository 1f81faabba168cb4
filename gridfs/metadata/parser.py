"""A hand-written recursive-descent parser for metadata conditions and SELECT queries.

Grammar (keywords in any case)::

    select     := SELECT attribute ("," attribute)* [FROM path ("," path)*]
                  [WHERE condition] [ORDER BY key ("," key)*] [LIMIT integer]
    key        := attribute [ASC | DESC]
    condition  := conjunct (OR conjunct)*
    conjunct   := negation (AND negation)*
    negation   := NOT negation | primary
    primary    := "(" condition ")"
                | LIKE "(" operand "," string ")"                  -- AMGA's form
                | operand ( op operand
                          | [NOT] LIKE string
                          | [NOT] IN "(" literal ("," literal)* ")"
                          | [NOT] BETWEEN operand AND operand
                          | IS [NOT] NULL )
    op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    operand    := attribute | literal
    attribute  := name | path ":" name                            -- /grid/vo/mc:Runtime
    literal    := number | string | TRUE | FALSE | TIMESTAMP string
    string     := '...' | "..."        (a doubled quote stands for itself)

The parser only builds a :mod:`~gridfs.metadata.syntax` tree; nothing of the
text reaches the database except as bound parameter values.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

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
    OrderKey,
    QueryError,
    QuerySyntaxError,
    SelectQuery,
)

__all__ = ["KEYWORDS", "parse_attribute", "parse_condition", "parse_select"]

KEYWORDS = frozenset(
    [
        "and",
        "or",
        "not",
        "like",
        "in",
        "between",
        "is",
        "null",
        "true",
        "false",
        "timestamp",
        "select",
        "from",
        "where",
        "order",
        "by",
        "asc",
        "desc",
        "limit",
    ]
)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<path>/[^\s:(),'"=<>!]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|[=<>(),:-])
    """,
    re.VERBOSE,
)
_MAX_DEPTH = 100  # nesting deeper than this is not a query anyone writes, and would blow the stack


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, path, name, keyword, op, end
    text: str
    column: int

    def describe(self) -> str:
        return "the end of the query" if self.kind == "end" else repr(self.text)


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None:
            if query[position] in "'\"":
                raise QuerySyntaxError(
                    query, position + 1, "a closing quote", "an unterminated string"
                )
            raise QuerySyntaxError(query, position + 1, "a token", repr(query[position]))
        kind = match.lastgroup
        assert kind is not None
        text = match.group()
        if kind == "name" and text.lower() in KEYWORDS:
            kind, text = "keyword", text.lower()
        if kind != "space":
            tokens.append(_Token(kind, text, position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(query) + 1))
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        if not isinstance(query, str):
            raise QueryError(f"a query is a string, not {type(query).__name__}", str(query), 1)
        self.query = query
        self.tokens = _tokens(query)
        self.index = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.token
        if token.kind != "end":
            self.index += 1
        return token

    def _at(self, kind: str, *texts: str) -> bool:
        return self.token.kind == kind and (not texts or self.token.text in texts)

    def _accept(self, kind: str, *texts: str) -> _Token | None:
        return self._advance() if self._at(kind, *texts) else None

    def _expect(self, kind: str, text: str, expected: str | None = None) -> _Token:
        token = self._accept(kind, text)
        if token is None:
            raise self.error(expected or repr(text.upper() if kind == "keyword" else text))
        return token

    def error(self, expected: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.query, self.token.column, expected, self.token.describe())

    def end(self) -> None:
        if self.token.kind != "end":
            raise self.error("the end of the query")

    # -- grammar ---------------------------------------------------------------

    def select(self) -> SelectQuery:
        self._expect("keyword", "select")
        attributes = [self.attribute()]
        while self._accept("op", ","):
            attributes.append(self.attribute())
        collections: list[str] = []
        if self._accept("keyword", "from"):
            collections.append(self.path())
            while self._accept("op", ","):
                collections.append(self.path())
        where = self.condition() if self._accept("keyword", "where") else None
        order: list[OrderKey] = []
        if self._accept("keyword", "order"):
            self._expect("keyword", "by")
            order.append(self.order_key())
            while self._accept("op", ","):
                order.append(self.order_key())
        limit = None
        if self._accept("keyword", "limit"):
            token = self.token
            if token.kind != "number" or not token.text.isdigit():
                raise self.error("a whole number")
            limit = int(self._advance().text)
        self.end()
        return SelectQuery(tuple(attributes), tuple(collections), where, tuple(order), limit)

    def order_key(self) -> OrderKey:
        attribute = self.attribute()
        if self._accept("keyword", "desc"):
            return OrderKey(attribute, descending=True)
        self._accept("keyword", "asc")
        return OrderKey(attribute)

    def path(self) -> str:
        token = self._accept("path")
        if token is None:
            raise self.error("a collection path such as /grid/vo/mc")
        return token.text

    def attribute(self) -> Attribute:
        token = self.token
        if token.kind == "name":
            self._advance()
            return Attribute(token.text, None, token.column)
        if token.kind == "path":
            self._advance()
            self._expect("op", ":", "':' and an attribute name after the collection")
            name = self._accept("name")
            if name is None:
                raise self.error("an attribute name")
            return Attribute(name.text, token.text, token.column)
        raise self.error("an attribute")

    def condition(self) -> Condition:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise QueryError(f"nested more than {_MAX_DEPTH} deep", self.query, self.token.column)
        column = self.token.column
        items = [self.conjunct()]
        while self._accept("keyword", "or"):
            items.append(self.conjunct())
        self.depth -= 1
        return items[0] if len(items) == 1 else Or(tuple(items), column)

    def conjunct(self) -> Condition:
        column = self.token.column
        items = [self.negation()]
        while self._accept("keyword", "and"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items), column)

    def negation(self) -> Condition:
        token = self._accept("keyword", "not")
        if token is None:
            return self.primary()
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise QueryError(f"nested more than {_MAX_DEPTH} deep", self.query, token.column)
        item = self.negation()
        self.depth -= 1
        return Not(item, token.column)

    def primary(self) -> Condition:  # noqa: PLR0911 - one return per form of the grammar
        column = self.token.column
        if self._accept("op", "("):
            inner = self.condition()
            self._expect("op", ")")
            return inner
        if self._at("keyword", "like") and self.tokens[self.index + 1].text == "(":
            self._advance()
            self._advance()
            operand = self.operand()
            self._expect("op", ",")
            pattern = self.string()
            self._expect("op", ")")
            return Like(operand, pattern, column=column)
        left = self.operand()
        if self.token.kind == "op" and self.token.text in ("=", "!=", "<>", "<", "<=", ">", ">="):
            text = self._advance().text
            op = Operator.NE if text == "<>" else Operator(text)
            return Comparison(op, left, self.operand(), column)
        if self._accept("keyword", "is"):
            negated = self._accept("keyword", "not") is not None
            self._expect("keyword", "null")
            return IsNull(left, negated, column)
        negated = self._accept("keyword", "not") is not None
        if self._accept("keyword", "like"):
            return Like(left, self.string(), negated, column)
        if self._accept("keyword", "in"):
            self._expect("op", "(")
            values = [self.literal()]
            while self._accept("op", ","):
                values.append(self.literal())
            self._expect("op", ")")
            return InList(left, tuple(values), negated, column)
        if self._accept("keyword", "between"):
            low = self.operand()
            self._expect("keyword", "and")
            return Between(left, low, self.operand(), negated, column)
        expected = "LIKE, IN or BETWEEN" if negated else "a comparison, LIKE, IN, BETWEEN or IS"
        raise self.error(expected)

    def operand(self) -> Operand:
        token = self.token
        if token.kind in ("name", "path"):
            return self.attribute()
        starts_value = token.kind in ("string", "number") or token.text in ("-", "true", "false")
        if not starts_value and not self._at("keyword", "timestamp"):
            raise self.error("an attribute or a value")
        return self.literal()

    def string(self) -> Literal:
        token = self._accept("string")
        if token is None:
            raise self.error("a quoted string")
        quote = token.text[0]
        return Literal(token.text[1:-1].replace(quote * 2, quote), token.column)

    def literal(self) -> Literal:
        token = self.token
        if token.kind == "string":
            return self.string()
        if self._accept("keyword", "true", "false"):
            return Literal(token.text == "true", token.column)
        if self._accept("keyword", "timestamp"):
            text = self.string()
            try:
                moment = _dt.datetime.fromisoformat(str(text.value).strip())
            except ValueError:
                raise QuerySyntaxError(
                    self.query, text.column, "an ISO 8601 timestamp", repr(text.value)
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_dt.UTC)
            return Literal(moment.astimezone(_dt.UTC), token.column)
        sign = self._accept("op", "-")
        number = self._accept("number")
        if number is None:
            raise self.error("a value (number, quoted string, TRUE, FALSE or TIMESTAMP '...')")
        digits = ("-" if sign else "") + number.text
        is_int = number.text.isdigit()
        return Literal(int(digits) if is_int else float(digits), (sign or number).column)


def parse_condition(query: str) -> Condition:
    """The syntax tree of condition ``query``; :class:`QuerySyntaxError` says where it fails."""
    parser = _Parser(query)
    if parser.token.kind == "end":
        raise parser.error("a condition")
    condition = parser.condition()
    parser.end()
    return condition


def parse_select(query: str) -> SelectQuery:
    """The syntax tree of a ``SELECT ... FROM ... WHERE ...`` query."""
    return _Parser(query).select()


def parse_attribute(text: str) -> Attribute:
    """The attribute reference ``text`` (``name`` or ``/collection:name``)."""
    parser = _Parser(text)
    attribute = parser.attribute()
    parser.end()
    return attribute
