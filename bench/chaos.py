"""``make chaos``: N orders through the real processes while they and their infrastructure fail.

The dev kit's stack runs the sandboxes, the gunicorn receiver, several workers and beat as real processes on a
Redis this script owns (so it can restart it). While the orders are placed, at a steady pace:

- workers are SIGKILLed (and started again a few seconds later, as a supervisor would);
- Redis is restarted, alternately emptied and with its data (a snapshot taken at shutdown);
- Infor answers 5xx, gateway time-outs, and answers lost after M3 ran the write; PrestaShop answers 429s;
- some orders are placed without their webhook (the poller must find them).

Then the faults stop ("cleared") and the script waits until every order is accounted for. It prints and
writes ``bench/results/chaos-<timestamp>.json``: placed, synced, dead-lettered (with reasons), lost, doubled,
orphan batch orders left unconfirmed in OIS275, process exits nobody asked for, and the time to settle after
the faults cleared. Targets: 0 lost, 0 doubled, 0 orphans, 0 unexplained dead letters, 0 exits, settled in
under 120 s with the default settings.

``tests/integration/test_chaos_small.py`` runs a CI-sized plan (100 orders, 2 kills, 1 Redis restart) with
short periods.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from integration.config import PROJECT_ROOT
from psinfor_devkit.stack import RestartableRedis

RESULTS = PROJECT_ROOT / "bench" / "results"


@dataclass
class Plan:
    orders: int = 2000
    pace: float = 5.0  # orders placed per second (below what the default client rate limits allow)
    batch: int = 4  # orders per placement call (one webhook decision per call)
    workers: int = 2
    worker_concurrency: int = 8
    kills: int = 6
    redis_restarts: int = 2
    redis_down_seconds: float = 5.0
    webhook_drop: float = 0.07
    infor_error_rate: float = 0.04  # 5xx
    infor_timeout_rate: float = 0.02  # gateway 504 after a wait
    infor_lost_answer_rate: float = 0.02  # M3 ran it, the answer was lost
    ps_429_rate: float = 0.04
    settle_timeout: float = 900.0
    broker_url: str = ""  # "" = the Redis; amqp://… for RabbitMQ
    database_url: str = ""  # "" = SQLite in the work directory
    env: dict[str, str] = field(default_factory=dict)  # extra settings (shorter periods for the CI run)
    seed: int = 15
    workdir: Path = PROJECT_ROOT / "var" / "chaos"


# Dead letters the injected faults account for: (pattern of the dead letter's reason, why). Any other is unexplained.
EXPLAINED = (
    (re.compile(r"batch order \d+ is not processed yet \(OIS275 status 10\)"),
     "a Confirm timed out at the ION gateway before M3 ran it (an injected time-out): the batch order stays "
     "entered (status 10) and the order flow, which cannot tell that from a slow batch job, asks again until its "
     "retries are spent; the dead letter names the batch order to confirm or delete"),
)


def explain(reason: str) -> str | None:
    return next((why for pattern, why in EXPLAINED if pattern.search(reason)), None)


# The CI-sized run: small, and short periods so that it settles in seconds.
FAST_ENV = {
    "PSINFOR_EVENT_LOCK_SECONDS": "4", "SWEEPER_STALE_SECONDS": "4", "PSINFOR_SWEEP_INTERVAL": "2",
    "PSINFOR_POLL_INTERVAL": "3", "POLL_OVERLAP_SECONDS": "600", "PSINFOR_RETRY_BACKOFF": "0.5",
    "PSINFOR_RETRY_BACKOFF_MAX": "3", "PSINFOR_MAX_RETRIES": "12", "PSINFOR_OUTCOME_SETTLE_SECONDS": "2",
    "INFOR_BREAKER_RESET": "2", "PS_BREAKER_RESET": "2",
}


class Chaos:
    def __init__(self, plan: Plan):
        from psinfor_devkit.stack import Stack

        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.redis = RestartableRedis()
        env = {"REDIS_URL": self.redis.url, "LOG_LEVEL": "INFO", **plan.env}
        if plan.broker_url:
            env["BROKER_URL"] = plan.broker_url
        if plan.database_url:
            env["DATABASE_URL"] = plan.database_url
        self.stack = Stack(plan.workdir, worker_concurrency=plan.worker_concurrency,
                           poll_interval=float(plan.env.get("PSINFOR_POLL_INTERVAL", 60)),
                           sweep_interval=float(plan.env.get("PSINFOR_SWEEP_INTERVAL", 20)), extra_env=env)
        self.order_ids: list[int] = []
        self.without_webhook: list[int] = []
        self.timeline: list[dict[str, Any]] = []
        self.exits: list[dict[str, Any]] = []
        self.deliberate: set[int] = set()  # pids we killed
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC).isoformat()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- the run ----------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        plan = self.plan
        self.redis.start()
        try:
            self._start()
            self._inject_faults()
            monitor = threading.Thread(target=self._monitor, name="chaos-monitor", daemon=True)
            monitor.start()
            placing_seconds = plan.orders / plan.pace
            schedule = self._schedule(placing_seconds)
            faults = threading.Thread(target=self._faults, args=(schedule,), name="chaos-faults", daemon=True)
            faults.start()
            self._place()
            faults.join()
            self._clear_faults()
            cleared = time.monotonic()
            self._note("faults cleared")
            settled = self._wait_settled(cleared)
            self._stop.set()
            monitor.join(timeout=5)
            return self._report(cleared, settled)
        finally:
            self._stop.set()
            self.stack.stop()
            self.redis.close()

    def _start(self) -> None:
        stack = self.stack
        if self.plan.database_url:
            _empty_database(self.plan.database_url)
        if self.plan.broker_url:
            _purge_queues(self.plan.broker_url)
        stack.prepare()  # migrates the database
        stack.start_sandboxes()
        stack.start_web()
        for i in range(self.plan.workers):
            stack.start_worker(f"worker{i + 1}", production=True)
        stack.start_beat()
        self._note("stack started")

    def _schedule(self, seconds: float) -> list[tuple[float, str]]:
        """Faults spread over the placing phase, away from its very start and end."""
        plan = self.plan
        events = [("kill", i) for i in range(plan.kills)] + [("redis", i) for i in range(plan.redis_restarts)]
        self.rng.shuffle(events)
        n = len(events)
        return [(seconds * (0.1 + 0.75 * (k + 0.5) / n), kind) for k, (kind, _) in enumerate(events)]

    def _faults(self, schedule: list[tuple[float, str]]) -> None:
        start = time.monotonic()
        restarts = 0
        for at, kind in schedule:
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if kind == "kill":
                self._kill_worker()
            else:
                self._restart_redis(keep_data=restarts % 2 == 1)
                restarts += 1

    def _kill_worker(self) -> None:
        names = [n for n in self.stack.procs if n.startswith("worker")]
        name = self.rng.choice(names)
        proc = self.stack.procs[name]
        with self._lock:
            self.deliberate.add(proc.popen.pid)
        os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(timeout=10)
        self._note("worker SIGKILLed", process=name)
        time.sleep(self.rng.uniform(2, 6))
        self.stack.start_worker(name, production=True)
        self._note("worker started again", process=name)

    def _restart_redis(self, *, keep_data: bool) -> None:
        self.redis.stop(keep_data=keep_data)
        self._note("Redis stopped", emptied=not keep_data)
        time.sleep(self.plan.redis_down_seconds)
        self.redis.start()
        self._note("Redis started again", emptied=not keep_data)

    def _monitor(self) -> None:
        """Exits nobody asked for (a worker that gives up, a beat that leaves); the process is started again,
        as the compose file's restart policy would, and the exit is counted."""
        while not self._stop.wait(0.5):
            for name, proc in list(self.stack.procs.items()):
                code = proc.popen.poll()
                with self._lock:
                    deliberate = proc.popen.pid in self.deliberate
                if code is None or deliberate:
                    continue
                tail = proc.log.read_text(errors="replace")[-1500:]
                self.exits.append({"process": name, "code": code, "at_s": self._now(), "log_tail": tail})
                self._note("process exited by itself", process=name, code=code)
                with self._lock:
                    self.deliberate.add(proc.popen.pid)
                try:
                    if name.startswith("worker"):
                        self.stack.start_worker(name, production=True)
                    elif name == "beat":
                        self.stack.start_beat()
                    elif name == "web":
                        self.stack.start_web()
                except Exception as exc:  # keep watching the others
                    self._note("could not start it again", process=name, error=str(exc))

    def _place(self) -> None:
        plan, ps = self.plan, self.stack.ps_url
        interval = plan.batch / plan.pace
        next_at = time.monotonic()
        session = requests.Session()
        while len(self.order_ids) < plan.orders:
            count = min(plan.batch, plan.orders - len(self.order_ids))
            with_webhook = self.rng.random() >= plan.webhook_drop
            response = session.post(f"{ps}/_sandbox/orders", json={"count": count, "send_webhook": with_webhook},
                                    timeout=60)
            response.raise_for_status()
            ids = [int(i) for i in response.json()["orders"]]
            self.order_ids.extend(ids)
            if not with_webhook:
                self.without_webhook.extend(ids)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        self._note("orders placed", count=len(self.order_ids))

    # -- faults in the sandboxes ------------------------------------------------------------------------
    def _inject_faults(self) -> None:
        plan = self.plan
        infor = {"error_rate": plan.infor_error_rate, "error_status": 502, "timeout_rate": plan.infor_timeout_rate,
                 "timeout_ms": 300, "drop_rate": plan.infor_lost_answer_rate}
        requests.post(f"{self.stack.infor_url}/_sandbox/faults", json=infor, timeout=10).raise_for_status()
        requests.post(f"{self.stack.ps_url}/_sandbox/faults", json={"rate_limit_rate": plan.ps_429_rate},
                      timeout=10).raise_for_status()
        self._note("sandbox faults on", infor=infor, prestashop={"rate_limit_rate": plan.ps_429_rate})

    def _clear_faults(self) -> None:
        self.faults_injected = {
            "infor": requests.get(f"{self.stack.infor_url}/_sandbox/stats", timeout=10).json().get("faults"),
            "prestashop": requests.get(f"{self.stack.ps_url}/_sandbox/stats", timeout=10).json().get(
                "faults_injected"),
        }
        for url in (self.stack.infor_url, self.stack.ps_url):
            requests.delete(f"{url}/_sandbox/faults", timeout=10).raise_for_status()

    # -- settling and the figures -----------------------------------------------------------------------
    def _wait_settled(self, cleared: float) -> float | None:
        """Until every order is in Infor once or final on our side, and no event is active."""
        from integration.store import models as m
        from integration.store.repository import Store

        store = Store(self.stack.env["DATABASE_URL"])
        deadline = cleared + self.plan.settle_timeout
        last_print = 0.0
        self.samples: list[tuple[float, int]] = []  # (seconds after the faults cleared, orders bound)
        while time.monotonic() < deadline:
            counts = store.status_counts(entity="order")
            active = sum(v for k, v in counts.items() if k in m.ACTIVE_STATUSES)
            bound, accounted = self._accounted(store)
            self.samples.append((round(time.monotonic() - cleared, 1), bound))
            if time.monotonic() - last_print > 10:
                print(f"  settling: {accounted}/{len(self.order_ids)} orders accounted for, {active} events active "
                      f"({time.monotonic() - cleared:.0f}s after the faults cleared)", flush=True)
                last_print = time.monotonic()
            if active == 0 and accounted >= len(self.order_ids):
                return time.monotonic()
            time.sleep(1.0)
        return None

    def _accounted(self, store: Any) -> tuple[int, int]:
        """(orders bound to an Infor order, those plus the orders whose event is final without one)."""
        from sqlalchemy import func, select

        from integration.store import models as m

        with store.session() as s:
            bound = s.scalar(select(func.count()).select_from(m.Binding).where(
                m.Binding.entity == "order", m.Binding.infor_id.not_like(f"{m.PENDING_PREFIX}%"))) or 0
            final_unbound = s.scalar(select(func.count(func.distinct(m.SyncEvent.source_id))).where(
                m.SyncEvent.entity == "order", m.SyncEvent.status.in_([m.DEAD, m.HELD]))) or 0
        return int(bound), int(bound) + int(final_unbound)

    def _report(self, cleared: float, settled: float | None) -> dict[str, Any]:
        from integration.store import models as m
        from integration.store.repository import Store

        store = Store(self.stack.env["DATABASE_URL"])
        snapshot = requests.get(f"{self.stack.infor_url}/_sandbox/orders", timeout=60).json()
        infor_orders = snapshot["orders"]
        batch_orders = snapshot.get("batch_orders", [])
        by_order: Counter[int] = Counter()
        for order in infor_orders:
            tail = str(order.get("CUOR", "")).rsplit("-", 1)[-1]
            if tail.isdigit():
                by_order[int(tail)] += 1
        placed = set(self.order_ids)
        letters = store.list_dead_letters(limit=100_000)
        dead_orders = {int(e.source_id) for e in store.recent_events(limit=100_000, status=m.DEAD)
                       if e.entity == "order"}
        counts = store.status_counts(entity="order")
        held = {int(e.source_id) for e in store.recent_events(limit=100_000, status=m.HELD) if e.entity == "order"}
        synced = [i for i in placed if by_order.get(i, 0) >= 1]
        doubled = sorted(i for i in placed if by_order.get(i, 0) > 1)
        lost = sorted(i for i in placed if by_order.get(i, 0) == 0 and i not in dead_orders and i not in held)
        orphans = [{k: b.get(k) for k in ("ORNO", "CUOR", "STAT")} for b in batch_orders
                   if str(b.get("STAT", "")) != "90"]
        reasons = Counter(f"{dl.error_type}: {dl.message[:160]}" for dl in letters)
        unexplained = {r: n for r, n in reasons.items() if explain(r) is None}
        explanations = sorted({why for r in reasons if (why := explain(r)) is not None})
        env = self.stack.env
        settings = {name: env.get(name, default) for name, default in (
            ("PSINFOR_EVENT_LOCK_SECONDS", "30"), ("SWEEPER_STALE_SECONDS", "30"), ("PSINFOR_SWEEP_INTERVAL", "20"),
            ("PSINFOR_POLL_INTERVAL", "60"), ("PSINFOR_RETRY_BACKOFF_MAX", "60"), ("PSINFOR_MAX_RETRIES", "10"),
            ("PSINFOR_OUTCOME_SETTLE_SECONDS", "30"), ("INFOR_BREAKER_RESET", "30"), ("PS_RATE", "20"),
            ("INFOR_RATE", "45"))}
        result = {
            "started_at": self.started_at,
            "broker": "rabbitmq" if self.plan.broker_url else "redis",
            "database": "postgresql" if self.plan.database_url.startswith("postgresql") else "sqlite",
            "settings": settings,
            "plan": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.plan).items()},
            "placed": len(placed),
            "without_webhook": len(self.without_webhook),
            "synced": len(synced),
            "dead_lettered": len(letters),
            "dead_letter_reasons": dict(reasons.most_common()),
            "dead_letters_unexplained": sum(unexplained.values()),
            "dead_letter_explanations": explanations,
            "held": len(held),
            "lost": len(lost),
            "lost_orders": lost[:50],
            "doubled": len(doubled),
            "doubled_orders": doubled[:50],
            "orphan_batch_orders": len(orphans),
            "orphan_examples": orphans[:10],
            "process_exits": len(self.exits),
            "exits": self.exits,
            "worker_kills": self.plan.kills,
            "redis_restarts": self.plan.redis_restarts,
            "faults_injected": getattr(self, "faults_injected", {}),
            "events_by_status": counts,
            "settled": settled is not None,
            "seconds_to_settle": round(settled - cleared, 1) if settled is not None else None,
            # when the last order that made it to Infor was bound (the rest waited to be dead-lettered)
            "seconds_until_last_order_bound": next(
                (t for t, bound in getattr(self, "samples", []) if bound == max(b for _, b in self.samples)), None),
            "seconds_total": round(time.monotonic() - self.started, 1),
            "timeline": self.timeline,
        }
        return result

    def _now(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def _note(self, what: str, **details: Any) -> None:
        entry = {"at_s": self._now(), "what": what, **details}
        self.timeline.append(entry)
        print(f"  [{entry['at_s']:7.1f}s] {what} {details if details else ''}", flush=True)


def _empty_database(url: str) -> None:
    from sqlalchemy import text

    from integration.store.db import get_engine

    if url.startswith("postgresql"):
        with get_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


def _purge_queues(broker_url: str) -> None:
    """A RabbitMQ vhost keeps messages between runs: start from empty queues."""
    from kombu import Connection

    from celeryconfig import broker_settings

    with Connection(broker_url) as conn:
        channel = conn.channel()
        for queue in broker_settings(broker_url)["task_queues"]:
            try:
                queue(channel).purge()
            except conn.channel_errors:  # not declared yet
                channel = conn.channel()


def summary(result: dict[str, Any]) -> str:
    lines = [
        f"chaos: {result['placed']} orders ({result['without_webhook']} without a webhook), "
        f"{result['worker_kills']} worker kills, {result['redis_restarts']} Redis restarts",
        f"  synced            : {result['synced']}",
        f"  dead-lettered     : {result['dead_lettered']} ({result['dead_letters_unexplained']} unexplained) "
        f"{result['dead_letter_reasons'] or ''}",
        f"  held for review   : {result['held']}",
        f"  lost              : {result['lost']}",
        f"  doubled           : {result['doubled']}",
        f"  orphans (OIS275)  : {result['orphan_batch_orders']}",
        f"  process exits     : {result['process_exits']} "
        f"{[(e['process'], e['code']) for e in result['exits']] or ''}",
        (f"  time to settle    : {result['seconds_to_settle']} s after the faults cleared (the last order bound "
         f"after {result['seconds_until_last_order_bound']} s)")
        if result["settled"] else "  time to settle    : NOT SETTLED",
        f"  faults injected   : {result['faults_injected']}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Plan()
    parser.add_argument("--orders", type=int, default=defaults.orders)
    parser.add_argument("--pace", type=float, default=defaults.pace, help="orders placed per second")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--concurrency", type=int, default=defaults.worker_concurrency)
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--redis-restarts", type=int, default=defaults.redis_restarts)
    parser.add_argument("--broker", default=os.environ.get("CHAOS_BROKER_URL", ""),
                        help="amqp://… to run on RabbitMQ (Redis keeps locks and tokens)")
    parser.add_argument("--database-url", default=os.environ.get("CHAOS_DATABASE_URL", ""))
    parser.add_argument("--fast", action="store_true", help="the CI run's short periods")
    args = parser.parse_args()
    plan = Plan(orders=args.orders, pace=args.pace, workers=args.workers, worker_concurrency=args.concurrency,
                kills=args.kills, redis_restarts=args.redis_restarts, broker_url=args.broker,
                database_url=args.database_url, env=dict(FAST_ENV) if args.fast else {})
    result = Chaos(plan).run()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"chaos-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    print(summary(result))
    print(f"  written to {path}")


if __name__ == "__main__":
    main()
