"""What the producers, the flows and the operators do to the store. Each function is one short transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    JSON,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    func,
    insert,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError, StatementError

from integration.errors import PermanentError, TransientError
from integration.jsonutil import loads, to_jsonable
from integration.store import models as m
from integration.store.db import Prepared, SnapshotTooLarge, get_engine, session_scope


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


class PastOrderRow(NamedTuple):
    """An ``order_history`` row as the anomaly detectors read it (``Store.customer_order_history``); ``lines``
    is None when they were not asked for."""

    id: int
    ps_order_id: int
    customer_id: int
    customer_group: int
    placed_at: datetime
    value: str
    currency: str
    invoice_country: str
    delivery_country: str
    carrier: str
    address_hash: str
    accepted: bool
    lines: list[Any] | None = None


class RecentOrderRow(NamedTuple):
    """Who ordered when and where (``Store.recent_order_history``): all the velocity detector reads."""

    id: int
    ps_order_id: int
    customer_id: int
    placed_at: datetime
    address_hash: str


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
        with get_engine(self.url).begin() as conn:
            return _begin_step(conn, event_id, step, previous_step, task_id)

    def advance_step(self, event_id: int, step: str, output: dict[str, Any], *, attempt_id: int, next_step: str,
                     task_id: str | None = None) -> tuple[EventRow, dict[str, Any] | None] | None:
        """``finish_step`` of a step that is not the last, and ``start_step`` of the next, in one transaction:
        a run that goes on to the next step (``flows.base.run_steps``) saves a commit and the event's touch.
        The next step gets this step's output as it reads back from the store, as if started on its own."""
        now = m.utcnow()
        try:
            with bounded_snapshot(f"event {event_id} step {step}"), get_engine(self.url).begin() as conn:
                _end_step(conn, event_id, step, output, attempt_id, m.StepStatus.DONE, now)
                return _begin_step(conn, event_id, next_step, step, task_id)
        except IntegrityError:  # another execution inserted the next step's row at the same moment
            raise TransientError(f"event {event_id}: the end of step {step} was not recorded, as step {next_step} "
                                 "was being started by another worker at the same moment") from None

    def finish_step(self, event_id: int, step: str, output: dict[str, Any] | None, *,
                    final_status: str | None = None, result: dict[str, Any] | None = None,
                    attempt_id: int = 0, outcome: str = m.StepStatus.DONE) -> None:
        """The step's outcome and snapshot, and (for the last step, or a skip) the event's final status.

        The snapshot is the next step's input: it is bounded (``db.MAX_JSON_BYTES``) so that a batch flow
        passes a window of rows along, never a whole catalogue. Core statements built once: this runs for
        every step of every event."""
        now = m.utcnow()
        with bounded_snapshot(f"event {event_id} step {step}"), get_engine(self.url).begin() as conn:
            _end_step(conn, event_id, step, output, attempt_id, outcome, now)
            # A final event keeps its outcome: a late duplicate never overwrites "succeeded" with "skipped".
            if final_status is None:
                _Q.touch_event.execute(conn, {"b_event": event_id, "b_now": now})
            else:
                _Q.final_event.execute(conn, {"b_event": event_id, "b_now": now, "b_status": final_status,
                                              "b_result": result})

    def fail_step(self, event_id: int, step: str, error: dict[str, Any], *, retrying: bool,
                  attempt_id: int = 0, outcome: str | None = None) -> None:
        """A failed (or held) attempt: the step row and its attempt say so, and the event keeps the error."""
        status = outcome or (m.StepStatus.RETRYING if retrying else m.StepStatus.FAILED)
        now = m.utcnow()
        error = to_jsonable(error)
        with get_engine(self.url).begin() as conn:
            _Q.fail_step.execute(conn, {"b_event": event_id, "b_step": step, "b_status": status, "b_error": error,
                                        "b_finished": None if retrying else now})
            if attempt_id:
                _Q.end_attempt.execute(conn, {"b_attempt_id": attempt_id, "b_outcome": status, "b_error": error,
                                              "b_now": now})
            _Q.fail_event.execute(conn, {"b_event": event_id, "b_now": now, "b_error": error,
                                         "b_status": m.RETRYING if retrying else None})

    # -- bindings ------------------------------------------------------------------------------------
    def get_binding(self, connection: str, entity: str, ps_id: str) -> str | None:
        """The Infor id, once known (a pending claim is not a binding yet)."""
        row = self.binding_row(connection, entity, ps_id)
        return None if row is None or row[0].startswith(m.PENDING_PREFIX) else row[0]

    def binding_row(self, connection: str, entity: str, ps_id: str) -> tuple[str, dict[str, Any]] | None:
        """(infor_id, data) of the binding or of a pending claim."""
        with get_engine(self.url).connect() as conn:
            row = _Q.select_binding.execute(conn, _binding_key(connection, entity, ps_id)).first()
            return None if row is None else (str(row.infor_id), dict(row.data or {}))

    def claim(self, connection: str, entity: str, ps_id: str, event_id: int, data: dict[str, Any]) -> bool:
        """Claim the creation of a record for one event; False when another claim or binding exists."""
        try:
            with get_engine(self.url).begin() as conn:
                _Q.insert_binding.execute(conn, {
                    **_binding_key(connection, entity, ps_id), "b_infor": f"{m.PENDING_PREFIX}{event_id}",
                    "b_data": to_jsonable({**data, "event_id": event_id}), "b_now": m.utcnow()})
            return True
        except IntegrityError:
            return False

    def update_binding_data(self, connection: str, entity: str, ps_id: str, **data: Any) -> dict[str, Any]:
        """Merge ``data`` into the binding's (or claim's) data: a temporary order number, the last state sent..."""
        key = _binding_key(connection, entity, ps_id)
        with get_engine(self.url).begin() as conn:
            row = _Q.select_binding_for_update.execute(conn, key).first()
            if row is None:
                raise LookupError(f"no claim for {entity} {ps_id}")
            merged = {**(row.data or {}), **to_jsonable(data)}
            _Q.update_binding.execute(conn, {"b_id": row.id, "b_infor": row.infor_id, "b_data": merged,
                                             "b_now": m.utcnow()})
            return merged

    def finalize_binding(self, connection: str, entity: str, ps_id: str, infor_id: str,
                         data: dict[str, Any] | None = None) -> None:
        """Turn a claim into the binding (or create the binding when there was no claim)."""
        key = _binding_key(connection, entity, ps_id)
        now = m.utcnow()
        with get_engine(self.url).begin() as conn:
            row = _Q.select_binding_for_update.execute(conn, key).first()
            if row is None:
                _Q.insert_binding.execute(conn, {**key, "b_infor": infor_id,
                                                 "b_data": to_jsonable(data) if data else None, "b_now": now})
                return
            _Q.update_binding.execute(conn, {"b_id": row.id, "b_infor": infor_id, "b_now": now,
                                             "b_data": to_jsonable({**(row.data or {}), **(data or {})})})

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
        return self._binding_pages(connection, entity, page, m.Binding.closed_at.is_(None))

    def _binding_pages(self, connection: str, entity: str, page: int, *where: Any) -> Iterator[tuple[str, str]]:
        """(ps_id, infor_id) of the bindings (claims left out) that match ``where``, page by page in id order."""
        after = 0
        while True:
            with self.session() as s:
                rows = s.execute(
                    select(m.Binding.id, m.Binding.ps_id, m.Binding.infor_id).where(
                        m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.id > after,
                        m.Binding.infor_id.not_like(f"{m.PENDING_PREFIX}%"), *where,
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

    def supersede_waiting(self, connection: str, entity: str, source_id: str, *, by_event: int) -> int:
        """Older waiting events of a record end ``skipped``: a newer event takes the record on."""
        ev = m.SyncEvent
        with get_engine(self.url).begin() as conn:
            return int(conn.execute(update(ev).where(
                ev.connection == connection, ev.entity == entity, ev.source_id == source_id, ev.id != by_event,
                ev.status.in_(m.WAITING_STATUSES),
            ).values(status=m.SKIPPED, finished_at=m.utcnow(), updated_at=m.utcnow(),
                     result={"skipped": f"superseded by event {by_event}"})).rowcount or 0)

    def resume_waiting(self, status: str, older_than: datetime, limit: int = 500) -> list[tuple[int, str, str | None]]:
        """Put waiting events back in the inbox (queued, from the step that waited); (id, entity, step) of each."""
        ev = m.SyncEvent
        with get_engine(self.url).begin() as conn:
            rows = conn.execute(select(ev.id, ev.entity, ev.current_step).where(
                ev.status == status, ev.updated_at < older_than).order_by(ev.id).limit(limit)).all()
            if rows:
                conn.execute(update(ev).where(ev.id.in_([r[0] for r in rows]), ev.status == status).values(
                    status=m.QUEUED, finished_at=None, updated_at=m.utcnow()))
            return [(int(r[0]), str(r[1]), r[2]) for r in rows]

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

    # -- the operator console: users, audit, held events, dead-letter decisions, read models ------------
    def add_user(self, name: str, password_hash: str, role: str) -> int:
        """A new console user; ``ValueError`` when the name is taken or the role unknown."""
        if role not in m.ROLES:
            raise ValueError(f"unknown role {role!r} (one of: {', '.join(m.ROLES)})")
        try:
            with self.session() as s:
                user = m.ConsoleUser(name=name, password_hash=password_hash, role=role)
                s.add(user)
                s.flush()
                return int(user.id)
        except IntegrityError:
            raise ValueError(f"a user named {name!r} already exists") from None

    def get_user(self, name: str | None = None, *, user_id: int | None = None) -> m.ConsoleUser | None:
        with self.session() as s:
            if user_id is not None:
                return s.get(m.ConsoleUser, user_id)
            return s.scalar(select(m.ConsoleUser).where(m.ConsoleUser.name == name))

    def list_users(self) -> list[m.ConsoleUser]:
        with self.session() as s:
            return list(s.scalars(select(m.ConsoleUser).order_by(m.ConsoleUser.name)))

    def update_user(self, name: str, *, password_hash: str | None = None, role: str | None = None,
                    active: bool | None = None, logged_in: bool = False) -> bool:
        """Change a user's password hash, role or active flag, or note a login; False when there is no such user."""
        if role is not None and role not in m.ROLES:
            raise ValueError(f"unknown role {role!r} (one of: {', '.join(m.ROLES)})")
        with self.session() as s:
            user = s.scalar(select(m.ConsoleUser).where(m.ConsoleUser.name == name))
            if user is None:
                return False
            if password_hash is not None:
                user.password_hash = password_hash
            if role is not None:
                user.role = role
            if active is not None:
                user.active = active
            if logged_in:
                user.last_login_at = m.utcnow()
            return True

    def audit(self, user_name: str, action: str, target: str = "", *, outcome: str = "ok",
              detail: dict[str, Any] | None = None, remote_addr: str | None = None) -> int:
        """Record one operator action (the audit log is append-only)."""
        with self.session() as s:
            entry = m.AuditEntry(user_name=user_name[:64], action=action[:64], target=target[:200],
                                 outcome=outcome[:16], detail=to_jsonable(detail) if detail else None,
                                 remote_addr=(remote_addr or None) and remote_addr[:64])
            s.add(entry)
            s.flush()
            return int(entry.id)

    def audit_entries(self, limit: int = 200, *, user_name: str | None = None,
                      action: str | None = None) -> list[m.AuditEntry]:
        with self.session() as s:
            query = select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(limit)
            if user_name:
                query = query.where(m.AuditEntry.user_name == user_name)
            if action:
                query = query.where(m.AuditEntry.action == action)
            return list(s.scalars(query))

    def release_held(self, event_id: int, released_by: str) -> tuple[str, str | None] | None:
        """Put a held event back through its flow from the step that held it; returns (entity, from_step) to
        publish, or None when the event is not held. The earlier steps keep their snapshots (the held step runs
        again on the same input); the payload notes the release, so an anomaly check lets the event through."""
        with self.session() as s:
            event = s.get(m.SyncEvent, event_id)
            if event is None or event.status != m.HELD:
                return None
            held_step = event.current_step
            names = [st.step for st in event.steps]
            later = names[names.index(held_step):] if held_step in names else []
            for step in event.steps:
                if step.step in later:
                    step.status = m.StepStatus.PENDING
                    step.output = None
            event.payload = {**(event.payload or {}),
                             m.REVIEW_RELEASED: {"by": released_by, "at": m.utcnow().isoformat(), "step": held_step}}
            event.status = m.QUEUED
            event.finished_at = None
            event.updated_at = m.utcnow()
            return event.entity, held_step

    def skip_held(self, event_id: int, reason: str, skipped_by: str) -> bool:
        """An operator decides a held event will not be synced: it ends ``skipped`` with the reason."""
        with self.session() as s:
            event = s.get(m.SyncEvent, event_id)
            if event is None or event.status != m.HELD:
                return False
            event.status = m.SKIPPED
            event.result = {"skipped": reason, "by": skipped_by, "step": event.current_step}
            event.finished_at = m.utcnow()
            return True

    def discard_dead_letter(self, dlq_id: int, reason: str, discarded_by: str) -> int | None:
        """Close an open dead letter without replaying it; the event stays ``dead`` (so the poller leaves the
        record alone) and keeps the reason in its result. Returns the event id, or None when not open."""
        with self.session() as s:
            row = s.get(m.DeadLetter, dlq_id)
            if row is None or row.status != m.DLQ_OPEN:
                return None
            row.status = m.DLQ_DISCARDED
            row.details = {**(row.details or {}), "discarded": {"reason": reason, "by": discarded_by,
                                                                 "at": m.utcnow().isoformat()}}
            event = s.get(m.SyncEvent, row.event_id)
            if event is not None:
                event.result = {"discarded": reason, "by": discarded_by, "dead_letter": dlq_id}
            return row.event_id

    def event_counts(self, since: datetime | None = None) -> list[tuple[str, str, str, int]]:
        """(connection, entity, status, count) of the events created since ``since`` (all when None)."""
        ev = m.SyncEvent
        with self.session() as s:
            query = select(ev.connection, ev.entity, ev.status, func.count()).group_by(
                ev.connection, ev.entity, ev.status)
            if since is not None:
                query = query.where(ev.created_at >= since)
            return [(str(c), str(e), str(st), int(n)) for c, e, st, n in s.execute(query).all()]

    def finished_counts(self, since: datetime, status: str = m.SUCCEEDED) -> list[tuple[str, str, int]]:
        """(connection, entity, count) of the events that reached ``status`` since ``since`` (throughput)."""
        ev = m.SyncEvent
        with self.session() as s:
            return [(str(c), str(e), int(n)) for c, e, n in s.execute(
                select(ev.connection, ev.entity, func.count()).where(ev.status == status, ev.finished_at >= since)
                .group_by(ev.connection, ev.entity)).all()]

    def oldest_in(self, statuses: frozenset[str] | set[str]) -> list[tuple[str, str, datetime]]:
        """(connection, entity, created_at of the oldest event) among the events in ``statuses``."""
        ev = m.SyncEvent
        with self.session() as s:
            return [(str(c), str(e), t) for c, e, t in s.execute(
                select(ev.connection, ev.entity, func.min(ev.created_at)).where(ev.status.in_(list(statuses)))
                .group_by(ev.connection, ev.entity)).all() if t is not None]

    def last_finished(self, status: str = m.SUCCEEDED) -> list[tuple[str, str, datetime]]:
        """(connection, entity, when the last event of that flow reached ``status``)."""
        ev = m.SyncEvent
        with self.session() as s:
            return [(str(c), str(e), t) for c, e, t in s.execute(
                select(ev.connection, ev.entity, func.max(ev.finished_at)).where(ev.status == status)
                .group_by(ev.connection, ev.entity)).all() if t is not None]

    def dead_letter_counts(self, status: str = m.DLQ_OPEN) -> list[tuple[str, str, int]]:
        dl = m.DeadLetter
        with self.session() as s:
            return [(str(c), str(e), int(n)) for c, e, n in s.execute(
                select(dl.connection, dl.entity, func.count()).where(dl.status == status)
                .group_by(dl.connection, dl.entity)).all()]

    def dead_letters_after(self, after_id: int, limit: int = 500) -> list[m.DeadLetter]:
        """Dead letters written after ``after_id``, oldest first (the alerting cursor)."""
        with self.session() as s:
            return list(s.scalars(select(m.DeadLetter).where(m.DeadLetter.id > after_id)
                                  .order_by(m.DeadLetter.id).limit(limit)))

    def dead_letters_of(self, event_id: int) -> list[m.DeadLetter]:
        with self.session() as s:
            return list(s.scalars(select(m.DeadLetter).where(m.DeadLetter.event_id == event_id)
                                  .order_by(m.DeadLetter.id)))

    def held_events(self, *, older_than: datetime | None = None, limit: int = 200) -> list[m.SyncEvent]:
        """Events held for an operator, oldest first."""
        ev = m.SyncEvent
        with self.session() as s:
            query = select(ev).where(ev.status == m.HELD).order_by(ev.id).limit(limit)
            if older_than is not None:
                query = query.where(ev.updated_at < older_than)
            return list(s.scalars(query))

    def search_events(self, *, entity: str | None = None, status: str | None = None, connection: str | None = None,
                      source_id: str | None = None, infor_id: str | None = None, customer: str | None = None,
                      since: datetime | None = None, until: datetime | None = None,
                      limit: int = 100, before_id: int | None = None) -> list[m.SyncEvent]:
        """The console's event filter: newest first, ``before_id`` pages on. An Infor id matches the records
        bound to it or named in the result; a customer matches the Infor customer number or shop id in the
        result or payload."""
        from sqlalchemy import String, cast, or_

        ev = m.SyncEvent
        query = select(ev).order_by(ev.id.desc()).limit(limit)
        for column, value in ((ev.entity, entity), (ev.status, status), (ev.connection, connection),
                              (ev.source_id, source_id)):
            if value:
                query = query.where(column == value)
        if since is not None:
            query = query.where(ev.created_at >= since)
        if until is not None:
            query = query.where(ev.created_at < until)
        if before_id is not None:
            query = query.where(ev.id < before_id)
        with self.session() as s:
            if infor_id:
                bound = s.execute(select(m.Binding.connection, m.Binding.entity, m.Binding.ps_id)
                                  .where(m.Binding.infor_id == infor_id)).all()
                matches = [cast(ev.result, String).like(f'%"{_like_escape(infor_id)}"%', escape="\\")]
                # the record's own events and those of its follow-up flows (order -> order_status)
                matches += [(ev.connection == c) & (ev.source_id == p)
                            & or_(ev.entity == e, ev.entity.like(f"{_like_escape(e)}\\_%", escape="\\"))
                            for c, e, p in bound]
                query = query.where(or_(*matches))
            if customer:
                needle = f"%{_like_escape(customer)}%"
                query = query.where(or_(cast(ev.result, String).like(needle, escape="\\"),
                                        cast(ev.payload, String).like(needle, escape="\\")))
            return list(s.scalars(query))

    def step_outputs(self, event_id: int) -> dict[str, dict[str, Any] | None]:
        """Each step's output snapshot (the next step's input), by step name."""
        with self.session() as s:
            return {str(step): output for step, output in s.execute(
                select(m.SyncStep.step, m.SyncStep.output).where(m.SyncStep.event_id == event_id)
                .order_by(m.SyncStep.id)).all()}

    def bindings_of(self, connection: str, source_id: str) -> list[tuple[str, str]]:
        """(entity, infor_id) of every binding of one shop record id on a connection."""
        with self.session() as s:
            return [(str(e), str(i)) for e, i in s.execute(
                select(m.Binding.entity, m.Binding.infor_id).where(
                    m.Binding.connection == connection, m.Binding.ps_id == source_id)).all()]

    def attempts_after(self, after_id: int, limit: int = 20000) -> list[tuple[int, str, str, str, datetime,
                                                                            datetime | None]]:
        """(id, entity, step, outcome, started_at, finished_at) of the attempts from ``after_id`` on, oldest
        first: what the metrics collector reads, a page at a time."""
        at, ev = m.SyncAttempt, m.SyncEvent
        with self.session() as s:
            return [(int(i), str(e), str(st), str(o), a, f) for i, e, st, o, a, f in s.execute(
                select(at.id, ev.entity, at.step, at.outcome, at.started_at, at.finished_at)
                .join(ev, ev.id == at.event_id).where(at.id >= after_id).order_by(at.id).limit(limit)).all()]

    # -- customers, invoices, reconciliation (the customer and order-to-cash flows) ------------------------
    def release_claim(self, connection: str, entity: str, ps_id: str) -> bool:
        """Drop a pending claim (never a binding): its event decided to create nothing (held for review)."""
        with self.session() as s:
            result = s.execute(delete(m.Binding).where(
                m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.ps_id == ps_id,
                m.Binding.infor_id.like(f"{m.PENDING_PREFIX}%")))
            return bool(getattr(result, "rowcount", 0))

    def bindings_with_prefix(self, connection: str, entity: str, ps_prefix: str
                              ) -> list[tuple[str, str, dict[str, Any], datetime | None]]:
        """(ps_id, infor_id, data, closed_at) of the bindings whose shop id starts with ``ps_prefix``."""
        escaped = ps_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.session() as s:
            b = m.Binding
            rows = s.execute(select(b.ps_id, b.infor_id, b.data, b.closed_at).where(
                b.connection == connection, b.entity == entity, b.ps_id.like(f"{escaped}%", escape="\\"),
            ).order_by(b.id)).all()
            return [(str(r[0]), str(r[1]), dict(r[2] or {}), r[3]) for r in rows]

    def events_for_records(self, connection: str, records: Sequence[tuple[str, str]], *,
                            limit: int = 200) -> list[dict[str, Any]]:
        """The inbox history of some records ((entity, source id) pairs), newest first: a customer's 360 view."""
        if not records:
            return []
        from sqlalchemy import and_, or_

        ev = m.SyncEvent
        where = or_(*(and_(ev.entity == e, ev.source_id == str(i)) for e, i in records))
        with self.session() as s:
            rows = s.scalars(select(ev).where(ev.connection == connection, where).order_by(ev.id.desc())
                             .limit(limit))
            return [{"id": e.id, "entity": e.entity, "source_id": e.source_id, "event_type": e.event_type,
                     "status": e.status, "step": e.current_step, "created_at": e.created_at.isoformat(),
                     "result": e.result, "error": (e.last_error or {}).get("message") if e.status != m.SUCCEEDED
                     else None} for e in rows]

    def add_reconciliation(self, connection: str, run_at: datetime, lines: Sequence[dict[str, Any]]) -> int:
        """Keep one reconciliation run's lines (``integration.reconcile``'s dicts)."""
        with get_engine(self.url).begin() as conn:
            for line in lines:
                conn.execute(insert(m.ReconciliationLine).values(
                    connection=connection, run_at=run_at, ps_order_id=str(line["ps_order_id"]),
                    orno=line.get("orno"), status=str(line["status"]), line=to_jsonable(line)))
        return len(lines)

    def reconciliation_runs(self, connection: str, *,
                            limit: int = 1) -> list[tuple[datetime, list[dict[str, Any]]]]:
        """The latest runs, newest first, each with its lines."""
        rc = m.ReconciliationLine
        with self.session() as s:
            times = list(s.scalars(select(rc.run_at).where(rc.connection == connection).group_by(rc.run_at)
                                   .order_by(rc.run_at.desc()).limit(limit)))
            return [(t, [dict(r) for r in s.scalars(select(rc.line).where(rc.connection == connection,
                                                                          rc.run_at == t).order_by(rc.id))])
                    for t in times]


    def _upsert(self) -> Any:
        """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL both have it)."""
        from sqlalchemy.dialects import postgresql, sqlite

        return postgresql.insert if get_engine(self.url).dialect.name == "postgresql" else sqlite.insert

    def bind_many(self, connection: str, entity: str, pairs: Sequence[tuple[str, str]],
                  chunk: int = 1000) -> int:
        """Bind many (ps_id, infor_id) pairs at once; a pair whose either side is already bound is left out
        (ON CONFLICT DO NOTHING). Returns how many bindings exist for the pairs afterwards."""
        now = m.utcnow()
        statement = self._upsert()(m.Binding).on_conflict_do_nothing()
        for start in range(0, len(pairs), chunk):
            rows = [{"connection": connection, "entity": entity, "ps_id": str(ps), "infor_id": str(infor),
                     "data": None, "closed_at": None, "created_at": now, "updated_at": now}
                    for ps, infor in pairs[start:start + chunk]]
            with get_engine(self.url).begin() as conn:
                conn.execute(statement, rows)
        return len(pairs)

    def all_bindings(self, connection: str, entity: str, page: int = 5000) -> Iterator[tuple[str, str]]:
        """(ps_id, infor_id) of every binding (claims left out), page by page."""
        return self._binding_pages(connection, entity, page)

    def bindings_by_ps(self, connection: str, entity: str, ps_ids: Sequence[str],
                       chunk: int = 500) -> dict[str, str]:
        """Shop id -> Infor id for many shop ids at once."""
        found: dict[str, str] = {}
        for start in range(0, len(ps_ids), chunk):
            part = [str(p) for p in ps_ids[start:start + chunk]]
            with self.session() as s:
                found.update((str(p), str(i)) for p, i in s.execute(
                    select(m.Binding.ps_id, m.Binding.infor_id).where(
                        m.Binding.connection == connection, m.Binding.entity == entity, m.Binding.ps_id.in_(part),
                        m.Binding.infor_id.not_like(f"{m.PENDING_PREFIX}%"))))
        return found

    def stock_memory(self, connection: str, row_keys: Sequence[str], chunk: int = 500) -> dict[str, dict[str, Any]]:
        """What was last written to (or seen in) these shop stock rows: key -> {item_number, id_stock_available,
        quantity, as_of, event_id}."""
        found: dict[str, dict[str, Any]] = {}
        sw = m.StockWritten
        for start in range(0, len(row_keys), chunk):
            part = list(row_keys[start:start + chunk])
            with get_engine(self.url).connect() as conn:
                for r in conn.execute(select(sw.row_key, sw.item_number, sw.id_stock_available, sw.quantity,
                                             sw.as_of, sw.event_id).where(sw.connection == connection,
                                                                          sw.row_key.in_(part))):
                    found[r.row_key] = {"item_number": r.item_number, "id_stock_available": r.id_stock_available,
                                        "quantity": r.quantity, "as_of": int(r.as_of or 0), "event_id": r.event_id}
        return found

    def remember_stock(self, connection: str, rows: Sequence[dict[str, Any]], *, written: bool = False,
                       chunk: int = 1000) -> None:
        """Record rows' quantities (``row_key``, ``item_number``, ``quantity``, ``as_of``, optional
        ``id_stock_available`` and ``event_id``), each only over a reading no newer than its own ``as_of``
        (a late, older reading never replaces a newer one). ``written``: these are our writes (``written_at``
        and ``event_id`` are set). One statement per chunk of rows."""
        sw = m.StockWritten
        statement = self._upsert()(sw)
        excluded = statement.excluded
        update_set: dict[str, Any] = {
            "item_number": excluded.item_number, "quantity": excluded.quantity, "as_of": excluded.as_of,
            "id_stock_available": func.coalesce(excluded.id_stock_available, sw.id_stock_available)}
        if written:
            update_set.update(written_at=excluded.written_at, event_id=excluded.event_id)
        statement = statement.on_conflict_do_update(index_elements=[sw.connection, sw.row_key], set_=update_set,
                                                    where=sw.as_of <= excluded.as_of)
        now = m.utcnow() if written else None
        for start in range(0, len(rows), chunk):
            values = [{"connection": connection, "row_key": row["row_key"], "item_number": row["item_number"],
                       "quantity": row.get("quantity"), "as_of": int(row.get("as_of") or 0),
                       "id_stock_available": row.get("id_stock_available"), "written_at": now,
                       "event_id": row.get("event_id") if written else None}
                      for row in rows[start:start + chunk]]
            with get_engine(self.url).begin() as conn:
                conn.execute(statement, values)

    def forget_stock_row(self, connection: str, row_key: str) -> None:
        """The shop row id we kept is wrong (the row is gone): look it up again next time."""
        with self.session() as s:
            s.execute(update(m.StockWritten).where(m.StockWritten.connection == connection,
                                                   m.StockWritten.row_key == row_key)
                      .values(id_stock_available=None))

    def note_unknown_items(self, connection: str, item_numbers: Sequence[str], source: str) -> list[str]:
        """Record M3 items the shop does not have; returns those not recorded before (to be reported, once)."""
        if not item_numbers:
            return []
        ui = m.UnknownItem
        wanted = sorted(set(item_numbers))
        now = m.utcnow()
        with self.session() as s:
            known = set(s.scalars(select(ui.item_number).where(ui.connection == connection,
                                                               ui.item_number.in_(wanted))))
            if known:
                s.execute(update(ui).where(ui.connection == connection, ui.item_number.in_(sorted(known)))
                          .values(times_seen=ui.times_seen + 1, last_seen_at=now))
        new = [i for i in wanted if i not in known]
        upsert = self._upsert()
        with get_engine(self.url).begin() as conn:
            for itno in new:
                conn.execute(upsert(ui).values(connection=connection, item_number=itno, source=source,
                                               times_seen=1, first_seen_at=now, last_seen_at=now)
                             .on_conflict_do_nothing())
        return new

    def resolve_unknown_items(self, connection: str, item_numbers: Sequence[str]) -> None:
        if item_numbers:
            with self.session() as s:
                s.execute(delete(m.UnknownItem).where(m.UnknownItem.connection == connection,
                                                      m.UnknownItem.item_number.in_(list(item_numbers))))

    def unknown_items(self, connection: str, limit: int = 1000) -> list[m.UnknownItem]:
        with self.session() as s:
            return list(s.scalars(select(m.UnknownItem).where(m.UnknownItem.connection == connection)
                                  .order_by(m.UnknownItem.item_number).limit(limit)))


    # -- order history (the anomaly detectors' memory: integration/ai/history.py) ------------------------------
    def record_order_history(self, row: dict[str, Any]) -> None:
        """Keep (or update) one order's compact history row; an accepted order's lines are indexed for the
        quantity samples. ``row`` has the columns of ``OrderHistory`` (``lines``: [[item, qty, price], ...]).
        Core statements built once: an order is recorded the first time in one transaction of two inserts."""
        engine = get_engine(self.url)
        key = {"b_connection": row["connection"], "b_order": row["ps_order_id"]}
        try:
            with engine.begin() as conn:
                inserted = _Q.insert_history.execute(conn, {
                    **{f"b_{column}": row[column] for column in _Q.history_row_columns}, "b_now": m.utcnow(),
                }).inserted_primary_key
                assert inserted is not None
                self._history_lines(conn, int(inserted[0]), row)
            return
        except IntegrityError:  # recorded before (validate ran again, an operator released it): update it
            pass
        with engine.begin() as conn:
            found = _Q.select_history_id.execute(conn, key).first()
            if found is None:  # deleted meanwhile (retention): nothing to update
                return
            conn.execute(_Q.update_history, {"b_id": found.id, **row})
            _Q.delete_history_lines.execute(conn, {"b_id": found.id})
            self._history_lines(conn, int(found.id), row)

    @staticmethod
    def _history_lines(conn: Any, history_id: int, row: dict[str, Any]) -> None:
        if not row.get("accepted") or not row.get("lines"):
            return
        _Q.insert_history_lines.execute_many(conn, [
            {"history_id": history_id, "connection": row["connection"], "customer_group": row.get("customer_group", 0),
             "item_number": str(item)[:32], "quantity": int(qty)} for item, qty, _price in row["lines"]])

    def customer_order_history(self, connection: str, customer_id: int, *, before: datetime, exclude_order: int,
                               limit: int = 100, lines: bool = True) -> list[PastOrderRow]:
        """The customer's latest accepted orders placed up to ``before`` (newest first, at most ``limit``);
        ``lines=False`` leaves their lines out (``lines`` is then None): only the quantity detector reads them,
        and only for an order with a large line. Read as one JSON row (``_json_rows``)."""
        query = _Q.customer_history if lines else _Q.customer_history_without_lines
        found = self._json_rows(query, {"b_connection": connection, "b_customer": customer_id, "b_before": before,
                                        "b_exclude": exclude_order, "b_limit": limit})
        rows = [PastOrderRow(int(r[0]), int(r[1]), int(r[2]), int(r[3] or 0), _utc(r[4]), str(r[5]), r[6] or "",
                             r[7] or "", r[8] or "", r[9] or "", r[10] or "", bool(r[11]),
                             (r[12] or []) if lines else None) for r in found]
        rows.sort(key=lambda r: (r.placed_at, r.id), reverse=True)
        return rows

    def recent_order_history(self, connection: str, *, since: datetime, until: datetime, customer_id: int,
                             address_hash: str, exclude_order: int, limit: int = 500) -> list[RecentOrderRow]:
        """Every order (any outcome) of the customer or shipped to the address, placed in [since, until]: who,
        when and where only, all that the velocity detector reads, so a burst of orders does not cost their
        whole rows. Oldest first; read as one JSON row (``_json_rows``)."""
        found = self._json_rows(_Q.recent_orders, {
            "b_connection": connection, "b_since": since, "b_until": until, "b_customer": customer_id,
            "b_address": address_hash, "b_exclude": exclude_order, "b_limit": limit})
        rows = [RecentOrderRow(int(r[0]), int(r[1]), int(r[2]), _utc(r[3]), r[4] or "") for r in found]
        rows.sort(key=lambda r: (r.placed_at, r.id))
        return rows

    def velocity_counts(self, connection: str, *, customer_id: int, customer_since: datetime, address_hash: str,
                        address_since: datetime, until: datetime, exclude_order: int) -> tuple[int, int]:
        """(the customer's other orders placed in [customer_since, until], the other customers whose orders went to
        the address in [address_since, until]): what the velocity detector holds against its limits, counted in one
        query on the customer's and the address's own indexes. Any outcome counts, as in ``recent_order_history``,
        whose rows are needed only when a count is over a limit."""
        with get_engine(self.url).connect() as conn:
            row = _Q.velocity_counts.execute(conn, {
                "b_connection": connection, "b_customer": customer_id, "b_customer_since": customer_since,
                "b_address": address_hash, "b_address_since": address_since, "b_until": until,
                "b_exclude": exclude_order}).one()
        return int(row[0] or 0), int(row[1] or 0)

    def _json_rows(self, query: Select[Any], params: dict[str, Any]) -> list[list[Any]]:
        """The rows of ``query`` as lists of JSON values, fetched as one row holding a JSON array.

        The detectors read up to a few hundred history rows for every order. Python's sqlite3 releases the GIL
        for every row it steps to, and a worker of 16 threads then spends more CPU handing the GIL over than
        reading: one row of JSON is one step. PostgreSQL builds the same array (``json_agg``). The order of the
        array's elements is not relied on: the callers sort."""
        with get_engine(self.url).connect() as conn:
            aggregated = _as_json_array(query, conn.dialect.name)
            if aggregated is None:  # another database: the rows themselves
                return [list(row) for row in conn.execute(query, params)]
            value = aggregated.execute(conn, params).scalar()
        if value is None:  # json_agg over no rows
            return []
        # Read as the engine reads the store's JSON columns (its json_deserializer).
        return cast(list[list[Any]], loads(value) if isinstance(value, str | bytes) else value)

    def item_quantities(self, connection: str, group: int, items: Sequence[str], *,
                        per_item: int = 200) -> dict[str, list[int]]:
        """The latest ``per_item`` accepted line quantities of each item among customers of ``group``."""
        ol = m.OrderHistoryLine
        out: dict[str, list[int]] = {}
        with self.session() as s:
            for item in dict.fromkeys(items):
                out[item] = [int(q) for q in s.scalars(
                    select(ol.quantity).where(ol.connection == connection, ol.customer_group == group,
                                              ol.item_number == item).order_by(ol.id.desc()).limit(per_item))]
        return out

    def group_quantities(self, connection: str, group: int, *, limit: int = 2000) -> list[int]:
        """The latest accepted line quantities (any item) of customers of ``group``."""
        ol = m.OrderHistoryLine
        with self.session() as s:
            return [int(q) for q in s.scalars(
                select(ol.quantity).where(ol.connection == connection, ol.customer_group == group)
                .order_by(ol.id.desc()).limit(limit))]

    def combination_counts(self, connection: str, dimension: str, key: str, *, since: datetime) -> dict[str, int]:
        """Shop-wide counts over accepted orders since ``since``: ``currency`` per invoice country, ``carrier``
        per delivery country, ``billing`` (delivery country) per invoice country; value → orders."""
        oh = m.OrderHistory
        column, value = {"currency": (oh.invoice_country, oh.currency),
                         "carrier": (oh.delivery_country, oh.carrier),
                         "billing": (oh.invoice_country, oh.delivery_country)}[dimension]
        with self.session() as s:
            return {str(v): int(n) for v, n in s.execute(
                select(value, func.count()).where(oh.connection == connection, column == key,
                                                  oh.accepted.is_(True), oh.placed_at >= since)
                .group_by(value)).all()}


def _binding_key(connection: str, entity: str, ps_id: str) -> dict[str, str]:
    return {"b_connection": connection, "b_entity": entity, "b_ps": ps_id}


def _end_step(conn: Connection, event_id: int, step: str, output: dict[str, Any] | None, attempt_id: int,
              outcome: str, now: datetime) -> None:
    """A step done, with its snapshot (made JSON by the engine's serialiser, ``db._bounded_json``, in one pass),
    and its attempt's outcome, inside a transaction already open."""
    _Q.finish_step.execute(conn, {"b_event": event_id, "b_step": step, "b_status": m.StepStatus.DONE,
                                  "b_output": output, "b_now": now})
    if attempt_id:
        _Q.end_attempt.execute(conn, {"b_attempt_id": attempt_id, "b_outcome": outcome, "b_error": None,
                                      "b_now": now})


def _begin_step(conn: Connection, event_id: int, step: str, previous_step: str | None,
                task_id: str | None) -> tuple[EventRow, dict[str, Any] | None] | None:
    """``Store.start_step`` inside a transaction already open."""
    # The event with this step's row and the previous one's, in one query (one row per step row found).
    found = _Q.select_event_steps.execute(conn, {"b_event": event_id, "b_step": step,
                                                 "b_previous": previous_step or step}).all()
    event = found[0] if found else None
    if event is None or event.status in m.FINAL_STATUSES:
        return None
    rows = {r.step: r for r in found if r.step is not None}
    row = rows.get(step)
    if row is not None and row.step_status == m.StepStatus.DONE and event.current_step != step:
        return None  # a stale duplicate (a redelivered or re-enqueued message): the event moved on
    now = m.utcnow()
    running = m.StepStatus.RUNNING
    params = {"b_event": event_id, "b_step": step, "b_status": running, "b_now": now}
    (_Q.insert_step if row is None else _Q.restart_step).execute(conn, params)
    _Q.start_event.execute(conn, params)
    attempt = _Q.insert_attempt.execute(conn, {
        **params, "b_attempt": (row.step_attempts if row is not None else 0) + 1, "b_task": task_id,
    }).inserted_primary_key
    previous = rows[previous_step].output if previous_step and previous_step in rows else None
    view = EventRow(event.id, event.connection, event.entity, event.source_id, event.event_type,
                    dict(event.payload or {}), event.attempts + 1, int(attempt[0]) if attempt else 0)
    return view, previous


class _Q:
    """The hot path's statements, built once (bound parameters ``b_*``): building a statement per call was the
    largest CPU share of a step's own bookkeeping."""

    ev, st, at, bd = (cast(Table, m.SyncEvent.__table__), cast(Table, m.SyncStep.__table__),
                      cast(Table, m.SyncAttempt.__table__), cast(Table, m.Binding.__table__))
    select_event_steps = Prepared(select(
        ev.c.id, ev.c.connection, ev.c.entity, ev.c.source_id, ev.c.event_type, ev.c.payload, ev.c.attempts,
        ev.c.status, ev.c.current_step, st.c.step, st.c.status.label("step_status"), st.c.output,
        st.c.attempts.label("step_attempts"),
    ).select_from(ev.outerjoin(st, and_(st.c.event_id == ev.c.id,
                                        st.c.step.in_([bindparam("b_step"), bindparam("b_previous")])))).where(
        ev.c.id == bindparam("b_event")))
    insert_step = Prepared(insert(st).values(
        event_id=bindparam("b_event"), step=bindparam("b_step"), status=bindparam("b_status"), attempts=1,
        started_at=bindparam("b_now")))
    _step_where = (st.c.event_id == bindparam("b_event"), st.c.step == bindparam("b_step"))
    restart_step = Prepared(update(st).where(*_step_where).values(
        status=bindparam("b_status"), attempts=st.c.attempts + 1, started_at=bindparam("b_now")))
    start_event = Prepared(update(ev).where(ev.c.id == bindparam("b_event")).values(
        status=m.RUNNING, current_step=bindparam("b_step"), attempts=ev.c.attempts + 1, updated_at=bindparam("b_now")))
    insert_attempt = Prepared(insert(at).values(
        event_id=bindparam("b_event"), step=bindparam("b_step"), attempt=bindparam("b_attempt"),
        task_id=bindparam("b_task"), outcome=bindparam("b_status"), started_at=bindparam("b_now")))
    end_attempt = Prepared(update(at).where(at.c.id == bindparam("b_attempt_id")).values(
        outcome=bindparam("b_outcome"), error=bindparam("b_error"), finished_at=bindparam("b_now")))
    finish_step = Prepared(update(st).where(*_step_where).values(
        status=bindparam("b_status"), output=bindparam("b_output"), error=None, finished_at=bindparam("b_now")))
    fail_step = Prepared(update(st).where(*_step_where).values(
        status=bindparam("b_status"), error=bindparam("b_error"), finished_at=bindparam("b_finished")))
    _active_event = (ev.c.id == bindparam("b_event"), ev.c.status.not_in(m.FINAL_STATUSES))
    touch_event = Prepared(update(ev).where(*_active_event).values(updated_at=bindparam("b_now")))
    final_event = Prepared(update(ev).where(*_active_event).values(
        updated_at=bindparam("b_now"), status=bindparam("b_status"), finished_at=bindparam("b_now"),
        result=bindparam("b_result")))
    # A failure keeps the error; the status becomes "retrying" only while the event is active.
    fail_event = Prepared(update(ev).where(ev.c.id == bindparam("b_event")).values(
        last_error=bindparam("b_error"), updated_at=bindparam("b_now"),
        status=case((ev.c.status.in_(m.FINAL_STATUSES), ev.c.status),
                    else_=func.coalesce(bindparam("b_status", type_=ev.c.status.type), ev.c.status))))
    _binding_where = (bd.c.connection == bindparam("b_connection"), bd.c.entity == bindparam("b_entity"),
                      bd.c.ps_id == bindparam("b_ps"))
    select_binding = Prepared(select(bd.c.infor_id, bd.c.data).where(*_binding_where))
    select_binding_for_update = Prepared(
        select(bd.c.id, bd.c.infor_id, bd.c.data).where(*_binding_where).with_for_update())
    insert_binding = Prepared(insert(bd).values(connection=bindparam("b_connection"), entity=bindparam("b_entity"),
                                       ps_id=bindparam("b_ps"), infor_id=bindparam("b_infor"),
                                       data=bindparam("b_data"), created_at=bindparam("b_now"),
                                       updated_at=bindparam("b_now")))
    update_binding = Prepared(update(bd).where(bd.c.id == bindparam("b_id")).values(
        infor_id=bindparam("b_infor"), data=bindparam("b_data"), updated_at=bindparam("b_now")))
    # The anomaly detectors' history (integration/ai/history.py): read for every order, written once per order.
    oh, ol = cast(Table, m.OrderHistory.__table__), cast(Table, m.OrderHistoryLine.__table__)
    _history_columns = (oh.c.id, oh.c.ps_order_id, oh.c.customer_id, oh.c.customer_group, oh.c.placed_at, oh.c.value,
                        oh.c.currency, oh.c.invoice_country, oh.c.delivery_country, oh.c.carrier, oh.c.address_hash,
                        oh.c.accepted)
    customer_history_without_lines = select(*_history_columns).where(
        oh.c.connection == bindparam("b_connection"), oh.c.customer_id == bindparam("b_customer"),
        oh.c.placed_at <= bindparam("b_before"), oh.c.accepted.is_(True),
        oh.c.ps_order_id != bindparam("b_exclude")).order_by(oh.c.placed_at.desc(), oh.c.id.desc()).limit(
        bindparam("b_limit"))
    customer_history = customer_history_without_lines.add_columns(oh.c.lines)
    # The customer's orders and the address's, each found on its own index and then merged: with "customer OR
    # address" the database walked every order of the window, a cost that grew with the shop's volume.
    _recent_of = select(oh.c.id, oh.c.ps_order_id, oh.c.customer_id, oh.c.placed_at, oh.c.address_hash).where(
        oh.c.connection == bindparam("b_connection"), oh.c.placed_at >= bindparam("b_since"),
        oh.c.placed_at <= bindparam("b_until"), oh.c.ps_order_id != bindparam("b_exclude"))
    _recent = union(_recent_of.where(oh.c.customer_id == bindparam("b_customer")),
                    _recent_of.where(oh.c.address_hash == bindparam("b_address"))).subquery()
    recent_orders = select(*_recent.c).order_by(_recent.c.placed_at, _recent.c.id).limit(bindparam("b_limit"))
    velocity_counts = Prepared(select(
        select(func.count()).where(
            oh.c.connection == bindparam("b_connection"), oh.c.customer_id == bindparam("b_customer"),
            oh.c.placed_at >= bindparam("b_customer_since"), oh.c.placed_at <= bindparam("b_until"),
            oh.c.ps_order_id != bindparam("b_exclude")).scalar_subquery(),
        select(func.count(distinct(oh.c.customer_id))).where(
            oh.c.connection == bindparam("b_connection"), oh.c.address_hash == bindparam("b_address"),
            oh.c.placed_at >= bindparam("b_address_since"), oh.c.placed_at <= bindparam("b_until"),
            oh.c.customer_id != bindparam("b_customer"), oh.c.ps_order_id != bindparam("b_exclude")).scalar_subquery(),
    ))
    select_history_id = Prepared(select(oh.c.id).where(oh.c.connection == bindparam("b_connection"),
                                                       oh.c.ps_order_id == bindparam("b_order")))
    # Every column of a history row (``history.history_row``) but its key and times, given by the caller.
    history_row_columns = tuple(c.name for c in oh.c if c.name not in ("id", "created_at", "updated_at"))
    insert_history = Prepared(insert(oh).values(
        {**{column: bindparam(f"b_{column}") for column in history_row_columns},
         "created_at": bindparam("b_now"), "updated_at": bindparam("b_now")}))
    update_history = update(oh).where(oh.c.id == bindparam("b_id"))
    delete_history_lines = Prepared(delete(ol).where(ol.c.history_id == bindparam("b_id")))
    insert_history_lines = Prepared(insert(ol).values({c.name: bindparam(c.name) for c in ol.c if c.name != "id"}))


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


@lru_cache(maxsize=32)
def _as_json_array(query: Select[Any], dialect: str) -> Prepared | None:
    """``query`` wrapped to answer one row: a JSON array of its rows, each an array of its columns (SQLite's
    ``json_group_array``, PostgreSQL's ``json_agg``), prepared; None for another database. Built once per query
    (the ``_Q`` statements, cached by identity)."""
    inner = query.subquery()
    if dialect == "sqlite":  # a JSON column is text there: json() embeds it as JSON, not as a string
        columns = [func.json(c) if isinstance(c.type, JSON) else c for c in inner.c]
        return Prepared(select(func.json_group_array(func.json_array(*columns))))
    if dialect == "postgresql":
        return Prepared(select(func.json_agg(func.json_build_array(*inner.c))))
    return None


def _utc(value: str | datetime) -> datetime:
    """A datetime as the JSON arrays carry it (SQLite's stored text, naive UTC; PostgreSQL's ISO text with its
    offset) or as another database's driver gives it, aware in UTC as ``models.UTCDateTime`` reads it."""
    return m.as_utc(value) if isinstance(value, datetime) else _utc_text(value)


@lru_cache(maxsize=8192)
def _utc_text(value: str) -> datetime:
    """``_utc`` of a text, remembered: a customer's next order reads the same history rows again (a datetime is
    immutable, so one may be shared)."""
    return m.as_utc(datetime.fromisoformat(value))


def stale_cutoff(seconds: int) -> datetime:
    return m.utcnow() - timedelta(seconds=seconds)


def _like_escape(value: str) -> str:
    """A user's text inside a LIKE pattern matches itself only."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
