"""What every producer and the safety nets share, as plain functions: the inbox-then-publish step, the sweeper
(lost chains) and retention.

They are given an ``enqueue(event_id, entity, from_step)`` callable by the Celery layer, so they stay testable
without a broker. The flows' own pollers live in their flow modules and are declared on the ``Flow``.

The sweeper's invariant: an active event that shows no sign of life is published again, and one that does
is left alone. Signs of life, in Redis: the event's lease (held and renewed while a worker runs one of its
steps; a killed worker's lease runs out within ``PSINFOR_EVENT_LOCK_SECONDS``), and its wait marker (set
when a retry is scheduled, for the countdown and a margin). An event waiting for its turn in a queue that
still holds messages is given time, up to ``BACKLOG_FACTOR`` stale periods. A re-published event that was
alive after all costs a no-op: one execution per event at a time (its lease), and a message for a step the
event has moved past does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from integration.flows.base import Enqueue, event_lock_name
from integration.store import models as m
from integration.store.repository import NewEvent, StaleEvent, Store, stale_cutoff

if TYPE_CHECKING:
    from integration.runtime import Runtime

log = structlog.get_logger("psinfor.maintenance")

__all__ = ["Enqueue", "PollResult", "enqueue_new_event", "event_lock_name", "lost_events", "prune", "sweep",
           "wait_key"]

# An event whose message should be in a queue that still holds messages waits this many stale periods
# before it is published again anyway.
BACKLOG_FACTOR = 4
# A scheduled retry's wait marker outlives its countdown by this much: a due retry may wait for a free thread.
WAIT_MARGIN_SECONDS = 60.0

Backlog = Callable[[str], "int | None"]  # queue name -> messages waiting in it (None: unknown)


def wait_key(rt: Runtime, event_id: int) -> str:
    """The Redis key saying that a retry of the event is scheduled (set with the countdown as its life)."""
    return rt.key("wait", "event", str(event_id))


@dataclass
class PollResult:
    connection: str
    since: str
    until: str
    seen: int = 0
    enqueued: list[int] = field(default_factory=list)
    skipped_bound: int = 0
    skipped_open: int = 0
    watermark: str | None = None


def shop_datetime(value: Any, tz: ZoneInfo) -> datetime:
    """The client types ``date_upd`` already; a raw shop-local string is read the connector's way."""
    from integration.connectors.prestashop.parsing import parse_datetime

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    parsed = parse_datetime(str(value), tz)
    if parsed is None:
        raise ValueError(f"order without a date_upd: {value!r}")
    return parsed


def enqueue_new_event(store: Store, new: NewEvent, enqueue: Enqueue) -> tuple[int, bool]:
    """Inbox row first (queued), then one publish. A failed publish leaves the row for the sweeper.

    A newer event of a record supersedes its waiting ones (an order awaiting payment, one held by the ERP):
    the newer one reads the record afresh and goes on from there."""
    event_id, created = store.add_event(new, status=m.QUEUED)
    if created:
        store.supersede_waiting(new.connection, new.entity, new.source_id, by_event=event_id)
        try:
            enqueue(event_id, new.entity, None)
        except Exception:
            log.exception("publish failed; the sweeper will enqueue the event", event_id=event_id)
            store.set_status(event_id, m.RECEIVED)
    return event_id, created



@dataclass(frozen=True)
class Released:
    entity: str
    from_step: str | None
    published: bool  # False: the broker did not answer; the sweeper enqueues the (queued) event later


def release_held(store: Store, event_id: int, released_by: str, enqueue: Enqueue) -> Released | None:
    """An operator releases a held event (console and CLI alike): it goes back through its flow from the step
    that held it, with the release noted in its payload (an anomaly check lets it through), published once.
    None when the event is not held."""
    reopened = store.release_held(event_id, released_by)
    if reopened is None:
        return None
    entity, step = reopened
    try:
        enqueue(event_id, entity, step)
    except Exception as exc:
        log.warning("publish failed; the sweeper will enqueue the released event", event_id=event_id,
                    error=type(exc).__name__)
        return Released(entity, step, False)
    return Released(entity, step, True)


@dataclass(frozen=True)
class Verdict:
    lost: list[StaleEvent]
    suspected: list[StaleEvent]  # inside a step without a lease: lost if still so at the next sweep


def lost_events(stale: Sequence[StaleEvent], *, leased: Sequence[bool], waiting: Sequence[bool],
                suspected_for: Sequence[float | None], confirm_after: float,
                backlog: Callable[[str], int | None], queue_of: Callable[[str], str],
                backlog_cutoff: datetime) -> Verdict:
    """The stale events that show no sign of life (a pure decision; ``sweep`` gathers the facts).

    - leased: a worker is inside one of its steps now → alive;
    - waiting: a retry is scheduled and not yet overdue → alive;
    - ``received``: its publish failed → lost;
    - its current step's row says ``running`` but nobody holds the lease → its worker died. Lost once that was
      already so at an earlier sweep at least ``confirm_after`` seconds ago (``suspected_for``): a live holder
      renews its lease within that time, also when an emptied Redis lost it, so a step that still runs is
      never run a second time beside it;
    - a retry that is overdue → its message went with a dead worker or an emptied broker → lost;
    - otherwise its message should be in its queue: lost when the queue is empty (or cannot be read), or when
      it has waited ``BACKLOG_FACTOR`` stale periods behind a backlog.
    """
    verdict = Verdict([], [])
    for event, has_lease, has_wait, suspected in zip(stale, leased, waiting, suspected_for, strict=True):
        if has_lease or has_wait:
            continue
        if event.step_status == m.StepStatus.RUNNING and event.status == m.RUNNING:
            if suspected is None:
                verdict.suspected.append(event)
            elif suspected >= confirm_after:
                verdict.lost.append(event)
            continue
        if event.status in (m.RECEIVED, m.RETRYING):
            verdict.lost.append(event)
            continue
        depth = backlog(queue_of(event.entity))
        if not depth or event.updated_at < backlog_cutoff:
            verdict.lost.append(event)
    return verdict


def sweep(rt: Runtime, enqueue: Enqueue, *, stale_seconds: int | None = None,
          backlog: Backlog | None = None) -> list[int]:
    """Re-enqueue active events that have not moved for ``SWEEPER_STALE_SECONDS`` and show no sign of life
    (a lost chain, a dead worker, an emptied broker, a failed publish). ``backlog(queue)`` tells how many
    messages wait in a queue (the Celery layer asks the broker; without it, queues count as empty)."""
    import redis

    from integration.flows.registry import FLOWS

    seconds = rt.settings.sweeper_stale_seconds if stale_seconds is None else stale_seconds
    stale = [e for e in rt.store.stale_event_states(stale_cutoff(seconds)) if e.entity in FLOWS]
    if not stale:
        return []
    lease = rt.settings.event_lock_seconds
    suspect_ttl = lease * 4
    try:
        leased = rt.lock_held([event_lock_name(e.id) for e in stale])
        with rt.redis.pipeline(transaction=False) as pipe:
            for event in stale:
                pipe.exists(wait_key(rt, event.id))
                pipe.pttl(rt.key("suspect", "event", str(event.id)))
            replies = pipe.execute()
    except redis.RedisError as exc:  # without the signs of life, nothing can be judged lost
        log.warning("sweep skipped: Redis unavailable", error=type(exc).__name__)
        return []
    waiting = [bool(v) for v in replies[0::2]]
    # how long ago an earlier sweep found it inside a step without a lease (Redis's clock: the mark's TTL)
    suspected_for = [suspect_ttl - ms / 1000 if ms and ms > 0 else None for ms in replies[1::2]]
    depths: dict[str, int | None] = {}

    def depth(queue: str) -> int | None:
        if queue not in depths:
            depths[queue] = backlog(queue) if backlog is not None else 0
        return depths[queue]

    verdict = lost_events(stale, leased=leased, waiting=waiting, suspected_for=suspected_for,
                          confirm_after=lease / 3 + 1, backlog=depth, queue_of=lambda entity: FLOWS[entity].queue,
                          backlog_cutoff=stale_cutoff(seconds * BACKLOG_FACTOR))
    if verdict.suspected:
        with suppress(redis.RedisError), rt.redis.pipeline(transaction=False) as pipe:
            for event in verdict.suspected:
                pipe.set(rt.key("suspect", "event", str(event.id)), "1", px=int(suspect_ttl * 1000), nx=True)
            pipe.execute()
    lost = verdict.lost
    if not lost:
        return []
    ids = [e.id for e in lost]
    rt.store.touch(ids)
    with suppress(redis.RedisError):
        rt.redis.delete(*[rt.key("suspect", "event", str(i)) for i in ids])
    for event in lost:
        enqueue(event.id, event.entity, event.step)
    log.warning("re-enqueued events that showed no sign of life", count=len(ids), event_ids=ids[:50],
                by_status={s: sum(1 for e in lost if e.status == s) for s in {e.status for e in lost}})
    return ids


def resume_waiting(rt: Runtime, enqueue: Enqueue, *, older_than_seconds: float | None = None) -> list[int]:
    """Re-check events the ERP holds (``held_by_erp``) once they have waited ``PSINFOR_ERP_HOLD_RECHECK_SECONDS``:
    each goes on from the step that waited (its earlier outputs are kept), and waits again if still held."""
    from integration.flows.registry import FLOWS

    seconds = rt.settings.erp_hold_recheck_seconds if older_than_seconds is None else older_than_seconds
    resumed = rt.store.resume_waiting(m.HELD_BY_ERP, stale_cutoff(int(seconds)))
    for event_id, entity, step in resumed:
        if entity in FLOWS:
            enqueue(event_id, entity, step)
    if resumed:
        log.info("re-checking events held by the ERP", count=len(resumed))
    return [i for i, _, _ in resumed]


def prune(rt: Runtime, *, retention_days: float | None = None) -> int:
    """Retention: succeeded and skipped events older than ``PSINFOR_RETENTION_DAYS`` go, with their steps,
    snapshots and attempts. Dead letters and held events stay until an operator resolves them."""
    days = rt.settings.retention_days if retention_days is None else retention_days
    removed = rt.store.prune_finished(datetime.now(UTC) - timedelta(days=days))
    if removed:
        log.info("pruned finished events", removed=removed, retention_days=days)
    return removed
