"""The names gridfs gives to objects on storage elements, made and recognized in one place.

A new replica is stored as ``<SE prefix>/generated/<YYYY-MM-DD, UTC>/file-<GUID>``,
as lcg-cr names them; a later version of the file, or a second copy that must
not take the name of a stale one, adds ``-<VERSION>`` (a short random hex tag).
While a backend uploads, the object sits beside its final name as
``.<name>.part-<hex>`` and is moved into place once complete.
"""

from __future__ import annotations

import datetime
import re
import secrets
from dataclasses import dataclass

from gridfs.errors import InvalidArgument
from gridfs.storage.resolve import make_surl
from gridfs.storage.se import StorageElement

__all__ = [
    "GENERATED_AREA",
    "ReplicaName",
    "generated_surl",
    "is_generated_name",
    "is_partial_upload",
    "new_version_tag",
    "parse_replica_name",
    "partial_upload_name",
    "replica_surl",
]

GENERATED_AREA = "generated"
_TAG_BYTES = 4
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_REPLICA_NAME = re.compile(rf"file-(?P<guid>{_GUID})(?:-(?P<version>[0-9a-f]+))?")
_PARTIAL_NAME = re.compile(rf"\.(?P<name>.+)\.part-[0-9a-f]{{{2 * _TAG_BYTES}}}")


@dataclass(frozen=True)
class ReplicaName:
    """The parts of a replica's name: ``file-<guid>`` or ``file-<guid>-<version>``."""

    guid: str
    version: str | None = None

    def __post_init__(self) -> None:
        if _REPLICA_NAME.fullmatch(str(self)) is None:
            raise InvalidArgument(f"not a GUID and version tag: {self.guid!r}, {self.version!r}")

    def __str__(self) -> str:
        return f"file-{self.guid}" if self.version is None else f"file-{self.guid}-{self.version}"


def new_version_tag() -> str:
    """A fresh random tag that tells a version's replica from the file's other copies."""
    return secrets.token_hex(_TAG_BYTES)


def _today() -> str:
    """The day directory of replicas stored now."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")


def generated_surl(se: StorageElement, day: str | None = None, name: str | None = None) -> str:
    """The SURL of ``se``'s generated area, of one ``day``'s directory in it, or of ``name`` there.

    ``day`` is ``YYYY-MM-DD``; a ``name`` needs its ``day``.
    """
    if name is not None and day is None:
        raise InvalidArgument(f"{name}: a name in the generated area needs its day", name)
    if day is not None:
        try:
            datetime.date.fromisoformat(day)
        except ValueError:
            raise InvalidArgument(f"not a YYYY-MM-DD day: {day!r}", day) from None
    parts = [GENERATED_AREA, *(part for part in (day, name) if part is not None)]
    return make_surl(se, "/".join(parts))


def replica_surl(
    se: StorageElement, guid: str, *, version: str | None = None, day: str | None = None
) -> str:
    """The SURL of a new replica of ``guid`` on ``se``, filed under ``day`` (default: today, UTC).

    Raises :class:`InvalidArgument` for a malformed GUID or version tag.
    """
    return generated_surl(se, day or _today(), str(ReplicaName(guid, version)))


def parse_replica_name(name: str) -> ReplicaName | None:
    """The GUID and version in a replica's name; None for a name gridfs does not give replicas."""
    match = _REPLICA_NAME.fullmatch(name)
    if match is None:
        return None
    return ReplicaName(match["guid"], match["version"])


def is_generated_name(name: str) -> bool:
    """Whether ``name`` is one that gridfs gives replicas (any version)."""
    return _REPLICA_NAME.fullmatch(name) is not None


def partial_upload_name(name: str) -> str:
    """A fresh temporary name for an upload that becomes ``name`` once complete."""
    return f".{name}.part-{secrets.token_hex(_TAG_BYTES)}"


def is_partial_upload(name: str) -> bool:
    """Whether ``name`` is the temporary name of an upload (:func:`partial_upload_name`)."""
    return _PARTIAL_NAME.fullmatch(name) is not None
