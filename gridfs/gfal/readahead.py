"""Reading ahead: the chunks of a copy made in a thread of their own while the last are written.

A copy reads a source and writes a destination, each a system call that
releases the GIL (a local file, a socket). Run one after the other, each
waits for the other; with the reading in a thread a few chunks ahead, both
run at once and a copy takes as long as its slower side.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

__all__ = ["COPY_CHUNK", "read_ahead"]

T = TypeVar("T")

# The chunk of a copy: each system call (or XRootD request) then moves enough
# bytes that its own cost is small, and the few chunks in flight cost little memory.
COPY_CHUNK = 8 << 20

_DONE = object()  # the end of the chunks, put after the last one


class _Failed:
    """What the reading thread raised, handed to the consumer to raise in its turn."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(chunks: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """The items of ``chunks``, made in a thread of their own up to ``depth`` ahead.

    ``chunks`` is iterated (and closed) in that thread only. What it raises
    is raised here, at its place in the order. When the consumer stops early
    (an error, a ``close()`` of this generator), the thread stops at its next
    item and is joined before this returns. Items that reuse buffers must have
    ``depth + 2`` of them: the thread fills one while ``depth`` wait and the
    consumer holds one.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in chunks:
                if not put(item):
                    return
        except BaseException as exc:  # handed over, raised by the consumer
            put(_Failed(exc))
            return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        put(_DONE)

    thread = threading.Thread(target=produce, name="gridfs-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)  # every other item is one of chunks'
    finally:
        stop.set()
        thread.join()
