"""Where a copy reads or writes: an LFN or a local path, told apart as gfal-copy does."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from gridfs.errors import InvalidArgument

__all__ = ["Location", "parse_location"]


@dataclass(frozen=True)
class Location:
    """An LFN (``on_grid``) or a local path; ``path`` is absolute for an LFN."""

    path: str
    on_grid: bool

    def __str__(self) -> str:
        return self.path


def parse_location(text: str, grid_root: str = "/grid") -> Location:
    """Tell an LFN from a local path.

    The rules: ``lfn:/grid/...`` is an LFN; ``file:///path`` (or ``file:/path``)
    is a local path; a bare path equal to ``grid_root`` or under it is an LFN;
    any other bare path (relative ones included) is local. Other URLs (SURLs,
    TURLs) are refused: copies go between LFNs and local files.
    """
    if text.startswith("lfn:"):
        path = "/" + text[4:].lstrip("/")
        return Location(posixpath.normpath(path), on_grid=True)
    scheme = urlsplit(text).scheme if "://" in text or text.startswith("file:") else ""
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"{text}: a file:// URL must name a local file", text)
        return Location(unquote(parts.path), on_grid=False)
    if scheme:
        raise InvalidArgument(
            f"{text}: give an LFN (lfn:{grid_root}/...) or a local path, not a {scheme}:// URL",
            text,
        )
    root = grid_root.rstrip("/")
    if text.startswith("/") and (not root or text == root or text.startswith(root + "/")):
        return Location(posixpath.normpath(text), on_grid=True)
    return Location(text, on_grid=False)
