"""Progress within one copy: the bytes done after each chunk, and closing passed on."""

from __future__ import annotations

from collections.abc import Iterator

from gridfs.gfal.progress import reporting


def test_progress_hears_the_bytes_done_once_each_chunk_is_used() -> None:
    heard: list[int] = []
    chunks = reporting(iter([b"abc", b"", b"defgh"]), heard.append)
    assert next(chunks) == b"abc"
    assert heard == []  # not used yet: the consumer has not asked for the next one
    assert list(chunks) == [b"", b"defgh"]
    assert heard == [3, 3, 8]


def test_closing_it_closes_the_chunks() -> None:
    closed: list[bool] = []

    def source() -> Iterator[bytes]:
        try:
            yield b"x"
            yield b"y"
        finally:
            closed.append(True)

    chunks = reporting(source(), None)
    assert next(chunks) == b"x"
    chunks.close()
    assert closed == [True]
