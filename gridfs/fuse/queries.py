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
``.query`` hides the virtual one. A search runs as the caller, so it lists
what the caller may read, when its path is looked up or listed and its last
result is older than :data:`RESULT_TTL_S`; the virtual entries keep their
inode numbers across searches.

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

from gridfs.errors import GridError, NotFound, ReadOnly
from gridfs.gfal import EntryId, FoundEntry, Identity, Nodes, Stat

__all__ = ["QUERY_DIR", "RECURSIVE", "VIRTUAL_BASE", "QueryDirectories", "VirtualEntry"]

log = logging.getLogger(__name__)

QUERY_DIR = ".query"
RECURSIVE = "recursive"
VIRTUAL_BASE = 1 << 62  # inodes from here on are virtual; catalog ids never get there
RESULT_TTL_S = 2.0
_MAX_SEARCHES = 128  # searches kept, least recently used dropped (and searched again if asked)
_SAVED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

Path = tuple[str, ...]


@dataclass(eq=False)
class VirtualEntry:
    """A virtual directory or link of a query tree."""

    inode: int
    directory_id: EntryId  # the real directory whose .query this is in
    owner_entry: Stat  # whose owner, group and times the virtual entry shows
    kind: str  # "query" (D/.query), "recursive" (D/.query/recursive), "result", "link"
    target: str = ""  # of a link
    search: _Search | None = None  # of a result directory
    children: dict[str, Stat | VirtualEntry] = field(default_factory=dict)

    @property
    def st_mode(self) -> int:
        """Read-only directories; links as links."""
        return stat.S_IFLNK | 0o777 if self.kind == "link" else stat.S_IFDIR | 0o555


Child = Stat | VirtualEntry


@dataclass(eq=False)
class _Search:
    """One condition under one directory, as one identity sees it, and its last result."""

    directory_id: EntryId
    identity: Identity  # whose search: results hold only what this identity may read
    condition: str
    recursive: bool
    depth: int  # directories between D and the result: .query/<c> is 2, .query/recursive/<c> 3
    root: VirtualEntry
    made: float = float("-inf")
    # Inode numbers by path (and kind) below the result, kept across searches.
    inodes: dict[tuple[Path, str], int] = field(default_factory=dict)


class QueryDirectories:
    """The virtual ``.query`` trees of one mount, with their inode numbers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_inode = VIRTUAL_BASE
        self._entries: dict[int, VirtualEntry] = {}
        self._query_dirs: dict[EntryId, VirtualEntry] = {}  # D -> D/.query
        self._searches: OrderedDict[tuple[object, ...], _Search] = OrderedDict()

    @staticmethod
    def is_virtual(inode: int) -> bool:
        """Whether ``inode`` is one of the virtual entries."""
        return inode >= VIRTUAL_BASE

    def entry(self, inode: int) -> VirtualEntry:
        """The virtual entry ``inode``; ENOENT once it has been forgotten."""
        with self._lock:
            found = self._entries.get(inode)
        if found is None:
            raise NotFound(f"query result inode {inode} is gone: look its path up again")
        return found

    @staticmethod
    def refuse(what: str) -> ReadOnly:
        """The error for a change inside a query tree."""
        return ReadOnly(f"query directories are read-only: cannot {what}")

    # -- lookups and listings --------------------------------------------------

    def query_dir(self, nodes: Nodes, directory_id: EntryId) -> VirtualEntry:
        """``D/.query`` for the real directory ``directory_id``."""
        directory = nodes.stat(directory_id)
        if not directory.is_dir():
            raise NotFound(f"{QUERY_DIR} is only under directories")
        with self._lock:
            found = self._query_dirs.get(directory_id)
            if found is None:
                found = self._new(directory_id, directory, "query")
                self._query_dirs[directory_id] = found
            found.owner_entry = directory
            return found

    def lookup(self, nodes: Nodes, parent: VirtualEntry, name: str) -> Child:
        """The child ``name`` of a virtual directory, searching if it names a query."""
        if parent.kind == "query" and name == RECURSIVE:
            with self._lock:
                child = parent.children.get(RECURSIVE)
                if not isinstance(child, VirtualEntry):
                    child = self._new(parent.directory_id, parent.owner_entry, "recursive")
                    parent.children[RECURSIVE] = child
            return child
        if parent.kind in ("query", "recursive"):
            search = self._named(nodes, parent, name)
            self._refresh(nodes, search)
            return search.root
        directory = self._current(nodes, parent)
        child = directory.children.get(name)
        if child is None:
            raise NotFound(f"no {name} among the matches")
        return child

    def listing(self, nodes: Nodes, directory: VirtualEntry) -> list[tuple[str, Child]]:
        """The children of a virtual directory: saved queries (not run yet), or the matches."""
        if directory.kind == "query":
            saved = nodes.grid.saved_queries(directory.directory_id)
            return [(query.name, self._named(nodes, directory, query.name).root) for query in saved]
        if directory.kind == "recursive":
            return []  # any condition is a child; none is listed
        return sorted(self._current(nodes, directory).children.items())

    # -- searching -------------------------------------------------------------

    def _named(self, nodes: Nodes, parent: VirtualEntry, name: str) -> _Search:
        """The search ``name`` stands for under ``parent`` (.query or .query/recursive)."""
        recursive = parent.kind == "recursive"
        depth = 3 if recursive else 2
        condition = name
        if not recursive and _SAVED_NAME.match(name):
            saved = {q.name: q for q in nodes.grid.saved_queries(parent.directory_id)}
            if name not in saved:
                raise NotFound(f"no query {name} is saved on this directory")
            condition, recursive = saved[name].condition, saved[name].recursive
        identity: Identity = nodes.identity
        key = (parent.directory_id, identity, depth, recursive, condition)
        with self._lock:
            search = self._searches.get(key)
            if search is None:
                root = self._new(parent.directory_id, parent.owner_entry, "result")
                search = _Search(parent.directory_id, identity, condition, recursive, depth, root)
                search.inodes[(), "result"] = root.inode
                root.search = search
                self._searches[key] = search
                while len(self._searches) > _MAX_SEARCHES:
                    _, dropped = self._searches.popitem(last=False)
                    for inode in dropped.inodes.values():
                        self._entries.pop(inode, None)
            self._searches.move_to_end(key)
            return search

    def _current(self, nodes: Nodes, node: VirtualEntry) -> VirtualEntry:
        """``node`` as the latest result of its search has it (searched again if old)."""
        assert node.search is not None
        if node.search.identity != nodes.identity:
            # Another user's result (the kernel's cache is shared): theirs to see only.
            raise NotFound("a query result of another user: look its path up again")
        self._refresh(nodes, node.search)
        return self.entry(node.inode)

    def _refresh(self, nodes: Nodes, search: _Search) -> None:
        """Search again if the last result is older than :data:`RESULT_TTL_S`."""
        if time.monotonic() - search.made < RESULT_TTL_S:
            return
        try:
            matches = nodes.find(search.directory_id, search.condition, recursive=search.recursive)
            placed = _placed(matches)
        except GridError as exc:
            log.info("query %r under directory %d: %s", search.condition, search.directory_id, exc)
            raise
        with self._lock:
            self._rebuild(search, placed)
            search.made = time.monotonic()

    def _rebuild(self, search: _Search, placed: _Placed) -> None:
        """Put a search's matches in its tree, keeping inode numbers by path (lock held)."""
        previous, search.inodes = search.inodes, {}
        root = self._node(search, previous, (), "result", search.root.owner_entry)
        for steps, match in placed.matches:
            node = root
            for depth in range(1, len(steps) + 1):
                path = steps[:depth]
                child = node.children.get(path[-1])
                if not isinstance(child, VirtualEntry) or child.kind != "result":
                    if child is not None:  # a link to a matching dir gives way to its matches
                        del search.inodes[path, "link"]
                    child = self._node(search, previous, path, "result", placed.directories[path])
                    node.children[path[-1]] = child
                node = child
            if not (match.is_dir() or match.is_symlink()):
                node.children[match.name] = match
            elif match.name not in node.children:
                # Up out of the query tree, then down to the real directory or link
                # (a link's own target is relative to where it really is).
                ups = search.depth + len(steps)
                real = posixpath.join(*([".."] * ups), *steps, match.name)
                path = (*steps, match.name)
                link = self._node(search, previous, path, "link", match, target=real)
                node.children[match.name] = link
        search.root = root
        for inode in set(previous.values()) - set(search.inodes.values()):
            self._entries.pop(inode, None)

    def _node(
        self,
        search: _Search,
        previous: dict[tuple[Path, str], int],
        path: Path,
        kind: str,
        owner: Stat,
        *,
        target: str = "",
    ) -> VirtualEntry:
        """A fresh entry of a search's tree at ``path``, with the inode it had in ``previous``."""
        inode = previous.get((path, kind))
        entry = self._new(search.directory_id, owner, kind, target=target, inode=inode)
        entry.search = search if kind == "result" else None
        search.inodes[path, kind] = entry.inode
        return entry

    def _new(
        self,
        directory_id: EntryId,
        owner: Stat,
        kind: str,
        *,
        target: str = "",
        inode: int | None = None,
    ) -> VirtualEntry:
        """A virtual entry, registered under a new inode or ``inode`` (lock held)."""
        if inode is None:
            inode = self._next_inode
            self._next_inode += 1
        entry = VirtualEntry(inode, directory_id, owner, kind, target)
        self._entries[inode] = entry
        return entry


def _placed(matches: Iterable[FoundEntry]) -> _Placed:
    """Each match with the names from the searched directory down to its own, and those.

    The search hands each match with the directories on its way: nothing more
    is asked of the catalog, and no lock is taken.
    """
    directories: dict[Path, Stat] = {}
    placed = []
    for found in matches:
        path: Path = ()
        for directory in found.directories:
            path = (*path, directory.name)
            directories.setdefault(path, directory)
        placed.append((path, found.entry))
    return _Placed(placed, directories)


@dataclass(frozen=True)
class _Placed:
    """Matches at their paths below the directory searched, and the directories on the way."""

    matches: list[tuple[Path, Stat]]
    directories: dict[Path, Stat]
