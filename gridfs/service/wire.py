"""The wire format of the catalog service: JSON typed by the Protocols' own annotations.

Every member of :class:`~gridfs.catalog.CatalogAPI` and
:class:`~gridfs.metadata.MetadataAPI` (but the local ones: the identity, the
switch of identity, close) is one :class:`Operation`, ``POST /v1/<interface>/<name>``
with a JSON object of named arguments. The server decodes the arguments and the
client the result by the Protocol's type hints, so a new Protocol method needs no
codec of its own. Results that iterate (an :class:`~collections.abc.Iterator`, a
:class:`~gridfs.metadata.Rows`) are streamed: one JSON line per page of items.

Values: JSON scalars as they are, enums by value, dataclasses as objects of
their fields, tuples and sequences as lists, datetimes tagged
``{"$datetime": iso}`` (they share unions with strings), bytes tagged
``{"$bytes": base64}``. Errors are
``{"error": {"errno", "class", "message", "path"}}`` and come back as the same
:mod:`gridfs.errors` class.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as _dt
import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from gridfs import errors
from gridfs.catalog import CatalogAPI
from gridfs.errors import GridError, InvalidArgument
from gridfs.metadata import MetadataAPI, Rows

__all__ = [
    "LOCAL_MEMBERS",
    "PROTOCOLS",
    "Operation",
    "WireError",
    "decode",
    "encode",
    "error_from_wire",
    "error_to_wire",
    "members",
    "operations",
]

PROTOCOLS: dict[str, type] = {"catalog": CatalogAPI, "metadata": MetadataAPI}
LOCAL_MEMBERS = frozenset({"identity", "as_identity", "close"})  # answered by the client
_DATETIME = "$datetime"
_BYTES = "$bytes"
_SCALARS = frozenset({str, int, float, bool, type(None)})


class WireError(InvalidArgument):
    """A request or answer that does not match the operation's types."""


def members(protocol: type) -> list[str]:
    """The public members a Protocol declares."""
    return sorted(name for name in vars(protocol) if not name.startswith("_"))


@dataclass(frozen=True)
class Operation:
    """One operation of the service: a Protocol method and its types."""

    interface: str
    name: str
    parameters: Mapping[str, Any]  # name -> type hint, ``self`` left out
    required: frozenset[str]
    returns: Any
    streams: bool  # an iterator: sent as pages of items

    @property
    def path(self) -> str:
        """Where it is served."""
        return f"/v1/{self.interface}/{self.name}"

    @property
    def item(self) -> Any:
        """The type of one streamed item."""
        return typing.get_args(self.returns)[0]

    def decode_arguments(self, data: object) -> dict[str, Any]:
        """The keyword arguments of a call from their JSON object."""
        if not isinstance(data, dict):
            raise WireError(f"{self.name}: the arguments must be a JSON object")
        unknown = set(data) - set(self.parameters)
        if unknown:
            raise WireError(f"{self.name}: unknown argument(s) {', '.join(sorted(unknown))}")
        missing = self.required - set(data)
        if missing:
            raise WireError(f"{self.name}: missing argument(s) {', '.join(sorted(missing))}")
        return {name: decode(value, self.parameters[name]) for name, value in data.items()}


def _operation(interface: str, protocol: type, name: str) -> Operation:
    method = getattr(protocol, name)
    hints = typing.get_type_hints(method)
    signature = inspect.signature(method)
    parameters = {p: hints[p] for p in list(signature.parameters)[1:]}
    required = frozenset(
        p.name
        for p in list(signature.parameters.values())[1:]
        if p.default is inspect.Parameter.empty
    )
    returns = hints["return"]
    streams = typing.get_origin(returns) in (Iterator, Rows)
    return Operation(interface, name, parameters, required, returns, streams)


@functools.cache
def operations() -> dict[str, Operation]:
    """Every operation, by its path."""
    found = {}
    for interface, protocol in PROTOCOLS.items():
        for name in members(protocol):
            if name not in LOCAL_MEMBERS:
                operation = _operation(interface, protocol, name)
                found[operation.path] = operation
    return found


def encode(value: object) -> object:
    """``value`` as JSON data."""
    kind = type(value)
    if kind in _SCALARS:  # the common case first: listings are big
        return value
    encode_as = _ENCODERS.get(kind)
    if encode_as is None:  # a type's first value: its encoder is worked out once
        encode_as = _ENCODERS.setdefault(kind, _encoder(kind))
    return encode_as(value)


_ENCODERS: dict[type, Callable[[Any], object]] = {}


def _encoder(kind: type) -> Callable[[Any], object]:  # noqa: PLR0911 - a case per kind of value
    """How to encode values of type ``kind``, worked out once per type."""
    if issubclass(kind, enum.Enum):
        return lambda value: value.value
    if issubclass(kind, bool | int | float | str):
        return lambda value: value
    if issubclass(kind, _dt.datetime):
        return lambda value: {_DATETIME: value.isoformat()}
    if issubclass(kind, bytes):
        return lambda value: {_BYTES: base64.b64encode(value).decode("ascii")}
    if dataclasses.is_dataclass(kind):
        if all(_is_plain(hint) for hint in _fields(kind).values()):
            return lambda value: value  # orjson writes such a record itself, in C
        names = tuple(f.name for f in dataclasses.fields(kind))
        return lambda value: {name: encode(getattr(value, name)) for name in names}
    if issubclass(kind, Mapping):
        return lambda value: {str(key): encode(item) for key, item in value.items()}
    if issubclass(kind, list | tuple):
        return lambda value: [encode(item) for item in value]

    def refuse(value: object) -> object:
        raise TypeError(f"cannot send a {type(value).__name__} over the wire")

    return refuse


def _is_plain(hint: Any) -> bool:
    """Whether orjson writes values of ``hint`` as the wire has them (no tags needed)."""
    if _is_newtype(hint):
        return _is_plain(hint.__supertype__)
    if typing.get_origin(hint) in (Union, types.UnionType):
        return all(_is_plain(member) for member in typing.get_args(hint))
    if hint in (str, int, bool, type(None)):
        return True  # not float: orjson would write NaN as null
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def _is_newtype(hint: Any) -> bool:
    return isinstance(hint, typing.NewType)


def _fits(data: object, hint: Any) -> bool:  # noqa: PLR0911 - a case per JSON shape
    """Whether JSON ``data`` has the shape of ``hint`` (to choose in a union)."""
    if hint is Any or hint is object:
        return True
    if _is_newtype(hint):
        return _fits(data, hint.__supertype__)
    origin = typing.get_origin(hint) or hint
    if data is None:
        return hint is type(None)
    if isinstance(data, bool):
        return hint is bool
    if isinstance(data, int):
        return hint in (int, float)
    if isinstance(data, float):
        return hint is float
    if isinstance(data, str):
        return hint is str or (isinstance(hint, type) and issubclass(hint, enum.Enum))
    if isinstance(data, list):
        return origin in (list, tuple, Sequence)
    if isinstance(data, dict):
        if _DATETIME in data:
            return hint is _dt.datetime
        if _BYTES in data:
            return hint is bytes
        return origin in (dict, Mapping) or dataclasses.is_dataclass(hint)
    return False


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _untag(data: object) -> object:
    """Untyped JSON (an ``object`` argument) back to Python values."""
    if isinstance(data, dict):
        if set(data) == {_DATETIME}:
            return _datetime(data)
        if set(data) == {_BYTES}:
            return _bytes(data)
        return {key: _untag(item) for key, item in data.items()}
    if isinstance(data, list):
        return [_untag(item) for item in data]
    return data


def _datetime(data: object) -> _dt.datetime:
    if not isinstance(data, dict) or not isinstance(data.get(_DATETIME), str):
        raise WireError(f"not a tagged datetime: {data!r:.80}")
    try:
        return _dt.datetime.fromisoformat(data[_DATETIME])
    except ValueError as exc:
        raise WireError(f"not an ISO datetime: {data[_DATETIME]!r:.80}") from exc


def _bytes(data: object) -> bytes:
    if not isinstance(data, dict) or not isinstance(data.get(_BYTES), str):
        raise WireError(f"not tagged bytes: {data!r:.80}")
    try:
        return base64.b64decode(data[_BYTES], validate=True)
    except binascii.Error as exc:
        raise WireError(f"not base64: {data[_BYTES]!r:.80}") from exc


def decode(data: object, hint: Any) -> Any:
    """JSON ``data`` as a value of type ``hint``; :class:`WireError` if it is not one."""
    return decoder(hint)(data)


Decoder = Callable[[Any], Any]


@functools.cache
def decoder(hint: Any) -> Decoder:  # noqa: PLR0911 - a case per kind of type
    """The decoder of JSON data into values of type ``hint``, worked out once per type.

    A listing of thousands of entries then costs a dict comprehension per
    entry, not a walk through the type's hints for every value.
    """
    if hint is Any or hint is object:
        return _untag
    if _is_newtype(hint):
        return decoder(hint.__supertype__)  # a NewType is its supertype at run time
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return _union_decoder(hint)
    if origin is not None:
        return _generic_decoder(origin, typing.get_args(hint))
    if hint in (str, bool, type(None)):
        return _exact_decoder(hint)
    if hint is int:
        return _exact_decoder(int)  # a bool is no int here
    if hint is float:
        return _float
    if hint is _dt.datetime:
        return _datetime
    if hint is bytes:
        return _bytes
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_decoder(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)

    def shaped(data: object) -> object:
        if not _fits(data, hint):
            raise WireError(f"{data!r:.80} is not a {getattr(hint, '__name__', hint)}")
        return data

    return shaped


def _exact_decoder(kind: type) -> Decoder:
    def exact(data: object) -> object:
        if type(data) is not kind:
            raise WireError(f"{data!r:.80} is not a {kind.__name__}")
        return data

    return exact


def _float(data: object) -> float:
    if type(data) not in (int, float):
        raise WireError(f"{data!r:.80} is not a float")
    return float(typing.cast(float, data))


def _enum_decoder(kind: type[enum.Enum]) -> Decoder:
    by_value = {member.value: member for member in kind}

    def member(data: object) -> enum.Enum:
        if type(data) in (str, int):  # the common case: a dict lookup, not an Enum call
            found = by_value.get(data)
            if found is not None and type(found.value) is type(data):
                return found
        if not _fits(data, kind):
            raise WireError(f"{data!r:.80} is not a {kind.__name__}")
        try:
            return kind(data)
        except ValueError as exc:
            raise WireError(f"{data!r:.80} is not a {kind.__name__}") from exc

    return member


def _dataclass_decoder(kind: type) -> Decoder:
    fields = {name: decoder(hint) for name, hint in _fields(kind).items()}
    # Per field, the JSON types that are already its value (str, int, None...): no call.
    plain = {name: _plain_types(hint) for name, hint in _fields(kind).items()}

    def record(data: object) -> object:
        if not isinstance(data, dict):
            raise WireError(f"{data!r:.80} is not a {kind.__name__}")
        try:
            values = {
                name: value if type(value) in plain[name] else fields[name](value)
                for name, value in data.items()
            }
        except KeyError:
            unknown = set(data) - set(fields)
            raise WireError(
                f"{kind.__name__} has no field(s) {', '.join(sorted(unknown))}"
            ) from None
        try:
            return kind(**values)
        except (TypeError, ValueError) as exc:
            raise WireError(f"not a valid {kind.__name__}: {exc}") from exc

    return record


def _plain_types(hint: Any) -> frozenset[type]:
    """The JSON types whose values decode as ``hint`` unchanged (what ``decoder`` lets pass)."""
    if _is_newtype(hint):
        return _plain_types(hint.__supertype__)
    if typing.get_origin(hint) in (Union, types.UnionType):
        return frozenset().union(*(_plain_types(member) for member in typing.get_args(hint)))
    if hint in (str, int, bool, type(None)):
        return frozenset({hint})
    return frozenset()


def _union_decoder(hint: Any) -> Decoder:
    members = typing.get_args(hint)
    scalars = frozenset(m for m in members if m in _SCALARS)
    decoders = [(member, decoder(member)) for member in members]

    def one_of(data: object) -> object:
        if type(data) in scalars:
            return data
        for member, decode_member in decoders:
            if _fits(data, member):
                return decode_member(data)
        raise WireError(f"{data!r:.80} is not a {hint}")

    return one_of


def _generic_decoder(origin: Any, args: tuple[Any, ...]) -> Decoder:
    if origin in (dict, Mapping):
        values = decoder(args[1])

        def mapping(data: object) -> object:
            if not isinstance(data, dict):
                raise WireError(f"{data!r:.80} is not an object")
            return {key: values(item) for key, item in data.items()}

        return mapping
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        items = [decoder(arg) for arg in args]

        def fixed(data: object) -> object:
            if not isinstance(data, list):
                raise WireError(f"{data!r:.80} is not a list")
            if len(data) != len(items):
                raise WireError(f"{data!r:.80} is not a tuple of {len(items)}")
            return tuple(item(value) for item, value in zip(items, data, strict=True))

        return fixed
    if origin not in (tuple, list, Sequence, Iterator, Rows):
        raise WireError(f"no wire form for {origin}")
    each = decoder(args[0])
    build: Callable[[Any], Any] = tuple if origin is tuple else list

    def sequence(data: object) -> object:
        if not isinstance(data, list):
            raise WireError(f"{data!r:.80} is not a list")
        return build([each(item) for item in data])

    return sequence


def error_to_wire(error: GridError) -> dict[str, object]:
    """An error as the body of an answer."""
    return {
        "error": {
            "errno": error.errno,
            "class": _public_class(type(error)).__name__,
            "message": str(error),
            "path": error.filename,
        }
    }


def _public_class(cls: type[GridError]) -> type:
    """The nearest class of :mod:`gridfs.errors` (others, say a QueryError, derive from one)."""
    found: type = next(c for c in cls.__mro__ if getattr(errors, c.__name__, None) is c)
    return found


def error_from_wire(data: object) -> GridError:
    """The :mod:`gridfs.errors` error that an answer's body carries."""
    body = data.get("error") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        return GridError(f"the catalog service sent a malformed error: {data!r:.200}")
    cls = getattr(errors, str(body.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, GridError)):
        cls = GridError
    code = body.get("errno")
    path = body.get("path")
    return cls(
        str(body.get("message")),
        path if isinstance(path, str) else None,
        errno=code if isinstance(code, int) else None,
    )
