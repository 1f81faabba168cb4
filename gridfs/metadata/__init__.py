"""AMGA-style metadata: typed schemas on directories, values on entries, a query language.

Knows the catalog (its database, transactions and permission checks), nothing
of storage or FUSE. Start with :class:`Metadata`::

    meta = Metadata(catalog)
    meta.addattr("/grid/vo/mc", "Runtime", "int")
    meta.setattr("/grid/vo/mc/run1.root", {"Runtime": 127})
    for lfn in meta.find("/grid/vo/mc", "Runtime > 100 and like(FILE, 'run%')"):
        ...
"""

from gridfs.metadata.api import MetadataAPI
from gridfs.metadata.metadata import Metadata
from gridfs.metadata.parser import parse_attribute, parse_condition, parse_select
from gridfs.metadata.queries import FoundEntry, SavedQuery
from gridfs.metadata.rows import Rows
from gridfs.metadata.syntax import QueryError, QuerySyntaxError
from gridfs.metadata.types import AttributeType, Value, format_value, parse_type, parse_value

__all__ = [
    "AttributeType",
    "FoundEntry",
    "Metadata",
    "MetadataAPI",
    "QueryError",
    "QuerySyntaxError",
    "Rows",
    "SavedQuery",
    "Value",
    "format_value",
    "parse_attribute",
    "parse_condition",
    "parse_select",
    "parse_type",
    "parse_value",
]
