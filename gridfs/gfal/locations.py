"""How files are named on command lines: an LFN or a local path, told apart as gfal-copy
does; an LFN or a GUID, in the ``lfn:``/``guid:`` forms of lcg-utils."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from gridfs.catalog import parse_guid
from gridfs.errors import InvalidArgument

__all__ = ["FileRef", "Location", "parse_file_ref", "parse_location"]


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
        return Location(_lfn_form(text), on_grid=True)
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


@dataclass(frozen=True)
class FileRef:
    """A grid file named by LFN or by GUID (exactly one of the two is set)."""

    lfn: str | None = None
    guid: str | None = None


def parse_file_ref(text: str) -> FileRef:
    """Read a grid file's name as lcg-utils do.

    ``guid:GUID`` names the file by GUID (checked); ``lfn:/grid/...`` and a bare
    LFN name it by LFN (a bare LFN is checked where it is used).
    """
    if text.startswith("guid:"):
        return FileRef(guid=parse_guid(text[5:]))
    if text.startswith("lfn:"):
        return FileRef(lfn=_lfn_form(text))
    return FileRef(lfn=text)


def _lfn_form(text: str) -> str:
    """The LFN of ``lfn:PATH``: absolute and normalised (``lfn:grid/x`` is ``/grid/x``)."""
    return posixpath.normpath("/" + text[4:].lstrip("/"))
