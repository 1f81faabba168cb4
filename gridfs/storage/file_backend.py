"""The ``file://`` backend: storage elements that are local or NFS directories.

What a file:// SE stores is the SE owner's alone (files 0600, directories
0700, whatever the umask): the catalog's permissions are the only way to a
replica, never a read around them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlsplit

from gridfs.errors import GridError, InvalidArgument, IsADirectory, from_os_error
from gridfs.storage.backend import (
    Capability,
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
)
from gridfs.storage.checksum import DEFAULT_CHECKSUM, Adler32
from gridfs.storage.naming import partial_upload_name
from gridfs.storage.writeback import Writeback

__all__ = ["FILE_MODE", "FileBackend", "fsync_directory", "make_private_dirs", "turl_to_path"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
FILE_MODE = 0o600  # a stored copy
_DIRECTORY_MODE = 0o700


def make_private_dirs(path: str | os.PathLike[str]) -> None:
    """``mkdir -p path``, each directory it makes the owner's alone (0700, whatever the umask).

    Directories that exist already are left as they are.
    """
    path = os.path.abspath(path)
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, _DIRECTORY_MODE)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise
            continue  # made meanwhile by another writer: theirs to set
        os.chmod(directory, _DIRECTORY_MODE)


@contextlib.contextmanager
def _mapped_errors(turl: str) -> Iterator[None]:
    """The one place where this backend's ``OSError`` becomes a gridfs error."""
    try:
        yield
    except GridError:
        raise
    except OSError as exc:
        raise from_os_error(exc, turl) from exc


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make the names made in ``directory`` durable (a crash must not lose a registered replica)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _device_of(directory: str) -> int:
    """The device of ``directory``, made (the SE's way) if it is missing."""
    make_private_dirs(directory)
    return os.stat(directory).st_dev


def _summed(fd: int) -> str:
    """The adler32 of the file open as ``fd``, read whole."""
    digest = Adler32()
    buffer = memoryview(bytearray(_CHUNK))
    offset = 0
    while count := os.preadv(fd, [buffer], offset):
        digest.update(buffer[:count])
        offset += count
    return digest.hexdigest()


def turl_to_path(turl: str) -> str:
    """The local path of a ``file://`` TURL (``file:///abs/path`` or ``file://localhost/...``)."""
    parts = urlsplit(turl)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path:
        raise InvalidArgument(f"not a local file URL: {turl}", turl)
    return unquote(parts.path)


class _FileReader(RangeReader):
    def __init__(self, turl: str, path: str, fd: int) -> None:
        self._turl = turl
        self._fd: int | None = fd
        self.size = os.fstat(fd).st_size
        self.local_path = path

    def readinto(self, offset: int, buffer: memoryview) -> int:
        if self._fd is None:
            raise ValueError("read from a closed replica")
        with _mapped_errors(self._turl):
            return os.preadv(self._fd, [buffer], offset)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class FileBackend(StorageBackend):
    """Objects are plain files; a write lands under a temporary name first.

    Readers give the replica's path; checksums are computed by reading the
    file here, and nothing is held open between calls.
    """

    capabilities = frozenset({Capability.LOCAL_PATH})

    def close(self) -> None:
        pass  # nothing is held between calls

    def stat(self, turl: str) -> ObjectStat:
        with _mapped_errors(turl):
            st = os.stat(turl_to_path(turl))
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectory(f"{turl} is not a file", turl)
        return ObjectStat(size=st.st_size, mtime_ns=st.st_mtime_ns)

    def open_reader(self, turl: str) -> RangeReader:
        path = turl_to_path(turl)
        with _mapped_errors(turl):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with _mapped_errors(turl):
                return _FileReader(turl, path, fd)
        except BaseException:
            os.close(fd)
            raise

    def write(self, turl: str, chunks: Iterable[bytes], *, size: int | None = None) -> WriteResult:
        del size  # a file grows as it is written: nothing to announce
        path = turl_to_path(turl)
        directory, name = os.path.split(path)
        partial = os.path.join(directory, partial_upload_name(name))
        with _mapped_errors(turl):
            make_private_dirs(directory)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            with _mapped_errors(turl):
                os.fchmod(fd, FILE_MODE)  # whatever the umask
            digest = Adler32()
            total = 0
            writeback = Writeback()  # the fsync below then finds little left to write
            with _mapped_errors(turl):
                for chunk in chunks:
                    digest.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                    writeback.written(fd, total, len(chunk))
                    total += len(chunk)
                os.fsync(fd)
                os.close(fd)
                fd = -1
                # link() refuses to replace an existing replica, where rename() would not.
                os.link(partial, path)
                fsync_directory(directory)
        finally:
            if fd >= 0:
                os.close(fd)
            try:
                os.unlink(partial)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove partial upload %s: %s", partial, exc.strerror)
        # Every byte summed went to the file by a write that succeeded, and the fsync
        # succeeded: the file holds those bytes, so their sum is what is stored
        # (a re-read would only read the same page cache back).
        value = digest.hexdigest()
        return WriteResult(
            size=total, checksum_type=DEFAULT_CHECKSUM, checksum=value, stored_checksum=value
        )

    def adopt(self, turl: str, path: str, *, summed: str | None = None) -> WriteResult | None:
        """Link ``path`` in as the object, when it is on the SE's filesystem: no copy.

        The file is fsynced, made the SE's alone (0600) and linked in (the
        new directory entry fsynced too). Without ``summed`` it is read once for its
        adler32 (a file written over time, by others' hands too: its bytes are
        summed as they are, to be checked against what was written); with it,
        not read: every byte summed went to the file by a write that
        succeeded, and the fsync succeeded, so the file holds those bytes (a
        re-read would only read the same page cache back, as :meth:`write`
        says). ``None`` when it is on another filesystem, or one without hard links.
        """
        target = turl_to_path(turl)
        directory = os.path.dirname(target)
        with _mapped_errors(turl):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if os.fstat(fd).st_dev != _device_of(directory):
                    return None
                os.fchmod(fd, FILE_MODE)
                os.fsync(fd)
                try:
                    os.link(path, target)  # refuses to replace an existing replica
                except OSError as exc:
                    if exc.errno in (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                        return None
                    raise
                try:
                    fsync_directory(directory)
                    size = os.fstat(fd).st_size
                    value = _summed(fd) if summed is None else summed
                except BaseException:
                    # Not adopted after all: no object is left that no caller will register.
                    with contextlib.suppress(OSError):
                        os.unlink(target)
                    raise
            finally:
                os.close(fd)
        return WriteResult(
            size=size, checksum_type=DEFAULT_CHECKSUM, checksum=value, stored_checksum=value
        )

    def delete(self, turl: str) -> None:
        with _mapped_errors(turl):
            os.unlink(turl_to_path(turl))

    def mkdir(self, turl: str) -> None:
        with _mapped_errors(turl):
            make_private_dirs(turl_to_path(turl))

    def list(self, turl: str) -> Iterator[ListEntry]:
        with _mapped_errors(turl), os.scandir(turl_to_path(turl)) as entries:
            # Read now: errors belong to this call, not to whoever iterates later.
            found = [
                ListEntry(e.name, e.stat().st_size if e.is_file() else 0, e.is_dir())
                for e in entries
            ]
        return iter(found)

    def checksum(self, turl: str, checksum_type: str = DEFAULT_CHECKSUM) -> str:
        if checksum_type != DEFAULT_CHECKSUM:
            raise InvalidArgument(f"checksum type {checksum_type} is not supported here", turl)
        digest = Adler32()
        with self.open_reader(turl) as reader:
            buffer = bytearray(_CHUNK)
            view = memoryview(buffer)
            offset = 0
            while count := reader.readinto(offset, view):
                digest.update(view[:count])
                offset += count
        return digest.hexdigest()
