"""lcg-cp and gfal-copy on LFNs: grid to local, local to grid, grid to grid, each verified.

Every copy is checked end to end against the catalog's adler32 before it
counts: a local copy is written under a temporary name in its directory,
checked as its bytes arrive (their adler32, summed on their way to the file,
against the catalog's; each write is checked to have written them all) and
only then renamed into place; a copy to an SE is stored and verified before it is
registered (:meth:`Grid.cr`). On any failure, an interrupt included, the
partial copy is removed and the destination is as it was. Each copy stops
at its next chunk once the grid's :attr:`~Grid.cancel` token is cancelled
(:mod:`gridfs.gfal.cancel`), undone like any failure.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import posixpath
import secrets
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gridfs.catalog import Stat, join_lfn, new_guid, split_lfn
from gridfs.errors import (
    AlreadyExists,
    ChecksumMismatch,
    InvalidArgument,
    IsADirectory,
    NotFound,
    from_os_error,
)
from gridfs.gfal.cancel import CancelToken
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.grid import Grid
from gridfs.gfal.locations import Location
from gridfs.gfal.progress import CopyProgress
from gridfs.gfal.readahead import COPY_CHUNK, read_ahead, reads_in_flight
from gridfs.gfal.readcheck import Corrupt, ReadCheck
from gridfs.storage import DEFAULT_CHECKSUM, Adler32

__all__ = ["Copied", "copy", "copy_grid", "copy_in", "copy_out", "resolve_destination"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Copied:
    """One verified copy: where from, where to, its size and adler32."""

    source: str
    destination: str
    size: int
    checksum: str


def _verifiable(entry: Stat, lfn: str) -> str:
    """The catalog's adler32 of ``entry``, which every copy of it is checked against."""
    if entry.is_dir():
        raise IsADirectory(f"is a directory: {lfn}", lfn)
    if entry.checksum_type != DEFAULT_CHECKSUM or entry.checksum is None:
        raise InvalidArgument(
            f"cannot verify a copy of {lfn}: the catalog has no {DEFAULT_CHECKSUM} checksum of it",
            lfn,
        )
    return entry.checksum


def copy_out(
    grid: Grid,
    lfn: str,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: CopyProgress | None = None,
) -> Copied:
    """Copy file ``lfn`` from its best replica to the local file ``path`` (lcg-cp).

    The replica's bytes go to a temporary file beside ``path``; their adler32,
    summed as they are written, must equal the catalog's (the file is not
    read back: that would read the same page cache again). Only then is the
    file renamed to ``path``: over an existing file only with ``overwrite``,
    else :class:`AlreadyExists` (checked before any byte moves, and again at
    the rename, which never clobbers). The read
    fails over between replicas as :meth:`Grid.open` does. ``progress`` hears
    the bytes written so far, after each chunk.
    """
    entry, replicas = grid.catalog.stat_replicas(lfn)
    expected = _verifiable(entry, lfn)
    target = Path(path)
    if target.is_dir():
        raise IsADirectory(f"is a directory: {target}", str(target))
    if not overwrite and os.path.lexists(target):
        raise AlreadyExists(f"{target} exists (overwrite it with -f)", str(target))
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise from_os_error(exc, str(target)) from exc
    try:
        source = grid.storage.open_best(entry, replicas, lfn, on_corrupt=grid.mark_bad)
        with os.fdopen(fd, "wb", buffering=0) as out, source:
            size, written = _receive(
                source, ReadCheck(entry, lfn), out, target, grid.cancel, progress=progress
            )
        if size != entry.size:
            raise ChecksumMismatch(
                f"the replica of {lfn} read is short: {size} bytes, the catalog says {entry.size}",
                lfn,
            )
        if written != expected:
            raise ChecksumMismatch(
                f"{target} as written has adler32 {written}, not {expected}", str(target)
            )
        grid.cancel.check(lfn)
        _move_into_place(temp, target, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    log.info("copied %s to %s (%d bytes, adler32 %s)", lfn, target, size, expected)
    return Copied(lfn, str(target), size, expected)


def _receive(
    source: FailoverReader,
    check: ReadCheck,
    out: BinaryIO,
    target: Path,
    cancel: CancelToken,
    *,
    progress: CopyProgress | None,
) -> tuple[int, str]:
    """Write the file from ``source`` to ``out``; a corrupt replica's bytes are replaced.

    The bytes' adler32 is checked as they arrive: when a replica's turn out
    wrong, it is marked bad and the copy starts again from the next replica
    (:class:`NoReplicaAvailable` when none is left). ``cancel`` stops it between
    chunks. Returns the count and the adler32 of the bytes written, summed
    as they were handed to the file (whatever ``check`` made of them).
    """
    while True:
        size = 0
        digest = Adler32()
        try:
            chunks: Generator[bytes | memoryview, None, None]
            if source.local_path is None:
                # A remote replica is read (and checked) with several reads in flight
                # while these are written; a local one is not: its reads are
                # page-cache copies, and the threads' hand-overs would cost more.
                chunks = reads_in_flight(functools.partial(_checked_read, source, check))
            else:
                chunks = source.checked_chunks(check, COPY_CHUNK)
            with contextlib.closing(chunks):
                for chunk in chunks:
                    cancel.check(str(target))
                    _write_all(out, chunk, target)
                    digest.update(chunk)
                    size += len(chunk)
                    if progress is not None:
                        progress(size)
        except Corrupt as exc:
            log.info("%s; reading the file again from the next replica", exc)
            try:
                out.seek(0)
                out.truncate()
            except OSError as error:
                raise from_os_error(error, str(target)) from error
            if progress is not None:
                progress(0)
            continue
        return size, digest.hexdigest()


def _checked_read(source: FailoverReader, check: ReadCheck, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes from ``offset``, counted by ``check``; a corrupt replica is rejected."""
    data, surl = source.pread_from(offset, size)
    try:
        check.update(offset, data, surl)
    except Corrupt as exc:
        if exc.source is not None:
            source.reject(exc.source, exc)
        raise
    return data


def _write_all(out: BinaryIO, chunk: bytes | memoryview, target: Path) -> None:
    """Write all of ``chunk``: a raw write may write less (a disk filling up), then fail."""
    try:
        while chunk:
            chunk = chunk[out.write(chunk) or 0 :]
    except OSError as exc:
        raise from_os_error(exc, str(target)) from exc


def _move_into_place(temp: Path, target: Path, *, overwrite: bool) -> None:
    try:
        if overwrite:
            os.replace(temp, target)
            return
        try:
            os.link(temp, target)  # fails if target exists: never clobbers, even in a race
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # A filesystem without hard links: checked, then moved (a small race).
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "File exists") from exc
            os.rename(temp, target)
            return
        temp.unlink()
    except FileExistsError:
        raise AlreadyExists(f"{target} exists (overwrite it with -f)", str(target)) from None
    except OSError as exc:
        raise from_os_error(exc, str(target)) from exc


def _replacing(grid: Grid, lfn: str, overwrite: bool, create: Callable[[str], Stat]) -> Stat:
    """``create(lfn)``, or with ``overwrite`` over an existing file: create then rename over it.

    The new file is made under a hidden temporary LFN beside ``lfn`` and
    renamed over it once stored and registered, so readers see the old file
    or the new one, never neither; the old file's replicas are deleted.
    """
    try:
        existing = grid.lstat(lfn)
    except NotFound:
        return create(lfn)
    if existing.is_dir():
        raise IsADirectory(f"is a directory: {lfn}", lfn)
    if not overwrite:
        raise AlreadyExists(f"LFN exists: {lfn} (overwrite it with -f)", lfn)
    parts = split_lfn(lfn)
    temp = join_lfn((*parts[:-1], f".{parts[-1]}.{secrets.token_hex(6)}.part"))
    created = create(temp)
    try:
        grid.cancel.check(lfn)
        grid.rename(temp, lfn)
    except BaseException:
        grid.unlink(temp)
        raise
    return created


def copy_in(
    grid: Grid,
    path: str | os.PathLike[str],
    lfn: str,
    se: str | None = None,
    *,
    overwrite: bool = False,
    space_token: str | None = None,
    progress: CopyProgress | None = None,
) -> Copied:
    """Copy the local file ``path`` to ``se`` and register it as ``lfn`` (lcg-cr).

    See :meth:`Grid.cr` for the verification. With ``overwrite`` an existing
    file ``lfn`` is replaced (a new GUID); without it, :class:`AlreadyExists`.
    ``progress`` hears the bytes sent so far, after each chunk.
    """
    entry = _replacing(
        grid,
        lfn,
        overwrite,
        lambda name: grid.cr(path, name, se, space_token=space_token, progress=progress),
    )
    assert entry.checksum is not None
    return Copied(os.fspath(path), lfn, entry.size, entry.checksum)


def copy_grid(
    grid: Grid,
    source: str,
    destination: str,
    se: str | None = None,
    *,
    overwrite: bool = False,
    space_token: str | None = None,
) -> Copied:
    """Copy file ``source`` to a new file ``destination`` on ``se`` (gfal-copy lfn: lfn:).

    The new file has a GUID of its own; its content comes from the best
    replica of ``source`` (failing over), is stored on ``se`` (default: the
    default SE), checked against the catalog's adler32 of ``source``, and
    registered; on any failure the stored copy is deleted.
    """
    entry, replicas = grid.catalog.stat_replicas(source)
    expected = _verifiable(entry, source)
    storage = grid.storage
    target_se = storage.writable_se(se)

    def create(lfn: str) -> Stat:
        grid.check_free(lfn)
        storage.reserve(target_se, space_token, entry.size, grid.space_used)
        guid = new_guid()
        with storage.open_best(entry, replicas, source) as reader:
            chunks: Iterator[bytes]
            if reader.local_path is None:  # several reads in flight, as for cp to a local file
                chunks = reads_in_flight(reader.pread)
            else:
                chunks = read_ahead(bytes(chunk) for chunk in reader.chunks(COPY_CHUNK))
            created = storage.store_verified(
                target_se,
                storage.new_surl(target_se, guid),
                chunks,
                expected_checksum=lambda: expected,
                expected_size=entry.size,
                register=lambda surl, written: grid.catalog.add_file(
                    lfn,
                    size=written.size,
                    checksum=written.checksum,
                    checksum_type=written.checksum_type,
                    replicas=[(target_se.name, surl)],
                    guid=guid,
                    mode=entry.mode,
                    space_token=space_token,
                ),
                cancel=grid.cancel,
            )
        return created

    created = _replacing(grid, destination, overwrite, create)
    log.info("copied %s to %s on %s", source, destination, target_se.name)
    return Copied(source, destination, created.size, expected)


def resolve_destination(grid: Grid, source: Location, destination: Location) -> Location:
    """``destination``, or the source's name inside it when it is a directory (as cp does)."""
    name = posixpath.basename(source.path.rstrip("/")) or source.path
    if destination.on_grid:
        with contextlib.suppress(NotFound):
            if grid.stat(destination.path).is_dir():
                return Location(posixpath.join(destination.path, name), on_grid=True)
        return destination
    if os.path.isdir(destination.path):
        return Location(os.path.join(destination.path, name), on_grid=False)
    return destination


def copy(
    grid: Grid,
    source: Location,
    destination: Location,
    se: str | None = None,
    *,
    overwrite: bool = False,
    parents: bool = False,
    space_token: str | None = None,
) -> Copied:
    """Copy one file between the grid and local disk, either way, or within the grid.

    ``destination`` is the exact new name (see :func:`resolve_destination`);
    with ``parents`` its missing parent directories are made first.
    """
    if source.on_grid and destination.on_grid:
        if parents:
            grid.makedirs(posixpath.dirname(destination.path), exist_ok=True)
        return copy_grid(
            grid,
            source.path,
            destination.path,
            se,
            overwrite=overwrite,
            space_token=space_token,
        )
    if source.on_grid:
        if parents:
            try:
                Path(destination.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise from_os_error(exc, destination.path) from exc
        return copy_out(grid, source.path, destination.path, overwrite=overwrite)
    if destination.on_grid:
        if parents:
            grid.makedirs(posixpath.dirname(destination.path), exist_ok=True)
        return copy_in(
            grid, source.path, destination.path, se, overwrite=overwrite, space_token=space_token
        )
    raise InvalidArgument(
        f"neither {source.path} nor {destination.path} is on the grid: use cp(1) for local copies",
        source.path,
    )
