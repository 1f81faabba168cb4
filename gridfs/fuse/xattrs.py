"""The extended-attribute requests of the mount: getxattr, listxattr, setxattr, removexattr.

A mixin of :class:`~gridfs.fuse.operations.GridOperations`. ``user.*``
attributes are the entry's (:mod:`gridfs.gfal.xattrs`), asked of the catalog
in a worker thread as the caller; the kernel's own namespaces and the
replica serving an open file are answered in the loop. What it needs of the
operations is declared in :mod:`gridfs.fuse.hooks`.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

import pyfuse3

from gridfs.errors import GridError
from gridfs.fuse.errno_boundary import errno_boundary
from gridfs.fuse.hooks import OperationHooks
from gridfs.fuse.reading import OpenFile

__all__ = ["REPLICA_XATTR", "ExtendedAttributes"]

# Attribute namespaces that are the kernel's business (SELinux labels, POSIX
# ACLs, trusted.*): gridfs keeps none, and says so (ENOTSUP) in the loop, at
# once, never asking the catalog. `ls -l` asks for a label and an ACL of every
# file; the kernel caches no answer, but ls remembers "not supported" for the
# rest of the filesystem, so 10,000 files cost two requests, not 20,000.
_KERNEL_NAMESPACES = (b"security.", b"system.", b"trusted.")
# The replica serving an open file, answered by the mount (it knows its open files).
# Read by name, never listed, as the attributes of a file's stored copies
# (gridfs.gfal.xattrs): `cp --preserve=xattr` reads its source open, and would copy it.
REPLICA_XATTR = b"user.replica"


class ExtendedAttributes(OperationHooks):
    """The mount's extended-attribute request handlers."""

    def _serving(self, inode: int) -> OpenFile | None:
        if self._queries.is_virtual(inode):
            return None  # a query directory or link: never open for reading
        entry_id = self._entry_id(inode)
        return next(
            (f for f in self._open.values() if isinstance(f, OpenFile) and f.entry.id == entry_id),
            None,
        )

    @errno_boundary
    async def getxattr(
        self, inode: pyfuse3.InodeT, name: bytes, ctx: pyfuse3.RequestContext
    ) -> bytes:
        if name.startswith(_KERNEL_NAMESPACES):
            raise pyfuse3.FUSEError(errno.ENOTSUP)
        if name == REPLICA_XATTR:
            opened = self._serving(inode)
            if opened is None:
                raise pyfuse3.FUSEError(errno.ENODATA)  # shown while the file is open
            return opened.reader.turl.encode("utf-8")
        if self._queries.is_virtual(inode):
            raise pyfuse3.FUSEError(errno.ENODATA)  # query entries have no attributes
        text = _xattr_name(name)
        return await self._as(ctx, lambda nodes: nodes.getxattr(self._entry_id(inode), text))

    @errno_boundary
    async def listxattr(
        self, inode: pyfuse3.InodeT, ctx: pyfuse3.RequestContext
    ) -> Sequence[bytes]:
        if self._queries.is_virtual(inode):
            return []
        names = await self._as(ctx, lambda nodes: nodes.listxattr(self._entry_id(inode)))
        return [name.encode("utf-8") for name in names]

    @errno_boundary
    async def setxattr(
        self, inode: pyfuse3.InodeT, name: bytes, value: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        self._writable()
        text = _changeable_name(name)
        entry_id = self._entry_id(inode)
        await self._as(ctx, lambda nodes: nodes.setxattr(entry_id, text, value))

    @errno_boundary
    async def removexattr(
        self, inode: pyfuse3.InodeT, name: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        self._writable()
        text = _changeable_name(name)
        entry_id = self._entry_id(inode)
        await self._as(ctx, lambda nodes: nodes.removexattr(entry_id, text))


def _changeable_name(name: bytes) -> str:
    """The text of an attribute name a caller may set or remove; else the errno why not."""
    if name.startswith(_KERNEL_NAMESPACES):
        raise pyfuse3.FUSEError(errno.ENOTSUP)
    if name == REPLICA_XATTR:
        raise pyfuse3.FUSEError(errno.EPERM)
    return _xattr_name(name)


def _xattr_name(name: bytes) -> str:
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        raise GridError(f"no attribute {name!r}", errno=errno.ENODATA) from None
