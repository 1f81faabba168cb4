"""GUIDs: the immutable identity of a file's content."""

from __future__ import annotations

import uuid

from gridfs.errors import InvalidArgument

__all__ = ["new_guid", "parse_guid"]


def new_guid() -> str:
    """A fresh random GUID, in the canonical lowercase form."""
    return str(uuid.uuid4())


def parse_guid(text: str) -> str:
    """``text`` as a canonical GUID; :class:`InvalidArgument` if it is not one."""
    try:
        return str(uuid.UUID(text))
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"not a GUID: {text!r}", str(text)) from None
