"""A catalog that records its calls: the thinnest implementation of a catalog Protocol.

:func:`recording` builds, from the members of a Protocol (``CatalogAPI`` or
``MetadataAPI``), a class with exactly those members, each delegating to a
real implementation and counting the call. Whatever reaches for a member the
Protocol does not have fails with :class:`AttributeError`, so the gfal tests
run through it prove that the Protocol covers all the gfal layer uses.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

RECORD_ENV = "GRIDFS_TEST_RECORD_CALLS"  # a file: the gfal tests run through recorders


def members(protocol: type) -> list[str]:
    """The public members a Protocol declares (its own and its bases')."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        names |= {name for name in vars(klass) if not name.startswith("_")}
    return sorted(names)


def recording(protocol: type, inner: Any, calls: Counter[str]) -> Any:
    """``inner`` seen only through ``protocol``'s members, each call counted in ``calls``."""
    namespace: dict[str, Any] = {"__slots__": ()}
    for name in members(protocol):
        if isinstance(vars(protocol).get(name), property):
            namespace[name] = property(lambda self, name=name: getattr(inner, name))
            continue

        def method(self: object, *args: Any, _name: str = name, **kwargs: Any) -> Any:
            calls[f"{protocol.__name__}.{_name}"] += 1
            result = getattr(inner, _name)(*args, **kwargs)
            if _name == "as_identity":  # the view of another identity is recorded too
                return recording(protocol, result, calls)
            return result

        namespace[name] = method
    return type(f"Recording{protocol.__name__}", (), namespace)()


def record_file() -> str | None:
    """Where the recorded call counts go, when the tests run through recorders."""
    return os.environ.get(RECORD_ENV)
