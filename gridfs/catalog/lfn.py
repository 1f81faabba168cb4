"""Logical file names: validation and splitting."""

from __future__ import annotations

from gridfs.errors import InvalidLFN

__all__ = ["MAX_LFN_BYTES", "MAX_NAME_BYTES", "join_lfn", "split_lfn"]

MAX_LFN_BYTES = 1023  # LFC's CA_MAXPATHLEN
MAX_NAME_BYTES = 255  # one component, as on Unix filesystems


def split_lfn(lfn: str) -> tuple[str, ...]:
    """The components of an absolute, normalised LFN; ``()`` for ``/``.

    One trailing slash is accepted (shells add it); empty, ``.`` and ``..``
    components, NUL characters, names over 255 bytes and LFNs over 1023 bytes
    raise :class:`InvalidLFN` naming the LFN and the reason.
    """
    if not isinstance(lfn, str):
        raise InvalidLFN(f"an LFN is a string, not {type(lfn).__name__}")

    def invalid(reason: str) -> InvalidLFN:
        return InvalidLFN(f"invalid LFN {lfn!r}: {reason}", lfn)

    if not lfn.startswith("/"):
        raise invalid("it must be absolute (start with /)")
    if "\0" in lfn:
        raise invalid("it contains a NUL character")
    try:
        encoded = lfn.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid("it is not valid UTF-8") from None
    if len(encoded) > MAX_LFN_BYTES:
        raise invalid(f"it is longer than {MAX_LFN_BYTES} bytes")
    body = lfn[1:-1] if lfn.endswith("/") and lfn != "/" else lfn[1:]
    if not body:
        return ()
    parts = tuple(body.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise invalid("it must be normalised (no empty, '.' or '..' components)")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise invalid(f"the name {part[:20]!r}... is longer than {MAX_NAME_BYTES} bytes")
    return parts


def join_lfn(parts: tuple[str, ...] | list[str]) -> str:
    """The LFN of ``parts``, as :func:`split_lfn` would take it back."""
    return "/" + "/".join(parts)
