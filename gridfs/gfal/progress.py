"""Progress within one file's copy: a callback told the bytes done so far, chunk by chunk.

A progress bar over a copy of large files (fsspec's callbacks, tqdm) would
otherwise move only when a whole file is done.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sized
from typing import TypeVar

__all__ = ["CopyProgress", "reporting"]

# Hears the bytes of one file copied so far (not an increment: a copy that starts
# again from another replica tells a smaller number).
CopyProgress = Callable[[int], object]

C = TypeVar("C", bound=Sized)


def reporting(chunks: Iterator[C], progress: CopyProgress | None) -> Generator[C, None, None]:
    """The chunks of ``chunks``; ``progress`` hears the bytes done after each one is used.

    A chunk counts as done when the next one is asked for, that is once the
    consumer has written it. Closing this closes ``chunks``.
    """
    done = 0
    try:
        for chunk in chunks:
            yield chunk
            done += len(chunk)
            if progress is not None:
                progress(done)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
