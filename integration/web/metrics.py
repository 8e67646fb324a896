"""Prometheus ``/metrics``: everything is read from the store (and the broker's queue lengths) at scrape time.

Invariant: a scrape of any web process gives the figures of the whole deployment, workers included, because
the workers write every step and attempt to the store anyway. Nothing is counted in process memory that
another process would not see, so there is no multiprocess directory to share between containers.

Counters and the step-duration histogram are tallied from ``sync_attempt`` rows by an incremental cursor: a
scrape reads only the attempts written since the previous one. Each web process keeps its own tally of the
retained history, so two processes give the same values; retention pruning old attempts shows as a counter
reset in a process started after it, which Prometheus' ``rate()`` handles.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from integration.store import models as m
from integration.store.repository import Store

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# An attempt still "running" this long after it started belongs to a worker that died: it will never finish
# (the step's time limit is far shorter), so the cursor moves past it.
ABANDONED_AFTER = timedelta(minutes=10)
PAGE = 20_000
MAX_PAGES_PER_SCRAPE = 10  # a first scrape of a large history is spread over a few scrapes

# kombu's Redis transport: a queue's messages are a list named after the queue (one more per priority step,
# "<queue>\x06\x16<step>"); the exchanges' bindings are sets "_kombu.binding.<exchange>" whose members end
# with the queue name. Read here so the web layer needs neither Celery nor the worker's queue list.
KOMBU_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


class AttemptTally:
    """Attempt counts by (flow, step, outcome) and duration buckets by (flow, step), kept up to date from
    ``sync_attempt`` a page at a time."""

    def __init__(self, store: Store):
        self.store = store
        self.cursor = 0  # the lowest attempt id that may still change (an unfinished one), or the next id
        self.counted: set[int] = set()  # finished attempts at or above the cursor already tallied
        self.outcomes: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = defaultdict(float)
        self._lock = threading.Lock()

    def update(self, now: datetime | None = None) -> None:
        now = now or m.utcnow()
        with self._lock:
            position, pinned = self.cursor, None
            for _ in range(MAX_PAGES_PER_SCRAPE):
                rows = self.store.attempts_after(position, PAGE)
                for attempt_id, entity, step, outcome, started, finished in rows:
                    if finished is None:
                        if pinned is None and now - started < ABANDONED_AFTER:
                            pinned = attempt_id  # may still finish: look at it again next time
                        continue
                    if attempt_id in self.counted:
                        continue
                    self.counted.add(attempt_id)
                    self._tally(entity, step, outcome, (finished - started).total_seconds())
                if rows:
                    position = rows[-1][0] + 1
                if len(rows) < PAGE:
                    break
            self.cursor = pinned if pinned is not None else position
            self.counted = {i for i in self.counted if i >= self.cursor}

    def _tally(self, entity: str, step: str, outcome: str, seconds: float) -> None:
        self.outcomes[(entity, step, outcome)] += 1
        key = (entity, step)
        counts = self.buckets.setdefault(key, [0] * len(BUCKETS))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        self.sums[key] += max(seconds, 0.0)

    def snapshot(self) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], list[int]],
                                dict[tuple[str, str], float]]:
        with self._lock:
            return dict(self.outcomes), {k: list(v) for k, v in self.buckets.items()}, dict(self.sums)


def broker_queue_depths(client: Any, prefix: str = "", always: Iterable[str] = ()) -> dict[str, int]:
    """Messages waiting per queue in the broker's Redis (every priority step of a queue added up). Queues are
    found from kombu's binding sets, so a queue any process declared is counted; ``always`` are listed even
    before anything declared them."""
    queues = set(always)
    pattern = f"{_glob_escape(prefix)}_kombu.binding.*"
    for key in client.scan_iter(match=pattern, count=100):
        exchange = (key.decode() if isinstance(key, bytes) else str(key))[len(prefix) + len("_kombu.binding."):]
        if exchange.startswith(("celery", "reply.celery")):  # Celery's own fan-out exchanges: no lists
            continue
        for member in client.smembers(key):
            text = member.decode() if isinstance(member, bytes) else str(member)
            queues.add(text.split(KOMBU_SEP)[-1])
    depths: dict[str, int] = {}
    with client.pipeline() as pipe:
        names = sorted(q for q in queues if q)
        for name in names:
            for step in KOMBU_PRIORITY_STEPS:
                pipe.llen(f"{prefix}{name}{KOMBU_SEP}{step}" if step else f"{prefix}{name}")
        sizes = pipe.execute()
    per = len(KOMBU_PRIORITY_STEPS)
    for i, name in enumerate(names):
        depths[name] = sum(int(n or 0) for n in sizes[i * per:(i + 1) * per])
    return depths


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class StoreCollector(Collector):
    """The deployment's figures, read at scrape time."""

    def __init__(self, store: Store, queue_depths: Callable[[], Mapping[str, int]] | None = None,
                 clock: Callable[[], datetime] = m.utcnow):
        self.store = store
        self.queue_depths = queue_depths
        self.clock = clock
        self.tally = AttemptTally(store)

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        events = GaugeMetricFamily("psinfor_events", "Sync events in the store by flow and status (retained "
                                   "history; succeeded and skipped ones are pruned after the retention period)",
                                   labels=["connection", "flow", "status"])
        for connection, entity, status, count in self.store.event_counts():
            events.add_metric([connection, entity, status], count)
        yield events

        dead = GaugeMetricFamily("psinfor_dead_letters_open", "Dead letters waiting for an operator",
                                 labels=["connection", "flow"])
        for connection, entity, count in self.store.dead_letter_counts():
            dead.add_metric([connection, entity], count)
        yield dead

        oldest = GaugeMetricFamily("psinfor_oldest_active_event_age_seconds",
                                   "Age of the oldest event not yet final (received, queued, running, retrying)",
                                   labels=["connection", "flow"])
        for connection, entity, created in self.store.oldest_in(m.ACTIVE_STATUSES):
            oldest.add_metric([connection, entity], max(0.0, (now - created).total_seconds()))
        yield oldest

        held = GaugeMetricFamily("psinfor_oldest_held_event_age_seconds", "Age of the oldest event held for review",
                                 labels=["connection", "flow"])
        for connection, entity, created in self.store.oldest_in({m.HELD}):
            held.add_metric([connection, entity], max(0.0, (now - created).total_seconds()))
        yield held

        if self.queue_depths is not None:
            depth = GaugeMetricFamily("psinfor_queue_depth", "Messages waiting in a broker queue", labels=["queue"])
            try:
                for queue, size in sorted(self.queue_depths().items()):
                    depth.add_metric([queue], size)
                up = 1.0
            except Exception:  # the broker is down: say so, and still serve the store's figures
                up = 0.0
            yield depth
            broker = GaugeMetricFamily("psinfor_broker_up", "1 when the broker answered this scrape")
            broker.add_metric([], up)
            yield broker

        self.tally.update(now)
        outcomes, buckets, sums = self.tally.snapshot()
        attempts = CounterMetricFamily("psinfor_step_attempts", "Attempts of a step by outcome (done, retrying, "
                                       "failed, held, skipped)", labels=["flow", "step", "outcome"])
        retries = CounterMetricFamily("psinfor_step_retries", "Attempts of a step that failed and were retried",
                                      labels=["flow", "step"])
        for (entity, step, outcome), count in sorted(outcomes.items()):
            attempts.add_metric([entity, step, outcome], count)
            if outcome == m.StepStatus.RETRYING:
                retries.add_metric([entity, step], count)
        yield attempts
        yield retries
        duration = HistogramMetricFamily("psinfor_step_duration_seconds", "Duration of a step's attempts",
                                         labels=["flow", "step"])
        for (entity, step), counts in sorted(buckets.items()):
            total = sum(n for (e, s, _), n in outcomes.items() if (e, s) == (entity, step))
            pairs = [(_bound(b), float(c)) for b, c in zip(BUCKETS, counts, strict=True)] + [("+Inf", float(total))]
            duration.add_metric([entity, step], pairs, sum_value=sums.get((entity, step), 0.0))
        yield duration


def _bound(value: float) -> str:
    return repr(float(value))


def build_registry(store: Store, queue_depths: Callable[[], Mapping[str, int]] | None = None) -> CollectorRegistry:
    """A registry of its own (not the global one): only the deployment's figures, nothing per process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, queue_depths))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the Prometheus text format


def registry_for(settings: Any, store: Store, flows: Iterable[Any] | None = None) -> CollectorRegistry:
    """The receiver's registry: the store's figures and the broker's queue depths (the flows' queues always)."""
    from integration.flows.registry import FLOWS

    queues = [f.queue for f in (FLOWS.values() if flows is None else flows)]
    client: Any = None

    def depths() -> Mapping[str, int]:
        nonlocal client
        if client is None:
            import redis

            client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)
        return broker_queue_depths(client, settings.key_prefix, queues)

    return build_registry(store, depths)
