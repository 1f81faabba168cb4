"""Which failures of a transfer are worth another attempt, and when to make it.

The classification is gridfs's one (:func:`gridfs.storage.is_transient`, which
the storage layer's own retries use): timeouts, connections broken off, a
server's transient codes (EAGAIN). Those are recoverable; so is an agent that
died or lost its lease mid-copy. Everything else (a missing or corrupt source,
permissions, a full SE, a refused connection) fails the file at once: trying
again would only fail again, later.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass

from gridfs.errors import ChecksumMismatch
from gridfs.storage import is_transient

__all__ = ["Backoff", "Outcome", "classify"]


@dataclass(frozen=True)
class Outcome:
    """A failure as the transfer service records it."""

    reason: str
    errno: int
    recoverable: bool


def classify(error: BaseException) -> Outcome:
    """The recorded outcome of ``error``, recoverable or not.

    The error's causes count too: a read that fails over to no replica left
    (``NoReplicaAvailable``) is recoverable when what broke was transient. A
    checksum mismatch of the copy written is not retried: the source is what
    the catalog says (its bytes were checked while read), so the destination
    corrupts it, and will again.
    """
    code = error.errno if isinstance(error, OSError) and error.errno else errno.EIO
    cause: BaseException | None = error
    seen = 0
    recoverable = False
    while cause is not None and seen < 8:
        if isinstance(cause, ChecksumMismatch):
            break
        if is_transient(cause):
            recoverable = True
            break
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return Outcome(str(error) or type(error).__name__, code, recoverable)


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff between attempts: up to ``base_s * 2**(n-1)``, capped."""

    base_s: float = 5.0
    cap_s: float = 300.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempts + 1`` (``attempts`` made so far)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(0, attempts - 1))
        # Half fixed, half random: attempts of files that failed together spread out.
        spread = rng.uniform(0, ceiling / 2) if rng else random.uniform(0, ceiling / 2)
        return ceiling / 2 + spread
