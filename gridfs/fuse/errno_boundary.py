"""The one place where exceptions become errno values for the kernel.

pyfuse3 ends the mount on any exception that is not a ``FUSEError``, so every
handler is wrapped: an ``OSError`` (every gridfs error is one) keeps its errno,
anything else is logged with its traceback and becomes EIO. The wrapper also
counts the requests of each kind, which the mount logs when it ends.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import pyfuse3

__all__ = ["Counted", "errno_boundary"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class Counted(Protocol):
    """Operations that count the requests they serve, by handler name."""

    requests: Counter[str]


S = TypeVar("S", bound=Counted)

# Answers the kernel asks for all the time; not worth more than a debug line.
_ROUTINE = {errno.ENOENT, errno.ENOTDIR, errno.EEXIST, errno.ENODATA, errno.EROFS}
# Refusals of what a caller asked (permissions, bad arguments, a stage under way):
# the caller hears of them; the log says why, without alarm.
_REFUSALS = {
    errno.EACCES,
    errno.EPERM,
    errno.EINVAL,
    errno.ENOTEMPTY,
    errno.EISDIR,
    errno.ENOTSUP,
    errno.EAGAIN,
    errno.EBUSY,
    errno.EBADF,
    errno.ENAMETOOLONG,
    errno.ELOOP,
}


def errno_boundary(
    handler: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """Wrap a pyfuse3 request handler so that it raises only ``FUSEError``."""
    name = handler.__name__

    @functools.wraps(handler)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        self.requests[name] += 1
        try:
            return await handler(self, *args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except OSError as exc:
            code = exc.errno or errno.EIO
            level = (
                logging.DEBUG
                if code in _ROUTINE
                else logging.INFO
                if code in _REFUSALS
                else logging.WARNING
            )
            log.log(level, "%s: %s", handler.__name__, exc)
            raise pyfuse3.FUSEError(code) from None
        except Exception:
            log.exception("%s failed unexpectedly", handler.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper
