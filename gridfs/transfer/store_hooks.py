"""What the call mixins need of :class:`~gridfs.transfer.store.TransferStore`.

The store's calls are split by concern (:mod:`.tombstones`, :mod:`.link_calls`),
each a mixin the store inherits. They share its engine, clock and
transactions, declared here once and implemented in :mod:`gridfs.transfer.store`;
a mixin never reaches past them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

__all__ = ["StoreHooks"]


class StoreHooks(abc.ABC):
    """The state and plumbing of the transfer store that its call mixins use."""

    engine: Engine
    _clock: Callable[[], float]
    _postgresql: bool
    _next_decision: float  # no link is due before then (on the store's clock)

    @abc.abstractmethod
    def _session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        """One transaction (``write``: one that changes the queue)."""

    @abc.abstractmethod
    def _lock_claims(self, session: Session) -> None:
        """Serialise the counting of claims and decisions."""
