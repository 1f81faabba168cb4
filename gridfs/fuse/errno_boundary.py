"""The one place where exceptions become errno values for the kernel.

pyfuse3 ends the mount on any exception that is not a ``FUSEError``, so every
handler is wrapped: an ``OSError`` (every gridfs error is one) keeps its errno,
anything else is logged with its traceback and becomes EIO.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import pyfuse3

__all__ = ["errno_boundary"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Answers the kernel asks for all the time; not worth more than a debug line.
_ROUTINE = {errno.ENOENT, errno.ENOTDIR, errno.EEXIST, errno.ENODATA, errno.EROFS}


def errno_boundary(handler: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Wrap a pyfuse3 request handler so that it raises only ``FUSEError``."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await handler(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except OSError as exc:
            code = exc.errno or errno.EIO
            level = logging.DEBUG if code in _ROUTINE else logging.WARNING
            log.log(level, "%s: %s", handler.__name__, exc)
            raise pyfuse3.FUSEError(code) from None
        except Exception:
            log.exception("%s failed unexpectedly", handler.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper
