"""The transfer store's tombstones: STALE catalog entries a copy left, recorded to be swept."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from gridfs.transfer.models import TombstoneModel
from gridfs.transfer.records import Claim, Tombstone
from gridfs.transfer.store_hooks import StoreHooks

__all__ = ["TombstoneCalls"]


class TombstoneCalls(StoreHooks):
    """Recording, finding and dropping the tombstones the agents sweep."""

    def add_tombstone(self, claim: Claim, surl: str, keep_s: float) -> int:
        """Record the STALE entry about to be registered at ``surl``, to sweep in ``keep_s``.

        Recorded *before* it is registered: an agent that dies in between
        leaves a record of nothing, which the sweep drops, never an entry
        that nobody sweeps.
        """
        now = self._clock()
        with self._session(write=True) as session:
            row = TombstoneModel(
                file_id=claim.id,
                guid=claim.guid,
                lfn=claim.lfn,
                dest_se=claim.dest_se,
                surl=surl,
                submitter=claim.submitter,
                groups=",".join(claim.groups),
                made=now,
                sweep_at=now + keep_s,
            )
            session.add(row)
            session.flush()
            return row.id

    def due_tombstones(self, retry_s: float, limit: int = 100) -> list[Tombstone]:
        """Tombstones due to be swept, each put off by ``retry_s`` (if its sweep fails).

        The caller sweeps each, then calls :meth:`drop_tombstone`; one whose
        sweeper died comes due again. On PostgreSQL the rows are taken ``FOR
        UPDATE SKIP LOCKED``: agents sweeping at once take different ones.
        """
        now = self._clock()
        with self._session(write=True) as session:
            query = (
                select(TombstoneModel)
                .where(TombstoneModel.sweep_at <= now)
                .order_by(TombstoneModel.sweep_at)
                .limit(limit)
            )
            if self._postgresql:
                query = query.with_for_update(skip_locked=True)
            found = []
            for row in session.scalars(query):
                row.sweep_at = now + retry_s
                found.append(
                    Tombstone(
                        id=row.id,
                        guid=row.guid,
                        lfn=row.lfn,
                        dest_se=row.dest_se,
                        surl=row.surl,
                        submitter=row.submitter,
                        groups=tuple(g for g in row.groups.split(",") if g),
                    )
                )
            return found

    def drop_tombstone(self, tombstone_id: int) -> None:
        """Forget a tombstone: swept, or its STALE entry never registered."""
        with self._session(write=True) as session:
            session.execute(
                delete(TombstoneModel)
                .where(TombstoneModel.id == tombstone_id)
                .execution_options(synchronize_session=False)
            )

    def tombstones(self) -> int:
        """How many tombstones wait to be swept."""
        with self._session() as session:
            return int(session.scalar(select(func.count()).select_from(TombstoneModel)) or 0)
