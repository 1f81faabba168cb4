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

The mount's own changes show at once: a change in a directory drops its
entries for every identity (and the walked stats); a change of permissions or
of the tree's shape (chmod, chown, rename) drops everything, since it may
change what any caller reaches below. A directory the mount has just changed
is not fetched whole again until the entry timeout has passed since its last
change, so that filling a directory (``tar x``, ``cp -r``) costs one lookup
query per file as before, not a refetch of the whole directory each time.
Changes made elsewhere show within the entry timeout, as with the kernel's
own caches.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Directory", "DirectoryCache"]

A = TypeVar("A")  # what is kept of each child: the mount's attributes


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
            expiry = self._clock() + self.ttl
            self._directories[key] = (expiry, kept)
            for entry_id, _, attributes in children:
                self._children[(identity, entry_id)] = (expiry, attributes)
            self._entries += len(children)
            while self._entries > self.max_entries and self._directories:
                self._drop(next(iter(self._directories)))
        return kept

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
            for key in [key for key in self._directories if key[1] in wanted]:
                self._drop(key)

    def clear(self) -> None:
        """The mount changed permissions or moved a tree: forget everything."""
        with self._lock:
            self._generation += 1
            self._directories.clear()
            self._children.clear()
            self._walked.clear()
            self._entries = 0

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
        _, kept = self._directories.pop(key)
        self._entries -= len(kept.ids)
        identity = key[0]
        for entry_id in kept.ids:
            self._children.pop((identity, entry_id), None)
