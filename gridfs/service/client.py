"""The client of ``gridfs serve``: :class:`~gridfs.catalog.CatalogAPI` and
:class:`~gridfs.metadata.MetadataAPI` over HTTPS, so that ``[catalog] url =
"https://host:port/"`` is all a user changes.

One :class:`ServiceClient` (keep-alive connections of :mod:`http.client`, pooled
for threads: :mod:`gridfs.service.transport`) carries every call, with the
caller's credential as grid tools find it
(:func:`~gridfs.service.credentials.find_credential`). Several server URLs
(comma-separated) fail over: to the next server for any call when a connection
cannot be made (nothing was sent), and also after a broken answer for the calls
that only read (safe to repeat). Each method here is one line over the wire:
the types come from the Protocols (:mod:`gridfs.service.wire`).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Any, Self, TypeVar

import orjson

from gridfs.catalog import (
    AclEdit,
    AclEntry,
    EntryId,
    EntryKind,
    FileStatus,
    Identity,
    NewFile,
    Registration,
    Replica,
    ReplicaStatus,
    Stat,
)
from gridfs.errors import GridError, NotPermitted, StorageUnavailable
from gridfs.metadata import AttributeType, FoundEntry, Rows, SavedQuery, Value
from gridfs.service.credentials import Credential, client_context, find_credential
from gridfs.service.scopes import RULES
from gridfs.service.transport import Answer, Broken, Server, Unreached
from gridfs.service.wire import decode, encode, error_from_wire

__all__ = ["RemoteCatalog", "RemoteMetadata", "ServiceClient", "open_service"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Target = str | EntryId

# The files of one add_files request, as JSON: under any server's body limit
# (64 KiB is the smallest a test sets), large enough that requests cost little.
BULK_REQUEST_BYTES = 48 << 10

# Calls that only read: repeated on another server after a broken answer.
SAFE_TO_REPEAT = frozenset(
    name.replace(".", "/") for name, rule in RULES.items() if rule.kinds == ("read",)
)
_JSON = {"Content-Type": "application/json"}


class ServiceClient:
    """The HTTP side of the remote catalog: requests, failover, errors."""

    def __init__(
        self, urls: Sequence[str], credential: Credential | None, *, timeout: float = 60.0
    ) -> None:
        if not urls:
            raise ValueError("a catalog service needs at least one URL")
        self.urls = [url.rstrip("/") for url in urls]
        self.credential = credential
        headers = {"User-Agent": "gridfs"}
        if credential is not None and credential.token is not None:
            headers["Authorization"] = f"Bearer {credential.token}"
        context = client_context(credential)
        self._servers = [Server(url, context, headers, timeout) for url in self.urls]
        self._current = 0  # the server that answered last

    def close(self) -> None:
        """Close the connections."""
        for server in self._servers:
            server.close()

    def _send(self, operation: str, body: bytes) -> Answer:
        """The answer of the first server that gives one, trying each once."""
        failures = []
        count = len(self.urls)
        for step in range(count):
            index = (self._current + step) % count
            try:
                response = self._servers[index].request("POST", f"/v1/{operation}", body, _JSON)
            except Unreached as exc:
                failures.append(f"{self.urls[index]}: {exc}")
                continue
            except Broken as exc:
                failures.append(f"{self.urls[index]}: {exc}")
                if operation in SAFE_TO_REPEAT:
                    continue
                raise StorageUnavailable(
                    f"catalog service {self.urls[index]} broke off {operation}: {exc} "
                    "(not repeated: it may have been done)",
                    errno=_errno.EREMOTEIO,
                ) from exc
            self._current = index
            return response
        code = _errno.EPROTO if any("CERTIFICATE" in f.upper() for f in failures) else None
        raise StorageUnavailable(
            "no catalog service answers: " + "; ".join(failures), errno=code or _errno.ECONNREFUSED
        )

    def _error(self, response: Answer) -> GridError:
        try:
            data = orjson.loads(response.read())
        except (ValueError, Broken):
            return GridError(f"catalog service answered {response.status} without a body")
        error = error_from_wire(data)
        if response.status == 401 and self.credential is not None:
            error = type(error)(
                f"{error} (the credential sent: {self.credential.source})",
                error.filename,
                errno=error.errno,
            )
        return error

    def call(self, returns: type[T], operation: str, /, **arguments: object) -> T:
        """Run one operation; its result decoded as ``returns``."""
        response = self._send(operation, _body(arguments))
        if response.status != 200:
            raise self._error(response)
        try:
            data = orjson.loads(response.read())
        except Broken as exc:
            raise StorageUnavailable(
                f"catalog service {self.urls[self._current]}: {operation}: {exc}",
                errno=_errno.EREMOTEIO,
            ) from exc
        except orjson.JSONDecodeError as exc:
            raise GridError(f"catalog service: {operation} answered no JSON") from exc
        result: T = decode(data.get("result"), returns)
        return result

    def iterate(self, item: type[T], operation: str, /, **arguments: object) -> Iterator[T]:
        """Run an iterating operation now; its items, fetched a page at a time as read."""
        response = self._send(operation, _body(arguments))
        if response.status != 200:
            raise self._error(response)
        return _items(response, item)

    def rows(self, item: type[T], operation: str, /, **arguments: object) -> Rows[T]:
        """As :meth:`iterate`, as the :class:`~gridfs.metadata.Rows` of a query."""
        items = self.iterate(item, operation, **arguments)
        stack = ExitStack()
        stack.callback(getattr(items, "close"))  # noqa: B009 - a generator's close, untyped
        return Rows(items, stack, contextlib.nullcontext)

    def whoami(self) -> dict[str, Any]:
        """Who the server takes this client for: user, groups, method, subject, scopes."""
        failures = []
        for url, server in zip(self.urls, self._servers, strict=True):
            try:
                response = server.request("GET", "/v1/whoami")
                if response.status != 200:
                    raise self._error(response)
                result: dict[str, Any] = orjson.loads(response.read())["result"]
            except (Unreached, Broken) as exc:
                failures.append(f"{url}: {exc}")
                continue
            return result
        raise StorageUnavailable(
            "no catalog service answers: " + "; ".join(failures), errno=_errno.ECONNREFUSED
        )


def _requests(files: Sequence[NewFile]) -> Iterator[tuple[int, list[NewFile]]]:
    """``files`` in parts of at most :data:`BULK_REQUEST_BYTES` of JSON, each with its offset."""
    start, part, size = 0, list[NewFile](), 0
    for index, file in enumerate(files):
        length = len(_body({"file": file}))
        if part and size + length > BULK_REQUEST_BYTES:
            yield start, part
            start, part, size = index, [], 0
        part.append(file)
        size += length
    if part:
        yield start, part


def _body(arguments: Mapping[str, object]) -> bytes:
    return orjson.dumps(encode(dict(arguments)))


def _items(response: Answer, item: Any) -> Iterator[Any]:
    try:
        for line in response.lines():
            if not line.strip():
                continue
            data = orjson.loads(line)
            if "items" in data:
                yield from (decode(one, item) for one in data["items"])
            elif data.get("end"):
                response.read()  # the end of the body: the connection serves the next call
                return
            else:
                raise error_from_wire(data)
        raise GridError("catalog service: a listing ended early (the server went away)")
    except Broken as exc:
        raise GridError(f"catalog service: a listing broke off: {exc}") from exc
    finally:
        response.close()


def _identity(whoami: Mapping[str, Any]) -> Identity:
    return Identity(whoami["user"], tuple(whoami["groups"]), superuser=bool(whoami["superuser"]))


class _AsProven:
    """A view of the service as the one identity its credential proves."""

    def __init__(self, service: ServiceClient, identity: Identity) -> None:
        self._service = service
        self._identity = identity

    @property
    def identity(self) -> Identity:
        """Who the server runs the calls as."""
        return self._identity

    def as_identity(self, identity: Identity) -> Self:
        """This view, if ``identity`` is the one the credential proves; no other."""
        if identity != self._identity:
            raise NotPermitted(
                f"the catalog service decides who you are ({self._identity.user}): "
                f"acting as {identity.user} needs {identity.user}'s credential"
            )
        return self


class RemoteCatalog(_AsProven):
    """The catalog of a ``gridfs serve``, acting as the identity its credential proves."""

    def close(self) -> None:
        """Close the connections."""
        self._service.close()

    def whoami(self) -> dict[str, Any]:
        """What the server granted: user, groups, superuser, method, subject and scopes."""
        return self._service.whoami()

    def stat(self, lfn: str, *, follow_symlinks: bool = True) -> Stat:
        """The entry at ``lfn``."""
        return self._service.call(Stat, "catalog/stat", lfn=lfn, follow_symlinks=follow_symlinks)

    def stat_id(self, entry_id: EntryId) -> Stat:
        """The entry with id ``entry_id``."""
        return self._service.call(Stat, "catalog/stat_id", entry_id=entry_id)

    def lookup(self, parent_id: EntryId, name: str) -> Stat:
        """The child ``name`` of directory ``parent_id``."""
        return self._service.call(Stat, "catalog/lookup", parent_id=parent_id, name=name)

    def stat_walked(self, entry_id: EntryId, mode: int = 0) -> Stat:
        """The entry ``entry_id``, its ancestors searchable and ``mode`` allowed on it."""
        return self._service.call(Stat, "catalog/stat_walked", entry_id=entry_id, mode=mode)

    def lfn_of(self, entry_id: EntryId) -> str:
        """The LFN of an entry."""
        return self._service.call(str, "catalog/lfn_of", entry_id=entry_id)

    def readlink(self, lfn_or_id: str | EntryId) -> str:
        """The target of a symbolic link."""
        return self._service.call(str, "catalog/readlink", lfn_or_id=lfn_or_id)

    def iterdir(self, directory: str | EntryId, *, after: int = 0) -> Iterator[Stat]:
        """The entries of a directory, in id order, after id ``after``."""
        return self._service.iterate(Stat, "catalog/iterdir", directory=directory, after=after)

    def list_page(self, directory_id: EntryId, *, after: int, limit: int) -> list[Stat]:
        """Up to ``limit`` entries of a directory with ids above ``after``."""
        return self._service.call(
            list[Stat], "catalog/list_page", directory_id=directory_id, after=after, limit=limit
        )

    def children(self, directory_id: EntryId, *, after: int = 0, limit: int) -> list[Stat]:
        """What :meth:`lookup` gives for each child, a page at a time, in one request."""
        return self._service.call(
            list[Stat], "catalog/children", directory_id=directory_id, after=after, limit=limit
        )

    def guid_of(self, lfn: str) -> str:
        """The GUID of file ``lfn``."""
        return self._service.call(str, "catalog/guid_of", lfn=lfn)

    def lfns_of(self, guid: str) -> list[str]:
        """The primary LFN of a GUID, then its aliases."""
        return self._service.call(list[str], "catalog/lfns_of", guid=guid)

    def access(self, lfn: str, mode: int) -> bool:
        """Whether ``lfn`` exists and allows ``mode``, as :func:`os.access`."""
        return self._service.call(bool, "catalog/access", lfn=lfn, mode=mode)

    def getacl(self, lfn: str) -> list[AclEntry]:
        """The whole ACL of ``lfn``."""
        return self._service.call(list[AclEntry], "catalog/getacl", lfn=lfn)

    def inherited_property(self, entry_id: EntryId, name: str) -> str | None:
        """A property of an entry, else of its nearest readable ancestor that has it."""
        return self._service.call(
            str | None,  # type: ignore[arg-type]  # decoded by the union's members
            "catalog/inherited_property",
            entry_id=entry_id,
            name=name,
        )

    def properties(self, lfn_or_id: str | EntryId) -> dict[str, str]:
        """The grid properties of an entry."""
        return self._service.call(dict[str, str], "catalog/properties", lfn_or_id=lfn_or_id)

    def mkdir(
        self, lfn: str, mode: int = 509, *, parents: bool = False, exist_ok: bool = False
    ) -> Stat:
        """Create directory ``lfn``."""
        return self._service.call(
            Stat, "catalog/mkdir", lfn=lfn, mode=mode, parents=parents, exist_ok=exist_ok
        )

    def symlink(self, target: str, lfn: str, *, alias: bool = False) -> Stat:
        """Create ``lfn`` as a symbolic link to ``target``."""
        return self._service.call(Stat, "catalog/symlink", target=target, lfn=lfn, alias=alias)

    def mknod(self, lfn: str, kind: EntryKind, mode: int = 0o644, *, rdev: int = 0) -> Stat:
        """Create special file ``lfn`` (a FIFO, a socket, a device numbered ``rdev``)."""
        return self._service.call(Stat, "catalog/mknod", lfn=lfn, kind=kind, mode=mode, rdev=rdev)

    def add_file(
        self,
        lfn: str,
        *,
        size: int,
        checksum: str | None = None,
        checksum_type: str = "adler32",
        replicas: Sequence[tuple[str, str]] = (),
        guid: str | None = None,
        mode: int = 436,
        space_token: str | None = None,
        status: FileStatus = FileStatus.READY,
    ) -> Stat:
        """Register file ``lfn`` and its ``(se, surl)`` replicas."""
        return self._service.call(
            Stat,
            "catalog/add_file",
            lfn=lfn,
            size=size,
            checksum=checksum,
            checksum_type=checksum_type,
            replicas=replicas,
            guid=guid,
            mode=mode,
            space_token=space_token,
            status=status,
        )

    def add_files(
        self, files: Sequence[NewFile], *, space_token: str | None = None
    ) -> Registration:
        """Register many files with their replicas at once; refusals named, the rest registered.

        Sent in requests of up to :data:`BULK_REQUEST_BYTES` of files (each one
        transaction of the server), so that no body passes a server's limit;
        the indexes of refusals are those of ``files``.
        """
        added = present = 0
        refused: list[tuple[int, str]] = []
        for start, part in _requests(files):
            answer = self._service.call(
                Registration, "catalog/add_files", files=part, space_token=space_token
            )
            added, present = added + answer.added, present + answer.present
            refused.extend((start + index, reason) for index, reason in answer.refused)
        return Registration(added, present, tuple(refused))

    def unlink(self, lfn: str) -> list[Replica]:
        """Remove file or link ``lfn``; returns the replicas it unregistered."""
        return self._service.call(list[Replica], "catalog/unlink", lfn=lfn)

    def abandon_writing(self, entry_id: EntryId) -> bool:
        """Remove file ``entry_id`` if it is still WRITING; whether it was removed."""
        return self._service.call(bool, "catalog/abandon_writing", entry_id=entry_id)

    def rmdir(self, lfn: str) -> None:
        """Remove the empty directory ``lfn``."""
        return self._service.call(type(None), "catalog/rmdir", lfn=lfn)

    def rename(self, source: str, destination: str) -> list[Replica]:
        """Move ``source`` to ``destination``; returns the replicas of a replaced file."""
        return self._service.call(
            list[Replica], "catalog/rename", source=source, destination=destination
        )

    def chmod(self, lfn: str, mode: int) -> Stat:
        """Change the permission bits."""
        return self._service.call(Stat, "catalog/chmod", lfn=lfn, mode=mode)

    def chown(
        self,
        lfn: str,
        owner: str | None = None,
        group: str | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Change owner and/or group (of a link itself, without ``follow_symlinks``)."""
        return self._service.call(
            Stat,
            "catalog/chown",
            lfn=lfn,
            owner=owner,
            group=group,
            follow_symlinks=follow_symlinks,
        )

    def utime(
        self,
        lfn: str,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
        *,
        follow_symlinks: bool = True,
    ) -> Stat:
        """Set access and modification times (of a link itself, without ``follow_symlinks``)."""
        return self._service.call(
            Stat,
            "catalog/utime",
            lfn=lfn,
            atime_ns=atime_ns,
            mtime_ns=mtime_ns,
            follow_symlinks=follow_symlinks,
        )

    def set_comment(self, lfn: str, comment: str | None) -> None:
        """Set or delete the comment of ``lfn``."""
        return self._service.call(type(None), "catalog/set_comment", lfn=lfn, comment=comment)

    def setacl(self, lfn: str, entries: Sequence[AclEntry]) -> list[AclEntry]:
        """Replace the ACL of ``lfn``."""
        return self._service.call(list[AclEntry], "catalog/setacl", lfn=lfn, entries=entries)

    def edit_acl(self, lfn: str, edit: AclEdit) -> list[AclEntry]:
        """Change the ACL of ``lfn`` as setfacl's ``-b``, ``-k``, ``-x`` and ``-m`` do."""
        return self._service.call(list[AclEntry], "catalog/edit_acl", lfn=lfn, edit=edit)

    def set_property(self, lfn_or_id: str | EntryId, name: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a grid property."""
        return self._service.call(
            type(None), "catalog/set_property", lfn_or_id=lfn_or_id, name=name, value=value
        )

    def add_alias(self, lfn: str, alias: str) -> Stat:
        """Make ``alias`` a link to the primary LFN of file ``lfn``."""
        return self._service.call(Stat, "catalog/add_alias", lfn=lfn, alias=alias)

    def remove_alias(self, alias: str) -> None:
        """Remove alias ``alias``."""
        return self._service.call(type(None), "catalog/remove_alias", alias=alias)

    def replicas(self, lfn_or_id: str | EntryId) -> list[Replica]:
        """The replicas of a file, for a reader."""
        return self._service.call(list[Replica], "catalog/replicas", lfn_or_id=lfn_or_id)

    def stat_replicas(self, lfn_or_id: str | EntryId) -> tuple[Stat, list[Replica]]:
        """The entry, checked for reading, and its replicas: one atomic open."""
        return self._service.call(
            tuple[Stat, list[Replica]], "catalog/stat_replicas", lfn_or_id=lfn_or_id
        )

    def replicas_to_replace(self, entry_id: EntryId) -> list[Replica]:
        """The replicas of a file, for its writer."""
        return self._service.call(list[Replica], "catalog/replicas_to_replace", entry_id=entry_id)

    def replicas_many(self, lfns: Sequence[str]) -> dict[str, list[Replica]]:
        """The replicas of many readable files at once."""
        return self._service.call(dict[str, list[Replica]], "catalog/replicas_many", lfns=lfns)

    def replicas_for_removal(self, lfn: str) -> list[Replica]:
        """The replicas of file ``lfn``, if the identity may remove it."""
        return self._service.call(list[Replica], "catalog/replicas_for_removal", lfn=lfn)

    def drop_replicas(self, lfn: str, surls: Sequence[str]) -> None:
        """Unregister replicas of ``lfn`` whose copies are gone."""
        return self._service.call(type(None), "catalog/drop_replicas", lfn=lfn, surls=surls)

    def surls_of(self, guid: str) -> list[str]:
        """The SURLs of the replicas of a GUID."""
        return self._service.call(list[str], "catalog/surls_of", guid=guid)

    def space_used(self, se: str, space_token: str) -> int:
        """Bytes that the replicas in a space token of an SE occupy."""
        return self._service.call(int, "catalog/space_used", se=se, space_token=space_token)

    def commit_version(
        self,
        entry_id: EntryId,
        *,
        size: int,
        checksum: str,
        checksum_type: str,
        se: str,
        surl: str,
        space_token: str | None = None,
    ) -> tuple[Stat, list[Replica]]:
        """Make stored copy ``surl`` the new content of a file; returns it and the stale ones."""
        return self._service.call(
            tuple[Stat, list[Replica]],
            "catalog/commit_version",
            entry_id=entry_id,
            size=size,
            checksum=checksum,
            checksum_type=checksum_type,
            se=se,
            surl=surl,
            space_token=space_token,
        )

    def add_replica(
        self,
        guid: str,
        se: str,
        surl: str,
        status: ReplicaStatus = ReplicaStatus.AVAILABLE,
        *,
        pin_expiry_ns: int | None = None,
        space_token: str | None = None,
        checksum: str | None = None,
    ) -> Replica:
        """Register one more replica of a GUID."""
        return self._service.call(
            Replica,
            "catalog/add_replica",
            guid=guid,
            se=se,
            surl=surl,
            status=status,
            pin_expiry_ns=pin_expiry_ns,
            space_token=space_token,
            checksum=checksum,
        )

    def remove_replica(self, guid: str, surl: str) -> Replica:
        """Unregister one replica of a GUID."""
        return self._service.call(Replica, "catalog/remove_replica", guid=guid, surl=surl)

    def set_replica_status(
        self, surl: str, status: ReplicaStatus, *, pin_expiry_ns: int | None = None
    ) -> Replica:
        """Change a replica's status and pin expiry."""
        return self._service.call(
            Replica,
            "catalog/set_replica_status",
            surl=surl,
            status=status,
            pin_expiry_ns=pin_expiry_ns,
        )

    def mark_replica_bad(self, entry_id: EntryId, surl: str, reason: str) -> Replica:
        """Mark an available replica BAD (its bytes are wrong); any reader may."""
        return self._service.call(
            Replica, "catalog/mark_replica_bad", entry_id=entry_id, surl=surl, reason=reason
        )

    def begin_replica_deletion(self, surl: str) -> Replica:
        """Mark a replica UNAVAILABLE; returns it as it was."""
        return self._service.call(Replica, "catalog/begin_replica_deletion", surl=surl)

    def undo_replica_deletion(self, replica: Replica) -> None:
        """Put back a replica's status unless it is no longer UNAVAILABLE."""
        return self._service.call(type(None), "catalog/undo_replica_deletion", replica=replica)


class RemoteMetadata(_AsProven):
    """The metadata catalog of a ``gridfs serve``, sharing the catalog's connections."""

    def add_entry(
        self, lfn: str, values: Mapping[str, object], *, size: int = 0, mode: int = 420
    ) -> Stat:
        """Register file ``lfn`` with its values (AMGA addEntry)."""
        return self._service.call(
            Stat, "metadata/add_entry", lfn=lfn, values=values, size=size, mode=mode
        )

    def addattr(self, directory: Target, name: str, type_name: str) -> AttributeType:
        """Add one attribute to a directory's schema."""
        return self._service.call(
            AttributeType, "metadata/addattr", directory=directory, name=name, type_name=type_name
        )

    def addattrs(self, directory: Target, attributes: Mapping[str, str]) -> None:
        """Add attributes (name -> type name) to a directory's schema, all or none."""
        return self._service.call(
            type(None), "metadata/addattrs", directory=directory, attributes=attributes
        )

    def removeattr(self, directory: Target, name: str) -> None:
        """Remove one attribute (and its values) from a directory's schema."""
        return self._service.call(type(None), "metadata/removeattr", directory=directory, name=name)

    def removeattrs(self, directory: Target, names: Sequence[str]) -> None:
        """Remove attributes (and their values) from a directory's schema, all or none."""
        return self._service.call(
            type(None), "metadata/removeattrs", directory=directory, names=names
        )

    def listattr(self, directory: Target) -> dict[str, AttributeType]:
        """The schema of a directory."""
        return self._service.call(
            dict[str, AttributeType], "metadata/listattr", directory=directory
        )

    def entry_schema(self, entry: Target) -> dict[str, AttributeType]:
        """The schema whose attributes ``entry`` holds."""
        return self._service.call(dict[str, AttributeType], "metadata/entry_schema", entry=entry)

    def setattr(self, entries: Target | Sequence[Target], values: Mapping[str, object]) -> None:
        """Set attributes of one entry, or of each of several."""
        return self._service.call(type(None), "metadata/setattr", entries=entries, values=values)

    def getattr(self, entry: Target, names: Sequence[str] | None = None) -> dict[str, Value | None]:
        """The values of an entry."""
        return self._service.call(
            dict[str, Value | None], "metadata/getattr", entry=entry, names=names
        )

    def clearattr(self, entry: Target, names: Sequence[str] | None = None) -> None:
        """Remove values of an entry."""
        return self._service.call(type(None), "metadata/clearattr", entry=entry, names=names)

    def get_xattr(self, entry: Target, name: str) -> bytes:
        """:meth:`MetadataAPI.get_xattr` over the wire."""
        return self._service.call(bytes, "metadata/get_xattr", entry=entry, name=name)

    def set_xattr(self, entry: Target, name: str, value: bytes) -> None:
        """:meth:`MetadataAPI.set_xattr` over the wire."""
        return self._service.call(
            type(None), "metadata/set_xattr", entry=entry, name=name, value=value
        )

    def xattr_names(self, entry: Target) -> list[str]:
        """:meth:`MetadataAPI.xattr_names` over the wire."""
        return self._service.call(list[str], "metadata/xattr_names", entry=entry)

    def remove_xattr(self, entry: Target, name: str) -> None:
        """:meth:`MetadataAPI.remove_xattr` over the wire."""
        return self._service.call(type(None), "metadata/remove_xattr", entry=entry, name=name)

    def list_entries(self, directory: Target) -> Rows[tuple[str, dict[str, Value | None]]]:
        """Each entry of a directory with the values of its schema."""
        return self._service.rows(
            tuple[str, dict[str, Value | None]], "metadata/list_entries", directory=directory
        )

    def find(self, directory: str, condition: str, *, recursive: bool = False) -> Rows[str]:
        """The LFNs of the entries that match ``condition``."""
        return self._service.rows(
            str, "metadata/find", directory=directory, condition=condition, recursive=recursive
        )

    def find_ids(
        self, directory_id: EntryId, condition: str, *, recursive: bool = False
    ) -> Rows[FoundEntry]:
        """The matches of ``condition``, each with the directories that lead to it."""
        return self._service.rows(
            FoundEntry,
            "metadata/find_ids",
            directory_id=directory_id,
            condition=condition,
            recursive=recursive,
        )

    def selectattr(
        self, attributes: Sequence[str], condition: str | None = None
    ) -> Rows[tuple[Value | None, ...]]:
        """Values of ``attributes`` for the entries matching ``condition``."""
        return self._service.rows(
            tuple[Value | None, ...],
            "metadata/selectattr",
            attributes=attributes,
            condition=condition,
        )

    def select_query(self, query: str) -> Rows[tuple[Value | None, ...]]:
        """The rows of a SELECT query."""
        return self._service.rows(tuple[Value | None, ...], "metadata/select_query", query=query)

    def save_query(
        self, directory: Target, name: str, condition: str, *, recursive: bool = False
    ) -> SavedQuery:
        """Store a condition on a directory as a named query."""
        return self._service.call(
            SavedQuery,
            "metadata/save_query",
            directory=directory,
            name=name,
            condition=condition,
            recursive=recursive,
        )

    def saved_queries(self, directory: Target) -> list[SavedQuery]:
        """The queries saved on a directory."""
        return self._service.call(list[SavedQuery], "metadata/saved_queries", directory=directory)

    def remove_query(self, directory: Target, name: str) -> None:
        """Delete a saved query."""
        return self._service.call(
            type(None), "metadata/remove_query", directory=directory, name=name
        )

    def run_saved_query(self, directory: str, name: str) -> Rows[str]:
        """The LFNs that a saved query finds now."""
        return self._service.rows(str, "metadata/run_saved_query", directory=directory, name=name)


def open_service(
    url: str, identity: Identity, *, credential: Credential | None = None
) -> tuple[RemoteCatalog, RemoteMetadata]:
    """The catalog and metadata behind ``url`` (several: comma-separated), as the credential says.

    ``identity`` (the configuration's) is not sent: the server decides who the caller is.
    The credential is ``credential``, else the one :func:`find_credential` finds.
    """
    urls = [u.strip() for u in url.split(",") if u.strip()]
    service = ServiceClient(urls, credential or find_credential())
    try:
        granted = _identity(service.whoami())
    except BaseException:
        service.close()
        raise
    if granted.user != identity.user:
        log.debug("the catalog service takes us for %s, not %s", granted.user, identity.user)
    return RemoteCatalog(service, granted), RemoteMetadata(service, granted)
