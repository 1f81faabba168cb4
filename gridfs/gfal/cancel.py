"""Cancelling copies: a token checked between chunks, and waits that an interrupt cancels.

A copy runs in a worker thread while the calling thread only waits, so that
Ctrl-C (a :class:`KeyboardInterrupt`, raised in the main thread) never lands
in the middle of a catalog transaction or of a cleanup. The interrupt sets
the :class:`CancelToken` of the copies; each of them stops at its next chunk
(or before it registers anything) with :class:`~gridfs.errors.Cancelled`,
which deletes what it had stored, as any failure does. The wait goes on
until every copy in flight has been undone, then the interrupt is raised.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from gridfs.errors import Cancelled

__all__ = ["CancelToken", "run_interruptibly", "settle"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# A wait wakes this often to let Python run its signal handlers: Ctrl-C that the
# kernel hands to another thread (one of the XRootD client's, say) interrupts no
# wait of the main thread's, and would be seen only when the copy had ended.
_SIGNAL_POLL_S = 0.1


class CancelToken:
    """A flag that one thread sets to stop the copies of others; never reset, thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Stop the copies that check this token, at their next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def check(self, what: str) -> None:
        """Raise :class:`Cancelled` (about ``what``) once the token is cancelled."""
        if self._event.is_set():
            raise Cancelled(f"{what}: cancelled", what)

    def checked(self, chunks: Iterable[T], what: str) -> Iterator[T]:
        """``chunks``, checking the token before each one (so an upload stops mid-way)."""
        for chunk in chunks:
            self.check(what)
            yield chunk

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` or until cancelled; True when cancelled."""
        return self._event.wait(seconds)


def settle(futures: Sequence[concurrent.futures.Future[T]], cancel: CancelToken) -> None:
    """Wait for ``futures``; an interrupt, or an exception one raises, cancels the rest.

    Then ``cancel`` is set, futures not started are dropped, and the wait goes
    on (further interrupts are ignored) until the running ones have stopped
    and undone their work; the exception is raised after that.
    """
    try:
        for future in _each_done(futures):
            future.result()
    except BaseException as exc:
        cancel.cancel()
        running = [future for future in futures if not future.cancel() and not future.done()]
        if isinstance(exc, KeyboardInterrupt) and running:
            count = len(running)
            log.warning(
                "interrupted: undoing the %s in flight", f"{count} copies" if count > 1 else "copy"
            )
        _wait_out(running)
        raise


def _each_done(
    futures: Sequence[concurrent.futures.Future[T]],
) -> Iterator[concurrent.futures.Future[T]]:
    """``futures`` as they finish (like ``as_completed``), waking to let signal handlers run."""
    pending = set(futures)
    while pending:
        done, pending = concurrent.futures.wait(
            pending, timeout=_SIGNAL_POLL_S, return_when=concurrent.futures.FIRST_COMPLETED
        )
        yield from done


def _wait_out(futures: Sequence[concurrent.futures.Future[T]]) -> None:
    """Wait for ``futures`` to finish, whatever interrupts come meanwhile."""
    while True:
        try:
            concurrent.futures.wait(futures)
        except KeyboardInterrupt:
            log.warning("still undoing the copies in flight; they stop at their next chunk")
            continue
        return


def run_interruptibly(call: Callable[[], T], cancel: CancelToken) -> T:
    """``call()`` run in a worker thread while this one waits; see the module's docstring.

    ``cancel`` must be the token that ``call`` checks (the grid's
    :attr:`~gridfs.gfal.grid.Grid.cancel`): an interrupt sets it and returns
    only once ``call`` has stopped.
    """
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gridfs-copy") as pool:
        future = pool.submit(call)
        settle([future], cancel)
        return future.result()
