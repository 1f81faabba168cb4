"""The ``grid://`` fsspec filesystem: LFNs for fsspec, uproot, pandas, pyarrow and dask.

Every call goes through the gfal layer, so a read picks, fails over and
stages replicas as :func:`gridfs.open` does, and a write is stored, verified
and registered on close as with ``gridfs.open(lfn, "wb")``. Errors are the
:mod:`gridfs.errors` classes, which are the builtins fsspec callers expect
(``FileNotFoundError``, ``FileExistsError``, ``PermissionError``...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
import weakref
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.spec import AbstractFileSystem

from gridfs.catalog import Stat
from gridfs.config import Config, load_config
from gridfs.errors import NotFound
from gridfs.fsspec.readers import OpenReaders
from gridfs.fsspec.reading import DEFAULT_BLOCK_SIZE, GridFile, read_ranges, span
from gridfs.gfal import FailoverReader, Grid
from gridfs.gfal.copy import copy_grid, copy_in, copy_out

__all__ = ["GridFileSystem"]

_WRITE_MODES = {"wb", "xb", "ab"}


class GridFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """The LFN namespace of one grid as an fsspec filesystem (protocol ``grid``).

    Paths are LFNs: ``grid:///grid/<vo>/path`` or ``/grid/<vo>/path``. The
    grid is the configuration's (the usual search, or ``config``: a path or a
    :class:`~gridfs.config.Config`), with ``catalog_url`` and ``timeout``
    (seconds per storage call) overriding it; or an open ``grid``. New files
    go to ``se`` (default: the directory's default SE); reads use
    ``protocols`` (default: the configured preference). ``block_size`` and
    ``cache_type`` are those of files opened for reading; ``max_workers``
    bounds how many files :meth:`cat_ranges` reads at once (each file's
    ranges go in one vector read); with ``auto_mkdir`` a
    write makes its missing parent directories, as local files do in fsspec.
    A file read by ``cat_file``/``cat_ranges`` stays open ``reader_ttl``
    seconds for the next read of it, checked against the catalog's version
    at each (:class:`~gridfs.fsspec.readers.OpenReaders`).
    """

    protocol = ("grid",)
    root_marker = "/"

    def __init__(
        self,
        config: str | os.PathLike[str] | Config | None = None,
        *,
        grid: Grid | None = None,
        catalog_url: str | None = None,
        timeout: float | None = None,
        se: str | None = None,
        protocols: Sequence[str] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        cache_type: str = "readahead",
        max_workers: int = 8,
        auto_mkdir: bool = True,
        reader_ttl: float = 30.0,
        **storage_options: Any,
    ) -> None:
        super().__init__(**storage_options)
        if grid is None:
            settings = config if isinstance(config, Config) else load_config(config)
            if catalog_url is not None:
                settings = dataclasses.replace(settings, catalog_url=catalog_url)
            grid = Grid.from_config(settings)
        if timeout is not None:
            grid = grid.with_options(timeout_s=timeout)
        self.grid = grid
        self.se = se
        self.protocols = tuple(protocols) if protocols else None
        self.blocksize = block_size
        self.cache_type = cache_type
        self.max_workers = max_workers
        self.auto_mkdir = auto_mkdir
        self._readers = OpenReaders(grid, self.protocols, ttl_s=reader_ttl)
        weakref.finalize(self, self._readers.close)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """The LFN of ``path``: ``grid:///grid/x``, ``grid://grid/x`` and ``/grid/x/`` alike."""
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = os.fspath(path)
        for prefix in ("grid://", "grid:"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
                break
        text = posixpath.normpath("/" + text.lstrip("/"))
        return text if text != "//" else "/"

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        return {}  # a grid:// URL names no host: the configuration says which grid

    def unstrip_protocol(self, name: str) -> str:
        """``grid://`` and the LFN: ``grid:///grid/vo/f``."""
        return "grid://" + str(self._strip_protocol(name))

    # -- the namespace -----------------------------------------------------

    def _details(self, path: str, entry: Stat) -> dict[str, Any]:
        """fsspec's info dict for the entry ``entry`` at ``path`` (a link: of its target)."""
        link: Stat | None = None
        if entry.is_symlink():
            link = entry
            try:
                entry = self.grid.stat(path)
            except NotFound:  # a dangling alias
                entry = link
        kind = "directory" if entry.is_dir() else "file" if entry.is_file() else "other"
        info: dict[str, Any] = {
            "name": path,
            "size": entry.size if kind == "file" else 0,
            "type": kind,
            "mode": entry.st_mode,
            "owner": entry.owner,
            "group": entry.group,
            "mtime": entry.mtime_ns / 1e9,
            "created": entry.ctime_ns / 1e9,
            "islink": link is not None,
        }
        if link is not None:
            info["destination"] = link.target
        if entry.is_file():
            info.update(
                guid=entry.guid,
                checksum_type=entry.checksum_type,
                checksum=entry.checksum,
                status=entry.status.value if entry.status is not None else None,
            )
        return info

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """The entries of directory ``path`` (a file: itself), as dicts with ``detail``."""
        path = self._strip_protocol(path)
        entry = self.grid.stat(path)
        if entry.is_dir():
            found = [
                self._details(posixpath.join(path, child.name), child)
                for child in self.grid.scandir(path)
            ]
        else:
            found = [self._details(path, entry)]
        found.sort(key=lambda info: info["name"])
        return found if detail else [info["name"] for info in found]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """The entry at ``path``: name, size, type, times, mode, owner, GUID, checksum."""
        path = self._strip_protocol(path)
        return self._details(path, self.grid.lstat(path))

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Whether ``path`` names an entry."""
        try:
            self.grid.stat(self._strip_protocol(path))
        except NotFound:
            return False
        return True

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Create directory ``path`` (parents too with ``create_parents``); it must not exist."""
        path = self._strip_protocol(path)
        if create_parents:
            self.grid.makedirs(path, exist_ok=False)
        else:
            self.grid.mkdir(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Create directory ``path`` and its missing ancestors."""
        self.grid.makedirs(self._strip_protocol(path), exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``."""
        self.grid.rmdir(self._strip_protocol(path))

    def _rm(self, path: str) -> None:
        path = self._strip_protocol(path)
        if self.grid.lstat(path).is_dir():
            self.grid.rmdir(path)
        else:
            self.grid.unlink(path)  # the file's stored replicas go with it

    def rm_file(self, path: str) -> None:
        """Remove the file ``path`` and its stored replicas."""
        self._rm(path)

    def mv(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> None:
        """Move ``path1`` to ``path2`` by renaming it in the catalog (no byte moves).

        As ``mv``: into ``path2`` when that is a directory. Lists and globs
        fall back to fsspec's copy and delete.
        """
        if not (isinstance(path1, str) and isinstance(path2, str)) or self._is_glob(path1):
            super().mv(path1, path2, recursive=recursive, **kwargs)
            return
        source, target = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.grid.lstat(source).is_dir() and not recursive:
            raise IsADirectoryError(f"is a directory (move it with recursive=True): {source}")
        if self.isdir(target):
            target = posixpath.join(target, posixpath.basename(source))
        self._make_parent(target)
        self.grid.rename(source, target)

    def _is_glob(self, path: str) -> bool:
        return any(char in path for char in "*?[")

    def modified(self, path: str) -> datetime:
        """When the content of ``path`` last changed (UTC)."""
        return _utc(self.grid.stat(self._strip_protocol(path)).mtime_ns)

    def created(self, path: str) -> datetime:
        """The catalog's ctime of ``path`` (UTC), as fsspec's local filesystem gives it."""
        return _utc(self.grid.stat(self._strip_protocol(path)).ctime_ns)

    def checksum(self, path: str) -> int:
        """The file's adler32 from the catalog, as an int (it changes with each version)."""
        entry = self.grid.stat(self._strip_protocol(path))
        if entry.checksum_type == "adler32" and entry.checksum:
            return int(entry.checksum, 16)
        return int(super().checksum(path))

    def ukey(self, path: str) -> str:
        """The GUID and the version (checksum, size and mtime): caches see new versions."""
        entry = self.grid.stat(self._strip_protocol(path))
        return f"{entry.guid}:{entry.checksum_type}:{entry.checksum}:{entry.size}:{entry.mtime_ns}"

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        """The TURL a read of ``path`` would use now (its best working replica).

        The TURL does not expire by itself: ``expiration`` is not applied.
        """
        with self._reader(path) as reader:
            return reader.turl

    # -- reading -----------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BinaryIO | GridFile:
        path = self._strip_protocol(path)
        if mode == "rb":
            return GridFile(
                self,
                path,
                self.grid.open(path, "rb", buffering=0, protocols=self.protocols),
                block_size=block_size or self.blocksize,
                cache_type=kwargs.get("cache_type", self.cache_type),
                cache_options=cache_options,
            )
        if mode not in _WRITE_MODES:
            raise ValueError(f"mode {mode!r}: grid:// files open as rb, wb, xb or ab")
        if not autocommit:
            raise NotImplementedError("grid:// has no transactions: each file commits on close")
        self._make_parent(path)
        return self.grid.open(path, mode, se=kwargs.get("se", self.se))

    def _reader(self, path: str) -> contextlib.AbstractContextManager[FailoverReader]:
        """The best working replica of ``path``, failing over, kept open for the next call."""
        return self._readers.reader(self._strip_protocol(path))

    def _make_parent(self, path: str) -> None:
        if self.auto_mkdir:
            self.grid.makedirs(posixpath.dirname(path), exist_ok=True)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        """The bytes of ``path`` from ``start`` to ``end`` (negative: from the end)."""
        with self._reader(path) as reader:
            first, last = span(reader.size, start, end)
            return reader.pread(first, last - first) if last > first else b""

    def cat_ranges(
        self,
        paths: list[str],
        starts: int | list[int],
        ends: int | list[int],
        max_gap: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[bytes | Exception]:
        """The bytes of each range, read in parallel: each file is opened once.

        With ``on_error="return"`` a file that fails gives its exception in
        place of its ranges' bytes; else the first error is raised.
        """
        if not isinstance(starts, list):
            starts = [starts] * len(paths)
        if not isinstance(ends, list):
            ends = [ends] * len(paths)
        if not len(paths) == len(starts) == len(ends):
            raise ValueError("cat_ranges: paths, starts and ends differ in length")
        wanted: dict[str, list[int]] = defaultdict(list)
        for index, path in enumerate(paths):
            wanted[self._strip_protocol(path)].append(index)
        results: list[bytes | Exception] = [b""] * len(paths)

        def read_file(path: str) -> None:
            indices = wanted[path]
            data: Sequence[bytes | Exception]
            try:
                with self._reader(path) as reader:
                    ranges = [(starts[i], ends[i]) for i in indices]
                    data = read_ranges(reader, ranges)
            except Exception as exc:
                if on_error != "return":
                    raise
                data = [exc] * len(indices)
            for index, chunk in zip(indices, data, strict=True):
                results[index] = chunk

        if len(wanted) == 1:
            read_file(next(iter(wanted)))
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(wanted))) as pool:
                list(pool.map(read_file, wanted))
        return results

    # -- copies: verified against the catalog's adler32 ---------------------

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy file ``path1`` to a new grid file ``path2`` (verified; a directory: made)."""
        source, target = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.grid.stat(source).is_dir():
            self.makedirs(target, exist_ok=True)
            return
        self._make_parent(target)
        copy_grid(self.grid, source, target, kwargs.get("se", self.se), overwrite=True)

    def put_file(
        self,
        lpath: str,
        rpath: str,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        **kwargs: Any,
    ) -> None:
        """Store local file ``lpath`` on an SE and register it as ``rpath`` (lcg-cr).

        The copy is verified before it is registered; ``mode="create"`` fails
        if ``rpath`` exists. ``callback`` hears the file's size, then the
        bytes sent so far after each chunk (a progress bar moves within a file).
        """
        target = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            self.makedirs(target, exist_ok=True)
            return
        size = os.path.getsize(lpath)
        callback.set_size(size)
        self._make_parent(target)
        # mode="create": AlreadyExists, a FileExistsError, if rpath exists.
        copy_in(
            self.grid,
            lpath,
            target,
            kwargs.get("se", self.se),
            overwrite=mode != "create",
            progress=callback.absolute_update,
        )

    def get_file(
        self,
        rpath: str,
        lpath: str | Any,
        callback: Callback = DEFAULT_CALLBACK,
        outfile: Any = None,
        **kwargs: Any,
    ) -> None:
        """Copy grid file ``rpath`` to local ``lpath``, verified before it takes the name.

        A file object (``lpath`` or ``outfile``) gets the bytes streamed into it.
        ``callback`` hears the size, then the bytes received so far after
        each chunk (a progress bar moves within a file).
        """
        source = self._strip_protocol(rpath)
        if hasattr(lpath, "write"):
            outfile = lpath
        entry = self.grid.stat(source)
        if entry.is_dir():
            if outfile is None:
                os.makedirs(lpath, exist_ok=True)
            return
        if outfile is not None:
            with self._reader(source) as reader:
                callback.set_size(reader.size)
                for chunk in reader.chunks(DEFAULT_BLOCK_SIZE):
                    outfile.write(chunk)
                    callback.relative_update(len(chunk))
            return
        Path(lpath).parent.mkdir(parents=True, exist_ok=True)
        callback.set_size(entry.size)
        copy_out(self.grid, source, lpath, overwrite=True, progress=callback.absolute_update)


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)
