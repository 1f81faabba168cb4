"""The adler32 of a file as it is written, summed beside the writer once the writes are large.

A file written in order through the mount is summed on the way (the sum
is what a file:// SE registers, and what a copy to another SE is checked
against). Summing 1 MiB takes about as long as the rest of the write
request, in the one thread that serves every request: so from the first
large write on, the chunks are summed in a thread of their own, in order,
while the next write comes in, and :meth:`InOrderSum.hexdigest` waits for
the last. Only immutable chunks (``bytes``) are handed over as they are;
any other buffer is copied first, since its owner may reuse it.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

from gridfs.storage import Adler32

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["InOrderSum"]

LARGE = 256 << 10  # a write this large or larger starts the summing thread
_QUEUED = 64  # chunks waiting at most: then a writer waits for the sum


class InOrderSum:
    """A running adler32 over chunks fed in order by one writer at a time, like :class:`Adler32`."""

    def __init__(self) -> None:
        self._sum = Adler32()
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None

    def update(self, data: ReadableBuffer) -> None:
        """Feed the next chunk (summed now, or in the summing thread once one is running)."""
        view = memoryview(data)
        if self._queue is None and view.nbytes < LARGE:
            self._sum.update(view)
            return
        if self._queue is None:
            self._queue = queue.Queue(_QUEUED)
            self._thread = threading.Thread(target=self._run, name="gridfs-adler32", daemon=True)
            self._thread.start()
        self._queue.put(data if isinstance(data, bytes) else view.tobytes())

    def _run(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            self._sum.update(chunk)
            self._queue.task_done()
        self._queue.task_done()

    @property
    def threaded(self) -> bool:
        """True while a summing thread runs (:meth:`close` then waits for it)."""
        return self._thread is not None

    def hexdigest(self) -> str:
        """The sum of everything fed so far, once the summing thread has caught up."""
        if self._queue is not None:
            self._queue.join()
        return self._sum.hexdigest()

    def close(self) -> None:
        """End the summing thread, if one runs; the sum is not wanted any more."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None
