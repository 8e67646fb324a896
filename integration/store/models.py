"""The store: the inbox of sync events with their per-step history, bindings, watermarks and dead letters.

The SQL store, not Celery, is the source of truth for "what happened to order 1234": every step writes its
outcome here before the next one runs, so Redis can be flushed and the system catches up from SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware (UTC) datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(value: datetime) -> datetime:
    """A stored datetime as the store reads it back: aware, in UTC (a naive one is UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class EventStatus(StrEnum):
    """Where an event is. Final ones end it; the sweeper re-enqueues the active ones when they go stale."""

    RECEIVED = "received"  # in the inbox, not yet handed to a worker
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    DEAD = "dead"  # dead-lettered: see dead_letter
    HELD = "held"  # waits for an operator (an anomaly held for review)
    AWAITING_PAYMENT = "awaiting_payment"  # the shop has not been paid yet: goes on by itself when it is
    HELD_BY_ERP = "held_by_erp"  # the ERP holds it (credit stop): re-checked until released
    PENDING_FLOW = "pending_flow"  # accepted, but no flow handles this event type yet


class StepStatus(StrEnum):
    """A step row's state; an attempt row's outcome uses the same words."""

    PENDING = "pending"  # reset by a replay
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    SKIPPED = "skipped"
    HELD = "held"
    WAITING = "waiting"
    FAILED = "failed"


RECEIVED = EventStatus.RECEIVED
QUEUED = EventStatus.QUEUED
RUNNING = EventStatus.RUNNING
RETRYING = EventStatus.RETRYING
SUCCEEDED = EventStatus.SUCCEEDED
SKIPPED = EventStatus.SKIPPED
DEAD = EventStatus.DEAD
HELD = EventStatus.HELD
PENDING_FLOW = EventStatus.PENDING_FLOW
AWAITING_PAYMENT = EventStatus.AWAITING_PAYMENT
HELD_BY_ERP = EventStatus.HELD_BY_ERP
# Waiting: no worker runs them and they cost nothing; a newer event of the same record supersedes them, and
# ``held_by_erp`` ones are re-checked by the resume poller. Final for the runner (a stale message is a no-op).
WAITING_STATUSES = frozenset({AWAITING_PAYMENT, HELD_BY_ERP})
FINAL_STATUSES = frozenset({SUCCEEDED, SKIPPED, DEAD, HELD, PENDING_FLOW, *WAITING_STATUSES})
ACTIVE_STATUSES = frozenset({RECEIVED, QUEUED, RUNNING, RETRYING})


class SyncEvent(Base):
    __tablename__ = "sync_event"
    __table_args__ = (
        UniqueConstraint("connection", "dedupe_key", name="uq_sync_event_dedupe"),
        Index("ix_sync_event_status_updated", "status", "updated_at"),
        Index("ix_sync_event_record", "connection", "entity", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    source_system: Mapped[str] = mapped_column(String(32))  # prestashop | infor | poller | operator
    entity: Mapped[str] = mapped_column(String(32))  # order | customer | product | stock
    source_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=RECEIVED)
    current_step: Mapped[str | None] = mapped_column(String(16), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    steps: Mapped[list[SyncStep]] = relationship(
        back_populates="event", order_by="SyncStep.id", cascade="all, delete-orphan"
    )


class SyncStep(Base):
    """One row per (event, step): its outcome, attempts, last error and output snapshot."""

    __tablename__ = "sync_step"
    __table_args__ = (UniqueConstraint("event_id", "step", name="uq_sync_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("sync_event.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # running | retrying | done | skipped | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    event: Mapped[SyncEvent] = relationship(back_populates="steps")


class SyncAttempt(Base):
    """One row per attempt of a step (after Saleor's EventDeliveryAttempt): every try keeps its own outcome
    and error, so an event's history survives its retries."""

    __tablename__ = "sync_attempt"
    __table_args__ = (Index("ix_sync_attempt_event", "event_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("sync_event.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)  # the step's attempt number, from 1
    task_id: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str] = mapped_column(String(16), default=StepStatus.RUNNING)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


# A binding whose Infor record is being created: ``infor_id`` is ``~pending:<event id>`` until it is known.
# The claim is in SQL, not only in a Redis lock, so it cannot expire under a slow write.
PENDING_PREFIX = "~pending:"


class Binding(Base):
    """PrestaShop id ⇄ Infor id per connection and entity: the idempotency key of every write."""

    __tablename__ = "binding"
    __table_args__ = (
        UniqueConstraint("connection", "entity", "ps_id", name="uq_binding_ps"),
        UniqueConstraint("connection", "entity", "infor_id", name="uq_binding_infor"),
        Index("ix_binding_open", "connection", "entity", "closed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    ps_id: Mapped[str] = mapped_column(String(64))
    infor_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when nothing more will flow back for this record (an order invoiced or cancelled in Infor).
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class Watermark(Base):
    """"Changed since" positions of the pollers."""

    __tablename__ = "watermark"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


DLQ_OPEN = "open"
DLQ_REPLAYED = "replayed"
DLQ_DISCARDED = "discarded"


class DeadLetter(Base):
    """A permanently failed or exhausted event, with all it takes to understand and replay it."""

    __tablename__ = "dead_letter"
    __table_args__ = (Index("ix_dead_letter_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("sync_event.id", ondelete="CASCADE"))
    connection: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(16))
    task_name: Mapped[str] = mapped_column(String(200))
    error_type: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    traceback: Mapped[str | None] = mapped_column(Text, default=None)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=DLQ_OPEN)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(default=None)


# -- the operator console: local users and the audit log of every operator action --------------------------

ROLE_VIEWER = "viewer"  # reads
ROLE_OPERATOR = "operator"  # replays, releases, discards
ROLE_ADMIN = "admin"  # and edits mappings
ROLES = (ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN)  # each role may do what the ones before it may


class ConsoleUser(Base):
    """A console login. Only a password hash is kept (argon2id); the name is unique."""

    __tablename__ = "console_user"
    __table_args__ = (UniqueConstraint("name", name="uq_console_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One operator action (log in, replay, release, skip, discard, mapping saved...), kept for good."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    remote_addr: Mapped[str | None] = mapped_column(String(64), default=None)

# Set in a held event's payload when an operator releases it: the step that held it (an anomaly check) lets
# it through on its next run, with who released it and when.
REVIEW_RELEASED = "review_released"


class ReconciliationLine(Base):
    """One order in one reconciliation run (shop total, M3 order value, invoiced and paid amounts, differences
    with their likely cause), as ``integration.reconcile`` computed it; the nightly run keeps its report here."""

    __tablename__ = "reconciliation_line"
    __table_args__ = (Index("ix_reconciliation_run", "connection", "run_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    run_at: Mapped[datetime] = mapped_column()
    ps_order_id: Mapped[str] = mapped_column(String(64))
    orno: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16))  # ok | difference | open | missing
    line: Mapped[dict[str, Any]] = mapped_column(JSON)


class StockWritten(Base):
    """The last quantity written to (or seen in) each shop stock row, so a row is written only when its quantity
    changes. ``as_of`` (ms) is when M3's balance behind it was read: an older reading never replaces a newer one.
    A narrow table rather than binding data: the stock flow reads a window of rows and the reconcile writes
    100,000 of them in set-based statements, and bindings stay identity only."""

    __tablename__ = "stock_written"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_key: Mapped[str] = mapped_column(String(32), primary_key=True)  # "id_product:id_product_attribute"
    item_number: Mapped[str] = mapped_column(String(64))
    id_stock_available: Mapped[int | None] = mapped_column(Integer, default=None)
    quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    as_of: Mapped[int] = mapped_column(BigInteger, default=0)
    written_at: Mapped[datetime | None] = mapped_column(default=None)
    event_id: Mapped[int | None] = mapped_column(Integer, default=None)  # the event that wrote it last


class UnknownItem(Base):
    """An M3 item the shop does not have, reported once (when first seen) with a resolution hint; the row goes
    once the item is bound."""

    __tablename__ = "unknown_item"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # the flow that met it: stock | item | reconcile
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderHistory(Base):
    """What the anomaly detectors remember of an order once it was judged (integration/ai/history.py): compact,
    so detection reads a few small rows instead of step snapshots. ``accepted`` = it went on to M3 (passed, or
    released by an operator); a held order is kept with ``accepted`` false (it counts for velocity only) and
    stays so when it is skipped. The delivery address is kept as a hash, never in clear."""

    __tablename__ = "order_history"
    __table_args__ = (
        UniqueConstraint("connection", "ps_order_id", name="uq_order_history_order"),
        Index("ix_order_history_customer", "connection", "customer_id", "placed_at"),
        Index("ix_order_history_placed", "connection", "placed_at"),
        Index("ix_order_history_address", "connection", "address_hash", "placed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    ps_order_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(Integer)
    customer_group: Mapped[int] = mapped_column(Integer, default=0)
    placed_at: Mapped[datetime]
    value: Mapped[str] = mapped_column(String(32))  # Decimal as text, ERP currency
    erp_currency: Mapped[str] = mapped_column(String(3))
    currency: Mapped[str] = mapped_column(String(3))
    invoice_country: Mapped[str] = mapped_column(String(3), default="")
    delivery_country: Mapped[str] = mapped_column(String(3), default="")
    carrier: Mapped[str] = mapped_column(String(64), default="")
    address_hash: Mapped[str] = mapped_column(String(32), default="")
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[item number, quantity, unit price], ...]
    accepted: Mapped[bool] = mapped_column(default=False)
    event_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderHistoryLine(Base):
    """One line of an accepted order: the quantity detector's per-item and per-group samples, read by index."""

    __tablename__ = "order_history_line"
    __table_args__ = (
        Index("ix_order_history_line_item", "connection", "customer_group", "item_number", "id"),
        Index("ix_order_history_line_group", "connection", "customer_group", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    history_id: Mapped[int] = mapped_column(ForeignKey("order_history.id", ondelete="CASCADE"), index=True)
    connection: Mapped[str] = mapped_column(String(64))
    customer_group: Mapped[int] = mapped_column(Integer, default=0)
    item_number: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
