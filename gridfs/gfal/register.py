"""Checks before a stored copy is registered (lcg-rf): it exists, and it is the file's content.

A copy registered as a replica is served to every reader of the LFN, so
registering one is checked as a copy made by gridfs is: the SE must hold it,
with the catalog's size and checksum (the SE's own checksum where it computes
one, else computed by reading the copy). Each refusal names the check.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridfs.errors import ChecksumMismatch, InvalidArgument, NotFound, UnknownSE
from gridfs.gfal.replicas import ReplicaAccess
from gridfs.storage import DEFAULT_CHECKSUM, SERegistry, StorageElement

__all__ = ["StoredCopy", "check_copy", "owning_se"]


@dataclass(frozen=True)
class StoredCopy:
    """What the SE holds at a SURL: its size and checksum."""

    size: int
    checksum: str
    checksum_type: str = DEFAULT_CHECKSUM


def owning_se(ses: SERegistry, surl: str, name: str | None = None) -> StorageElement:
    """The SE ``name`` (default: the configured SE whose storage area holds ``surl``).

    :class:`UnknownSE` if there is no such SE or ``surl`` is not in its storage
    area; a SURL with ``.`` or ``..`` steps (a way out of the area) is refused.
    """
    if {".", ".."} & set(surl.split("/")[3:]):
        raise InvalidArgument(f"{surl}: a SURL has no . or .. steps", surl)
    if name is not None:
        se = ses.get(name)
        if not se.owns(surl):
            raise UnknownSE(f"{surl} is not in the storage area of {se.name}", surl)
        return se
    for se in ses:
        if se.owns(surl):
            return se
    raise UnknownSE(f"{surl} is on no configured storage element", surl)


def check_copy(
    storage: ReplicaAccess,
    se: StorageElement,
    surl: str,
    *,
    size: int | None = None,
    checksum: str | None = None,
) -> StoredCopy:
    """The copy at ``surl`` on ``se``, checked against the catalog's ``size`` and ``checksum``.

    With neither given, the copy need only exist (its size and checksum are
    returned, to register a new file). Raises :class:`NotFound` for a missing
    copy and :class:`ChecksumMismatch` for one of another size or checksum;
    the size is checked first, so a wrong copy is not read for nothing.
    """
    turl, backend = storage.reach(surl, se)
    try:
        found = backend.stat(turl)
    except NotFound:
        raise NotFound(f"refused {surl}: it does not exist on {se.name}", surl) from None
    if size is not None and found.size != size:
        raise ChecksumMismatch(f"refused {surl}: size {found.size}, catalog says {size}", surl)
    stored = backend.checksum(turl, DEFAULT_CHECKSUM)
    if checksum is not None and stored != checksum:
        raise ChecksumMismatch(
            f"refused {surl}: {DEFAULT_CHECKSUM} {stored}, catalog says {checksum}", surl
        )
    return StoredCopy(size=found.size, checksum=stored)
