"""The transfer store's links: the optimizer's decisions and the listing of each link's load."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridfs.transfer.loads import due_per_link, running_per_link
from gridfs.transfer.models import AttemptModel, DecisionModel, LinkModel
from gridfs.transfer.optimizer import Decision, LinkSample, decide
from gridfs.transfer.records import DecisionRecord, LinkRecord
from gridfs.transfer.settings import TransferSettings
from gridfs.transfer.store_hooks import StoreHooks

__all__ = ["LinkCalls"]


class LinkCalls(StoreHooks):
    """The optimizer's decisions per link, and what each link does."""

    def optimize(self, settings: TransferSettings) -> list[tuple[str, str, Decision]]:
        """Decide every link due (its interval past since its last decision); the decisions."""
        now = self._clock()
        if now < self._next_decision:
            return []  # no link can be due yet: not even a read
        made = []
        with self._session() as session:
            oldest = session.scalar(select(func.min(LinkModel.decided)))
        # A link made from now on is decided first an interval after it is made.
        self._next_decision = (now if oldest is None else oldest) + settings.interval_s
        if now < self._next_decision:
            return []  # the usual case: a read, no write lock
        with self._session(write=True) as session:
            self._lock_claims(session)
            due = list(
                session.scalars(
                    select(LinkModel).where(LinkModel.decided <= now - settings.interval_s)
                )
            )
            if not due:
                return []
            running = running_per_link(session, now)
            waiting = due_per_link(session, now)
            for link in due:
                key = (link.source_se, link.dest_se)
                sample = _sample(session, link, now, running, waiting.get(key, {}))
                decision = decide(sample, settings.optimizer)
                session.add(
                    DecisionModel(
                        source_se=link.source_se,
                        dest_se=link.dest_se,
                        at=now,
                        old_concurrency=link.concurrency,
                        new_concurrency=decision.concurrency,
                        throughput=sample.throughput,
                        ema=decision.ema,
                        success_rate=decision.success_rate,
                        queued=sample.queued,
                        active=sample.active,
                        reason=decision.reason,
                    )
                )
                link.concurrency = decision.concurrency
                link.ema = decision.ema
                link.ramping = decision.ramping
                link.decided = now
                made.append((link.source_se, link.dest_se, decision))
        return made

    def links(self, decisions: int = 5) -> list[LinkRecord]:
        """Every link with its concurrency, its load and its latest ``decisions``."""
        now = self._clock()
        with self._session() as session:
            running = running_per_link(session, now)
            waiting = due_per_link(session, now)
            records = []
            for link in session.scalars(
                select(LinkModel).order_by(LinkModel.source_se, LinkModel.dest_se)
            ):
                key = (link.source_se, link.dest_se)
                latest = session.scalars(
                    select(DecisionModel)
                    .where(
                        DecisionModel.source_se == link.source_se,
                        DecisionModel.dest_se == link.dest_se,
                    )
                    .order_by(DecisionModel.at.desc(), DecisionModel.id.desc())
                    .limit(decisions)
                )
                records.append(
                    LinkRecord(
                        source_se=link.source_se,
                        dest_se=link.dest_se,
                        concurrency=link.concurrency,
                        ema=link.ema,
                        ramping=link.ramping,
                        active=sum(c for (s, d, _), c in running.items() if (s, d) == key),
                        queued=sum(waiting.get(key, {}).values()),
                        decisions=tuple(
                            DecisionRecord(
                                at=d.at,
                                old_concurrency=d.old_concurrency,
                                new_concurrency=d.new_concurrency,
                                throughput=d.throughput,
                                ema=d.ema,
                                success_rate=d.success_rate,
                                reason=d.reason,
                            )
                            for d in latest
                        ),
                    )
                )
            return records


def _sample(
    session: Session,
    link: LinkModel,
    now: float,
    running: dict[tuple[str, str, str], int],
    waiting: dict[str, int],
) -> LinkSample:
    """What ``link`` did since its last decision, and what waits and runs on it."""
    window = select(
        func.count().filter(AttemptModel.ok),
        func.count().filter(~AttemptModel.ok & AttemptModel.recoverable),
        func.coalesce(func.sum(AttemptModel.bytes).filter(AttemptModel.ok), 0),
    ).where(
        AttemptModel.source_se == link.source_se,
        AttemptModel.dest_se == link.dest_se,
        AttemptModel.ended > link.decided,
    )
    successes, failures, moved = session.execute(window).one()
    elapsed = max(now - link.decided, 1e-3)
    active = sum(c for (s, d, _), c in running.items() if (s, d) == (link.source_se, link.dest_se))
    last = session.scalar(
        select(DecisionModel.throughput)
        .where(
            DecisionModel.source_se == link.source_se,
            DecisionModel.dest_se == link.dest_se,
        )
        .order_by(DecisionModel.id.desc())
        .limit(1)
    )
    return LinkSample(
        concurrency=link.concurrency,
        ema=link.ema,
        ramping=link.ramping,
        last_throughput=last,
        throughput=float(moved) / elapsed if successes else None,
        successes=successes,
        recoverable_failures=failures,
        queued=sum(waiting.values()),
        active=active,
    )
