"""Reading ahead: the chunks of a copy made in threads of their own while the last are written.

A copy reads a source and writes a destination, each a system call that
releases the GIL (a local file, a socket). Run one after the other, each
waits for the other; with the reading in a thread a few chunks ahead, both
run at once and a copy takes as long as its slower side (:func:`read_ahead`).
A remote source answers each read after a round trip: several reads in
flight at once (:func:`reads_in_flight`) keep the connection busy meanwhile,
as xrdcp does.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar, cast

__all__ = ["COPY_CHUNK", "IN_FLIGHT", "read_ahead", "reads_in_flight"]

T = TypeVar("T")

# The chunk of a copy: each system call (or XRootD request) then moves enough
# bytes that its own cost is small, and the few chunks in flight cost little memory.
COPY_CHUNK = 8 << 20

# Reads of a remote source in flight at once: measured on loopback XRootD with
# 8 MiB chunks, one read at a time gives about half of what four give.
IN_FLIGHT = 4

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


def reads_in_flight(
    read: Callable[[int, int], bytes], chunk: int = COPY_CHUNK, depth: int = IN_FLIGHT
) -> Generator[bytes, None, None]:
    """A source's bytes from its start to its end, in chunks, ``depth`` reads in flight.

    ``read(offset, size)`` gives up to ``size`` bytes from ``offset`` (nothing
    at the end). The first chunk is read alone (a source shorter than a chunk
    costs one read; a check that counts a pass from offset 0, as
    :class:`~gridfs.gfal.readcheck.ReadCheck` does, sees it first); the next
    ones in threads of their own, ``depth`` at once. The chunks come in
    order, and what a read raises is raised in its place. A chunk shorter
    than ``chunk`` ends the reading in flight: from where it ended, the
    source is read one chunk at a time until a read gives nothing, as a
    sequential reader would. When the consumer stops early, the reads under
    way are waited for (and their bytes dropped) before this returns.
    """
    data = read(0, chunk)
    position = len(data)  # where the bytes of ``data`` end
    if len(data) == chunk:
        pending: deque[Future[bytes]] = deque()
        offset = chunk
        with ThreadPoolExecutor(depth, thread_name_prefix="gridfs-read") as pool:
            try:
                yield data
                while True:
                    while len(pending) < depth:
                        pending.append(pool.submit(read, offset, chunk))
                        offset += chunk
                    data = pending.popleft().result()
                    position += len(data)
                    if len(data) < chunk:
                        break
                    yield data
            finally:
                # What the reads ahead gave (nothing, at the end of the source) is
                # dropped: the source may have been short here for a while and gone on.
                for future in pending:
                    future.cancel()
    while data:
        yield data
        data = read(position, chunk)
        position += len(data)
