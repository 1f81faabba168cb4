"""The lcg-utils verbs of a :class:`~gridfs.gfal.Grid`: GUIDs, aliases, replicas, tape, copies.

lcg-lg, la, aa, ra, rf, uf, lr, cr and rep, and the tape calls (locality,
bring-online, TURLs, release), on the grid's catalog and replica access; a
mixin, as :mod:`gridfs.gfal.metadata_calls` is, so that :class:`Grid` keeps the
os-shaped calls.
"""

from __future__ import annotations

import abc
import errno
import logging
import os
import stat as _stat
from collections.abc import Callable, Iterator, Sequence

from gridfs.catalog import (
    CatalogAPI,
    EntryId,
    Replica,
    Stat,
    join_lfn,
    new_guid,
    parse_guid,
    split_lfn,
)
from gridfs.errors import (
    AlreadyExists,
    GridError,
    InvalidArgument,
    IsADirectory,
    NoReplicaAvailable,
    NotADirectory,
    NotFound,
    PermissionDenied,
    from_os_error,
)
from gridfs.gfal import register
from gridfs.gfal.cancel import CancelToken
from gridfs.gfal.progress import CopyProgress, reporting
from gridfs.gfal.readahead import COPY_CHUNK, read_ahead
from gridfs.gfal.replicas import ReplicaAccess, current_replicas
from gridfs.storage import (
    DEFAULT_CHECKSUM,
    Locality,
    ObjectStat,
    StageRequest,
    WriteResult,
)

__all__ = ["ReplicaCalls", "parent_of"]

log = logging.getLogger(__name__)


class ReplicaCalls(abc.ABC):
    """The lcg-utils and tape verbs on LFNs, on a grid's catalog and replica access."""

    @property
    @abc.abstractmethod
    def catalog(self) -> CatalogAPI:
        """The file catalog."""

    @property
    @abc.abstractmethod
    def storage(self) -> ReplicaAccess:
        """Replica access: SEs, backends, staging."""

    @property
    @abc.abstractmethod
    def cancel(self) -> CancelToken:
        """The token that interrupts this grid's copies."""

    @abc.abstractmethod
    def stat(self, lfn: str) -> Stat:
        """The entry of ``lfn``, links followed."""

    @abc.abstractmethod
    def lstat(self, lfn: str) -> Stat:
        """The entry of ``lfn`` itself."""

    @abc.abstractmethod
    def access(self, lfn: str, mode: int) -> bool:
        """Whether the caller may access ``lfn`` with ``mode``."""

    @abc.abstractmethod
    def default_se_for(self, directory_id: EntryId) -> str | None:
        """The SE new files in ``directory_id`` go to."""

    # -- GUIDs, aliases and replica registration (lcg-lg/la/aa/ra/rf/uf) ----

    def lg(self, lfn: str) -> str:
        """The GUID of ``lfn``."""
        return self.catalog.guid_of(lfn)

    def la(self, lfn_or_guid: str) -> list[str]:
        """The LFNs (primary first, then aliases) of a file given by LFN or GUID."""
        guid = lfn_or_guid if not lfn_or_guid.startswith("/") else self.lg(lfn_or_guid)
        return self.catalog.lfns_of(guid)

    def aa(self, lfn: str, alias: str) -> Stat:
        """Register ``alias`` for the file ``lfn``."""
        return self.catalog.add_alias(lfn, alias)

    def ra(self, alias: str) -> None:
        """Unregister the alias ``alias``."""
        self.catalog.remove_alias(alias)

    def rf(self, surl: str, lfn: str, se: str | None = None, *, guid: str | None = None) -> Replica:
        """Register the stored copy ``surl`` (on SE ``se``, default: the SE it is on) for ``lfn``.

        The copy is checked first (see :mod:`gridfs.gfal.register`): it must
        exist and, when ``lfn`` is registered, have its size and checksum. As
        lcg-rf does, a missing ``lfn`` is registered as a new file with the
        copy as its replica (the copy's size and checksum; a new GUID, or
        ``guid``), in one catalog operation.
        """
        element = register.owning_se(self.storage.ses, surl, se)
        try:
            entry = self.stat(lfn)
        except NotFound:
            self._may_write(parent_of(split_lfn(lfn)))  # before the copy is read
            copy = register.check_copy(self.storage, element, surl)
            self.catalog.add_file(
                lfn,
                size=copy.size,
                checksum=copy.checksum,
                checksum_type=copy.checksum_type,
                replicas=[(element.name, surl)],
                guid=parse_guid(guid) if guid is not None else None,
            )
            log.info("registered %s (%d bytes) with replica %s", lfn, copy.size, surl)
            return next(r for r in self.catalog.replicas(lfn) if r.surl == surl)
        file_guid, checksum = self.lg(lfn), entry.checksum
        self._may_write(lfn)
        if guid is not None and parse_guid(guid) != file_guid:
            raise InvalidArgument(f"{lfn} has GUID {file_guid}, not {guid}", lfn)
        if checksum is None:
            raise InvalidArgument(f"{lfn} is being written: no checksum to check {surl} by", lfn)
        if entry.checksum_type != DEFAULT_CHECKSUM:
            raise InvalidArgument(
                f"cannot check {surl}: the catalog has the {entry.checksum_type} checksum of "
                f"{lfn}, copies are checked with {DEFAULT_CHECKSUM}",
                lfn,
            )
        register.check_copy(self.storage, element, surl, size=entry.size, checksum=checksum)
        # With the checksum: refused if a new version was committed meanwhile.
        return self.catalog.add_replica(file_guid, element.name, surl, checksum=checksum)

    def _may_write(self, lfn: str) -> None:
        if not self.access(lfn, os.W_OK):
            raise PermissionDenied(f"permission denied: {lfn}", lfn)

    def uf(self, surl: str, lfn: str) -> Replica:
        """Unregister replica ``surl`` of ``lfn`` (the stored copy stays, as with lcg-uf)."""
        return self.catalog.remove_replica(self.lg(lfn), surl)

    # -- tape: locality, bring-online, release ------------------------------

    def locality(self, lfn: str) -> dict[str, Locality]:
        """Where each current replica of ``lfn`` is (ONLINE, NEARLINE...); never stages."""
        return {r.surl: self.storage.locality(r) for r in self._current_replicas(lfn)}

    def bring_online(
        self, lfn: str, pin_lifetime_s: float = 3600.0, *, even_if_online: bool = False
    ) -> StageRequest | None:
        """Stage ``lfn`` from tape for reading, pinned for ``pin_lifetime_s``.

        Returns ``None`` when a replica is online already (unless
        ``even_if_online``: the online copies could not be read); else the
        request of the best nearline replica, to ``wait()`` for (the recall
        runs in this process).
        """
        replicas = self._current_replicas(lfn)
        localities = {r.surl: self.storage.locality(r) for r in replicas}
        if not even_if_online and any(
            place is not Locality.NEARLINE
            for place in localities.values()
            if place is not Locality.UNAVAILABLE
        ):
            return None
        nearline = [r for r in replicas if localities[r.surl] is Locality.NEARLINE]
        request = self.storage.bring_online(nearline, pin_lifetime_s)
        if request is None:
            raise NoReplicaAvailable(f"no replica of {lfn} is on tape or disk", lfn)
        return request

    def turls(self, lfn: str, protocols: Sequence[str] | None = None) -> dict[str, str]:
        """The TURLs of ``lfn``'s readable replicas for ``protocols`` (lcg-gt, prepare-to-get).

        Replicas on tape that are not staged have none yet: bring them online first.
        """
        return self.storage.turls(self._current_replicas(lfn), protocols)

    def abort_stage(self, request: StageRequest) -> None:
        """Give up a bring-online request that has not finished."""
        self.storage.abort(request)

    def storage_stat(self, url: str) -> ObjectStat:
        """What the storage at ``url`` (a TURL or an SE's protocol prefix) says is there."""
        return self.storage.backend(url).stat(url)

    def reads_remotely(self) -> bool:
        """Whether some SE is read through a protocol without a local path (worth a cache)."""
        return self.storage.reads_remotely()

    def release(self, lfn: str) -> None:
        """Unpin the staged copies of ``lfn`` on nearline SEs (they may be evicted)."""
        self.storage.release(self._current_replicas(lfn))

    # -- lcg-utils ---------------------------------------------------------

    def lr(self, lfn: str) -> list[str]:
        """List the SURLs of ``lfn``'s replicas (lcg-lr); stale ones, on their way out, not."""
        return [replica.surl for replica in self._current_replicas(lfn)]

    def replicas(self, lfn: str) -> list[Replica]:
        """Every registered replica of ``lfn``, stale ones included, with its status."""
        return self.catalog.replicas(lfn)

    def space_used(self, se: str, space_token: str) -> int:
        """The bytes that registered replicas take in space token ``space_token`` of ``se``."""
        return self.catalog.space_used(se, space_token)

    def _current_replicas(self, lfn: str) -> list[Replica]:
        return current_replicas(self.catalog.replicas(lfn))

    def cr(
        self,
        source: str | os.PathLike[str],
        lfn: str,
        se: str | None = None,
        *,
        guid: str | None = None,
        space_token: str | None = None,
        progress: CopyProgress | None = None,
    ) -> Stat:
        """Copy local file ``source`` to an SE and register it as ``lfn`` (lcg-cr).

        Without ``se``, the directory's default SE (:meth:`default_se_for`) is used.
        ``progress`` hears the bytes sent so far, after each chunk.

        With ``space_token``, the token's quota is checked before any byte is
        written (SRM prepare-to-put). The copy is streamed with its adler32
        computed on the way, then the SE's own checksum of what it stored is
        compared with the source's; only then are the file and its replica
        registered, in one transaction (put-done). On any failure the stored
        copy is deleted: nothing stays stored or registered.
        """
        storage = self.storage
        parts = split_lfn(lfn)
        guid = self._free_guid(guid) if guid is not None else new_guid()
        self.check_free(lfn)
        target_se = storage.writable_se(se or self.default_se_for(self.stat(parent_of(parts)).id))
        name = os.fspath(source)
        try:
            # Checked before opening: opening a FIFO would block.
            kind = os.stat(name).st_mode
            if _stat.S_ISDIR(kind):
                raise IsADirectory(f"is a directory: {name}", name)
            if not _stat.S_ISREG(kind):
                raise InvalidArgument(f"not a regular file: {name}", name)
            source_file = open(name, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            raise NotFound(f"no such local file: {name}", name) from None
        except OSError as exc:
            raise from_os_error(exc, name) from exc
        with source_file:
            source_stat = os.fstat(source_file.fileno())
            storage.reserve(target_se, space_token, source_stat.st_size, self.catalog.space_used)

            def chunks() -> Iterator[bytes]:
                while True:
                    try:
                        chunk = source_file.read(COPY_CHUNK)
                    except OSError as exc:  # the source's fault, not the SE's
                        raise from_os_error(exc, name) from exc
                    if not chunk:
                        return
                    yield chunk

            def register(surl: str, written: WriteResult) -> Stat:
                return self.catalog.add_file(
                    lfn,
                    size=written.size,
                    checksum=written.checksum,
                    checksum_type=written.checksum_type,
                    replicas=[(target_se.name, surl)],
                    guid=guid,
                    mode=source_stat.st_mode & 0o777,
                    space_token=space_token,
                )

            surl = storage.new_surl(target_se, guid)
            entry = storage.store_verified(
                target_se,
                surl,
                reporting(read_ahead(chunks()), progress),
                # The source is read once, summed by the SE's backend as it is sent;
                # a file that changes size meanwhile is no copy of anything.
                expected_checksum=None,
                expected_size=source_stat.st_size,
                register=register,
                cancel=self.cancel,
            )
        log.info("registered %s (%d bytes) with replica %s", lfn, entry.size, surl)
        return entry

    def rep(
        self,
        lfn: str,
        se: str,
        *,
        space_token: str | None = None,
        cancel: CancelToken | None = None,
        before_write: Callable[[str, Replica], object] | None = None,
        before_register: Callable[[str], object] | None = None,
        fresh_name: bool = False,
    ) -> Replica:
        """Copy ``lfn`` from its best replica to SE ``se`` and register the copy (lcg-rep).

        The source is the best replica as seen from ``se`` (its site, then
        its region: the cheapest link), failing over to the next. When both
        SEs do third-party copy (``tpc``), ``se``'s server pulls it instead
        (:meth:`ReplicaAccess.store_pulled`), verified the same way. The new
        copy's checksum must match the catalog's before it is registered; on
        any failure it is deleted. :class:`AlreadyExists` if the file has a
        replica on ``se``.

        For a caller that keeps its own records (the transfer agents):
        ``cancel`` stops this copy alone (default: the grid's token);
        ``before_write(surl, source)`` hears of the new copy's SURL and the
        replica read before a byte is written, and ``before_register(surl)``
        is called once the copy is verified, just before it is registered
        (either may raise to stop it: the copy is then deleted); with
        ``fresh_name`` the copy gets a name never used before (a leftover of
        an earlier attempt may hold the usual one).
        """
        storage = self.storage
        entry, replicas = self.catalog.stat_replicas(lfn)
        target_se = storage.writable_se(se)
        if entry.checksum_type != DEFAULT_CHECKSUM:
            raise InvalidArgument(
                f"cannot verify a copy of {lfn}: the catalog has its {entry.checksum_type} "
                f"checksum, copies are checked with {DEFAULT_CHECKSUM}",
                lfn,
            )
        if any(r.se == target_se.name for r in current_replicas(replicas)):
            raise AlreadyExists(f"{lfn} has a replica on {target_se.name} already", lfn)
        guid, checksum = entry.guid, entry.checksum
        assert guid is not None
        assert checksum is not None
        # A stale copy of an older version there may still hold the usual name.
        surl = storage.new_surl(target_se, guid)
        if fresh_name or surl in {r.surl for r in replicas}:
            surl = storage.new_surl(target_se, guid, new_version=True)
        storage.reserve(target_se, space_token, entry.size, self.catalog.space_used)

        def register(surl: str, _: WriteResult) -> Replica:
            if before_register is not None:
                before_register(surl)
            return self.catalog.add_replica(
                guid, target_se.name, surl, space_token=space_token, checksum=checksum
            )

        cancel = self.cancel if cancel is None else cancel
        pull = storage.pull_source(current_replicas(replicas), target_se)
        if pull is not None:  # the servers copy: no byte passes here
            candidate, protocol = pull
            if before_write is not None:
                before_write(surl, candidate.replica)
            try:
                replica = storage.store_pulled(
                    target_se,
                    surl,
                    candidate,
                    protocol,
                    expected=WriteResult(entry.size, DEFAULT_CHECKSUM, checksum),
                    register=register,
                    cancel=cancel,
                )
            except GridError as exc:
                if exc.errno != errno.ENOTSUP:
                    raise
                # Marked tpc, but its server has no third-party copy: streamed instead.
                log.warning("%s; streaming %s instead", exc, lfn)
            else:
                log.info(
                    "replicated %s to %s as %s by third-party copy from %s",
                    lfn,
                    target_se.name,
                    surl,
                    candidate.se.name,
                )
                return replica
        source = storage.open_best(entry, replicas, lfn, near=target_se)
        with source:
            if before_write is not None:
                before_write(surl, source.replica)
            replica = storage.store_verified(
                target_se,
                surl,
                read_ahead(bytes(chunk) for chunk in source.chunks(COPY_CHUNK)),
                expected_checksum=lambda: checksum,
                expected_size=entry.size,
                register=register,
                cancel=cancel,
            )
        log.info("replicated %s to %s as %s", lfn, target_se.name, surl)
        return replica

    def check_free(self, lfn: str) -> None:
        """Fail before copying anything if ``lfn`` cannot be registered: taken, or no directory."""
        try:
            self.lstat(lfn)
        except NotFound:
            pass
        else:
            raise AlreadyExists(f"LFN exists: {lfn}", lfn)
        parent = parent_of(split_lfn(lfn))
        if not self.stat(parent).is_dir():
            raise NotADirectory(f"not a directory: {parent}", parent)

    def _free_guid(self, guid: str) -> str:
        """``guid`` in canonical form, checked to be nobody's yet (before a byte is copied)."""
        guid = parse_guid(guid)
        try:
            owner = self.catalog.lfns_of(guid)[0]
        except NotFound:
            return guid
        except PermissionError:  # taken by a file the caller may not see
            owner = "another file"
        raise AlreadyExists(f"GUID {guid} is taken (by {owner})", guid)


def parent_of(parts: tuple[str, ...]) -> str:
    """The LFN of the directory holding the LFN of ``parts``."""
    return join_lfn(parts[:-1])
