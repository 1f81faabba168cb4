"""The seam to the transfer service, which sits above this layer: replicate a file, see its state.

The service (:mod:`gridfs.transfer`) depends on the gfal layer, so the gfal
layer cannot import it: a grid opened from a configuration holds a
:class:`QueueHolder` that imports the service's hook by name the first time a
transfer is asked for (``setfattr -n user.grid.replicate``), as fsspec's
registry imports a backend, and never otherwise.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Protocol

__all__ = ["QueueHolder", "TransferQueue"]

_HOOK = "gridfs.transfer.hook"  # defines open_queue(catalog_url) -> TransferQueue


class TransferQueue(Protocol):
    """What a grid asks of the transfer service.

    ``grid`` is the :class:`~gridfs.gfal.grid.Grid` asking (typed ``Any``: that
    module imports this one).
    """

    def replicate(self, grid: Any, lfn: str, se: str) -> int:
        """Submit a transfer of ``lfn`` to ``se`` as ``grid``'s identity; the job's id."""
        ...

    def states(self, grid: Any, lfn: str) -> list[str]:
        """A line per transfer of ``lfn``: job, destination, state, reason."""
        ...

    def close(self) -> None:
        """Release the queue's database connections."""
        ...


class QueueHolder:
    """The transfer queue of one catalog database, opened on first use; shared by derived grids."""

    def __init__(self, catalog_url: str) -> None:
        self._url = catalog_url
        self._queue: TransferQueue | None = None
        self._lock = threading.Lock()

    def queue(self) -> TransferQueue:
        """The queue (opened now if it is not yet)."""
        with self._lock:
            if self._queue is None:
                self._queue = importlib.import_module(_HOOK).open_queue(self._url)
            return self._queue

    def close(self) -> None:
        """Close the queue, if it was opened."""
        with self._lock:
            if self._queue is not None:
                self._queue.close()
                self._queue = None
