"""Logical file names: validation and splitting."""

from __future__ import annotations

import errno

from gridfs.errors import InvalidLFN

__all__ = ["MAX_LFN_BYTES", "MAX_NAME_BYTES", "join_lfn", "split_lfn"]

# LFC allowed 1023 (CA_MAXPATHLEN); a mount must take any path Linux lets a call name
# (PATH_MAX, 4096 bytes) below its root, so twice that.
MAX_LFN_BYTES = 8191
MAX_NAME_BYTES = 255  # one component, as on Unix filesystems


def split_lfn(lfn: str) -> tuple[str, ...]:
    """The components of an absolute, normalised LFN; ``()`` for ``/``.

    One trailing slash is accepted (shells add it); empty, ``.`` and ``..``
    components and NUL characters raise :class:`InvalidLFN` naming the LFN and
    the reason; so do names over 255 bytes and LFNs over 8191 bytes, with
    errno ENAMETOOLONG, as the kernel's own limits do.
    """
    if not isinstance(lfn, str):
        raise InvalidLFN(f"an LFN is a string, not {type(lfn).__name__}")
    if not lfn.startswith("/"):
        raise _invalid(lfn, "it must be absolute (start with /)")
    if "\0" in lfn:
        raise _invalid(lfn, "it contains a NUL character")
    ascii_only = lfn.isascii()  # then characters are bytes: no encoding needed (the usual case)
    if not ascii_only:
        try:
            size = len(lfn.encode("utf-8"))
        except UnicodeEncodeError:
            raise _invalid(lfn, "it is not valid UTF-8") from None
    else:
        size = len(lfn)
    if size > MAX_LFN_BYTES:
        raise _invalid(lfn, f"it is longer than {MAX_LFN_BYTES} bytes", errno.ENAMETOOLONG)
    body = lfn[1:-1] if lfn.endswith("/") and lfn != "/" else lfn[1:]
    if not body:
        return ()
    parts = tuple(body.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise _invalid(lfn, "it must be normalised (no empty, '.' or '..' components)")
        if (len(part) if ascii_only else len(part.encode("utf-8"))) > MAX_NAME_BYTES:
            raise _invalid(
                lfn,
                f"the name {part[:20]!r}... is longer than {MAX_NAME_BYTES} bytes",
                errno.ENAMETOOLONG,
            )
    return parts


def _invalid(lfn: str, reason: str, code: int = errno.EINVAL) -> InvalidLFN:
    return InvalidLFN(f"invalid LFN {lfn!r}: {reason}", lfn, errno=code)


def join_lfn(parts: tuple[str, ...] | list[str]) -> str:
    """The LFN of ``parts``, as :func:`split_lfn` would take it back."""
    return "/" + "/".join(parts)
