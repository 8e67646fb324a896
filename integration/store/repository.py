"""What the producers, the flows and the operators do to the store. Each function is one short transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from integration.errors import PermanentError, TransientError
from integration.jsonutil import to_jsonable
from integration.store import models as m
from integration.store.db import SnapshotTooLarge, get_engine, session_scope


@dataclass(frozen=True)
class EventRow:
    """The parts of an inbox row a running step may read."""

    id: int
    connection: str
    entity: str
    source_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    attempt_id: int = 0  # this execution's sync_attempt row


@dataclass(frozen=True)
class StaleEvent:
    """An active event nobody has moved for a while, with what the sweeper needs to judge it."""

    id: int
    entity: str
    status: str
    step: str | None  # the current step (None before the first)
    step_status: str | None  # its row's status: "running" means a worker was inside the step
    updated_at: datetime


@dataclass(frozen=True)
class NewEvent:
    connection: str
    source_system: str
    entity: str
    source_id: str
    event_type: str
    dedupe_key: str
    payload: dict[str, Any]


class Store:
    """The store behind one database URL."""

    def __init__(self, url: str):
        self.url = url

    def session(self):  # type: ignore[no-untyped-def]
        return session_scope(self.url)

    # -- the inbox -----------------------------------------------------------------------------------
    def add_event(self, new: NewEvent, *, status: str = m.RECEIVED) -> tuple[int, bool]:
        """Insert an inbox row; a repeated delivery (same dedupe key) returns the existing id and False.

        One Core INSERT: it is the receiver's whole database work per webhook.
        """
        ev = m.SyncEvent
        try:
            with get_engine(self.url).begin() as conn:
                result = conn.execute(insert(ev).values(
                    connection=new.connection, source_system=new.source_system, entity=new.entity,
                    source_id=new.source_id, event_type=new.event_type, dedupe_key=new.dedupe_key,
                    payload=to_jsonable(new.payload), status=status,
                ))
                key = result.inserted_primary_key
                assert key is not None
                return int(key[0]), True
        except IntegrityError:
            with self.session() as s:
                existing = s.scalar(
                    select(ev.id).where(ev.connection == new.connection, ev.dedupe_key == new.dedupe_key)
                )
                if existing is None:  # the conflict was something else: let it surface
                    raise
                return int(existing), False

    def get_event(self, event_id: int) -> m.SyncEvent | None:
        with self.session() as s:
            return s.get(m.SyncEvent, event_id)

    def event_snapshot(self, event_id: int) -> dict[str, Any]:
        """The event with its steps, as JSON-able data (for the CLI and the tests)."""
        with self.session() as s:
            event = s.get(m.SyncEvent, event_id)
            if event is None:
                return {}
            return {
                "id": event.id, "connection": event.connection, "entity": event.entity,
                "source_id": event.source_id, "event_type": event.event_type, "status": event.status,
                "current_step": event.current_step, "attempts": event.attempts, "last_error": event.last_error,
                "result": event.result, "created_at": event.created_at.isoformat(),
                "updated_at": event.updated_at.isoformat(),
                "steps": [
                    {"step": st.step, "status": st.status, "attempts": st.attempts, "error": st.error,
                     "started_at": st.started_at.isoformat(),
                     "finished_at": st.finished_at.isoformat() if st.finished_at else None}
                    for st in event.steps
                ],
            }

    def set_status(self, event_id: int, status: str, *, result: dict[str, Any] | None = None,
                   error: dict[str, Any] | None = None) -> None:
        with self.session() as s:
            event = s.get(m.SyncEvent, event_id)
            if event is None or (event.status in m.FINAL_STATUSES and status != m.RECEIVED):
                return  # a final outcome is only changed by a replay
            event.status = status
            if result is not None:
                event.result = to_jsonable(result)
            if error is not None:
                event.last_error = to_jsonable(error)
            if status in m.FINAL_STATUSES:
                event.finished_at = m.utcnow()

    # -- steps ---------------------------------------------------------------------------------------
    def start_step(self, event_id: int, step: str, previous_step: str | None = None,
                   task_id: str | None = None) -> tuple[EventRow, dict[str, Any] | None] | None:
        """Record that a step begins and return the event with the previous step's output (one transaction).

        Returns None when the event is already final, or has moved past this step: nothing left to do.
        Written with Core statements, not the ORM: it runs for every step of every event.
        """
        try:
            return self._start_step(event_id, step, previous_step, task_id)
        except IntegrityError:  # another execution inserted the step row at the same moment
            raise TransientError(f"event {event_id} step {step} is being started by another worker") from None

    def _start_step(self, event_id: int, step: str, previous_step: str | None,
                    task_id: str | None) -> tuple[EventRow, dict[str, Any] | None] | None:
        ev, st = m.SyncEvent, m.SyncStep
        with get_engine(self.url).begin() as conn:
            event = conn.execute(select(ev.id, ev.connection, ev.entity, ev.source_id, ev.event_type, ev.payload,
                                        ev.attempts, ev.status, ev.current_step).where(ev.id == event_id)).first()
            if event is None or event.status in m.FINAL_STATUSES:
                return None
            rows = {r.step: r for r in conn.execute(
                select(st.step, st.status, st.output, st.attempts).where(
                    st.event_id == event_id, st.step.in_([step, previous_step or step])))}
            row = rows.get(step)
            if row is not None and row.status == m.StepStatus.DONE and event.current_step != step:
                return None  # a stale duplicate (a redelivered or re-enqueued message): the event moved on
            now = m.utcnow()
            running = m.StepStatus.RUNNING
            if row is None:
                conn.execute(insert(st).values(event_id=event_id, step=step, status=running, attempts=1,
                                               started_at=now))
            else:
                conn.execute(update(st).where(st.event_id == event_id, st.step == step)
                             .values(status=running, attempts=st.attempts + 1, started_at=now))
            conn.execute(update(ev).where(ev.id == event_id).values(
                status=m.RUNNING, current_step=step, attempts=ev.attempts + 1, updated_at=now))
            attempt = conn.execute(insert(m.SyncAttempt).values(
                event_id=event_id, step=step, attempt=(row.attempts if row is not None else 0) + 1, task_id=task_id,
                outcome=running, started_at=now)).inserted_primary_key
            previous = rows[previous_step].output if previous_step and previous_step in rows else None
            view = EventRow(event.id, event.connection, event.entity, event.source_id, event.event_type,
                            dict(event.payload or {}), event.attempts + 1, int(attempt[0]) if attempt else 0)
            return view, previous

    @staticmethod
    def _end_attempt(conn: Any, attempt_id: int, outcome: str, error: dict[str, Any] | None, now: datetime) -> None:
        if attempt_id:
            conn.execute(update(m.SyncAttempt).where(m.SyncAttempt.id == attempt_id)
                         .values(outcome=outcome, error=error, finished_at=now))

    def finish_step(self, event_id: int, step: str, output: dict[str, Any] | None, *,
                    final_status: str | None = None, result: dict[str, Any] | None = None,
                    attempt_id: int = 0, outcome: str = m.StepStatus.DONE) -> None:
        """The step's outcome and snapshot, and (for the last step, or a skip) the event's final status.

        The snapshot is the next step's input: it is bounded (``MAX_SNAPSHOT_BYTES``) so that a batch flow
        passes a window of rows along, never a whole catalogue."""
        now = m.utcnow()
        snapshot = to_jsonable(output) if output is not None else None
        with bounded_snapshot(f"event {event_id} step {step}"), self.session() as s:
            s.execute(update(m.SyncStep)
                      .where(m.SyncStep.event_id == event_id, m.SyncStep.step == step)
                      .values(status=m.StepStatus.DONE, output=snapshot, error=None, finished_at=now))
            self._end_attempt(s, attempt_id, outcome, None, now)
            values: dict[str, Any] = {"updated_at": now}
            if final_status is not None:
                values.update(status=final_status, finished_at=now,
                              result=to_jsonable(result) if result is not None else None)
            # A final event keeps its outcome: a late duplicate never overwrites "succeeded" with "skipped".
            s.execute(update(m.SyncEvent)
                      .where(m.SyncEvent.id == event_id, m.SyncEvent.status.not_in(m.FINAL_STATUSES))
                      .values(**values))

    def fail_step(self, event_id: int, step: str, error: dict[str, Any], *, retrying: bool,
                  attempt_id: int = 0, outcome: str | None = None) -> None:
        """A failed (or held) attempt: the step row and its attempt say so, and the event keeps the error."""
        status = outcome or (m.StepStatus.RETRYING if retrying else m.StepStatus.FAILED)
        with self.session() as s:
            row = s.scalar(select(m.SyncStep).where(m.SyncStep.event_id == event_id, m.SyncStep.step == step))
            now = m.utcnow()
            if row is not None:
                row.status = status
                row.error = to_jsonable(error)
                row.finished_at = None if retrying else now
            self._end_attempt(s, attempt_id, status, to_jsonable(error), now)
            event = s.get(m.SyncEvent, event_id)
            if event is not None:
                event.last_error = to_jsonable(error)
                if event.status not in m.FINAL_STATUSES:
                    event.status = m.RETRYING if retrying else event.status
                event.updated_at = m.utcnow()

    # -- bindings ------------------------------------------------------------------------------------
    def get_binding(self, connection: str, entity: str, ps_id: str) -> str | None:
        """The Infor id, once known (a pending claim is not a binding yet)."""
        row = self.binding_row(connection, entity, ps_id)
        return None if row is None or row[0].startswith(m.PENDING_PREFIX) else row[0]

    def binding_row(self, connection: str, entity: str, ps_id: str) -> tuple[str, dict[str, Any]] | None:
        """(infor_id, data) of the binding or of a pending claim."""
        with self.session() as s:
            row = s.execute(
                select(m.Binding.infor_id, m.Binding.data).where(
                    m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.ps_id == ps_id
                )
            ).first()
            return None if row is None else (str(row[0]), dict(row[1] or {}))

    def claim(self, connection: str, entity: str, ps_id: str, event_id: int, data: dict[str, Any]) -> bool:
        """Claim the creation of a record for one event; False when another claim or binding exists."""
        try:
            with self.session() as s:
                s.add(m.Binding(connection=connection, entity=entity, ps_id=ps_id,
                                infor_id=f"{m.PENDING_PREFIX}{event_id}",
                                data=to_jsonable({**data, "event_id": event_id})))
            return True
        except IntegrityError:
            return False

    def update_binding_data(self, connection: str, entity: str, ps_id: str, **data: Any) -> dict[str, Any]:
        """Merge ``data`` into the binding's (or claim's) data: a temporary order number, the last state sent..."""
        with self.session() as s:
            binding = s.scalar(select(m.Binding).where(
                m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.ps_id == ps_id))
            if binding is None:
                raise LookupError(f"no claim for {entity} {ps_id}")
            merged = {**(binding.data or {}), **to_jsonable(data)}
            binding.data = merged
            return merged

    def finalize_binding(self, connection: str, entity: str, ps_id: str, infor_id: str,
                         data: dict[str, Any] | None = None) -> None:
        """Turn a claim into the binding (or create the binding when there was no claim)."""
        with self.session() as s:
            binding = s.scalar(select(m.Binding).where(
                m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.ps_id == ps_id))
            if binding is None:
                s.add(m.Binding(connection=connection, entity=entity, ps_id=ps_id, infor_id=infor_id,
                                data=to_jsonable(data) if data else None))
                return
            binding.infor_id = infor_id
            binding.data = to_jsonable({**(binding.data or {}), **(data or {})})

    def get_binding_by_infor(self, connection: str, entity: str, infor_id: str) -> str | None:
        with self.session() as s:
            return s.scalar(
                select(m.Binding.ps_id).where(
                    m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.infor_id == infor_id
                )
            )

    def bindings_by_infor(self, connection: str, entity: str, infor_ids: list[str],
                          chunk: int = 500) -> dict[str, str]:
        """Infor id -> shop id for many Infor ids at once (a stock window, a page of items)."""
        found: dict[str, str] = {}
        for start in range(0, len(infor_ids), chunk):
            part = infor_ids[start:start + chunk]
            with self.session() as s:
                found.update((str(i), str(p)) for i, p in s.execute(
                    select(m.Binding.infor_id, m.Binding.ps_id).where(
                        m.Binding.connection == connection, m.Binding.entity == entity,
                        m.Binding.infor_id.in_(part))))
        return found

    def save_binding(self, connection: str, entity: str, ps_id: str, infor_id: str,
                     data: dict[str, Any] | None = None) -> str:
        """Bind once. A racing second save of the same pair is fine; a different pair is an error."""
        try:
            with self.session() as s:
                s.add(m.Binding(connection=connection, entity=entity, ps_id=ps_id, infor_id=infor_id,
                                data=to_jsonable(data) if data else None))
            return infor_id
        except IntegrityError:
            existing = self.get_binding(connection, entity, ps_id)
            if existing is not None and existing == infor_id:
                return existing
            raise

    def open_bindings(self, connection: str, entity: str, page: int = 1000) -> Iterator[tuple[str, str]]:
        """(ps_id, infor_id) of every bound record whose follow-up is not finished (``closed_at`` unset),
        read page by page so no record is ever left out, however many stay open."""
        after = 0
        while True:
            with self.session() as s:
                rows = s.execute(
                    select(m.Binding.id, m.Binding.ps_id, m.Binding.infor_id).where(
                        m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.id > after,
                        m.Binding.closed_at.is_(None), m.Binding.infor_id.not_like(f"{m.PENDING_PREFIX}%"),
                    ).order_by(m.Binding.id).limit(page)
                ).all()
            yield from ((str(r[1]), str(r[2])) for r in rows)
            if len(rows) < page:
                return
            after = int(rows[-1][0])

    def close_binding(self, connection: str, entity: str, ps_id: str) -> None:
        with self.session() as s:
            s.execute(update(m.Binding).where(
                m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.ps_id == ps_id,
            ).values(closed_at=m.utcnow()))

    def count_bindings(self, connection: str, entity: str) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(m.Binding).where(
                m.Binding.connection == connection, m.Binding.entity == entity,
                m.Binding.infor_id.not_like(f"{m.PENDING_PREFIX}%"))) or 0)

    # -- watermarks ----------------------------------------------------------------------------------
    def get_watermark(self, connection: str, name: str) -> str | None:
        with self.session() as s:
            row = s.get(m.Watermark, (connection, name))
            return row.value if row else None

    def set_watermark(self, connection: str, name: str, value: str) -> None:
        with self.session() as s:
            row = s.get(m.Watermark, (connection, name))
            if row is None:
                s.add(m.Watermark(connection=connection, name=name, value=value))
            elif value > row.value:  # never move backwards (ISO timestamps sort as text)
                row.value = value

    # -- the sweeper ---------------------------------------------------------------------------------
    def stale_events(self, older_than: datetime, limit: int = 500) -> list[tuple[int, str, str | None]]:
        """(id, entity, current step) of active events nobody has touched since ``older_than``."""
        with self.session() as s:
            rows = s.execute(
                select(m.SyncEvent.id, m.SyncEvent.entity, m.SyncEvent.current_step)
                .where(m.SyncEvent.status.in_(m.ACTIVE_STATUSES), m.SyncEvent.updated_at < older_than)
                .order_by(m.SyncEvent.id)
                .limit(limit)
            ).all()
            return [(r[0], r[1], r[2]) for r in rows]

    def stale_event_states(self, older_than: datetime, limit: int = 500) -> list[StaleEvent]:
        """Like ``stale_events``, with each event's status and its current step row's status."""
        ev, st = m.SyncEvent, m.SyncStep
        with self.session() as s:
            rows = s.execute(
                select(ev.id, ev.entity, ev.status, ev.current_step, st.status, ev.updated_at)
                .outerjoin(st, (st.event_id == ev.id) & (st.step == ev.current_step))
                .where(ev.status.in_(m.ACTIVE_STATUSES), ev.updated_at < older_than)
                .order_by(ev.id)
                .limit(limit)
            ).all()
            return [StaleEvent(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def touch(self, event_ids: Sequence[int]) -> None:
        with self.session() as s:
            s.execute(update(m.SyncEvent).where(m.SyncEvent.id.in_(list(event_ids)))
                      .values(updated_at=m.utcnow()))

    def open_event_for(self, connection: str, entity: str, source_id: str,
                       waiting: frozenset[str] = m.ACTIVE_STATUSES | {m.HELD, m.DEAD}) -> int | None:
        """An event of this record in one of the ``waiting`` statuses. By default: in flight, held for review,
        or dead-lettered and not yet replayed: the order poller must not start another (a dead order would
        be rejected again, and again)."""
        with self.session() as s:
            return s.scalar(
                select(m.SyncEvent.id).where(
                    m.SyncEvent.connection == connection, m.SyncEvent.entity == entity,
                    m.SyncEvent.source_id == source_id, m.SyncEvent.status.in_(waiting),
                ).limit(1)
            )

    # -- dead letters --------------------------------------------------------------------------------
    def dead_letter(self, event_id: int, *, step: str, task_name: str, error: dict[str, Any],
                    traceback: str | None) -> int:
        """Dead-letter an event: the DLQ row and the event's final status in one transaction."""
        with self.session() as s:
            event = s.get(m.SyncEvent, event_id)
            if event is None:
                raise LookupError(f"sync_event {event_id} does not exist")
            if event.status in (m.SUCCEEDED, m.SKIPPED, m.DEAD):
                # Another execution already finished this event: a late duplicate's failure is not news.
                return 0
            row = m.DeadLetter(
                event_id=event_id, connection=event.connection, entity=event.entity, source_id=event.source_id,
                step=step, task_name=task_name, error_type=str(error.get("type", "Error")),
                message=str(error.get("message", "")), resolution=error.get("resolution"),
                details=to_jsonable(error.get("details") or {}), traceback=traceback,
                payload=event.payload, attempts=event.attempts,
            )
            s.add(row)
            event.status = m.DEAD
            event.last_error = to_jsonable(error)
            event.finished_at = m.utcnow()
            s.flush()
            return row.id

    def list_dead_letters(self, status: str | None = m.DLQ_OPEN, limit: int = 100) -> list[m.DeadLetter]:
        with self.session() as s:
            query = select(m.DeadLetter).order_by(m.DeadLetter.id.desc()).limit(limit)
            if status:
                query = query.where(m.DeadLetter.status == status)
            return list(s.scalars(query))

    def get_dead_letter(self, dlq_id: int) -> m.DeadLetter | None:
        with self.session() as s:
            return s.get(m.DeadLetter, dlq_id)

    def reopen_for_replay(self, dlq_id: int) -> int | None:
        """Mark a dead letter replayed and put its event back in the inbox; returns the event id."""
        with self.session() as s:
            row = s.get(m.DeadLetter, dlq_id)
            if row is None or row.status != m.DLQ_OPEN:
                return None
            row.status = m.DLQ_REPLAYED
            row.replay_count += 1
            row.replayed_at = m.utcnow()
            event = s.get(m.SyncEvent, row.event_id)
            if event is None:
                return None
            event.status = m.RECEIVED
            event.current_step = None
            event.finished_at = None
            event.updated_at = m.utcnow()
            for step in event.steps:  # a replay runs every step again, from fresh data
                step.status = m.StepStatus.PENDING
                step.output = None  # so a stale message for a later step cannot run on old input
            return event.id

    def attempts_of(self, event_id: int) -> list[dict[str, Any]]:
        """Every attempt of every step of an event, oldest first: its history for operators and the console."""
        with self.session() as s:
            return [
                {"step": a.step, "attempt": a.attempt, "task_id": a.task_id, "outcome": a.outcome, "error": a.error,
                 "started_at": a.started_at.isoformat(),
                 "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                 "duration_ms": round((a.finished_at - a.started_at).total_seconds() * 1000, 1)
                 if a.finished_at else None}
                for a in s.scalars(select(m.SyncAttempt).where(m.SyncAttempt.event_id == event_id)
                                   .order_by(m.SyncAttempt.id))
            ]

    def prune_finished(self, older_than: datetime, *, batch: int = 1000) -> int:
        """Delete succeeded and skipped events (steps, snapshots, attempts with them) finished before
        ``older_than``. Dead-lettered and held events are kept until an operator resolves them."""
        removed = 0
        ev = m.SyncEvent
        while True:
            with get_engine(self.url).begin() as conn:
                ids = list(conn.scalars(select(ev.id).where(
                    ev.status.in_([m.SUCCEEDED, m.SKIPPED]), ev.finished_at < older_than).limit(batch)))
                if not ids:
                    return removed
                # Children first: SQLite enforces foreign keys per connection, PostgreSQL cascades anyway.
                conn.execute(delete(m.SyncAttempt).where(m.SyncAttempt.event_id.in_(ids)))
                conn.execute(delete(m.SyncStep).where(m.SyncStep.event_id.in_(ids)))
                conn.execute(delete(ev).where(ev.id.in_(ids)))
                removed += len(ids)

    def status_counts(self, connection: str | None = None, since: datetime | None = None,
                      entity: str | None = None) -> dict[str, int]:
        with self.session() as s:
            query = select(m.SyncEvent.status, func.count()).group_by(m.SyncEvent.status)
            if connection:
                query = query.where(m.SyncEvent.connection == connection)
            if entity:
                query = query.where(m.SyncEvent.entity == entity)
            if since:
                query = query.where(m.SyncEvent.created_at >= since)
            return {str(k): int(v) for k, v in s.execute(query).all()}

    def recent_events(self, limit: int = 50, status: str | None = None) -> list[m.SyncEvent]:
        with self.session() as s:
            query = select(m.SyncEvent).order_by(m.SyncEvent.id.desc()).limit(limit)
            if status:
                query = query.where(m.SyncEvent.status == status)
            return list(s.scalars(query))


@contextmanager
def bounded_snapshot(where: str) -> Iterator[None]:
    """A snapshot over the store's bound is the flow's mistake, not a database fault: say so plainly."""
    try:
        yield
    except (StatementError, SnapshotTooLarge) as exc:
        # SQLite's driver reports it wrapped by SQLAlchemy; psycopg serialises while adapting, unwrapped.
        cause = exc.orig if isinstance(exc, StatementError) else exc
        if isinstance(cause, SnapshotTooLarge):
            raise PermanentError(f"{where}: its output is too large to keep ({cause})",
                                 resolution="the flow must carry smaller batches (Flow.batch_size) or pass ids "
                                            "and leave bulk data at the source") from None
        raise


def stale_cutoff(seconds: int) -> datetime:
    return m.utcnow() - timedelta(seconds=seconds)
