"""Whole directories in memory: lookups, attributes and listings answered without the catalog.

On the first lookup or listing in a directory that no change of the mount's
own has touched lately, the mount fetches its children with their attributes
in one catalog request (:meth:`~gridfs.catalog.CatalogAPI.children`, which
checks what a lookup checks: the way to the directory searchable for the
caller). Until the entry timeout runs out, a lookup there, a ``getattr`` of
one of its children and a ``readdir`` (resuming at any id) are answered from
memory in the event loop, with no thread hop and no query: ``stat`` of every
file of a directory of 10,000 costs one query, not 10,000.

Everything is kept per grid identity: what one caller may see is no answer for
another. The walked stats (``stat_walked``: the ancestors searchable, and a
mode checked) are kept the same way, by (identity, entry, mode).

The mount's own changes show at once. A child it made, removed or changed is
added to, removed from or changed in every kept copy of its directory
(:meth:`DirectoryCache.added`, :meth:`~DirectoryCache.removed`,
:meth:`~DirectoryCache.updated`; a copy of more than :data:`REBUILT_AT_MOST`
children is dropped by a removal instead): the copy stays current, so a lookup of a
name that is not there is answered from memory too, and filling a directory
(``tar x``, ``cp -r``) costs no lookup query at all. A directory the mount has
just made is kept empty at once for its maker (:meth:`~DirectoryCache.made`).
Every change drops the walked stats. A change of permissions or of the tree's
shape (chmod or chown of a directory, rename) drops everything, since it may
change what any caller reaches below. A change in a directory no copy of which
is kept is noted, and that directory is not fetched whole again until the
entry timeout has passed since its last change, so that filling it costs one
lookup query per file, not a refetch of the whole directory each time.
A kept copy lives for the entry timeout from its fetch, whatever the mount
changed in it meanwhile: changes made elsewhere show within the entry timeout,
as with the kernel's own caches.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["REBUILT_AT_MOST", "Directory", "DirectoryCache"]

A = TypeVar("A")  # what is kept of each child: the mount's attributes

REBUILT_AT_MOST = 256
"""Children of a copy rebuilt for a removal (or a name replaced); a bigger copy is dropped.

A rebuilt copy costs about a microsecond per child, under the lock that the
event loop's lookups take: for each unlink of ``rm -rf`` in a directory of
20,000, 26 ms. Dropped, the directory is looked up by name for a while, as
after a change made elsewhere.
"""


@dataclass
class Directory(Generic[A]):
    """The children of one directory as one identity sees them: by id order and by name."""

    ids: list[int]
    names: list[bytes]
    attributes: list[A]
    by_name: dict[bytes, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {name: index for index, name in enumerate(self.names)}

    def child(self, name: bytes) -> A | None:
        """The attributes of child ``name``; None when there is no such child."""
        index = self.by_name.get(name)
        return None if index is None else self.attributes[index]

    def after(self, entry_id: int) -> int:
        """The position of the first child with an id above ``entry_id`` (a readdir resume)."""
        return bisect.bisect_right(self.ids, entry_id)

    def index(self, entry_id: int) -> int | None:
        """The position of child ``entry_id``; None when it is not a child."""
        at = bisect.bisect_left(self.ids, entry_id)
        return at if at < len(self.ids) and self.ids[at] == entry_id else None

    def appendable(self, entry_id: int) -> bool:
        """Whether ``entry_id`` sorts after every child: it can be added in place."""
        return not self.ids or entry_id > self.ids[-1]

    def append(self, entry_id: int, name: bytes, attributes: A) -> None:
        """Add a child whose id sorts last, in place (see :meth:`appendable`).

        Safe beside readers in other threads: ``ids`` grows last, so a reader
        that takes ``len(ids)`` finds the name and attributes at every index.
        """
        self.attributes.append(attributes)
        self.names.append(name)
        self.by_name[name] = len(self.names) - 1
        self.ids.append(entry_id)

    def changed(self, children: Sequence[tuple[int, bytes, A]]) -> Directory[A]:
        """A new copy with ``children`` (id, name, attributes) instead of these, in id order."""
        ordered = sorted(children, key=lambda child: child[0])
        return Directory([c[0] for c in ordered], [c[1] for c in ordered], [c[2] for c in ordered])

    def children(self) -> list[tuple[int, bytes, A]]:
        """The children as (id, name, attributes), in id order."""
        return list(zip(self.ids, self.names, self.attributes, strict=True))


class DirectoryCache(Generic[A]):
    """Directories by (identity, directory id), and walked stats; thread-safe, bounded."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 500_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._directories: OrderedDict[tuple[Hashable, int], tuple[float, Directory[A]]] = (
            OrderedDict()
        )
        self._children: dict[tuple[Hashable, int], tuple[float, A]] = {}  # by (identity, entry)
        self._walked: dict[tuple[Hashable, int, int], tuple[float, object]] = {}
        self._entries = 0
        self._kept_by: dict[int, set[Hashable]] = {}  # directory -> identities with a copy
        self._parent_of: dict[int, int] = {}  # entry -> the directory a copy holds it in
        self._generation = 0  # changes the mount made: a fetch begun before one is not kept
        # directory -> when the mount last changed it, oldest first (see _note_change)
        self._changed: dict[int, float] = {}

    # -- reading ---------------------------------------------------------------

    def directory(self, identity: Hashable, directory: int) -> Directory[A] | None:
        """The children of ``directory`` as ``identity`` saw them, if still fresh."""
        with self._lock:
            found = self._directories.get((identity, directory))
            if found is None:
                return None
            if found[0] < self._clock():
                self._drop((identity, directory))
                return None
            return found[1]

    def child(self, identity: Hashable, entry_id: int) -> A | None:
        """The attributes of an entry that a fresh directory of ``identity`` holds."""
        with self._lock:
            found = self._children.get((identity, entry_id))
            if found is None or found[0] < self._clock():
                return None
            return found[1]

    def walked(self, identity: Hashable, entry_id: int, mode: int) -> object | None:
        """A walked stat of ``entry_id`` checked for ``mode``, if still fresh."""
        with self._lock:
            found = self._walked.get((identity, entry_id, mode))
            if found is None or found[0] < self._clock():
                return None
            return found[1]

    # -- filling ---------------------------------------------------------------

    def generation(self) -> int:
        """Read before fetching; give it to :meth:`put` (see there)."""
        with self._lock:
            return self._generation

    def worth_fetching(self, directory: int) -> bool:
        """False while the mount changed ``directory`` within the last entry timeout."""
        if self.ttl <= 0:
            return False
        with self._lock:
            changed = self._changed.get(directory)
            if changed is None:
                return True
            if changed + self.ttl < self._clock():
                del self._changed[directory]
                return True
            return False

    def skip(self, directory: int) -> None:
        """Do not fetch ``directory`` whole for the time to live (it is too big to keep)."""
        with self._lock:
            self._note_change(directory, self._clock())

    def put(
        self,
        identity: Hashable,
        directory: int,
        children: Sequence[tuple[int, bytes, A]],
        *,
        generation: int,
    ) -> Directory[A] | None:
        """Keep ``children`` (id, name, attributes, in id order) for the time to live.

        Not if the mount changed anything since :meth:`generation` gave
        ``generation`` (the fetch may miss it), nor a directory larger than
        the whole cache; returns what it kept, or None.
        """
        if self.ttl <= 0 or len(children) > self.max_entries // 2:
            return None
        kept = Directory(
            [c[0] for c in children], [c[1] for c in children], [c[2] for c in children]
        )
        with self._lock:
            if generation != self._generation:
                return None
            key = (identity, directory)
            if key in self._directories:
                self._drop(key)
            self._keep(key, self._clock() + self.ttl, kept)
        return kept

    def made(self, identity: Hashable, directory: int) -> None:
        """The mount has just made ``directory`` as ``identity``, who may search it: kept empty."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._generation += 1
            self._walked.clear()
            key = (identity, directory)
            if key in self._directories:
                self._drop(key)
            self._keep(key, self._clock() + self.ttl, Directory([], [], []))

    def _keep(self, key: tuple[Hashable, int], expiry: float, kept: Directory[A]) -> None:
        """Keep ``kept`` under ``key`` until ``expiry``, making room if need be (lock held)."""
        identity, directory = key
        self._directories[key] = (expiry, kept)
        self._kept_by.setdefault(directory, set()).add(identity)
        if len(self._parent_of) >= self.max_entries:
            self._parent_of.clear()  # a hint only (see _touched): forgetting it costs a refetch
        for entry_id, attributes in zip(kept.ids, kept.attributes, strict=True):
            self._children[(identity, entry_id)] = (expiry, attributes)
            self._parent_of[entry_id] = directory
        self._entries += len(kept.ids)
        while self._entries > self.max_entries and self._directories:
            self._drop(next(iter(self._directories)))

    def put_walked(
        self, identity: Hashable, entry_id: int, mode: int, stat: object, *, generation: int
    ) -> None:
        """Keep a walked stat for the time to live (unless the mount changed anything since)."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._walked) >= self.max_entries:
                self._walked.clear()
            self._walked[(identity, entry_id, mode)] = (self._clock() + self.ttl, stat)

    def statistics(self) -> dict[str, int]:
        """What is kept now: directories, their children, walked stats, recently changed."""
        with self._lock:
            return {
                "directories": len(self._directories),
                "entries": self._entries,
                "walked": len(self._walked),
                "changed": len(self._changed),
            }

    # -- the mount's own changes, kept current -----------------------------------

    def added(self, directory: int, entry_id: int, name: bytes, attributes: A) -> None:
        """The mount made child ``name`` (``entry_id``) in ``directory``: in every kept copy.

        Where no copy is kept, as :meth:`invalidate`. A name already there is
        replaced (the entry it named is gone).
        """
        with self._lock:
            for key, expiry, kept in self._fresh_copies(directory):
                if name not in kept.by_name and kept.appendable(entry_id):
                    kept.append(entry_id, name, attributes)
                    self._children[(key[0], entry_id)] = (expiry, attributes)
                    self._parent_of[entry_id] = directory
                    self._entries += 1
                    continue
                if not self._rebuilt(key, kept, directory):
                    continue
                others = [c for c in kept.children() if c[1] != name and c[0] != entry_id]
                self._replace(key, expiry, kept.changed([*others, (entry_id, name, attributes)]))

    def updated(self, directory: int, entry_id: int, attributes: A) -> None:
        """The attributes of child ``entry_id`` of ``directory`` changed: in every kept copy."""
        with self._lock:
            for key, expiry, kept in self._fresh_copies(directory, touch=False):
                index = kept.index(entry_id)
                if index is not None:
                    kept.attributes[index] = attributes  # one store: readers see old or new
                    self._children[(key[0], entry_id)] = (expiry, attributes)

    def removed(self, directory: int, name: bytes) -> None:
        """Child ``name`` of ``directory`` is gone: from every kept copy."""
        with self._lock:
            for key, expiry, kept in self._fresh_copies(directory):
                if name in kept.by_name and self._rebuilt(key, kept, directory):
                    remaining = [c for c in kept.children() if c[1] != name]
                    self._replace(key, expiry, kept.changed(remaining))

    def _fresh_copies(
        self, directory: int, *, touch: bool = True
    ) -> list[tuple[tuple[Hashable, int], float, Directory[A]]]:
        """The fresh copies of ``directory``, to change (lock held); none: the change is noted.

        A change makes every fetch under way stale and drops the walked stats;
        one of the directory's names (``touch``) changes its times too.
        """
        now = self._clock()
        self._generation += 1
        self._walked.clear()
        fresh = []
        for identity in list(self._kept_by.get(directory, ())):
            key = (identity, directory)
            expiry, kept = self._directories[key]
            if expiry < now:
                self._drop(key)
            else:
                fresh.append((key, expiry, kept))
        if not fresh:
            self._note_change(directory, now)
        if touch:
            self._touched(directory)
        return fresh

    def _touched(self, directory: int) -> None:
        """A change in ``directory`` changed its times: drop the copies that hold it (lock held).

        Not noted as a change of theirs: their next lookup fetches them again.
        """
        parent = self._parent_of.get(directory)
        if parent is not None:
            for identity in list(self._kept_by.get(parent, ())):
                self._drop((identity, parent))

    def _rebuilt(self, key: tuple[Hashable, int], kept: Directory[A], directory: int) -> bool:
        """Whether copy ``kept`` is small enough to rebuild; if not, dropped (lock held)."""
        if len(kept.ids) <= REBUILT_AT_MOST:
            return True
        self._drop(key)
        self._note_change(directory, self._clock())
        return False

    def _replace(self, key: tuple[Hashable, int], expiry: float, changed: Directory[A]) -> None:
        """Keep ``changed`` for the copy under ``key`` (readers keep the old one; lock held)."""
        self._drop(key)
        self._keep(key, expiry, changed)

    # -- forgetting ------------------------------------------------------------

    def invalidate(self, *directories: int | None) -> None:
        """The mount changed entries of ``directories``: forget them, and every walked stat."""
        wanted = {d for d in directories if d is not None}
        now = self._clock()
        with self._lock:
            self._generation += 1
            self._walked.clear()
            for directory in wanted:
                self._note_change(directory, now)
                self._touched(directory)
                for identity in list(self._kept_by.get(directory, ())):
                    self._drop((identity, directory))

    def clear(self) -> None:
        """The mount changed permissions or moved a tree: forget everything."""
        with self._lock:
            self._generation += 1
            self._directories.clear()
            self._children.clear()
            self._walked.clear()
            self._entries = 0
            self._kept_by.clear()
            self._parent_of.clear()

    def _note_change(self, directory: int, now: float) -> None:
        """Record a change of ``directory`` at ``now``; forget those older than the entry timeout.

        The dict is kept in the order of the changes (re-inserted on each), so
        the expired ones are at its front: a mount that changes many
        directories keeps only those of the last entry timeout.
        """
        self._changed.pop(directory, None)
        self._changed[directory] = now
        while self._changed:
            oldest, when = next(iter(self._changed.items()))
            if when + self.ttl >= now:
                return
            del self._changed[oldest]

    def _drop(self, key: tuple[Hashable, int]) -> None:
        found = self._directories.pop(key, None)
        if found is None:  # made room for another copy meanwhile
            return
        _, kept = found
        self._entries -= len(kept.ids)
        identity, directory = key
        identities = self._kept_by.get(directory)
        if identities is not None:
            identities.discard(identity)
            if not identities:
                del self._kept_by[directory]
        for entry_id in kept.ids:
            self._children.pop((identity, entry_id), None)
