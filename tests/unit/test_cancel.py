"""Ctrl-C reaches the copies however the kernel delivers it."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from gridfs.gfal.cancel import CancelToken, run_interruptibly


@pytest.mark.expect_warnings  # "interrupted: undoing the copy in flight"
def test_an_interrupt_delivered_to_a_worker_thread_still_cancels_the_copy() -> None:
    # The kernel may hand SIGINT to any thread (the XRootD client's own, say); the
    # main thread's wait is then not interrupted, yet the copy must be stopped.
    token = CancelToken()
    stopped: list[bool] = []

    def copy() -> None:
        time.sleep(0.5)  # Ctrl-C comes while the copy runs, the main thread waiting for it
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        stopped.append(token.sleep(10))  # False: nobody stopped it, it ran to its end

    with pytest.raises(KeyboardInterrupt):
        run_interruptibly(copy, token)
    assert stopped == [True]
