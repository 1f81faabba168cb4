"""Virtual query directories: metadata searches as paths.

Under every directory ``D`` of the mount (README, "Query directories"):

- ``D/.query/`` lists the queries saved on ``D`` (``gridfs meta save``);
- ``D/.query/<condition>`` lists the entries of ``D`` that match the
  metadata condition; ``D/.query/<saved name>`` runs that saved query;
- ``D/.query/recursive/<condition>`` searches the whole subtree: the matches
  appear in a tree of the subdirectories that lead to them.

Matching files are the files themselves (the same inode, so ``cat``, ``cp``,
``sha256sum`` and ``find`` work on them); a matching directory appears as a
symbolic link to it. Everything virtual is read-only. A real entry named
``.query`` hides the virtual one. A search runs when its path is looked up,
as the caller, so it lists what the caller may read; its result is kept for
:data:`RESULT_TTL_S` seconds and then searched afresh.

All methods may query the catalog: call them from worker threads.
"""

from __future__ import annotations

import logging
import posixpath
import re
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from gridfs.catalog import EntryId, Stat
from gridfs.errors import GridError, NotFound, ReadOnly
from gridfs.gfal import Grid

__all__ = ["QUERY_DIR", "RECURSIVE", "VIRTUAL_BASE", "QueryDirectories", "VirtualEntry"]

log = logging.getLogger(__name__)

QUERY_DIR = ".query"
RECURSIVE = "recursive"
VIRTUAL_BASE = 1 << 62  # inodes from here on are virtual; catalog ids never get there
RESULT_TTL_S = 2.0
_MAX_RESULTS = 128  # searches kept; older ones are forgotten (and searched again if asked)
_SAVED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass
class VirtualEntry:
    """A virtual directory or link of a query tree."""

    inode: int
    directory_id: EntryId  # the real directory whose search this belongs to
    owner_entry: Stat  # whose owner, group and times the virtual entry shows
    kind: str  # "query" (D/.query), "recursive" (D/.query/recursive), "result", "link"
    condition: str | None = None
    recursive: bool = False
    target: str = ""  # of a link
    children: dict[str, Stat | VirtualEntry] = field(default_factory=dict)
    made: float = field(default_factory=time.monotonic)

    @property
    def st_mode(self) -> int:
        """Read-only directories; links as links."""
        return stat.S_IFLNK | 0o777 if self.kind == "link" else stat.S_IFDIR | 0o555


Child = Stat | VirtualEntry


class QueryDirectories:
    """The virtual ``.query`` trees of one mount, with their inode numbers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_inode = VIRTUAL_BASE
        self._entries: dict[int, VirtualEntry] = {}
        self._query_dirs: dict[EntryId, VirtualEntry] = {}  # D -> D/.query
        self._results: OrderedDict[tuple[EntryId, bool, str], VirtualEntry] = OrderedDict()

    @staticmethod
    def is_virtual(inode: int) -> bool:
        """Whether ``inode`` is one of the virtual entries."""
        return inode >= VIRTUAL_BASE

    def entry(self, inode: int) -> VirtualEntry:
        """The virtual entry ``inode``; ENOENT once it has been forgotten."""
        with self._lock:
            found = self._entries.get(inode)
        if found is None:
            raise NotFound(f"the query result of inode {inode} is gone: look it up again")
        return found

    @staticmethod
    def refuse(what: str) -> ReadOnly:
        """The error for a change inside a query tree."""
        return ReadOnly(f"query directories are read-only: cannot {what}")

    # -- lookups -------------------------------------------------------------

    def query_dir(self, grid: Grid, directory_id: EntryId) -> VirtualEntry:
        """``D/.query`` for the real directory ``directory_id``."""
        directory = grid.stat_id(directory_id)
        if not directory.is_dir():
            raise NotFound(f"{QUERY_DIR} is only under directories")
        with self._lock:
            found = self._query_dirs.get(directory_id)
            if found is None:
                found = self._new(directory_id, directory, "query")
                self._query_dirs[directory_id] = found
            found.owner_entry = directory
            return found

    def lookup(self, grid: Grid, parent: VirtualEntry, name: str) -> Child:
        """The child ``name`` of a virtual directory, searching if it names a query."""
        if parent.kind == "query" and name == RECURSIVE:
            with self._lock:
                child = parent.children.get(RECURSIVE)
                if not isinstance(child, VirtualEntry):
                    child = self._new(parent.directory_id, parent.owner_entry, "recursive")
                    parent.children[RECURSIVE] = child
            return child
        if parent.kind in ("query", "recursive"):
            return self._search(grid, parent, name)
        child = parent.children.get(name)
        if child is None:
            raise NotFound(f"no {name} among the matches")
        return child

    def listing(self, grid: Grid, directory: VirtualEntry) -> list[tuple[str, Child]]:
        """The children of a virtual directory: saved queries, or the matches."""
        if directory.kind == "query":
            listed: list[tuple[str, Child]] = []
            for query in grid.metadata.saved_queries(directory.directory_id):
                try:
                    listed.append((query.name, self._search(grid, directory, query.name)))
                except GridError as exc:  # e.g. an attribute gone from the schema since
                    log.info("saved query %s is left out of the listing: %s", query.name, exc)
            return listed
        if directory.kind == "recursive":
            return []  # any condition is a child; none is listed
        return sorted(directory.children.items())

    # -- searching -----------------------------------------------------------

    def _search(self, grid: Grid, parent: VirtualEntry, name: str) -> VirtualEntry:
        recursive = parent.kind == "recursive"
        condition = name
        if not recursive and _SAVED_NAME.match(name):
            saved = {q.name: q for q in grid.metadata.saved_queries(parent.directory_id)}
            if name not in saved:
                raise NotFound(f"no query {name} is saved on this directory")
            condition, recursive = saved[name].condition, saved[name].recursive
        key = (parent.directory_id, recursive, condition)
        with self._lock:
            cached = self._results.get(key)
            if cached is not None and time.monotonic() - cached.made < RESULT_TTL_S:
                return cached
        try:
            matches = list(grid.find_id(parent.directory_id, condition, recursive=recursive))
        except GridError as exc:
            log.info("query %r under directory %d: %s", condition, parent.directory_id, exc)
            raise
        result = self._tree(grid, parent, condition, recursive, matches)
        with self._lock:
            old = self._results.pop(key, None)
            if old is not None:
                self._forget(old)
            self._results[key] = result
            while len(self._results) > _MAX_RESULTS:
                _, evicted = self._results.popitem(last=False)
                self._forget(evicted)
        return result

    def _tree(
        self,
        grid: Grid,
        parent: VirtualEntry,
        condition: str,
        recursive: bool,
        matches: Iterable[Stat],
    ) -> VirtualEntry:
        """The result directory: matches placed at their paths below the searched directory."""
        top = parent.directory_id
        paths = _Paths(grid, top)
        placed = [(paths.of(m.parent_id), m) for m in matches if m.parent_id is not None]
        with self._lock:
            root = self._new(top, parent.owner_entry, "result", condition, recursive=recursive)
            for steps, match in placed:
                node = root
                for depth, step in enumerate(steps):
                    child = node.children.get(step)
                    if not isinstance(child, VirtualEntry) or child.kind != "result":
                        owner = paths.entry_at(steps[: depth + 1])
                        child = self._new(top, owner, "result", condition, recursive=recursive)
                        node.children[step] = child
                    node = child
                if not match.is_dir():
                    node.children[match.name] = match
                elif match.name not in node.children:
                    # Up out of the query tree (.query/[recursive/]condition/steps...),
                    # then down to the real directory.
                    ups = 2 + recursive + len(steps)
                    real = posixpath.join(*([".."] * ups), *steps, match.name)
                    link = self._new(top, match, "link", condition, target=real)
                    node.children[match.name] = link
        return root

    def _new(
        self,
        directory_id: EntryId,
        owner: Stat,
        kind: str,
        condition: str | None = None,
        *,
        recursive: bool = False,
        target: str = "",
    ) -> VirtualEntry:
        # Called with the lock held.
        inode = self._next_inode
        self._next_inode += 1
        entry = VirtualEntry(inode, directory_id, owner, kind, condition, recursive, target)
        self._entries[inode] = entry
        return entry

    def _forget(self, result: VirtualEntry) -> None:
        """Drop a result tree's virtual entries (called with the lock held)."""
        pending = [result]
        while pending:
            entry = pending.pop()
            self._entries.pop(entry.inode, None)
            pending += [c for c in entry.children.values() if isinstance(c, VirtualEntry)]


class _Paths:
    """Where directories lie below ``top``, asking the catalog once per directory."""

    def __init__(self, grid: Grid, top: EntryId) -> None:
        self._grid = grid
        self._paths: dict[EntryId, tuple[str, ...]] = {top: ()}
        self._entries: dict[tuple[str, ...], Stat] = {}

    def of(self, directory_id: EntryId) -> tuple[str, ...]:
        """The names from ``top`` down to ``directory_id``."""
        chain: list[Stat] = []
        current: EntryId | None = directory_id
        while current is not None and current not in self._paths:
            entry = self._grid.stat_id(current)
            chain.append(entry)
            current = entry.parent_id
        if current is None:
            raise NotFound(f"directory {directory_id} is not below the one searched")
        for entry in reversed(chain):
            assert entry.parent_id is not None
            path = (*self._paths[entry.parent_id], entry.name)
            self._paths[entry.id], self._entries[path] = path, entry
        return self._paths[directory_id]

    def entry_at(self, path: tuple[str, ...]) -> Stat:
        """The directory at ``path`` below ``top`` (one :meth:`of` has found)."""
        return self._entries[path]
