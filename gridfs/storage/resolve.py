"""SURL -> TURL resolution and SURL naming: pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence

from gridfs.errors import InvalidArgument
from gridfs.storage.se import StorageElement

__all__ = ["make_surl", "resolve_turl"]

# Generated SURL paths use only these, so that they never need quoting in any protocol.
_SAFE_RELPATH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


def make_surl(se: StorageElement, relpath: str) -> str:
    """The SURL of ``relpath`` inside ``se``'s storage area."""
    if not _SAFE_RELPATH.fullmatch(relpath) or ".." in relpath.split("/"):
        raise InvalidArgument(f"bad path inside a storage element: {relpath!r}", relpath)
    return f"{se.surl_prefix.rstrip('/')}/{relpath}"


def resolve_turl(surl: str, se: StorageElement, protocols: Sequence[str]) -> str:
    """The TURL reaching ``surl`` on ``se`` with the first of ``protocols`` it offers.

    Raises :class:`InvalidArgument` if the SURL is not on ``se`` or if ``se``
    offers none of the protocols.
    """
    if not se.owns(surl):
        raise InvalidArgument(f"{surl} is not on storage element {se.name}", surl)
    relpath = surl[len(se.surl_prefix.rstrip("/")) + 1 :]
    for protocol in protocols:
        prefix = se.protocols.get(protocol)
        if prefix is not None:
            return f"{prefix.rstrip('/')}/{relpath}"
    offered = ", ".join(sorted(se.protocols)) or "none"
    raise InvalidArgument(
        f"storage element {se.name} offers none of {', '.join(protocols)} (it offers {offered})",
        surl,
    )
