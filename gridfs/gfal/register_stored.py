"""``gridfs register``: files already on an SE registered in bulk, each as a new LFN.

The copies are named by a directory SURL on an SE: every file under it
(walked on the SE), or those a listing names (``SURL SIZE [ADLER32]`` a
line). Each becomes the LFN of its path under that directory, below an LFN
directory; the directories are made as needed. Every copy must be on the SE
(a listed size must be its size); its adler32 is the listing's, else the
SE's own (asked of the SE where it computes one, else computed by reading the
copy). Copies registered already (the same LFN with that SURL) are counted,
not read again, so that running the same registration twice changes
nothing. A copy that cannot be registered is refused with its reason, the
others are registered, :data:`BATCH` to a catalog call.
"""

from __future__ import annotations

import concurrent.futures
import logging
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from gridfs.catalog import NewFile, join_lfn, split_lfn
from gridfs.errors import ChecksumMismatch, GridError, InvalidArgument
from gridfs.gfal.grid import Grid
from gridfs.gfal.register import owning_se
from gridfs.storage import DEFAULT_CHECKSUM, StorageElement, is_partial_upload

__all__ = ["BATCH", "Listed", "Registered", "parse_listing", "register_stored", "walk_se"]

log = logging.getLogger(__name__)

BATCH = 5000  # copies per catalog call
_PARALLEL = 8  # copies stat'ed and checksummed at once (network round trips, reads)


@dataclass(frozen=True)
class Listed:
    """One stored copy to register: its SURL, what is known of it, and what names it."""

    surl: str
    where: str  # for messages: the listing's line, or the SURL
    size: int | None = None
    checksum: str | None = None


@dataclass
class Registered:
    """What a registration did: the copies registered, those found registered, refusals."""

    added: int = 0
    present: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


def parse_listing(lines: Iterable[str], name: str) -> Iterator[Listed | tuple[str, str]]:
    """The copies a listing names, ``SURL SIZE [ADLER32]`` a line; a bad line as (where, why).

    Blank lines and ``#`` comments are skipped. ``name`` is what messages
    call the listing.
    """
    for number, line in enumerate(lines, 1):
        where = f"{name}:{number}"
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) not in (2, 3):
            yield where, f"want SURL SIZE [ADLER32], got {len(words)} words"
            continue
        surl, size = words[0], words[1]
        if not size.isdigit():
            yield where, f"the size {size!r} is not a number of bytes"
            continue
        checksum = words[2].lower() if len(words) == 3 else None
        yield Listed(surl, where, int(size), checksum)


def walk_se(grid: Grid, directory: str, se: StorageElement) -> Iterator[Listed]:
    """Every file under the directory SURL ``directory`` on ``se``, with its size.

    Partial uploads (a writer's temporary names) are left out.
    """
    turl, backend = grid.storage.reach(directory, se)
    pending = [(directory.rstrip("/"), turl.rstrip("/"))]
    while pending:
        surl, turl = pending.pop()
        for entry in sorted(backend.list(turl), key=lambda e: e.name):
            if entry.is_dir:
                pending.append((f"{surl}/{entry.name}", f"{turl}/{entry.name}"))
            elif not is_partial_upload(entry.name):
                yield Listed(f"{surl}/{entry.name}", f"{surl}/{entry.name}", entry.size)


def register_stored(
    grid: Grid,
    copies: Iterable[Listed | tuple[str, str]],
    directory: str,
    lfn_directory: str,
    se_name: str | None = None,
    *,
    on_refused: Callable[[str, str], None] | None = None,
) -> Registered:
    """Register ``copies`` (under the directory SURL ``directory``) below ``lfn_directory``.

    A copy at ``directory/PATH`` becomes ``lfn_directory/PATH``. Items that
    are ``(where, why)`` pairs (bad lines of a listing) are refused as they
    are. ``on_refused(where, why)`` hears of each refusal as it happens.
    """
    se = owning_se(grid.ses, directory.rstrip("/") + "/x", se_name)
    base = directory.rstrip("/") + "/"
    top = join_lfn(split_lfn(lfn_directory))
    done = Registered()

    def refuse(where: str, why: str) -> None:
        done.refused.append((where, why))
        if on_refused is not None:
            on_refused(where, why)

    made: set[str] = set()
    items = iter(copies)
    with concurrent.futures.ThreadPoolExecutor(_PARALLEL, "gridfs-register") as pool:
        while batch := list(islice(items, BATCH)):
            named: list[tuple[Listed, str]] = []
            for item in batch:
                if isinstance(item, tuple):
                    refuse(*item)
                    continue
                try:
                    named.append((item, _lfn_of(item.surl, base, top)))
                except GridError as exc:
                    refuse(item.where, str(exc))
            # Missing LFNs (and directories) are left out of the answer: a first run asks little.
            registered = grid.catalog.replicas_many([lfn for _, lfn in named])
            fresh = []
            for item, lfn in named:
                if item.surl in {r.surl for r in registered.get(lfn, [])}:
                    done.present += 1
                else:
                    fresh.append((item, lfn))
            checked = pool.map(lambda pair: _checked(grid, se, *pair), fresh)
            files: list[tuple[str, NewFile]] = []
            for (item, _), result in zip(fresh, checked, strict=True):
                if isinstance(result, str):
                    refuse(item.where, result)
                else:
                    files.append((item.where, result))
            for parent in sorted({posixpath.dirname(f.lfn) for _, f in files} - made):
                grid.makedirs(parent, exist_ok=True)
                made.add(parent)
            answer = grid.catalog.add_files([f for _, f in files])
            done.added += answer.added
            done.present += answer.present
            for index, why in answer.refused:
                refuse(files[index][0], why)
    log.info("registered %d copies under %s, %d already were", done.added, top, done.present)
    return done


def _lfn_of(surl: str, base: str, top: str) -> str:
    """The LFN of the copy at ``surl``: its path under ``base``, below ``top``."""
    if not surl.startswith(base) or surl == base:
        raise InvalidArgument(f"{surl} is not under {base}", surl)
    return join_lfn((*split_lfn(top), *split_lfn("/" + surl[len(base) :])))


def _checked(grid: Grid, se: StorageElement, item: Listed, lfn: str) -> NewFile | str:
    """The copy as the SE holds it, to register as ``lfn``; or why it cannot be.

    A listed size and adler32 are checks against the SE's copy, never taken on
    trust: what is registered is what the SE holds.
    """
    try:
        turl, backend = grid.storage.reach(item.surl, se)
        size = backend.stat(turl).size
        if item.size is not None and size != item.size:
            raise ChecksumMismatch(
                f"size {size} on {se.name}, the listing says {item.size}", item.surl
            )
        checksum = backend.checksum(turl, DEFAULT_CHECKSUM)
        if item.checksum is not None and checksum != item.checksum:
            raise ChecksumMismatch(
                f"{DEFAULT_CHECKSUM} {checksum} on {se.name}, the listing says {item.checksum}",
                item.surl,
            )
    except GridError as exc:
        return str(exc)
    return NewFile(lfn, size=size, checksum=checksum, replicas=((se.name, item.surl),))
