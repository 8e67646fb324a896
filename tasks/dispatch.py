"""Publishing events to the broker: the one place that turns an inbox row into a Celery chain."""

from __future__ import annotations

from tasks.flows import chain_for


def enqueue(event_id: int, entity: str, from_step: str | None = None) -> None:
    chain_for(entity, event_id, from_step).apply_async()
