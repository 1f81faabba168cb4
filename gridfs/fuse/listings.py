"""Pages of directory listings, kept for the entry timeout so that a listing repeated soon
(``ls`` after ``ls``, ``find`` over a tree just listed) costs no catalog query.

The kernel does not keep directory contents for a FUSE filesystem that
cannot tell it when to drop them, so it asks again for every ``ls``; the mount
answers from here. A page is dropped when its time is up, and at once when the
mount itself changes the directory (an entry created, removed, renamed, or its
attributes changed), so the mount's own changes show at once; changes made
elsewhere show within the entry timeout, as with the kernel's own caches.
Pages are kept per grid identity: who may list a directory is the catalog's
decision, made when the page is first read.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ListingCache"]

P = TypeVar("P")


class ListingCache(Generic[P]):
    """Listing pages by (identity, directory, resume key); thread-safe, bounded in entries."""

    def __init__(
        self, ttl: float, *, max_entries: int = 200_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # (identity, directory id, after) -> (expiry, page, number of entries)
        self._pages: OrderedDict[tuple[Hashable, int, int], tuple[float, P, int]] = OrderedDict()
        self._entries = 0
        # Changes the mount made, per directory: a page read before one is not kept.
        self._changes: dict[int, int] = {}

    def generation(self, directory: int) -> int:
        """How many times the mount has changed ``directory``; read it before listing."""
        with self._lock:
            return self._changes.get(directory, 0)

    def get(self, identity: Hashable, directory: int, after: int) -> P | None:
        """The page listed after id ``after``, if it is still fresh."""
        key = (identity, directory, after)
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            if found[0] < self._clock():
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return found[1]

    def put(
        self, identity: Hashable, directory: int, after: int, page: P, size: int, *, generation: int
    ) -> None:
        """Keep ``page`` (of ``size`` entries) for the time to live.

        Unless the mount changed the directory since :meth:`generation` gave
        ``generation``: the page may miss that change.
        """
        if self.ttl <= 0:
            return
        key = (identity, directory, after)
        with self._lock:
            if self._changes.get(directory, 0) != generation:
                return
            if key in self._pages:
                self._drop(key)
            self._pages[key] = (self._clock() + self.ttl, page, size)
            self._entries += size
            while self._entries > self.max_entries and self._pages:
                self._drop(next(iter(self._pages)))

    def invalidate(self, *directories: int | None) -> None:
        """Forget every page of ``directories`` (the mount changed them)."""
        wanted = {d for d in directories if d is not None}
        with self._lock:
            for directory in wanted:
                self._changes[directory] = self._changes.get(directory, 0) + 1
            for key in [key for key in self._pages if key[1] in wanted]:
                self._drop(key)

    def _drop(self, key: tuple[Hashable, int, int]) -> None:
        _, _, size = self._pages.pop(key)
        self._entries -= size
