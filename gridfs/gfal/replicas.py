"""Replica access: the SEs, their protocols and health, tape, and the one way to a replica's bytes.

:class:`ReplicaAccess` is what the gfal operations (open, cr, rep, cp, del,
sum, datasets, se clean, writes) use of storage. It knows nothing of the
catalog: callers hand it the replicas they looked up, and a ``register``
callable where a stored copy is to be registered.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TypeVar

from gridfs.catalog import FileStatus, Replica, ReplicaStatus, Stat
from gridfs.errors import (
    ChecksumMismatch,
    ConfigError,
    GridError,
    InvalidArgument,
    IsADirectory,
    NoSpace,
    NotFound,
    ReadOnly,
    StorageUnavailable,
    UnknownSE,
)
from gridfs.gfal.cancel import CancelToken
from gridfs.gfal.failover import FailoverReader
from gridfs.gfal.policy import Candidate, rank_replicas
from gridfs.storage import (
    BackendOptions,
    BackendPool,
    Capability,
    CircuitBreaker,
    Locality,
    RangeReader,
    SERegistry,
    Stager,
    StageRequest,
    StorageBackend,
    StorageElement,
    WriteResult,
    new_version_tag,
    replica_surl,
    resolve_turl,
)

__all__ = ["ReplicaAccess", "current_replicas"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def current_replicas(replicas: Iterable[Replica]) -> list[Replica]:
    """The replicas that hold the file's current content: all but the STALE and BAD ones."""
    return [r for r in replicas if r.status not in (ReplicaStatus.STALE, ReplicaStatus.BAD)]


class _SkippedSE(StorageUnavailable):
    """A replica not tried: its SE's circuit is open after a timeout (no new failure)."""


class ReplicaAccess:
    """The storage elements of a grid and the ways to their replicas; thread-safe.

    Holds the SE registry, the protocol preference, the site, the circuit
    breakers, the tape stager and the protocol backends. Built once per grid,
    it owns its backends (closed by :meth:`close`); grids acting as other
    identities share it.
    """

    def __init__(
        self,
        ses: SERegistry,
        *,
        local_site: str | None = None,
        local_region: str | None = None,
        default_se: str | None = None,
        protocols: Sequence[str] = ("file",),
        backend_options: BackendOptions | None = None,
        health: CircuitBreaker | None = None,
        stager: Stager | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.ses = ses
        self.local_site = local_site
        self.local_region = local_region
        self.default_se = default_se
        self.protocols = tuple(protocols)
        self.backend_options = backend_options or BackendOptions()
        self.health = health or CircuitBreaker()
        self.stager = stager or Stager()
        self._rng = rng or random.Random()
        self._pool = BackendPool(self.backend_options)

    def with_options(self, backend_options: BackendOptions) -> ReplicaAccess:
        """The same SEs, health and stager, with backends of other options."""
        return ReplicaAccess(
            self.ses,
            local_site=self.local_site,
            local_region=self.local_region,
            default_se=self.default_se,
            protocols=self.protocols,
            backend_options=backend_options,
            health=self.health,
            stager=self.stager,
            rng=self._rng,
        )

    def close(self) -> None:
        """Release the protocol backends' connections."""
        self._pool.close()

    def backend(self, url: str) -> StorageBackend:
        """The protocol backend for ``url`` (a TURL or an SE's protocol prefix)."""
        return self._pool.backend(url)

    def reads_remotely(self) -> bool:
        """Whether some SE is read through a protocol without a local path (worth a cache).

        Makes the backend of every SE protocol in use, not only those up to the
        first remote one: a mount asks this before it serves, and the first
        open through a backend not made yet paid for its client library's
        import and TLS set-up (WebDAV's: a third of a second here). One that
        cannot be made past the first remote fails later, as it would have.
        """
        remote = False
        for se in self.ses:
            for protocol, prefix in se.protocols.items():
                if protocol not in self.protocols:
                    continue
                try:
                    backend = self.backend(prefix)
                except InvalidArgument:
                    if not remote:
                        raise
                    continue
                remote = remote or Capability.LOCAL_PATH not in backend.capabilities
        return remote

    # -- choosing -------------------------------------------------------------

    def rank(
        self,
        replicas: Sequence[Replica],
        protocols: Sequence[str] | None = None,
        *,
        by_health: bool = True,
        near: StorageElement | None = None,
    ) -> list[Candidate]:
        """The replicas worth trying, best first (see :func:`rank_replicas`).

        Close means close to this host, or with ``near`` to that SE (its site,
        then its region): the cheapest link to it, for a copy made there.
        """
        return rank_replicas(
            replicas,
            self.ses,
            self.local_site if near is None else near.site,
            self._rng,
            unhealthy=self.health.unhealthy() if by_health else frozenset(),
            local_region=self.local_region if near is None else near.region,
            protocols=protocols,
        )

    def why_not(self, replica: Replica, protocols: Sequence[str]) -> str:
        """Why a replica is not worth trying, for the error that lists what was tried."""
        if replica.status is not ReplicaStatus.AVAILABLE:
            return f"{replica.surl} ({replica.status.value})"
        if replica.se not in self.ses:
            return f"{replica.surl} (SE {replica.se} is not configured)"
        se = self.ses.get(replica.se)
        if not se.readable:
            return f"{replica.surl} (SE {replica.se} is not readable)"
        return f"{replica.surl} (SE {replica.se} offers none of {', '.join(protocols)})"

    def se_of(self, replica: Replica) -> StorageElement:
        """The configured SE holding ``replica``; :class:`UnknownSE` if it is not configured."""
        if replica.se not in self.ses:
            raise UnknownSE(f"{replica.surl}: its SE {replica.se} is not configured", replica.surl)
        return self.ses.get(replica.se)

    def locality(self, replica: Replica) -> Locality:
        """Where ``replica`` is (ONLINE, NEARLINE...); never stages."""
        if replica.se not in self.ses:
            return Locality.UNAVAILABLE
        return self.stager.locality(self.ses.get(replica.se), replica.surl)

    # -- reaching a replica ---------------------------------------------------

    def reach(
        self, surl: str, se: StorageElement, protocols: Sequence[str] | None = None
    ) -> tuple[str, StorageBackend]:
        """SE -> locality -> TURL -> backend: the TURL of an online copy and its backend.

        A copy on tape that is not staged raises EAGAIN: bring it online first.
        """
        if self.stager.locality(se, surl) is Locality.NEARLINE:
            raise GridError("NEARLINE: bring it online first", surl, errno=errno.EAGAIN)
        turl = resolve_turl(surl, se, tuple(protocols or self.protocols))
        return turl, self.backend(turl)

    def open_best(
        self,
        entry: Stat,
        replicas: Sequence[Replica],
        name: object,
        protocols: Sequence[str] | None = None,
        *,
        on_corrupt: Callable[[Replica, str], object] | None = None,
        near: StorageElement | None = None,
    ) -> FailoverReader:
        """Open the file ``entry`` from its ranked ``replicas``, failing over as needed.

        The reader goes on from the next replica, at the same offset, when the
        current one fails on open or in the middle of a read; the error, when
        every replica has failed, lists each one tried and why. ``name`` is
        what messages call the file (anything with a ``str``: it is asked only
        when a message is made). ``on_corrupt(replica, reason)`` hears of a
        replica a reader found corrupt (:meth:`FailoverReader.reject`), to mark it bad.
        ``near`` ranks the replicas as seen from that SE (see :meth:`rank`).
        """
        if entry.is_dir():
            raise IsADirectory(f"is a directory: {name}", str(name))
        if entry.status is FileStatus.WRITING:
            raise GridError(
                f"{name} is being written: its content is not stored yet",
                str(name),
                errno=errno.EBUSY,
            )
        protocols = tuple(protocols or self.protocols)
        candidates = self.rank(replicas, protocols, near=near)
        ranked = {candidate.replica for candidate in candidates}
        failures = [self.why_not(r, protocols) for r in replicas if r not in ranked]

        def open_candidate(candidate: Candidate) -> tuple[RangeReader, str]:
            timed_out = self.health.timed_out(candidate.se.name)
            if timed_out is not None:  # no second wait for a server that did not answer
                raise _SkippedSE(
                    f"SE {candidate.se.name} is skipped for a while: {timed_out}",
                    candidate.replica.surl,
                    errno=errno.ETIMEDOUT,
                )
            turl, backend = self.reach(candidate.replica.surl, candidate.se, protocols)
            reader = backend.open_reader(turl)
            self.health.record_success(candidate.se.name)
            if reader.size != entry.size:
                reader.close()
                raise GridError(
                    f"size {reader.size}, catalog says {entry.size}", candidate.replica.surl
                )
            return reader, turl

        def on_failure(candidate: Candidate, error: GridError) -> None:
            if isinstance(error, StorageUnavailable) and not isinstance(error, _SkippedSE):
                self.health.record_failure(candidate.se.name, error)

        return FailoverReader(
            name, candidates, failures, open_candidate, on_failure, on_corrupt=on_corrupt
        )

    def turls(
        self, replicas: Iterable[Replica], protocols: Sequence[str] | None = None
    ) -> dict[str, str]:
        """The TURLs of the online ``replicas`` on configured SEs for ``protocols``."""
        result = {}
        for replica in replicas:
            if replica.se not in self.ses:
                continue
            try:
                result[replica.surl], _ = self.reach(
                    replica.surl, self.ses.get(replica.se), protocols
                )
            except GridError:  # on tape, or the SE speaks none of the protocols
                continue
        return result

    def bring_online(
        self, replicas: Sequence[Replica], pin_lifetime_s: float
    ) -> StageRequest | None:
        """Stage the best of the nearline ``replicas``; None when there is none."""
        ranked = self.rank(replicas, by_health=False)
        if not ranked:
            return None
        best = ranked[0]
        return self.stager.bring_online(best.se, (best.replica.surl,), pin_lifetime_s)

    def release(self, replicas: Iterable[Replica]) -> None:
        """Unpin the staged copies of ``replicas`` on nearline SEs (they may be evicted)."""
        for replica in replicas:
            if replica.se in self.ses and self.ses.get(replica.se).nearline:
                self.stager.release(self.ses.get(replica.se), replica.surl)

    def abort(self, request: StageRequest) -> None:
        """Give up a bring-online request that has not finished."""
        self.stager.abort(request)

    # -- writing and deleting -------------------------------------------------

    def writable_se(self, name: str | None) -> StorageElement:
        """The SE ``name`` (default: the configured default SE), which must take writes."""
        name = name or self.default_se
        if name is None:
            raise ConfigError("no storage element given and no default_se configured")
        se = self.ses.get(name)
        if not se.writable:
            raise ReadOnly(f"storage element {name} is not writable", name)
        return se

    def reserve(
        self,
        se: StorageElement,
        space_token: str | None,
        size: int,
        space_used: Callable[[str, str], int],
    ) -> None:
        """Check a space token's quota before any byte is written (prepare-to-put).

        ``space_used(se, token)`` tells the bytes registered there. Two uploads
        racing for the last bytes of a token may both pass; the quota is a
        bound on what is registered, checked again by no server.
        """
        if space_token is None:
            return
        quota = se.space_tokens.get(space_token)
        if quota is None:
            known = ", ".join(sorted(se.space_tokens)) or "none"
            raise InvalidArgument(
                f"storage element {se.name} has no space token {space_token!r} (it has: {known})",
                space_token,
            )
        used = space_used(se.name, space_token)
        if used + size > quota:
            raise NoSpace(
                f"space token {space_token} on {se.name} is full: {used} of {quota} bytes "
                f"used, {size} more asked",
                space_token,
            )

    def store_verified(
        self,
        se: StorageElement,
        surl: str,
        chunks: Generator[bytes, None, None],
        *,
        expected_checksum: Callable[[], str] | None,
        expected_size: int | None,
        register: Callable[[str, WriteResult], T],
        cancel: CancelToken | None = None,
    ) -> T:
        """Store ``chunks`` as the new replica ``surl`` on ``se``, verify it, then ``register`` it.

        The SE's checksum of what it stored, and the one computed while sending,
        must both equal ``expected_checksum()`` (asked once the bytes are sent).
        ``None`` for it says that ``chunks`` are the source itself, read once
        (a local file): the checksum of what was sent is then the source's, and
        what the SE stored must equal it. The SE's checksum is the one its
        write reported (:attr:`WriteResult.stored_checksum`) when it gives one,
        else asked of it afterwards. Returns what ``register(surl, written)``
        returns. On any failure, registration and ``cancel`` (checked between
        chunks and before registering) included, the stored copy is deleted.
        ``chunks`` is closed once the write is over, whether it read them all or not.
        """
        turl = resolve_turl(surl, se, self.protocols)
        backend = self.backend(turl)
        sent = chunks if cancel is None else cancel.checked(chunks, surl)
        try:
            with contextlib.closing(chunks):
                written = backend.write(turl, sent, size=expected_size)
        except StorageUnavailable:
            self.health.record_failure(se.name)
            raise
        self.health.record_success(se.name)
        return self._verified(
            se,
            surl,
            turl,
            backend,
            written,
            expected_checksum=expected_checksum,
            expected_size=expected_size,
            register=register,
            cancel=cancel,
        )

    def store_file_verified(
        self,
        se: StorageElement,
        surl: str,
        path: str,
        *,
        checksum: str | None,
        register: Callable[[str, WriteResult], T],
    ) -> T | None:
        """Store the local file ``path`` as the new replica ``surl`` by handing it over, uncopied.

        For an SE whose backend can take the file over (:meth:`StorageBackend.adopt`:
        a file:// SE on the same filesystem, by a hard link); ``None`` when it
        cannot, and nothing is done. ``checksum`` is the file's adler32 as it
        was written, every write having succeeded: the backend then takes it
        for what it stored once the file is durable, and reads nothing back
        (None: not known, then the file is read once and what is read is what
        is registered); the replica is then
        registered as :meth:`store_verified` does, or deleted on any failure.
        The file becomes the replica: write no more to it.
        """
        turl = resolve_turl(surl, se, self.protocols)
        backend = self.backend(turl)
        written = backend.adopt(turl, path, summed=checksum)
        if written is None:
            return None
        expected = None if checksum is None else (lambda: checksum)
        return self._verified(
            se,
            surl,
            turl,
            backend,
            written,
            expected_checksum=expected,
            expected_size=None,
            register=register,
            cancel=None,
        )

    def _verified(
        self,
        se: StorageElement,
        surl: str,
        turl: str,
        backend: StorageBackend,
        written: WriteResult,
        *,
        expected_checksum: Callable[[], str] | None,
        expected_size: int | None,
        register: Callable[[str, WriteResult], T],
        cancel: CancelToken | None,
    ) -> T:
        """Verify a stored copy, then register it; on any failure it is deleted."""
        registered = False
        try:
            expected = written.checksum if expected_checksum is None else expected_checksum()
            stored = written.stored_checksum or backend.checksum(turl, written.checksum_type)
            if expected_size is not None and written.size != expected_size:
                raise ChecksumMismatch(
                    f"copy to {surl} has {written.size} bytes, not {expected_size}", surl
                )
            if written.checksum != expected or stored != expected:
                raise ChecksumMismatch(
                    f"copy to {surl} is corrupt: expected adler32 {expected}, "
                    f"sent {written.checksum}, stored {stored}",
                    surl,
                )
            if se.nearline:
                self.stager.migrate(se, surl)
            if cancel is not None:
                cancel.check(surl)
            result = register(surl, written)
            registered = True
            return result
        except BaseException:
            if not registered:
                try:
                    if se.nearline:
                        self.stager.purge(se, surl)
                    else:
                        backend.delete(turl)
                except NotFound:  # gone already: deleted by the agent that took the file over
                    pass
                except GridError as exc:
                    log.warning("could not delete the unregistered copy %s: %s", turl, exc)
            raise

    def pull_source(
        self, replicas: Sequence[Replica], target: StorageElement
    ) -> tuple[Candidate, str] | None:
        """The best of ``replicas`` that ``target``'s servers can pull, and the protocol.

        Both SEs must be marked for third-party copy (``tpc``) and speak a
        protocol whose backend can (XRootD); the replica must be online.
        None when there is none: the copy is then streamed.
        """
        if not target.third_party:
            return None
        for protocol, prefix in target.protocols.items():
            if protocol not in self.protocols:
                continue
            if Capability.THIRD_PARTY_COPY not in self.backend(prefix).capabilities:
                continue
            for candidate in self.rank(replicas, [protocol], near=target):
                if candidate.se.third_party and (
                    self.stager.locality(candidate.se, candidate.replica.surl)
                    is not Locality.NEARLINE
                ):
                    return candidate, protocol
        return None

    def store_pulled(
        self,
        se: StorageElement,
        surl: str,
        source: Candidate,
        protocol: str,
        *,
        expected: WriteResult,
        register: Callable[[str, WriteResult], T],
        cancel: CancelToken | None = None,
    ) -> T:
        """Have ``se`` pull ``source`` as the new replica ``surl``, verify it, then ``register`` it.

        As :meth:`store_verified`, but no byte passes here: the server's size
        and adler32 of the copy must be ``expected``'s. On any failure the copy
        is deleted.
        """
        source_turl = resolve_turl(source.replica.surl, source.se, [protocol])
        turl = resolve_turl(surl, se, [protocol])
        backend = self.backend(turl)
        if cancel is not None:
            cancel.check(surl)
        try:
            backend.pull(source_turl, turl)
        except StorageUnavailable:
            self.health.record_failure(se.name)
            raise
        self.health.record_success(se.name)
        registered = False
        try:
            size = backend.stat(turl).size
            stored = backend.checksum(turl, expected.checksum_type)
            if size != expected.size or stored != expected.checksum:
                raise ChecksumMismatch(
                    f"copy pulled to {surl} is corrupt: {size} bytes, adler32 {stored}; "
                    f"expected {expected.size} bytes, {expected.checksum}",
                    surl,
                )
            if cancel is not None:
                cancel.check(surl)
            result = register(surl, WriteResult(size, expected.checksum_type, stored))
            registered = True
            return result
        except BaseException:
            if not registered:
                try:
                    backend.delete(turl)
                except NotFound:  # gone already: deleted by the agent that took the file over
                    pass
                except GridError as exc:
                    log.warning("could not delete the unregistered copy %s: %s", turl, exc)
            raise

    def delete_stored(self, replica: Replica) -> None:
        """Delete a replica's stored copy; one already gone is fine."""
        if replica.se not in self.ses:
            raise UnknownSE(
                f"cannot delete {replica.surl}: its SE {replica.se} is not configured",
                replica.surl,
            )
        se = self.ses.get(replica.se)
        if se.nearline:
            self.stager.purge(se, replica.surl)  # the tape copy, its pin and any disk copy
            return
        turl = resolve_turl(replica.surl, se, self.protocols)
        try:
            self.backend(turl).delete(turl)
        except NotFound:
            log.info("replica %s was already gone from its SE", replica.surl)

    def new_surl(self, se: StorageElement, guid: str, *, new_version: bool = False) -> str:
        """The SURL of a new replica of ``guid`` on ``se``; a tagged name for a later version."""
        return replica_surl(se, guid, version=new_version_tag() if new_version else None)
