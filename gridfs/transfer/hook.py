"""The transfer service as the gfal layer's :class:`~gridfs.gfal.queue.TransferQueue`.

Imported by name (see :mod:`gridfs.gfal.queue`) when a grid is first asked
for a transfer: ``setfattr -n user.grid.replicate -v SE FILE`` on the mount.
"""

from __future__ import annotations

from gridfs.gfal import Grid
from gridfs.transfer.service import Submission, Transfers
from gridfs.transfer.settings import TransferSettings
from gridfs.transfer.store import TransferStore

__all__ = ["Queue", "open_queue"]


class Queue:
    """Submissions and states through one store, for any grid (identity) that asks."""

    def __init__(self, store: TransferStore, settings: TransferSettings | None = None) -> None:
        self.store = store
        self.settings = settings or TransferSettings()

    def replicate(self, grid: Grid, lfn: str, se: str) -> int:
        """Submit a job copying ``lfn`` to ``se``, as ``grid``'s identity; its id."""
        return Transfers(grid, self.store, self.settings).submit([lfn], Submission((se,)))

    def states(self, grid: Grid, lfn: str) -> list[str]:
        """``JOB SE STATE[: reason]`` per transfer of the file ``lfn``, newest first."""
        guid = grid.stat(lfn).guid
        if guid is None:
            return []
        return [
            f"{file.job_id} {file.dest_se} {file.state.value}"
            + (f": {file.reason}" if file.reason else "")
            for file in self.store.files_of(guid)
        ]

    def close(self) -> None:
        """Release the store."""
        self.store.close()


def open_queue(catalog_url: str) -> Queue:
    """The queue of the catalog database at ``catalog_url``."""
    return Queue(TransferStore.from_url(catalog_url))
