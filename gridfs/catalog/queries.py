"""The catalog's hot statements, in SQLAlchemy Core, built once at import.

Core statements with bound parameters are compiled once per dialect and then
served from SQLAlchemy's compiled cache: a lookup or a listing page costs the
database's work and the row's conversion to a :class:`~gridfs.catalog.Stat`,
not the ORM's unit of work (identity map, attribute instrumentation).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, select

from gridfs.catalog.models import EntryModel

__all__ = ["CHILDREN", "CHILD_BY_NAME", "STAT_BY_NAME", "STAT_COLUMNS", "WALK_COLUMNS", "walk"]

_ENTRIES = EntryModel.__table__

# The entry's columns in the order of the fields of Stat: a row of them is
# Stat's positional arguments (CatalogStore.stats_of), with no lookup by name.
STAT_COLUMNS = (
    "id",
    "parent_id",
    "name",
    "kind",
    "mode",
    "owner",
    "group_name",
    "size",
    "atime_ns",
    "mtime_ns",
    "ctime_ns",
    "guid",
    "checksum_type",
    "checksum",
    "status",
    "target",
    "comment",
    "has_acl",
    "rdev",
)

# A directory's children in id order (the stable resume key), a page at a time.
CHILDREN = (
    select(*(_ENTRIES.c[name] for name in STAT_COLUMNS))
    .where(_ENTRIES.c.parent_id == bindparam("parent"), _ENTRIES.c.id > bindparam("after"))
    .order_by(_ENTRIES.c.id)
    .limit(bindparam("limit"))
)

# One child by name: the (parent_id, name) unique index.
CHILD_BY_NAME = select(_ENTRIES).where(
    _ENTRIES.c.parent_id == bindparam("parent"), _ENTRIES.c.name == bindparam("name")
)

# One child by name as STAT_COLUMNS (the read cache runs it on its own connection).
STAT_BY_NAME = select(*(_ENTRIES.c[name] for name in STAT_COLUMNS)).where(
    _ENTRIES.c.parent_id == bindparam("parent"), _ENTRIES.c.name == bindparam("name")
)


# What a walk needs of each directory on the way: the permission check's columns.
WALK_COLUMNS = ("id", "kind", "mode", "owner", "group_name", "has_acl")


class WalkLevel(NamedTuple):
    """One entry on a walked path: what the permission check reads (:data:`WALK_COLUMNS`)."""

    id: int | None  # None: no such name at this level (nor below)
    kind: str
    mode: int
    owner: str
    group_name: str
    has_acl: bool


@functools.lru_cache(maxsize=64)
def walk(depth: int) -> Select[Any]:
    """A path of ``depth`` names from the root in one query: a self-join per level.

    Parameters ``root`` (the root's id) and ``n1`` .. ``n<depth>``. One row:
    for each level ``k`` (0 is the root) the columns of :data:`WALK_COLUMNS`
    as ``k<k>_<column>`` (NULL from the first name that is not there), and
    every column of the last entry under its own name. Each join is a probe
    of the (parent_id, name) unique index.
    """
    levels = [_ENTRIES.alias(f"w{k}") for k in range(depth + 1)]
    clause: Any = levels[0]
    for k in range(1, depth + 1):
        on = and_(
            levels[k].c.parent_id == levels[k - 1].c.id,
            levels[k].c.name == bindparam(f"n{k}"),
        )
        clause = clause.outerjoin(levels[k], on)
    columns = [
        levels[k].c[name].label(f"k{k}_{name}") for k in range(depth + 1) for name in WALK_COLUMNS
    ]
    last = levels[depth]
    return select(*columns, *last.c).select_from(clause).where(levels[0].c.id == bindparam("root"))
